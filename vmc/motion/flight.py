"""Airborne phases follow gravity: the root's height during a flight is made a ballistic arc.

A decoder trained with squared errors rebuilds a jump's *timing* well (when the feet leave the
floor and when they land) but pulls its *height* towards the mean of its training jumps: the
embedded model's "a person jumps up and down" stays in the air 0.5 s, as long as the library's
0.35 m jumps, yet rises only 0.28 m. Once the feet are off the floor nothing but gravity acts on
the body, so its height over the flight is fixed by the flight's duration ``T``: the centre of
mass rises ``g T² / 8`` above the take-off/landing chord. :func:`ballistic_flight` finds the
flights (every foot point above the motion's floor by more than ``clearance``, with the feet on
the floor before and after) and replaces the root's height within each by that arc: the chord
between the decoded heights at take-off and landing plus ``g/2 · (t - t_off)(t_land - t)``. The
pelvis stands in for the centre of mass. Joint rotations, the horizontal path and the frames
outside flights are unchanged.

Two guards keep it to what are jumps: a flight longer than ``max_duration`` (0.7 s, a 0.6 m jump)
is left alone (a body that drifts up and down is not flying), and so is one whose decoded pelvis
rises less than ``min_lift_share`` of the ballistic arc above the chord (feet lifted by a pose,
not by a leap). Runs and jogs have flights of ~0.1 s, whose arc is about a centimetre.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from vmc.body.joints import joint_index
from vmc.geometry.frames import up_axis_of_frame
from vmc.motion.procedural import forward_kinematics
from vmc.motion.types import Motion

__all__ = ["GRAVITY", "ballistic_flight", "ballistic_root_offsets", "flight_phases"]

GRAVITY = 9.81  # m/s²
# Ankles and balls of the feet: the lowest of them is what touches the floor.
FOOT_POINTS = tuple(
    joint_index(name) for name in ("left_ankle", "right_ankle", "left_foot", "right_foot")
)


def flight_phases(
    lowest_foot: np.ndarray, fps: float, clearance: float = 0.04
) -> list[tuple[int, int, float, float]]:
    """Flights of a motion: runs of frames with every foot point above the floor.

    Args:
        lowest_foot: ``[T]`` height of the lowest foot point above the motion's floor (m).
        fps: frames per second.
        clearance: a frame is airborne when the lowest foot point is higher than this (m).

    Returns:
        ``(first, stop, t_off, t_land)`` per flight: airborne frames ``first .. stop - 1``, and
        the take-off and landing times in frames (where the lowest foot crosses ``clearance``,
        linearly interpolated). Only flights with a grounded frame before and after.
    """
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps!r}")
    h = np.asarray(lowest_foot, dtype=np.float64)
    airborne = h > clearance
    phases = []
    t = 1
    while t < len(h):
        if airborne[t] and not airborne[t - 1]:
            stop = t
            while stop < len(h) and airborne[stop]:
                stop += 1
            if stop < len(h):  # landed inside the motion
                t_off = (t - 1) + (clearance - h[t - 1]) / (h[t] - h[t - 1])
                t_land = (stop - 1) + (h[stop - 1] - clearance) / (h[stop - 1] - h[stop])
                phases.append((t, stop, float(t_off), float(t_land)))
            t = stop
        t += 1
    return phases


def ballistic_root_offsets(
    root_height: np.ndarray,
    lowest_foot: np.ndarray,
    fps: float,
    clearance: float = 0.04,
    max_duration: float = 0.7,
    min_lift_share: float = 0.3,
) -> np.ndarray:
    """Vertical offsets ``[T]`` that turn each flight of the root into a ballistic arc.

    Args:
        root_height: ``[T]`` root (pelvis) height (m).
        lowest_foot: ``[T]`` lowest foot point above the floor (m).
        fps: frames per second.
        clearance, max_duration, min_lift_share: module docstring.
    """
    y = np.asarray(root_height, dtype=np.float64)
    offsets = np.zeros_like(y)
    frames = np.arange(len(y), dtype=np.float64)
    for first, stop, t_off, t_land in flight_phases(lowest_foot, fps, clearance):
        duration = (t_land - t_off) / fps
        if not 0 < duration <= max_duration:
            continue
        y_off, y_land = np.interp([t_off, t_land], frames, y)
        inside = frames[first:stop]
        chord = y_off + (y_land - y_off) * (inside - t_off) / (t_land - t_off)
        arc = 0.5 * GRAVITY * (inside - t_off) * (t_land - inside) / fps**2
        decoded_lift = float((y[first:stop] - chord).max())
        if decoded_lift < min_lift_share * GRAVITY * duration**2 / 8:
            continue
        offsets[first:stop] = chord + arc - y[first:stop]
    return offsets


def ballistic_flight(
    motion: Motion,
    clearance: float = 0.04,
    max_duration: float = 0.7,
    min_lift_share: float = 0.3,
) -> Motion:
    """``motion`` with the root's height in every flight made a ballistic arc (module docstring).

    Motions in the ``"image"`` frame (no floor) are returned unchanged.

    Returns:
        A new :class:`Motion` (``motion`` itself when no flight needs a change).
    """
    if motion.frame == "image" or motion.num_frames < 3:
        return motion
    up = {"y": 1, "z": 2}[up_axis_of_frame(motion.frame)]
    # The procedural skeleton stands in for the body: heights relative to the motion's own
    # floor and the root's height changes are what matter, not the body's proportions.
    joints, _ = forward_kinematics(motion.poses, motion.trans)
    feet = joints[:, FOOT_POINTS, up].min(axis=1)
    lowest = feet - feet.min()
    offsets = ballistic_root_offsets(
        joints[:, 0, up], lowest, motion.fps, clearance, max_duration, min_lift_share
    )
    if not offsets.any():
        return motion
    trans = motion.trans.astype(np.float64).copy()
    trans[:, up] += offsets
    return replace(
        motion,
        trans=trans.astype(np.float32),
        texts=list(motion.texts),
        segments=list(motion.segments),
    )
