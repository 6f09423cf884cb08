"""Planted feet stay where they are: foot-contact detection and root-trajectory correction.

A decoder that averages several performances of an action moves the root and the legs slightly
out of step: the pelvis glides a little faster or slower than the planted foot allows, and the
foot slides over the floor ("foot skating"). The legs are usually right; the horizontal root
trajectory is what disagrees. :func:`remove_foot_sliding` therefore keeps every joint rotation
and moves only the root horizontally, by exactly the slide of the planted feet, so a planted foot
stays put and the body travels as far as its steps carry it (the usual contact clean-up of
character animation, without IK: nothing else about the pose changes).

A foot counts as planted (:func:`foot_contacts`) when its ball (SMPL foot joint) is within
``contact_height`` of the motion's floor and moves slower than ``max_speed``. The floor is the
lowest foot height of the whole motion, so jumps keep their flight.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from vmc.body.joints import joint_index
from vmc.geometry.frames import up_axis_of_frame
from vmc.motion.procedural import forward_kinematics
from vmc.motion.types import Motion

__all__ = ["foot_contacts", "remove_foot_sliding", "root_slide_correction"]

# SMPL foot joints (the ball of each foot).
FEET = (joint_index("left_foot"), joint_index("right_foot"))


def _axes(up: str) -> tuple[int, list[int]]:
    """Index of the up axis and of the two horizontal axes."""
    up_index = {"y": 1, "z": 2}[up]
    return up_index, [i for i in range(3) if i != up_index]


def foot_contacts(
    joints: np.ndarray,
    fps: float,
    up: str = "y",
    contact_height: float = 0.03,
    max_speed: float = 1.0,
) -> np.ndarray:
    """Which foot is planted on which frame.

    Args:
        joints: ``[T, 24, 3]`` world joint positions (metres).
        fps: frames per second.
        up: world up axis, ``"y"`` or ``"z"``.
        contact_height: a planted foot is at most this far above the motion's floor (m).
        max_speed: ... and moves horizontally slower than this (m/s).

    Returns:
        ``bool [T, 2]``: left and right foot planted.
    """
    up_index, flat = _axes(up)
    feet = joints[:, FEET]  # [T, 2, 3]
    height = feet[..., up_index]
    low = height < height.min() + contact_height
    step = np.linalg.norm(np.diff(feet[..., flat], axis=0), axis=-1) * fps  # [T-1, 2]
    # A frame's speed: the slower of its two neighbouring steps (a foot landing is planted).
    speed = np.minimum(np.vstack([step[:1], step]), np.vstack([step, step[-1:]]))
    return low & (speed < max_speed)


def root_slide_correction(
    joints: np.ndarray, planted: np.ndarray, up: str = "y", ambiguity: float = 0.5
) -> np.ndarray:
    """Horizontal root offsets that hold the standing foot in place.

    Between two frames where a foot is planted in both, its horizontal displacement is a slide.
    When both feet count as planted, the one that slides less is the standing foot (the other
    shuffles towards its next step, as in a side step); the root moves back by the standing
    foot's slide, and the offsets accumulate. When both slide alike (the slower more than
    ``ambiguity`` times the faster: a shuffle or a pivot), no foot stands and the root is kept.

    Args:
        joints: ``[T, 24, 3]`` world joint positions.
        planted: ``bool [T, 2]`` from :func:`foot_contacts`.
        up: world up axis.
        ambiguity: slide ratio above which two planted feet are not told apart.

    Returns:
        ``[T, 3]`` offsets to add to the root translation (zero along the up axis; frame 0 is 0).
    """
    _, flat = _axes(up)
    feet = joints[:, FEET][..., flat]  # [T, 2, 2]
    slide = np.diff(feet, axis=0)  # [T-1, 2, 2]
    held = planted[1:] & planted[:-1]  # [T-1, 2]
    length = np.where(held, np.linalg.norm(slide, axis=-1), np.inf)  # [T-1, 2]
    standing = length.argmin(axis=1)  # [T-1]
    slower, faster = length.min(axis=1), length.max(axis=1)
    # Both feet gliding alike (a shuffle, a pivot): no foot stands, nothing to hold.
    clear = held.any(axis=1) & ~(held.all(axis=1) & (slower > ambiguity * faster))
    steps = slide[np.arange(len(slide)), standing] * clear[:, None]  # [T-1, 2]
    offsets = np.zeros((joints.shape[0], 3))
    offsets[1:, flat] = -np.cumsum(steps, axis=0)
    return offsets


def remove_foot_sliding(
    motion: Motion, contact_height: float = 0.03, max_speed: float = 1.0
) -> Motion:
    """``motion`` with its horizontal root path corrected so that planted feet do not slide.

    Joint rotations, the vertical root path and every other field are kept. Motions in the
    ``"image"`` frame (no floor) are returned unchanged.

    Args:
        motion: any :class:`Motion` in a world frame.
        contact_height, max_speed: contact thresholds (:func:`foot_contacts`).

    Returns:
        A new :class:`Motion` (``motion`` itself when nothing changes).
    """
    if motion.frame == "image" or motion.num_frames < 2:
        return motion
    up = up_axis_of_frame(motion.frame)
    # The procedural skeleton stands in for the body: only the feet's slides matter, and a
    # constant offset of the whole skeleton (its rest pelvis) does not change them.
    joints, _ = forward_kinematics(motion.poses, motion.trans)
    planted = foot_contacts(joints, motion.fps, up, contact_height, max_speed)
    offsets = root_slide_correction(joints, planted, up)
    if not offsets.any():
        return motion
    trans = (motion.trans + offsets).astype(np.float32)
    return replace(motion, trans=trans, texts=list(motion.texts), segments=list(motion.segments))
