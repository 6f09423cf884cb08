"""Conversions between SMPL motions and MotionCLIP's ``[B, 25, 6, T]`` motion tensor.

Motion tensor (``docs/conventions.md#motionclip-motion-tensor``): rows 0..23 are the 24 SMPL joint
rotations in MotionCLIP's 6D form (first two ROWS of the matrix, :func:`vmc.geometry.rotations.
matrix_to_rot6d_rows`), row 0 being the global (root) orientation in the training data's world
frame. Row 24 holds a translation padded to 6 numbers ``[tx, ty, tz, 0, 0, 0]``; what it means is
chosen with ``translation``:

* ``"reference"``: what the reference's AMASS parser stores (``docs/data.md``): the displacement of
  the **right ankle** (SMPL joint 8) of the *trans-free* body, posed with all 24 rotations (root
  included), relative to its position at the first frame of the clip: ``row24[t] = ankle_R(t) -
  ankle_R(0)``. It is not a trajectory: the reference never adds it to the body, so decoded motions
  stay in place. The reference used SMPL-H's rest skeleton; here the rest joints are a parameter
  (default: the procedural library's :data:`~vmc.motion.procedural.skeleton.REST_JOINTS`; pass a
  body model's rest joints to match that body). Decoding (:func:`motion_to_smpl`) returns zero
  translation in this mode.
* ``"root"``: the true root translation, so walks travel and jumps leave the ground. The
  horizontal components are relative to the first frame (the clip starts above the origin)
  and the vertical component (the height) is kept: for a Y-up world
  ``row24[t] = (tx(t) - tx(0), ty(t), tz(t) - tz(0))``; for a Z-up world
  ``(tx(t) - tx(0), ty(t) - ty(0), tz(t))``. ``trans`` is SMPL's ``transl`` (added to every
  vertex after posing). Decoding returns exactly these numbers as ``trans``.

World frames (Z-up, Y-up, the HMR image frame) and the conversions between them live in
:mod:`vmc.geometry.frames`; a decoded motion becomes a :class:`~vmc.motion.types.Motion` in the
model's world (``Motion.from_torch``) and ``Motion.to_frame`` converts it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from vmc.geometry.rotations import matrix_to_rot6d_rows, rot6d_rows_to_matrix
from vmc.motion.procedural.skeleton import REST_JOINTS

__all__ = [
    "RIGHT_ANKLE",
    "TRANSLATION_MODES",
    "check_translation_mode",
    "forward_kinematics_torch",
    "motion_to_smpl",
    "reference_translation_row",
    "smpl_to_motion",
]

Translation = Literal["reference", "root"]
TRANSLATION_MODES: tuple[str, ...] = ("reference", "root")
#: SMPL index of the right ankle, the joint the reference's "translation" row follows.
RIGHT_ANKLE = 8
_SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)


def check_translation_mode(translation: str) -> str:
    """Return ``translation`` if it is ``"reference"`` or ``"root"``, else raise ``ValueError``."""
    if translation not in TRANSLATION_MODES:
        raise ValueError(
            f"translation must be one of {TRANSLATION_MODES} (row 24 = the reference's ankle "
            f"displacement, or the true root translation), got {translation!r}"
        )
    return translation


def _check_up(up_axis: str) -> int:
    if up_axis not in ("y", "z"):
        raise ValueError(f"up_axis must be 'y' or 'z', got {up_axis!r}")
    return 1 if up_axis == "y" else 2


def _default_rest(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    return torch.tensor(np.array(REST_JOINTS), device=device, dtype=dtype)


def forward_kinematics_torch(
    rotations: torch.Tensor, rest_joints: torch.Tensor, parents: tuple[int, ...] = _SMPL_PARENTS
) -> torch.Tensor:
    """Joint positions ``[..., 24, 3]`` of posed skeletons without translation.

    Args:
        rotations: ``[..., 24, 3, 3]`` local joint rotations (joint 0 = global orientation).
        rest_joints: ``[24, 3]`` rest joint positions (the root lands at ``rest_joints[0]``).
        parents: parent index per joint (parents precede children).

    These are exactly SMPL's posed joints for a body whose shaped rest joints are
    ``rest_joints`` (SMPL poses its regressed rest joints by this same chain).
    """
    rest = rest_joints.to(device=rotations.device, dtype=rotations.dtype)
    glob: list[torch.Tensor] = []
    pos: list[torch.Tensor] = []
    for j, p in enumerate(parents):
        if p < 0:
            glob.append(rotations[..., j, :, :])
            pos.append(rest[j].expand(*rotations.shape[:-3], 3))
        else:
            glob.append(glob[p] @ rotations[..., j, :, :])
            pos.append(pos[p] + (glob[p] @ (rest[j] - rest[p])[:, None])[..., 0])
    return torch.stack(pos, dim=-2)


def reference_translation_row(
    rotations: torch.Tensor, rest_joints: torch.Tensor | None = None
) -> torch.Tensor:
    """The reference's pseudo-translation ``[B, T, 3]``: right-ankle displacement from frame 0.

    Args: rotations: ``[B, T, 24, 3, 3]``; the body is posed without translation (as the reference's
        parser). rest_joints: ``[24, 3]`` rest skeleton (default: the procedural library's).
    """
    rest = _default_rest(rotations.device, rotations.dtype) if rest_joints is None else rest_joints
    if tuple(rest.shape) != (24, 3):
        raise ValueError(f"rest_joints must be [24, 3], got {tuple(rest.shape)}")
    ankle = forward_kinematics_torch(rotations, rest)[..., RIGHT_ANKLE, :]  # [B, T, 3]
    return ankle - ankle[:, :1]


def _check_smpl(rotations: torch.Tensor, trans: torch.Tensor) -> None:
    if (
        not isinstance(rotations, torch.Tensor)
        or rotations.ndim != 5
        or tuple(rotations.shape[2:]) != (24, 3, 3)
    ):
        shape = tuple(rotations.shape) if isinstance(rotations, torch.Tensor) else type(rotations)
        raise ValueError(f"rotations must be a [B, T, 24, 3, 3] tensor, got {shape}")
    if not rotations.is_floating_point():
        raise ValueError(f"rotations must be floating point, got {rotations.dtype}")
    b, t = rotations.shape[:2]
    if not isinstance(trans, torch.Tensor) or tuple(trans.shape) != (b, t, 3):
        shape = tuple(trans.shape) if isinstance(trans, torch.Tensor) else type(trans)
        raise ValueError(
            f"trans must be a [B={b}, T={t}, 3] tensor matching rotations, got {shape}"
        )
    if b == 0 or t == 0:
        raise ValueError(f"empty motion: rotations {tuple(rotations.shape)}")


def smpl_to_motion(
    rotations: torch.Tensor,
    trans: torch.Tensor,
    *,
    translation: Translation,
    up_axis: str = "y",
    rest_joints: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """SMPL rotations + translation -> MotionCLIP motion tensor.

    Args:
        rotations: float ``[B, T, 24, 3, 3]`` joint rotations (joint 0 = global orientation).
        trans: float ``[B, T, 3]`` SMPL ``transl`` in metres (used by ``"root"`` only).
        translation: meaning of row 24, ``"reference"`` or ``"root"`` (module docstring).
        up_axis: world up axis for ``"root"`` (the component that is kept, not made relative).
        rest_joints: ``[24, 3]`` rest skeleton for ``"reference"``.
        mask: optional bool ``[B, T]``; padded frames (False) are set to zero, as in batches.

    Returns:
        float ``[B, 25, 6, T]`` (same dtype/device as ``rotations``).
    """
    _check_smpl(rotations, trans)
    check_translation_mode(translation)
    up = _check_up(up_axis)
    b, t = rotations.shape[:2]
    rot6d = matrix_to_rot6d_rows(rotations)  # [B, T, 24, 6]
    trans = trans.to(rotations)
    if translation == "reference":
        row = reference_translation_row(rotations, rest_joints)
    else:
        row = trans.clone()
        horizontal = [i for i in range(3) if i != up]
        row[..., horizontal] = trans[..., horizontal] - trans[:, :1, horizontal]
    row6 = torch.cat([row, torch.zeros_like(row)], dim=-1)  # [B, T, 6]
    x = torch.cat([rot6d, row6[:, :, None]], dim=2).permute(0, 2, 3, 1).contiguous()
    if mask is not None:
        if tuple(mask.shape) != (b, t) or mask.dtype != torch.bool:
            raise ValueError(f"mask must be bool [B={b}, T={t}], got {tuple(mask.shape)}")
        x = x.masked_fill(~mask.to(x.device)[:, None, None, :], 0.0)
    return x


def motion_to_smpl(
    x: torch.Tensor, *, translation: Translation, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """MotionCLIP motion tensor -> SMPL rotations and translation.

    Args:
        x: float ``[B, 25, 6, T]``.
        translation: ``"root"`` returns row 24's first three numbers as ``trans``;
            ``"reference"`` returns zeros (that row is not a trajectory; the reference ignores
            it and shows the motion in place).
        mask: optional bool ``[B, T]``; padded frames get identity rotations and zero trans.

    Returns:
        ``(rotations [B, T, 24, 3, 3], trans [B, T, 3])`` in the model's world (padded frames:
        identity, zero trans). Rotations come from Gram-Schmidt over rows, so any 6D input gives
        proper rotations. ``Motion.from_torch(rotations[i], trans[i], fps, ...)`` makes one a
        :class:`~vmc.motion.types.Motion`.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or tuple(x.shape[1:3]) != (25, 6):
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"motion must be a [B, 25, 6, T] tensor, got {shape}")
    if not x.is_floating_point():
        raise ValueError(f"motion must be floating point, got {x.dtype}")
    check_translation_mode(translation)
    b, _, _, t = x.shape
    frames = x.permute(0, 3, 1, 2)  # [B, T, 25, 6]
    rot = rot6d_rows_to_matrix(frames[:, :, :24])
    trans = frames[:, :, 24, :3].clone() if translation == "root" else x.new_zeros(b, t, 3)
    if mask is not None:
        if tuple(mask.shape) != (b, t) or mask.dtype != torch.bool:
            raise ValueError(f"mask must be bool [B={b}, T={t}], got {tuple(mask.shape)}")
        mask = mask.to(x.device)
        eye = torch.eye(3, dtype=x.dtype, device=x.device)
        rot = torch.where(mask[:, :, None, None, None], rot, eye)
        trans = trans.masked_fill(~mask[:, :, None], 0.0)
    return rot, trans
