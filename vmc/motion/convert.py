"""Conversions between SMPL motions and MotionCLIP's ``[B, 25, 6, T]`` tensor, and root frames.

Motion tensor (``specs/motionclip.md`` §1.2): rows 0..23 are the 24 SMPL joint rotations in
MotionCLIP's 6D form (first two ROWS of the matrix, :func:`vmc.geometry.rotations.
matrix_to_rot6d_rows`), row 0 being the global (root) orientation in the training data's world
frame. Row 24 holds a translation padded to 6 numbers ``[tx, ty, tz, 0, 0, 0]``; what it means is
chosen with ``translation``:

* ``"reference"``: what the reference's AMASS parser stores (spec §4.1): the displacement of the
  **right ankle** (SMPL joint 8) of the *trans-free* body, posed with all 24 rotations (root
  included), relative to its position at the first frame of the clip:
  ``row24[t] = ankle_R(t) - ankle_R(0)``. It is not a trajectory: the reference never adds it to
  the body, so decoded motions stay in place. The reference used SMPL-H's rest skeleton; here
  the rest joints are a parameter (default: the procedural library's
  :data:`~vmc.motion.procedural.skeleton.REST_JOINTS`; pass a body model's rest joints to match
  that body). Decoding (:func:`motion_to_smpl`) returns zero translation in this mode.
* ``"root"``: the true root translation, so walks travel and jumps leave the ground. The
  horizontal components are relative to the first frame (the clip starts above the origin)
  and the vertical component (the height) is kept: for a Y-up world
  ``row24[t] = (tx(t) - tx(0), ty(t), tz(t) - tz(0))``; for a Z-up world
  ``(tx(t) - tx(0), ty(t) - ty(0), tz(t))``. ``trans`` is SMPL's ``transl`` (added to every
  vertex after posing). Decoding returns exactly these numbers as ``trans``.

Image frame (:func:`to_image_frame`): the renderer and Liquid Warping GAN work in the HMR image
frame, x right, y **down**, the camera at the origin looking along **+z**; an upright person
facing the camera has root orientation ≈ ``R_x(pi)`` = diag(1, -1, -1). One rule per source:

* ``"y_up"`` (this project's models and procedural library, HumanML3D; SMPL's rest frame: up
  +Y, facing +Z, the person's left on +X): optionally turn the whole motion about the up axis
  so that the person faces +Z at frame 0 (``face_camera``), then rotate the world by
  ``R_x(pi)``: up becomes -y (up on screen) and +Z facing becomes -z (towards the camera).
* ``"z_up"`` (AMASS and models trained on it, e.g. the paper checkpoint's root): first
  ``R_x(-pi/2)`` (Z-up → Y-up, as :func:`vmc.motion.export.z_up_to_y_up`), then the Y-up rule.
* ``"reference"``: the reference text-to-motion's overwrite: root orientation set to exactly
  ``R_x(pi)`` on every frame (upright, facing the camera, turning lost) and the translation set
  to zero (the reference shows pelvis-centred motion). Equivalent to
  :func:`vmc.motion.model.overwrite_root_orientation` on the motion tensor.

World rotations ``W`` act on the root as ``R0' = W R0`` and on the translation as
``trans' = W (trans + J0) - J0``, where ``J0`` (``root_rest``) is the body's rest pelvis
position (zero for the procedural skeleton, about ``(0, -0.22, 0.02)`` for SMPL), so that the
posed body is exactly the rotated one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import torch

from vmc.geometry.rotations import (
    matrix_to_axis_angle,
    matrix_to_rot6d_rows,
    rot6d_rows_to_matrix,
    rotation_about_x,
    rotation_about_y,
)

__all__ = [
    "IMAGE_FRAME_SOURCES",
    "RIGHT_ANKLE",
    "TRANSLATION_MODES",
    "SMPLMotion",
    "check_translation_mode",
    "forward_kinematics_torch",
    "motion_to_smpl",
    "reference_translation_row",
    "smpl_to_motion",
    "to_image_frame",
]

Translation = Literal["reference", "root"]
TRANSLATION_MODES: tuple[str, ...] = ("reference", "root")
#: SMPL index of the right ankle, the joint the reference's "translation" row follows.
RIGHT_ANKLE = 8
#: Accepted ``source`` names of :func:`to_image_frame` and the rule each one uses.
IMAGE_FRAME_SOURCES: dict[str, str] = {
    "y_up": "y_up",
    "ours": "y_up",
    "procedural": "y_up",
    "humanml3d": "y_up",
    "z_up": "z_up",
    "amass": "z_up",
    "reference": "reference",
}
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
    from vmc.motion.procedural.skeleton import REST_JOINTS

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

    Args:
        rotations: ``[B, T, 24, 3, 3]``; the body is posed without translation (spec §4.1).
        rest_joints: ``[24, 3]`` rest skeleton (default: the procedural library's).
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


@dataclass
class SMPLMotion:
    """SMPL parameters of a batch of motions.

    Attributes:
        rotations: float ``[B, T, 24, 3, 3]`` local joint rotations (joint 0 = global).
        poses_aa: float ``[B, T, 24, 3]`` the same as axis-angle (angles in ``[0, pi]``).
        trans: float ``[B, T, 3]`` SMPL ``transl`` in metres (zero for ``"reference"``).
        mask: optional bool ``[B, T]`` of valid frames (padded frames: identity, zero trans).
    """

    rotations: torch.Tensor
    poses_aa: torch.Tensor
    trans: torch.Tensor
    mask: torch.Tensor | None = None

    @property
    def num_frames(self) -> int:
        return int(self.rotations.shape[1])

    def poses_72(self) -> torch.Tensor:
        """``[B, T, 72]`` axis-angle (AMASS layout)."""
        return self.poses_aa.reshape(*self.poses_aa.shape[:2], 72)

    def to_image_frame(
        self, *, source: str, face_camera: bool = True, root_rest: torch.Tensor | None = None
    ) -> SMPLMotion:
        """This motion with the root expressed in the HMR image frame (:func:`to_image_frame`)."""
        rot, trans = to_image_frame(
            self.rotations, self.trans, source=source, face_camera=face_camera, root_rest=root_rest
        )
        return replace(self, rotations=rot, poses_aa=matrix_to_axis_angle(rot), trans=trans)


def motion_to_smpl(
    x: torch.Tensor, *, translation: Translation, mask: torch.Tensor | None = None
) -> SMPLMotion:
    """MotionCLIP motion tensor -> SMPL rotations, axis-angle poses and translation.

    Args:
        x: float ``[B, 25, 6, T]``.
        translation: ``"root"`` returns row 24's first three numbers as ``trans``;
            ``"reference"`` returns zeros (that row is not a trajectory; the reference ignores
            it and shows the motion in place).
        mask: optional bool ``[B, T]``; padded frames get identity rotations and zero trans.

    Returns:
        :class:`SMPLMotion`. Rotations come from Gram-Schmidt over rows, so any 6D input gives
        proper rotations.
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
    return SMPLMotion(rotations=rot, poses_aa=matrix_to_axis_angle(rot), trans=trans, mask=mask)


def _facing_yaw(root: torch.Tensor) -> torch.Tensor:
    """Yaw ``[B]`` about +Y of the body's forward axis (root @ +Z) at frame 0, Y-up world."""
    forward = root[:, 0, :, 2]  # third column = where the body's +Z (front) points
    return torch.atan2(forward[:, 0], forward[:, 2])


def to_image_frame(
    rotations: torch.Tensor,
    trans: torch.Tensor,
    *,
    source: str,
    face_camera: bool = True,
    root_rest: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Express a motion's root in the HMR image frame (x right, y down, camera along +z).

    Args:
        rotations: ``[B, T, 24, 3, 3]``; only joint 0 changes.
        trans: ``[B, T, 3]``.
        source: the world the motion lives in: ``"y_up"`` (aliases ``"ours"``,
            ``"procedural"``, ``"humanml3d"``), ``"z_up"`` (alias ``"amass"``) or
            ``"reference"`` (the reference's overwrite); rules in the module docstring.
        face_camera: turn the motion about the up axis so the person faces the camera at
            frame 0 (the heading then evolves as in the source). Ignored by ``"reference"``.
        root_rest: ``[3]`` rest pelvis position of the body the motion will be posed on.

    Returns:
        ``(rotations [B, T, 24, 3, 3], trans [B, T, 3])`` in the image frame.
    """
    _check_smpl(rotations, trans)
    if source not in IMAGE_FRAME_SOURCES:
        raise ValueError(
            f"unknown motion source {source!r}; expected one of {sorted(IMAGE_FRAME_SOURCES)}"
        )
    rule = IMAGE_FRAME_SOURCES[source]
    dtype, device = rotations.dtype, rotations.device
    b = rotations.shape[0]
    flip = rotation_about_x(torch.tensor(math.pi, dtype=torch.float64)).to(device, dtype)
    out = rotations.clone()
    if rule == "reference":
        # Exactly diag(1, -1, -1) (the float cos(pi) is not exactly -1).
        out[:, :, 0] = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=dtype, device=device))
        return out, torch.zeros_like(trans)
    world = torch.eye(3, dtype=dtype, device=device).expand(b, 3, 3)
    if rule == "z_up":
        world = (
            rotation_about_x(torch.tensor(-math.pi / 2, dtype=torch.float64))
            .to(device, dtype)
            .expand(b, 3, 3)
        )
    if face_camera:
        yaw = _facing_yaw(world[:, None] @ rotations[:, :1, 0])
        world = rotation_about_y(-yaw) @ world
    world = flip @ world  # [B, 3, 3]
    j0 = torch.zeros(3, dtype=dtype, device=device) if root_rest is None else root_rest.to(trans)
    if tuple(j0.shape) != (3,):
        raise ValueError(f"root_rest must be [3], got {tuple(j0.shape)}")
    out[:, :, 0] = world[:, None] @ rotations[:, :, 0]
    new_trans = (world[:, None] @ (trans.to(dtype) + j0)[..., None])[..., 0] - j0
    return out, new_trans
