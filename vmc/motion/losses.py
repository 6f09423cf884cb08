"""MotionCLIP training losses and the body posing they need.

Conventions: ``docs/conventions.md#motionclip-losses-and-training``.

Notation: ``x`` and ``output`` are motions ``[B, 25, 6, T]`` (rows 0..23 joint rotations in 6D,
row 24 the translation row), ``mask [B, T]`` bool marks valid frames, ``M`` the set of valid
``(b, t)``. All terms are means over the elements of the valid positions:

* ``rc``: MSE over M of ``x`` vs ``output`` (all 25 rows, translation row included).
* ``rcxyz``: MSE over M of body **vertices** posed from ``x`` vs from ``output``: betas 0, global
  rotation applied, not root-centred, translation not added (the reference's
  ``vertstrans=False``; ``add_translation=True`` adds row 24 for the ``root`` translation mode).
* ``vel``: MSE of the frame differences ``x[..., 1:] - x[..., :-1]`` vs the same of ``output``,
  over ``mask[:, 1:]``.
* ``text_cosine`` / ``image_cosine``: ``mean_b (1 - cos(mu_b, f_b))`` with ``f`` the frozen
  encoder's text or image feature; both vectors are L2-normalised first (as the reference).

The paper model's total is ``100 rc + 100 rcxyz + 100 vel + 1 text_cosine + 1 image_cosine``
(:class:`LossWeights` defaults).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from smplx.lbs import batch_rigid_transform

from vmc.geometry.rotations import rot6d_rows_to_matrix

__all__ = [
    "LossWeights",
    "PosedBody",
    "cosine_loss",
    "masked_mse",
    "motion_losses",
    "velocity_loss",
]


@dataclass
class LossWeights:
    """Weights of the loss terms (paper model: 100, 100, 100, 1, 1). A weight of 0 skips a term."""

    rc: float = 100.0
    rcxyz: float = 100.0
    vel: float = 100.0
    text_cosine: float = 1.0
    image_cosine: float = 1.0
    # Not in the paper: reconstruct the motion from its *text* latent too (rc + vel on
    # decode(text feature rescaled to the motion latent's norm)). It trains the decoder on the
    # inputs it gets at generation time; the embedded default uses it.
    text_rc: float = 0.0
    # Not in the paper: symmetric InfoNCE between motion latents and text features of a batch
    # (temperature ``nce_temperature``). It aligns the latent space discriminatively, which the
    # plain cosine term does slowly on a small dataset; the embedded default uses it.
    text_nce: float = 0.0
    nce_temperature: float = 0.1
    # Not in the paper: MSE of the translation (row 24, first 3 numbers, metres) and of its
    # frame-to-frame velocity. Inside ``rc`` the 3 translation numbers weigh 3/150; models whose
    # row 24 is the true trajectory (walks travel) need it supervised on its own when the vertex
    # loss is off.
    traj: float = 0.0

    def __post_init__(self) -> None:
        bad = {k: v for k, v in asdict(self).items() if not float(v) >= 0.0}
        if not self.nce_temperature > 0:
            bad["nce_temperature"] = self.nce_temperature
        if bad:
            raise ValueError(f"loss weights must be >= 0, got {bad}")

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


def _check_pair(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> None:
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: {tuple(x.shape)} vs {tuple(y.shape)}")
    if mask.dtype != torch.bool or tuple(mask.shape) != (x.shape[0], x.shape[-1]):
        raise ValueError(
            f"mask must be bool [B={x.shape[0]}, T={x.shape[-1]}], got {mask.dtype} "
            f"{tuple(mask.shape)}"
        )


def masked_mse(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the valid frames of ``[B, ..., T]`` tensors (``mask [B, T]``).

    Every element of a valid frame counts once; padded frames are ignored. Returns 0 when no
    frame is valid.
    """
    _check_pair(x, y, mask)
    per_frame = (x - y).pow(2).flatten(1, -2).sum(1)  # [B, T]
    elems_per_frame = x[0, ..., 0].numel()
    count = mask.sum() * elems_per_frame
    return (per_frame * mask).sum() / count.clamp(min=1)


def velocity_loss(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """MSE of frame differences of ``[B, ..., T]`` tensors over ``mask[:, 1:]`` (reference)."""
    _check_pair(x, y, mask)
    dx = x[..., 1:] - x[..., :-1]
    dy = y[..., 1:] - y[..., :-1]
    return masked_mse(dx, dy, mask[:, 1:])


def info_nce_loss(mu: torch.Tensor, features: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE between ``mu [B, D]`` and ``features [B, D]`` (cosine logits / T).

    Items whose features are identical (the same caption twice in a batch) are all positives
    of each other: the target distribution is uniform over them, so the loss never pushes a
    motion away from its own caption carried by another item.
    """
    if mu.shape != features.shape or mu.ndim != 2:
        raise ValueError(f"latent {tuple(mu.shape)} and features {tuple(features.shape)} differ")
    mu_n = F.normalize(mu, dim=1)
    f_n = F.normalize(features.to(mu.dtype), dim=1)
    logits = mu_n @ f_n.T / temperature  # [B, B]: motion i vs text j
    same = (f_n @ f_n.T) > 1 - 1e-6
    target = same.to(mu.dtype) / same.sum(1, keepdim=True)
    motion_to_text = -(target * F.log_softmax(logits, dim=1)).sum(1).mean()
    text_to_motion = -(target * F.log_softmax(logits.T, dim=1)).sum(1).mean()
    return 0.5 * (motion_to_text + text_to_motion)


def cosine_loss(mu: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """``mean_b (1 - cos(mu_b, features_b))`` on L2-normalised ``[B, D]`` vectors."""
    if mu.shape != features.shape or mu.ndim != 2:
        raise ValueError(
            f"latent {tuple(mu.shape)} and features {tuple(features.shape)} must both be [B, D] "
            "with the same D (the motion latent size must equal the encoder's feature size)"
        )
    mu_n = F.normalize(mu, dim=1)
    f_n = F.normalize(features.to(mu.dtype), dim=1)
    return (1.0 - F.cosine_similarity(mu_n, f_n, dim=1, eps=1e-6)).mean()


class PosedBody:
    """Poses a body model's vertices and joints from rotations, for losses and metrics.

    A plain object (not an ``nn.Module``) on purpose: body files (SMPL is licensed) must never
    enter a training checkpoint. Betas are 0, as in the reference's ``rot2xyz``. Posing is exact
    linear blend skinning (pose blend shapes included), equal to :class:`vmc.body.BodyModel`'s
    forward with ``betas=None``; ``num_vertices`` keeps an evenly spaced subset of the vertices
    (the joints still come from the full mesh) so a large mesh can be made cheaper.

    Args:
        body: a :class:`vmc.body.BodyModel`.
        num_vertices: vertices to keep (``None`` = all).
    """

    def __init__(self, body: torch.nn.Module, num_vertices: int | None = None) -> None:
        total = int(body.v_template.shape[0])
        if num_vertices is None or num_vertices >= total:
            ids = torch.arange(total)
        else:
            if num_vertices < 1:
                raise ValueError(f"num_vertices must be >= 1 or None, got {num_vertices}")
            ids = torch.from_numpy(np.linspace(0, total - 1, num_vertices).round().astype(np.int64))
        with torch.no_grad():
            v_template = body.v_template.detach().float()
            self.rest_joints = (body.J_regressor.float() @ v_template).cpu()  # [24, 3]
            self.v_template = v_template[ids].cpu()  # [V', 3]
            posedirs = body.posedirs.detach().float().reshape(207, total, 3)  # smplx layout
            self.posedirs = posedirs[:, ids].reshape(207, -1).cpu()  # [207, V'*3]
            self.weights = body.lbs_weights.detach().float()[ids].cpu()  # [V', 24]
            self.parents = body.parents.detach().long().cpu()
        self.vertex_ids = ids
        self.device = torch.device("cpu")

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    def to(self, device: torch.device | str) -> PosedBody:
        """Move the buffers (returns self); cheap no-op when already there."""
        device = torch.device(device)
        if device != self.device:
            for name in ("rest_joints", "v_template", "posedirs", "weights", "parents"):
                setattr(self, name, getattr(self, name).to(device))
            self.device = device
        return self

    def __call__(self, rotations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``rotations [N, 24, 3, 3]`` -> ``(vertices [N, V', 3], joints [N, 24, 3])``, metres.

        No translation: the root joint sits at the body's rest pelvis position rotated by the
        global orientation (the reference's convention for the vertex loss).
        """
        if rotations.ndim != 4 or tuple(rotations.shape[1:]) != (24, 3, 3):
            raise ValueError(f"rotations must be [N, 24, 3, 3], got {tuple(rotations.shape)}")
        self.to(rotations.device)
        dtype = rotations.dtype
        n = rotations.shape[0]
        if n == 0:
            return rotations.new_zeros(0, self.num_vertices, 3), rotations.new_zeros(0, 24, 3)
        eye = torch.eye(3, dtype=dtype, device=rotations.device)
        pose_feature = (rotations[:, 1:] - eye).reshape(n, -1)  # [N, 207]
        v_posed = self.v_template.to(dtype) + (pose_feature @ self.posedirs.to(dtype)).reshape(
            n, -1, 3
        )
        joints = self.rest_joints.to(dtype).expand(n, -1, -1)
        posed_joints, transforms = batch_rigid_transform(rotations, joints, self.parents, dtype)
        # Per-vertex blend of the joint transforms (linear blend skinning).
        blend = torch.einsum("vj,njab->nvab", self.weights.to(dtype), transforms[:, :, :3])
        vertices = torch.einsum("nvab,nvb->nva", blend[..., :3], v_posed) + blend[..., 3]
        return vertices, posed_joints

    def pose_motion(
        self, x: torch.Tensor, mask: torch.Tensor, add_translation: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pose the valid frames of a motion batch.

        Args:
            x: ``[B, 25, 6, T]`` motion.
            mask: ``[B, T]`` bool.
            add_translation: add row 24's first three numbers (``root`` translation mode).

        Returns:
            ``(vertices [N, V', 3], joints [N, 24, 3])`` for the ``N = mask.sum()`` valid frames,
            in ``(b, t)`` order.
        """
        frames = x.permute(0, 3, 1, 2)[mask]  # [N, 25, 6]
        rotations = rot6d_rows_to_matrix(frames[:, :24])
        vertices, joints = self(rotations)
        if add_translation:
            offset = frames[:, 24, None, :3]
            vertices, joints = vertices + offset, joints + offset
        return vertices, joints


def motion_losses(
    x: torch.Tensor,
    output: torch.Tensor,
    mask: torch.Tensor,
    mu: torch.Tensor,
    weights: LossWeights,
    *,
    body: PosedBody | None = None,
    text_features: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None,
    image_features: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None,
    add_translation: bool = False,
    text_decoded: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """All MotionCLIP loss terms and their weighted totals.

    Args:
        x, output: ``[B, 25, 6, T]`` ground truth and reconstruction.
        mask: ``[B, T]`` bool.
        mu: ``[B, D]`` latent.
        weights: term weights; a term with weight 0 (or without its input) is skipped.
        body: needed for ``rcxyz`` when its weight is > 0.
        text_features, image_features: ``[B, D]`` frozen-encoder features, or a pair
            ``(features [b, D], valid [B] bool)`` when only the ``valid`` items have one.
        add_translation: add row 24 to the vertices of ``rcxyz``.
        text_decoded: ``(decoded [b, 25, 6, T], valid [B] bool)``: the decoder's output from
            the text latents of the ``valid`` items (for ``text_rc``).

    Returns:
        Dict with the computed terms (``rc``, ``rcxyz``, ``vel``, ``text_cosine``,
        ``image_cosine``) and ``mixed_without_clip``, ``mixed_clip_only``, ``mixed_with_clip``
        (the weighted totals; the last one is the training objective, key ``loss`` too).
    """
    terms: dict[str, torch.Tensor] = {}
    if weights.rc > 0:
        terms["rc"] = masked_mse(x, output, mask)
    if weights.vel > 0:
        terms["vel"] = velocity_loss(x, output, mask)
    if weights.rcxyz > 0:
        if body is None:
            raise ValueError("the rcxyz loss needs a body model (or set its weight to 0)")
        with torch.no_grad():  # the target needs no gradient
            verts_gt, _ = body.pose_motion(x, mask, add_translation)
        verts_out, _ = body.pose_motion(output, mask, add_translation)
        terms["rcxyz"] = F.mse_loss(verts_out, verts_gt) if verts_gt.numel() else x.sum() * 0
    if weights.traj > 0:
        pos_x, pos_out = x[:, 24, :3], output[:, 24, :3]  # [B, 3, T]
        terms["traj"] = masked_mse(pos_x, pos_out, mask) + velocity_loss(pos_x, pos_out, mask)
    if weights.text_rc > 0 and text_decoded is not None:
        decoded, valid = text_decoded
        sub_x, sub_mask = x[valid], mask[valid]
        terms["text_rc"] = masked_mse(sub_x, decoded, sub_mask) + velocity_loss(
            sub_x, decoded, sub_mask
        )
    if weights.text_nce > 0 and text_features is not None:
        feats, valid = text_features if isinstance(text_features, tuple) else (text_features, None)
        sub = mu if valid is None else mu[valid]
        if sub.shape[0] > 1:
            terms["text_nce"] = info_nce_loss(sub, feats, weights.nce_temperature)
    for name, given in (("text_cosine", text_features), ("image_cosine", image_features)):
        if getattr(weights, name) > 0 and given is not None:
            feats, valid = given if isinstance(given, tuple) else (given, None)
            terms[name] = cosine_loss(mu if valid is None else mu[valid], feats)
    w = weights.to_dict()
    zero = mu.new_zeros(())
    recon_terms = ("rc", "rcxyz", "vel", "text_rc", "traj")
    recon = sum((w[k] * terms[k] for k in recon_terms if k in terms), zero)
    clip = sum(
        (w[k] * terms[k] for k in ("text_cosine", "image_cosine", "text_nce") if k in terms), zero
    )
    terms["mixed_without_clip"] = recon
    terms["mixed_clip_only"] = clip
    terms["mixed_with_clip"] = recon + clip
    terms["loss"] = terms["mixed_with_clip"]
    return terms
