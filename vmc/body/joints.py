"""The SMPL kinematic tree: 24 joint names, parents, bones and the left/right mirror map.

Left/right are the person's own: in SMPL's rest pose (Y up, facing +z) the left side is +x.
"""

from __future__ import annotations

SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hand",
    "right_hand",
)
"""SMPL joint order (index = position in the 72-d axis-angle pose / 24 rotations)."""

NUM_SMPL_JOINTS = 24

SMPL_PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21,
)  # fmt: skip
"""Parent of each joint (-1 for the root); every parent index is smaller than its child's."""

SMPL_BONES: tuple[tuple[int, int], ...] = tuple(
    (p, c) for c, p in enumerate(SMPL_PARENTS) if p >= 0
)
"""23 (parent, child) joint pairs, for stick figures and bone-length losses."""


def mirrored_name(name: str) -> str:
    """``name`` with ``left`` and ``right`` exchanged (``left_hip`` -> ``right_hip``,
    ``mouth_left`` -> ``mouth_right``): the same point of the mirrored body."""
    return name.replace("left", "@").replace("right", "left").replace("@", "right")


def flip_permutation(names: tuple[str, ...]) -> tuple[int, ...]:
    """Point ``i`` of a mirrored body is point ``flip_permutation(names)[i]`` of the original."""
    return tuple(names.index(mirrored_name(n)) for n in names)


SMPL_FLIP_PERMUTATION: tuple[int, ...] = flip_permutation(SMPL_JOINT_NAMES)
"""Joint ``i`` of a mirrored body is joint ``SMPL_FLIP_PERMUTATION[i]`` of the original."""


def joint_index(name: str) -> int:
    """Index of an SMPL joint by name; ValueError listing the valid names otherwise."""
    try:
        return SMPL_JOINT_NAMES.index(name)
    except ValueError:
        raise ValueError(
            f"unknown SMPL joint {name!r}; valid names: {', '.join(SMPL_JOINT_NAMES)}"
        ) from None


BODY_PART_NAMES: tuple[str, ...] = (
    "head",
    "torso",
    "left_arm",
    "right_arm",
    "left_hand",
    "right_hand",
    "left_leg",
    "right_leg",
    "left_foot",
    "right_foot",
)
"""The 10 disjoint body parts (SMPL's part table) used for ``face_part`` labels of every body."""
