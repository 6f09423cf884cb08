"""SMPLify-style fit of a body model to a person's photos (the embedded-default person fit).

Input: square person crops (:class:`~vmc.subject.crop.SubjectCrop`: 33 mediapipe landmarks in
crop pixels and a person mask). Output (:class:`BodyFit`), in the conventions of
``vmc.data.lwg_layouts`` and ``docs/conventions.md#hmr-image-frame-and-camera``, so that
``render_smpl_params(body, betas, poses, cams, S)`` overlays each crop:

* ``betas [nb]``: one shape for all photos of the person;
* ``poses [N, 72]``: axis-angle, joint 0 = global orientation in the HMR image frame (x right,
  y down, camera looking along +z; upright and facing the camera ~ ``R_x(pi)``);
* ``cams [N, 3]``: weak-perspective ``(s, tx, ty)`` in each crop's NDC (``[-1, 1]``, y down).

Energy per photo (all residuals in crop NDC):

* keypoints: Geman-McClure ``rho(r) = s^2 r^2 / (s^2 + r^2)`` of the 2-D landmark residuals,
  weighted by mediapipe's visibility and the keypoint map's per-landmark trust, normalised by
  the total weight, divided by ``kp_scale^2`` (a residual of ``kp_scale`` costs ~1);
* silhouette (:mod:`vmc.subject.silhouette`): vertices inside the mask + mask covered by
  vertices, on the same ``kp_scale^2`` footing;
* pose prior (:mod:`vmc.subject.priors`, a mixture fitted on the procedural motion library),
  knee/elbow hyper-extension penalty, L2 on the shared betas;
* legs that no landmark shows (upper-body photos) are held at the prior's standing pose;
* facing: when mediapipe's face detector found a face on the head
  (:attr:`SubjectCrop.face_score`), a hinge on a head or torso turned away from the camera.
  Whole-body left/right label swaps by mediapipe are depth mirrors: a person facing the
  camera with exchanged labels is explained exactly as well, landmarks and silhouette, by
  the body turned around; the face decides.

Stages (Adam): (1) camera + global orientation on the torso and face landmarks, from several
yaw hypotheses (front, both sides, back) run as one batch; the best per photo survives. (2) body
pose joins, all landmarks and priors. (3) betas (shared) and the silhouette join.

With an initialisation (:class:`BodyInit`, e.g. the SPIN regressor's output in paper mode:
:mod:`vmc.subject.regress`), stage 1 and the yaw hypotheses are skipped: every detection pass
starts from the given pose, camera and shape, and the same refinement (stages 2-3, keypoints,
silhouette, priors) follows.

Speed: ~2-3 s per photo with 2 CPU threads (the body's forward + backward pass, ~6 ms per photo
and iteration, dominates).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from vmc.body.joints import joint_index
from vmc.geometry.camera import cam_fit_points, project_weak_perspective
from vmc.geometry.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    rotation_about_x,
    rotation_about_y,
)
from vmc.render.rasterizer import rasterize
from vmc.subject.crop import SubjectCrop
from vmc.subject.detect import VISIBLE
from vmc.subject.keypoint_map import (
    LANDMARK_FLIP,
    MEDIAPIPE_LANDMARK_NAMES,
    KeypointMap,
    body_keypoints,
    build_keypoint_map,
)
from vmc.subject.priors import (
    PosePrior,
    joint_limit_penalty,
    load_pose_prior,
    shape_prior,
)
from vmc.subject.silhouette import silhouette_loss, silhouette_targets
from vmc.subject.subset_body import SubsetBody

__all__ = ["BodyFit", "BodyInit", "FitConfig", "PhotoReport", "fit_body"]

_LM = {n: i for i, n in enumerate(MEDIAPIPE_LANDMARK_NAMES)}
# Stage 1 sees only what a rigid, mean-posed body can explain: torso corners and the face.
_RIGID = [_LM[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")] + list(
    range(11)
)
# Two detection passes "agree" when their body landmarks are this close (median, NDC of the
# crop, ~2.5% of a person filling 80% of it): same person, same sides, same limbs.
_AGREE = 0.04
# Joints the fit never moves: SMPL's hand and toe joints (no landmark constrains them).
_FROZEN = [joint_index(n) for n in ("left_hand", "right_hand", "left_foot", "right_foot")]
_NOSE, _EARS = _LM["nose"], [_LM["left_ear"], _LM["right_ear"]]
# A face counts as seen (the head faces the camera) from this face-detector score on.
_FACE_SEEN = 0.5
_LEG_JOINTS = {
    side: [joint_index(f"{side}_{j}") for j in ("hip", "knee", "ankle")]
    for side in ("left", "right")
}
_LEG_LANDMARKS = {
    side: [_LM[f"{side}_{j}"] for j in ("knee", "ankle", "heel", "foot_index")]
    for side in ("left", "right")
}


@dataclass
class FitConfig:
    """Knobs of :func:`fit_body` (defaults tuned on the synthetic benchmark).

    Attributes:
        iters_camera: Adam iterations of stage 1 (all hypotheses).
        num_candidates: yaw hypotheses kept per photo and landmark set after stage 1.
        iters_search: stage-2 iterations on every candidate before picking one.
        iters_pose, iters_shape: further stage-2 iterations, then stage 3's.
        lr_search: Adam learning rate of the search (a limb may need to swing ~2.5 rad from
            the standing mean pose; Adam moves about ``lr`` per iteration).
        outlier_margin: energy added to a detection pass that no other pass agrees with
            before the hypotheses are compared (see ``_outlier_sets``).
        lr: Adam learning rate (all parameters are O(1): radians, metres, log-scale).
        kp_sigma: Geman-McClure scale of the keypoint residual (NDC) per phase: stage 1,
            the hypothesis search, the rest. Annealed from wide (the first alignment must
            reach far) to narrow (a landmark that the detector put 10% of the crop off, which
            mediapipe does on legs it cannot tell apart, stops pulling; the silhouette wins).
        w_pose_prior, w_joint_limits, w_shape, w_silhouette, w_hold, w_facing: term weights.
        yaw_hypotheses: initial body yaws (radians; 0 = facing the camera) tried in stage 1.
        silhouette_resolution: side of the silhouette distance maps (the crop's size: the
            term's precision is one pixel of it).
        silhouette_vertex_stride: every k-th vertex enters the silhouette terms.
        silhouette_sigma: Geman-McClure scale (NDC) of the silhouette's cover term in the
            hypothesis search, then in the refinement: wide while the body is far from the
            mask, then narrow, so that outline no body reaches (hair, loose clothes) stops
            pulling the body off the landmarks.
        fit_shape: optimise betas (else they stay 0).
        num_threads: torch CPU threads during the fit (None = leave as is). One: the tensors
            are small (a few thousand vertices), so a second thread mostly adds
            synchronisation, which on a shared 2-core machine costs more than it saves.
    """

    iters_camera: int = 40
    num_candidates: int = 2
    iters_search: int = 40
    lr_search: float = 0.08
    outlier_margin: float = 3.0
    iters_pose: int = 60
    iters_shape: int = 80
    lr: float = 0.03
    kp_sigma: tuple[float, float, float] = (0.2, 0.4, 0.1)
    kp_scale: float = 0.01
    w_pose_prior: float = 0.2
    w_joint_limits: float = 100.0
    w_shape: float = 0.5
    w_silhouette: float = 1.0
    w_hold: float = 100.0
    w_facing: float = 1.0
    yaw_hypotheses: tuple[float, ...] = (0.0, math.pi / 2, math.pi, -math.pi / 2)
    silhouette_resolution: int = 512
    silhouette_vertex_stride: int = 4
    silhouette_sigma: tuple[float, float] = (0.1, 0.05)
    fit_shape: bool = True
    num_threads: int | None = 1


@dataclass
class PhotoReport:
    """How the fit went on one photo.

    Attributes:
        keypoints_found: landmarks seen (visibility >= 0.5, inside the photo).
        keypoint_error_px: mean distance (crop pixels) between the seen landmarks and the fitted
            body's landmarks.
        silhouette_iou: IoU of the fitted body's render with the person mask (> 0.5).
        facing: ``"front"``, ``"back"``, ``"left"`` or ``"right"`` (the side turned to the
            camera is the person's own).
        landmark_set: which detection pass the fit used (0 = the photo as detected, then
            ``PersonDetection.candidates``' order: mirrored photo, person crop; beyond the
            passes, a pass's copy with left and right exchanged, see ``_relabelled``).
        losses: final value of every energy term.
        warnings: detection and fit warnings.
    """

    keypoints_found: int
    keypoint_error_px: float
    silhouette_iou: float
    facing: str
    landmark_set: int
    losses: dict[str, float]
    warnings: list[str] = field(default_factory=list)


@dataclass
class BodyFit:
    """Fitted body parameters of one person (conventions in the module docstring).

    Attributes:
        betas: ``float32 [nb]`` shared shape.
        poses: ``float32 [N, 72]`` axis-angle, root in the HMR image frame.
        cams: ``float32 [N, 3]`` weak-perspective camera in each crop's NDC.
        crops: the crops that were fitted (their ``box`` maps results back to the photos).
        reports: one :class:`PhotoReport` per photo.
        seconds: wall time of the fit.
    """

    betas: np.ndarray
    poses: np.ndarray
    cams: np.ndarray
    crops: list[SubjectCrop]
    reports: list[PhotoReport]
    seconds: float

    def layout_arrays(self) -> dict[str, np.ndarray]:
        """``smpls.npz`` arrays of ``vmc.data.lwg_layouts``: ``cams``, ``poses``, ``betas``."""
        return {
            "cams": self.cams.astype(np.float32),
            "poses": self.poses.astype(np.float32),
            "betas": self.betas.astype(np.float32),
        }


@dataclass
class BodyInit:
    """Where :func:`fit_body` starts instead of its own camera and yaw search.

    Attributes:
        poses: ``float32 [N, 72]`` axis-angle, root in the HMR image frame (body joint order).
        cams: ``float32 [N, 3]`` weak-perspective ``(s, tx, ty)`` in each crop's NDC.
        betas: ``float32 [nb]`` the shared shape (the body's number of coefficients).
        source: what made it (``"spin"``), for the reports.
    """

    poses: np.ndarray
    cams: np.ndarray
    betas: np.ndarray
    source: str = "spin"


def _gm(d2: torch.Tensor, sigma: float) -> torch.Tensor:
    """Geman-McClure of squared residuals."""
    return sigma**2 * d2 / (sigma**2 + d2)


def _facing(root: torch.Tensor) -> str:
    """Which side of the body a root rotation ``[3, 3]`` turns to the camera."""
    fwd = root @ torch.tensor([0.0, 0.0, 1.0], dtype=root.dtype)  # body front, camera frame
    if abs(float(fwd[0])) > abs(float(fwd[2])):
        # Facing +x (image right): the person's left side... is away; their right faces us.
        return "right" if float(fwd[0]) > 0 else "left"
    return "front" if float(fwd[2]) < 0 else "back"


class _Problem:
    """Tensors and energy terms shared by the stages."""

    def __init__(
        self,
        body: torch.nn.Module,
        crops: Sequence[SubjectCrop],
        kmap: KeypointMap,
        prior: PosePrior,
        cfg: FitConfig,
    ) -> None:
        self.body, self.kmap, self.prior, self.cfg = body, kmap, prior, cfg
        self.sigma = cfg.kp_sigma[0]  # the current phase's Geman-McClure scale
        self.sil_sigma = cfg.silhouette_sigma[0]
        n = len(crops)
        # Landmark sets: set k*N + i is photo i's k-th detection pass (0 = as detected; then
        # the mirrored photo, the re-detection on the crop). Photos with fewer passes repeat
        # their first set.
        sets = [c.candidates if c.candidates is not None else c.keypoints[None] for c in crops]
        face = [c.face_score is not None and c.face_score >= _FACE_SEEN for c in crops]
        sets = [
            _relabelled(x, c.size) if f else x for x, c, f in zip(sets, crops, face, strict=True)
        ]
        k = max(len(x) for x in sets)
        kp = np.stack([[x[j] if j < len(x) else x[0] for x in sets] for j in range(k)])
        kp = torch.from_numpy(kp).float().reshape(k * n, 33, 3)
        sizes = torch.tensor([c.size for c in crops], dtype=torch.float32).repeat(k)
        self.num_sets = k
        self.photo = torch.arange(n).repeat(k)  # landmark set -> photo
        self.target = kp[..., :2] * (2.0 / sizes[:, None, None]) - 1.0  # [kN,33,2]
        vis = kp[..., 2] * (kp[..., 2] >= VISIBLE)
        self.weights = vis * kmap.weights[None]  # [kN,33]
        self.face_seen = torch.tensor(face, dtype=torch.float32)  # [n]
        self.sil = silhouette_targets(
            [c.mask for c in crops],
            [c.valid if c.valid is not None else np.ones_like(c.mask) for c in crops],
            resolution=cfg.silhouette_resolution,
        )
        # The inner loop poses only what the energy reads: the landmark vertices, plus (stage 3)
        # every k-th vertex for the silhouette. Landmarks are the first columns of both subsets.
        lm_ids = torch.unique(kmap.index[~kmap.is_joint])
        sil_ids = torch.arange(0, body.num_vertices, cfg.silhouette_vertex_stride)
        self.lm_body = SubsetBody(body, lm_ids)
        self.sil_body = SubsetBody(body, torch.cat([lm_ids, sil_ids]))
        self.num_lm = len(lm_ids)
        pos = torch.full((body.num_vertices,), -1, dtype=torch.long)
        pos[lm_ids] = torch.arange(len(lm_ids))
        self.kmap_sub = KeypointMap(
            is_joint=kmap.is_joint,
            index=torch.where(kmap.is_joint, kmap.index, pos[kmap.index]),
            weights=kmap.weights,
        )
        mean = prior.mean_pose().reshape(23, 3)
        self.mean_pose = torch.cat([torch.zeros(1, 3), mean], 0)  # [24,3]
        self.mean_pose[_FROZEN] = 0.0
        # Held joints: legs that no landmark shows stay at the prior's standing pose.
        self.hold = torch.zeros(k * n, 24)
        for side in ("left", "right"):
            unseen = self.weights[:, _LEG_LANDMARKS[side]].sum(1) == 0
            for j in _LEG_JOINTS[side]:
                self.hold[unseen, j] = 1.0
        self.free = torch.ones(24, 1)
        self.free[_FROZEN] = 0.0
        self.free[0] = 0.0  # the root has its own parameter

    def pose_body(
        self,
        betas: torch.Tensor | None,
        root: torch.Tensor,
        pose: torch.Tensor,
        cam: torch.Tensor,
        silhouette: bool = False,
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Projected landmarks ``[B,33,3]`` and, with ``silhouette``, the projected silhouette
        vertex subset ``[B,K,3]`` (else None).

        Args:
            betas: ``[1 or B, nb]`` or None; root: ``[B,3,3]`` global orientation (image frame);
            pose: ``[B,24,3]`` axis-angle (joint 0 ignored); cam: ``[B,3]``.
        """
        rot = torch.cat([root[:, None], axis_angle_to_matrix(pose[:, 1:])], 1)
        model = self.sil_body if silhouette else self.lm_body
        v, j = model(betas, rot)
        v = project_weak_perspective(v, cam)
        j = project_weak_perspective(j, cam)
        lm = body_keypoints(v, j, self.kmap_sub)
        return (v[:, self.num_lm :] if silhouette else None), lm

    def keypoint_term(
        self,
        lm: torch.Tensor,
        idx: torch.Tensor,
        landmarks: list[int] | None = None,
        sigma: float | None = None,
    ) -> torch.Tensor:
        """Normalised robust keypoint energy ``[B]`` for label sets ``idx [B]``."""
        w = self.weights[idx]
        if landmarks is not None:
            keep = torch.zeros(w.shape[1])
            keep[landmarks] = 1.0
            w = w * keep
        d2 = (lm[..., :2] - self.target[idx]).pow(2).sum(-1)
        sigma = self.sigma if sigma is None else sigma
        e = (w * _gm(d2, sigma)).sum(1) / w.sum(1).clamp(min=1e-6)
        return e / self.cfg.kp_scale**2


def _cam(log_s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return torch.cat([log_s.exp()[:, None], t], 1)


def _init_camera(prob: _Problem, root0: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Least-squares camera of the mean-posed body to the rigid landmarks ``[B, 3]``."""
    with torch.no_grad():
        pose = prob.mean_pose[None].expand(len(idx), -1, -1)
        one = torch.tensor([[1.0, 0.0, 0.0]]).expand(len(idx), -1)
        _, lm = prob.pose_body(None, root0, pose, one)
        w = prob.weights[idx].clone()
        keep = torch.zeros(w.shape[1])
        keep[_RIGID] = 1.0
        rigid = w * keep
        # Fall back to any seen landmark when the rigid ones are too few to fix scale.
        use = torch.where((rigid > 0).sum(1, keepdim=True) >= 2, rigid, w)
        return cam_fit_points(lm, prob.target[idx], use)


def _stage_camera(
    prob: _Problem, n: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stage 1 for every yaw hypothesis and landmark set (``h * kn`` rows, yaw-major).

    Returns ``idx [h*kn]`` (landmark set of each row), roots ``[h*kn,3,3]``, cams
    ``[h*kn,3]`` and the final rigid keypoint energies ``[h*kn]``.
    """
    cfg = prob.cfg
    yaws = torch.tensor(cfg.yaw_hypotheses, dtype=torch.float32)
    h = len(yaws)
    n = prob.num_sets * n  # landmark sets
    idx = torch.arange(n).repeat(h)
    base = rotation_about_x(torch.tensor(math.pi)) @ rotation_about_y(yaws)  # [h,3,3]
    root0 = base.repeat_interleave(n, 0)
    cam0 = _init_camera(prob, root0, idx)
    root_aa = torch.zeros(h * n, 3, requires_grad=True)
    log_s = cam0[:, 0].clamp(min=1e-3).log().clone().requires_grad_()
    t = cam0[:, 1:].clone().requires_grad_()
    pose = prob.mean_pose[None].expand(h * n, -1, -1)
    opt = torch.optim.Adam([root_aa, log_s, t], lr=cfg.lr * 2)
    for _ in range(cfg.iters_camera):
        opt.zero_grad()
        root = axis_angle_to_matrix(root_aa) @ root0
        _, lm = prob.pose_body(None, root, pose, _cam(log_s, t))
        e = prob.keypoint_term(lm, idx, _RIGID)
        e.sum().backward()
        opt.step()
    with torch.no_grad():
        root = axis_angle_to_matrix(root_aa) @ root0
        _, lm = prob.pose_body(None, root, pose, _cam(log_s, t))
        return idx, root, _cam(log_s, t), prob.keypoint_term(lm, idx, _RIGID)


class _State:
    """Free parameters of a batch of fits (one row per photo, or per photo and hypothesis)."""

    def __init__(self, prob: _Problem, idx: torch.Tensor, root0: torch.Tensor, cam0: torch.Tensor):
        b = len(idx)
        self.prob, self.idx, self.root0 = prob, idx, root0
        self.sil = prob.sil.index(prob.photo[idx])  # the rows' silhouette maps, gathered once
        self.root_aa = torch.zeros(b, 3, requires_grad=True)
        self.log_s = cam0[:, 0].clamp(min=1e-4).log().clone().requires_grad_()
        self.t = cam0[:, 1:].clone().requires_grad_()
        self.pose = prob.mean_pose[None].repeat(b, 1, 1).requires_grad_()
        self.betas = torch.zeros(1, prob.body.num_betas, requires_grad=True)

    @classmethod
    def from_init(cls, prob: _Problem, init: BodyInit, n: int) -> _State:
        """Every landmark set of every photo (rows ``k * n + i``: set ``k`` of photo ``i``)
        starting from ``init``."""
        k = prob.num_sets
        poses = torch.as_tensor(np.asarray(init.poses), dtype=torch.float32).reshape(n, 24, 3)
        cams = torch.as_tensor(np.asarray(init.cams), dtype=torch.float32).reshape(n, 3)
        betas = torch.as_tensor(np.asarray(init.betas), dtype=torch.float32).reshape(1, -1)
        if betas.shape[1] != prob.body.num_betas:
            raise ValueError(f"BodyInit has {betas.shape[1]} betas, the body {prob.body.num_betas}")
        state = cls(
            prob, torch.arange(k * n), axis_angle_to_matrix(poses[:, 0]).repeat(k, 1, 1),
            cams.repeat(k, 1),
        )  # fmt: skip
        with torch.no_grad():
            state.pose.copy_(poses.repeat(k, 1, 1))
            state.betas.copy_(betas)
        return state

    def select(self, rows: torch.Tensor) -> _State:
        """A new state holding copies of ``rows`` (betas carried over)."""
        new = _State.__new__(_State)
        new.prob, new.idx = self.prob, self.idx[rows]
        new.sil = self.prob.sil.index(self.prob.photo[new.idx])
        with torch.no_grad():
            new.root0 = axis_angle_to_matrix(self.root_aa[rows]) @ self.root0[rows]
            new.root_aa = torch.zeros(len(rows), 3, requires_grad=True)
            new.log_s = self.log_s[rows].clone().requires_grad_()
            new.t = self.t[rows].clone().requires_grad_()
            new.pose = self.pose[rows].clone().requires_grad_()
            new.betas = self.betas.clone().requires_grad_()
        return new

    def pose_params(self) -> list[torch.Tensor]:
        return [self.root_aa, self.log_s, self.t, self.pose]

    def energy(self, silhouette: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor], tuple]:
        """Total energy ``[B]``, its terms, and (landmarks, root, pose) for the reports."""
        prob, cfg, idx = self.prob, self.prob.cfg, self.idx
        b = len(idx)
        mean = prob.mean_pose[None]
        root = axis_angle_to_matrix(self.root_aa) @ self.root0
        p = self.pose * prob.free + mean * (1 - prob.free)
        v, lm = prob.pose_body(self.betas, root, p, _cam(self.log_s, self.t), silhouette)
        terms = {
            "keypoints": prob.keypoint_term(lm, idx),
            "pose_prior": cfg.w_pose_prior * prob.prior(p[:, 1:].reshape(b, 69)),
            "joint_limits": cfg.w_joint_limits * joint_limit_penalty(p.reshape(b, 72)),
            "hold": cfg.w_hold * (prob.hold[idx, :, None] * (p - mean).pow(2)).sum((1, 2)),
            "facing": cfg.w_facing * prob.face_seen[prob.photo[idx]] * _facing_away(lm, root),
        }
        if silhouette:
            inside, cover = silhouette_loss(v[..., :2], self.sil, prob.sil_sigma)
            scale = cfg.w_silhouette / cfg.kp_scale**2
            terms["sil_inside"] = scale * inside
            terms["sil_cover"] = scale * cover
        # Shared betas: the prior counts once per person, spread over the rows.
        terms["shape"] = cfg.w_shape * shape_prior(self.betas).expand(b) / b
        return sum(terms.values()), terms, (lm, root, p)


def _labelled_from_behind(kp: np.ndarray) -> bool:
    """Whether a landmark set ``[33, 3]`` names the sides as seen from behind: the person's
    left shoulder and hip clearly on the image's left (by a quarter of the torso's length
    together; a side view, where they overlap, does not count)."""
    ids = [_LM[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
    if (kp[ids, 2] < VISIBLE).any():
        return False
    x = kp[ids, 0]
    torso = np.linalg.norm(kp[ids[:2], :2].mean(0) - kp[ids[2:], :2].mean(0))
    return bool((x[0] - x[1]) + (x[2] - x[3]) < -0.25 * torso)


def _relabelled(sets: np.ndarray, size: int) -> np.ndarray:
    """A photo's landmark sets ``[K, 33, 3]`` (crop pixels) plus, for a photo where a face was
    seen, a copy with left and right exchanged of every set labelled as seen from behind
    (unless another set already agrees with that copy).

    When mediapipe mislabels a person who faces the camera on every pass, no pass fits the
    body facing the camera: the facing term alone could only pick the least bad of the
    mirrored ones. The copies are appended, so indices below ``K`` keep naming the
    detection's passes.
    """
    body = list(range(11, 29))
    out = list(sets)
    for kp in sets:
        if not _labelled_from_behind(kp):
            continue
        flip = kp[list(LANDMARK_FLIP)]
        agree = False
        for other in out:
            both = (flip[body, 2] >= VISIBLE) & (other[body, 2] >= VISIBLE)
            if both.sum() >= 4:
                d = np.linalg.norm(flip[body, :2] - other[body, :2], axis=1)[both]
                agree = agree or float(np.median(d)) * 2.0 / size < _AGREE
        if not agree:
            out.append(flip)
    return np.stack(out)


def _facing_away(lm: torch.Tensor, root: torch.Tensor) -> torch.Tensor:
    """``[B]``: how far the fitted body turns its back to the camera (for photos where a face
    was seen, so the person faces the camera or shows a profile).

    Two hinges, each ~12 for a body turned fully away (the depth mirror of a person whose
    landmarks mediapipe labelled as seen from behind) and 0 up to ~17 degrees past a profile
    (the face detector's own tolerance): the head, ``relu((dz - 3 cm) / 2 cm)^2`` with ``dz``
    the nose's depth behind the ears' midpoint (projected landmarks ``[B, 33, 3]``, depth in
    metres; the nose is ~10 cm in front of the ears), and the torso,
    ``relu((f_z - 0.3) / 0.2)^2`` with ``f_z`` the depth component of the body's forward
    direction (``root [B, 3, 3]``; -1 facing the camera, +1 away). Both, because a body
    turned away could otherwise show the camera a profile by twisting its neck.
    """
    dz = lm[:, _NOSE, 2] - lm[:, _EARS, 2].mean(1)
    fz = root[:, 2, 2]
    return torch.relu((dz - 0.03) / 0.02).pow(2) + torch.relu((fz - 0.3) / 0.2).pow(2)


def _outlier_sets(prob: _Problem, n: int) -> torch.Tensor:
    """``float [kN]``: 1 for a landmark set that no other pass of its photo agrees with.

    Agreement = median distance over the body joints' landmarks (shoulders to ankles) seen
    in both sets below ``_AGREE`` (NDC): the median, so that two passes that differ on one
    limb still agree, while a pass that exchanged the sides differs almost everywhere. A pass
    that mirrored the person's sides or collapsed
    the legs usually stands alone; with a turned-around body it could still explain the
    landmarks and the silhouette exactly as well as the right one (a depth mirror).
    """
    k = prob.num_sets
    out = torch.zeros(k * n)
    if k < 2:
        return out
    body = list(range(11, 29))
    for i in range(n):
        sets = list(range(i, k * n, n))
        for a in sets:
            agree = False
            for b in sets:
                if a == b:
                    continue
                both = (prob.weights[a, body] > 0) & (prob.weights[b, body] > 0)
                if both.sum() < 4:
                    continue
                d = (prob.target[a, body] - prob.target[b, body]).norm(dim=-1)[both].median()
                agree = agree or float(d) < _AGREE
            out[a] = 0.0 if agree else 1.0
    return out


def _run(
    state: _State, params: list[torch.Tensor], iters: int, silhouette: bool, lr: float
) -> None:
    opt = torch.optim.Adam(params, lr=lr)
    for _ in range(iters):
        opt.zero_grad()
        e, _, _ = state.energy(silhouette)
        e.sum().backward()
        opt.step()


def _render_iou(prob: _Problem, v: torch.Tensor, crops: Sequence[SubjectCrop]) -> list[float]:
    """IoU of each fitted body's render with its mask (> 0.5), at the crops' size."""
    out = []
    for i, c in enumerate(crops):
        frag = rasterize(v[i : i + 1].detach(), prob.body.faces, c.size)
        sil = (frag.fim[0] >= 0).numpy()
        m = c.mask > 0.5
        union = np.logical_or(sil, m).sum()
        out.append(float(np.logical_and(sil, m).sum() / union) if union else 0.0)
    return out


def fit_body(
    body: torch.nn.Module,
    crops: Sequence[SubjectCrop],
    config: FitConfig | None = None,
    *,
    keypoint_map: KeypointMap | None = None,
    pose_prior: PosePrior | None = None,
    init: BodyInit | None = None,
) -> BodyFit:
    """Fit one person's body to its photos: shared betas, per-photo pose and camera.

    Args:
        body: ``BodyModel`` (the embedded body or SMPL).
        crops: the person's photos as :class:`SubjectCrop` (from
            :func:`vmc.subject.crop.crop_person`).
        config: :class:`FitConfig` (defaults when None).
        keypoint_map: precomputed :func:`build_keypoint_map` of ``body`` (cache it for many fits).
        pose_prior: another :class:`PosePrior` (default: the committed one).
        init: start from these parameters (:class:`BodyInit`, one pose and camera per photo)
            instead of the camera and yaw search; the refinement is the same.

    Returns:
        :class:`BodyFit`.
    """
    if not crops:
        raise ValueError("fit_body needs at least one photo")
    cfg = config or FitConfig()
    threads = torch.get_num_threads()
    if cfg.num_threads is not None:
        torch.set_num_threads(int(cfg.num_threads))
    try:
        with torch.enable_grad():
            return _fit(body, crops, cfg, keypoint_map, pose_prior, init)
    finally:
        torch.set_num_threads(threads)


def _fit(
    body: torch.nn.Module,
    crops: Sequence[SubjectCrop],
    cfg: FitConfig,
    kmap: KeypointMap | None,
    prior: PosePrior | None,
    init: BodyInit | None = None,
) -> BodyFit:
    t0 = time.perf_counter()
    body = body.float()
    kmap = build_keypoint_map(body) if kmap is None else kmap
    prior = load_pose_prior() if prior is None else prior
    n = len(crops)
    prob = _Problem(body, crops, kmap, prior, cfg)

    # Hypotheses: initial yaws x landmark sets (detection passes). Stage 1 (rigid torso + face)
    # runs them all; the best yaws of every set go through a short stage 2 with the
    # silhouette, and the lowest full energy (landmarks, silhouette, priors) survives. The
    # silhouette is the referee: a body turned sideways can match a frontal photo's
    # landmarks but not its width, and a pass that collapsed the legs cannot explain the mask.
    if init is None:
        prob.sigma = cfg.kp_sigma[0]
        idx, root0, cam0, e1 = _stage_camera(prob, n)
        keep = []
        for i in range(n):
            # The best yaws of every landmark set of photo i.
            chosen = []
            for s_ in range(i, prob.num_sets * n, n):
                rows = torch.nonzero(idx == s_)[:, 0]
                chosen.append(rows[torch.argsort(e1[rows])[: cfg.num_candidates]])
            keep.append(torch.cat(chosen))
        rows = torch.stack(keep, 1).reshape(-1)  # candidate-major: [c*n]
        state = _State(prob, idx[rows], root0[rows], cam0[rows])
        search_lr = cfg.lr_search
    else:  # one start per landmark set, already near: no swing of a limb to search for
        state = _State.from_init(prob, init, n)
        search_lr = cfg.lr
    prob.sigma = cfg.kp_sigma[1]
    _run(state, state.pose_params(), cfg.iters_search, True, search_lr)
    with torch.no_grad():
        e, _, _ = state.energy(True)
        e = e + cfg.outlier_margin * _outlier_sets(prob, n)[state.idx]
        best = e.reshape(-1, n).argmin(0)
    prob.sigma = cfg.kp_sigma[2]
    prob.sil_sigma = cfg.silhouette_sigma[1]
    state = state.select(best * n + torch.arange(n))
    _run(state, state.pose_params(), cfg.iters_pose, True, cfg.lr)
    # Stage 3: the shared betas join.
    params = state.pose_params() + ([state.betas] if cfg.fit_shape else [])
    _run(state, params, cfg.iters_shape, True, cfg.lr)

    with torch.no_grad():
        _, terms, (lm, root, p) = state.energy(True)
        p = p.clone()
        p[:, 0] = matrix_to_axis_angle(root)
        cams = _cam(state.log_s, state.t)
        betas = state.betas
        full = body(betas=betas.expand(n, -1), pose_axis_angle=p.reshape(n, 72))
        v = project_weak_perspective(full.vertices, cams)
    ious = _render_iou(prob, v, crops)
    reports = []
    for i, c in enumerate(crops):
        ls = int(state.idx[i])  # the landmark set that won
        seen = prob.weights[ls] > 0
        err = (lm[i, :, :2] - prob.target[ls]).norm(dim=-1)[seen] * (c.size / 2)
        facing = _facing(root[i])
        notes = list(c.warnings)
        if facing == "back":
            notes.append("fitted as seen from behind (the back faces the camera)")
        if "upper_body" in c.flags and not any("upper body" in w for w in notes):
            notes.append("only the upper body is visible: the legs are kept in a standing pose")
        reports.append(
            PhotoReport(
                keypoints_found=int(seen.sum()),
                keypoint_error_px=float(err.mean()) if seen.any() else float("nan"),
                silhouette_iou=ious[i],
                facing=facing,
                landmark_set=ls // n,
                losses={k: float(val[i]) for k, val in terms.items()},
                warnings=notes,
            )
        )
    return BodyFit(
        betas=betas[0].detach().numpy().astype(np.float32),
        poses=p.reshape(n, 72).numpy().astype(np.float32),
        cams=cams.numpy().astype(np.float32),
        crops=list(crops),
        reports=reports,
        seconds=time.perf_counter() - t0,
    )
