"""A standard SMPL-like rest skeleton and forward kinematics on the SMPL joint tree (numpy).

World frame (shared by the whole procedural library and its exports):

* **Y up**, metres; the floor is the plane ``y = 0``;
* at frame 0 the person stands upright facing **+Z**, with their own left side towards **+X**
  (exactly SMPL's rest-pose frame, so a root rotation of identity means "upright, facing +Z");
* ``trans`` is the world position of the pelvis (root joint). The rest skeleton here has its
  pelvis at the origin, so ``joints = FK(poses) + trans`` with the root rotating about the
  pelvis, which is also SMPL/smplx's convention (``transl`` added after posing). A body model
  whose rest pelvis ``J0`` is not at the origin (SMPL: about 0.2 m below it) is shifted by
  ``J0``; :func:`ground_offset` gives the vertical correction for any rest skeleton.

The rest joint positions are our own round anthropometric numbers for a ~1.75 m adult in a
T-pose (not taken from any body-model file): legs vertical, arms along ±X, feet flat. The
ankle sits 7 cm above the sole; each foot has a virtual heel point (``HEEL_OFFSET`` in the
ankle's frame) on the sole, and the SMPL ``foot`` joint is the ball of the foot, also on the
sole, so "foot on the floor" means heel or ball at ``y = 0``.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from vmc.body.joints import SMPL_JOINT_NAMES, SMPL_PARENTS

__all__ = [
    "FOOT_CONTACT_NAMES",
    "HEEL_OFFSET",
    "REST_JOINTS",
    "SMPL_JOINT_NAMES",
    "SMPL_PARENTS",
    "contact_points",
    "forward_kinematics",
    "ground_offset",
    "joint_index",
]

# The SMPL joint order and tree are the body package's (one definition for the whole project).


_LEFT_REST = {
    # name: (x, y, z) in metres for the person's left side (+X); the right side mirrors x.
    "hip": (0.08, -0.08, 0.0),
    "knee": (0.08, -0.48, 0.0),  # thigh 0.40 m, vertical
    "ankle": (0.08, -0.88, 0.0),  # shin 0.40 m, vertical
    "foot": (0.09, -0.95, 0.13),  # ball of the foot, on the sole
    "collar": (0.07, 0.43, 0.0),
    "shoulder": (0.17, 0.45, -0.02),
    "elbow": (0.43, 0.45, -0.02),  # upper arm 0.26 m along +X
    "wrist": (0.68, 0.45, -0.02),  # forearm 0.25 m
    "hand": (0.76, 0.45, -0.02),
}
_CENTER_REST = {
    "pelvis": (0.0, 0.0, 0.0),
    "spine1": (0.0, 0.11, -0.02),
    "spine2": (0.0, 0.24, -0.01),
    "spine3": (0.0, 0.30, 0.01),
    "neck": (0.0, 0.52, -0.02),
    "head": (0.0, 0.60, 0.03),
}


def _rest_joints() -> np.ndarray:
    out = np.zeros((24, 3))
    for i, name in enumerate(SMPL_JOINT_NAMES):
        if name in _CENTER_REST:
            out[i] = _CENTER_REST[name]
        else:
            side, part = name.split("_", 1)
            x, y, z = _LEFT_REST[part]
            out[i] = (x if side == "left" else -x, y, z)
    return out


REST_JOINTS: np.ndarray = _rest_joints()
"""``float64 [24,3]`` rest (T-pose) joint positions in metres, pelvis at the origin."""
REST_JOINTS.setflags(write=False)

HEEL_OFFSET: np.ndarray = np.array([0.0, -0.07, -0.05])
"""Virtual heel point in the ankle's frame (metres): on the sole, 5 cm behind the ankle."""

FOOT_CONTACT_NAMES: tuple[str, ...] = ("left_heel", "left_ball", "right_heel", "right_ball")
"""Order of the points returned by :func:`contact_points`."""


def joint_index(name: str) -> int:
    """Index of an SMPL joint name (``ValueError`` naming the valid names when unknown)."""
    try:
        return SMPL_JOINT_NAMES.index(name)
    except ValueError:
        raise ValueError(
            f"unknown SMPL joint {name!r}; expected one of {SMPL_JOINT_NAMES}"
        ) from None


def _as_rotmats(poses: np.ndarray) -> np.ndarray:
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim >= 2 and poses.shape[-2:] == (3, 3) and poses.shape[-3:-2] == (24,):
        return poses
    if poses.shape[-1] == 72:
        poses = poses.reshape(*poses.shape[:-1], 24, 3)
    if poses.shape[-2:] != (24, 3):
        raise ValueError(
            f"poses must be axis-angle [...,24,3] / [...,72] or matrices [...,24,3,3], "
            f"got shape {poses.shape}"
        )
    flat = poses.reshape(-1, 3)
    return Rotation.from_rotvec(flat).as_matrix().reshape(*poses.shape, 3)


def forward_kinematics(
    poses: np.ndarray,
    trans: np.ndarray | None = None,
    rest_joints: np.ndarray | None = None,
    parents: tuple[int, ...] = SMPL_PARENTS,
) -> tuple[np.ndarray, np.ndarray]:
    """World joint positions and rotations of posed SMPL skeletons.

    Args:
        poses: local joint rotations, axis-angle ``[...,24,3]`` or ``[...,72]`` (SMPL order,
            joint 0 = root orientation in the world frame), or matrices ``[...,24,3,3]``.
        trans: ``[...,3]`` root translation in metres (default zero); the root joint lands at
            ``rest_joints[0] + trans``.
        rest_joints: ``[24,3]`` rest joint positions (default :data:`REST_JOINTS`).
        parents: parent indices (SMPL's by default; parents precede children).

    Returns:
        ``(positions [...,24,3], global_rotations [...,24,3,3])``, float64.
    """
    rot = _as_rotmats(poses)
    rest = REST_JOINTS if rest_joints is None else np.asarray(rest_joints, dtype=np.float64)
    if rest.shape != (24, 3):
        raise ValueError(f"rest_joints must be [24,3], got {rest.shape}")
    lead = rot.shape[:-3]
    t = np.zeros((*lead, 3)) if trans is None else np.asarray(trans, dtype=np.float64)
    if t.shape != (*lead, 3):
        raise ValueError(f"trans must be {(*lead, 3)} to match poses, got {t.shape}")
    g_rot = np.empty_like(rot)
    pos = np.empty((*lead, 24, 3))
    for j, p in enumerate(parents):
        if p < 0:
            g_rot[..., j, :, :] = rot[..., j, :, :]
            pos[..., j, :] = rest[j] + t
        else:
            g_rot[..., j, :, :] = g_rot[..., p, :, :] @ rot[..., j, :, :]
            pos[..., j, :] = pos[..., p, :] + np.einsum(
                "...ij,j->...i", g_rot[..., p, :, :], rest[j] - rest[p]
            )
    return pos, g_rot


def contact_points(positions: np.ndarray, global_rotations: np.ndarray) -> np.ndarray:
    """Sole points of both feet, ``[...,4,3]`` in :data:`FOOT_CONTACT_NAMES` order.

    Heels are virtual points (:data:`HEEL_OFFSET` in the ankle frame); balls are the SMPL foot
    joints (10, 11).
    """
    out = []
    for ankle, ball in ((7, 10), (8, 11)):
        heel = positions[..., ankle, :] + global_rotations[..., ankle, :, :] @ HEEL_OFFSET
        out += [heel, positions[..., ball, :]]
    return np.stack(out, axis=-2)


def ground_offset(poses: np.ndarray, trans: np.ndarray, rest_joints: np.ndarray) -> float:
    """Vertical shift that puts the lowest foot joint (ankles, feet) of a motion at ``y = 0``.

    Use it to re-ground a motion of this library for another body's rest skeleton:
    ``trans[:, 1] += ground_offset(poses, trans, body_rest_joints)``.
    """
    pos, _ = forward_kinematics(poses, trans, rest_joints)
    return float(-pos[..., [7, 8, 10, 11], 1].min())
