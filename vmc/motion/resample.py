"""Frame-rate resampling of motions (:class:`~vmc.motion.types.Motion`) and length fitting.

Two methods, both over a motion sampled at ``src_fps`` (frame ``i`` at time ``i / src_fps``):

* ``"slerp"`` (default): output frame ``j`` is at time ``j / dst_fps``, i.e. at the fractional
  source position ``p_j = j * src_fps / dst_fps``, for ``j = 0 .. floor((T-1) * dst/src)``
  (the source's time span, never extrapolated). Rotations are spherically interpolated per
  joint between the two neighbouring source frames (shortest path), translations linearly.
  Where ``p_j`` is an integer the source frame is copied unchanged, so when ``src_fps`` is an
  integer multiple of ``dst_fps`` (120 → 30, 60 → 30) this equals frame dropping exactly.
* ``"subsample"``: MotionCLIP's parser (``docs/data.md``): keep every ``k``-th frame with
  ``k = round(src_fps / dst_fps)`` (at least 1); the true output rate is ``src_fps / k``.
  With ``max_fps_dist`` set, a rate more than that far from ``dst_fps`` raises
  :class:`FpsMismatchError` (the parser skips such files; its tolerance is 5 fps).

Every method also returns, per output frame, the nearest source frame index (used to carry
per-frame labels along). :func:`fit_length` cuts a motion or holds its last frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from scipy.spatial.transform import Rotation

from vmc.motion.types import Motion
from vmc.utils.checks import positive_number

__all__ = [
    "FpsMismatchError",
    "Resampled",
    "fit_length",
    "resample_motion",
    "resample_positions",
    "slerp_axis_angle",
    "lerp_frames",
]

ResampleMethod = Literal["slerp", "subsample"]


class FpsMismatchError(ValueError):
    """``subsample`` cannot reach the target rate within the allowed distance."""


@dataclass
class Resampled:
    """Result of :func:`resample_motion`.

    Attributes:
        motion: the resampled motion, ``N`` frames at the output rate (``dst_fps`` for slerp,
            ``src_fps / k`` for subsample); every other field as the input's.
        source_index: ``int64 [N]`` nearest source frame of each output frame.
    """

    motion: Motion
    source_index: np.ndarray


def resample_positions(num_frames: int, src_fps: float, dst_fps: float) -> np.ndarray:
    """Fractional source positions ``float64 [N]`` of the output frames of ``"slerp"``."""
    src = positive_number("src_fps", src_fps)
    dst = positive_number("dst_fps", dst_fps)
    if num_frames < 1:
        raise ValueError(f"a motion needs at least one frame, got {num_frames}")
    ratio = src / dst
    # 1e-9 guards against (T-1)*dst/src landing just below an integer by rounding.
    count = int(math.floor((num_frames - 1) / ratio + 1e-9)) + 1
    return np.minimum(np.arange(count, dtype=np.float64) * ratio, num_frames - 1)


def lerp_frames(x: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``x [T,...]`` at fractional frame ``positions [N]`` → ``[N,...]``."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.shape[0] == 1:
        return np.repeat(arr, len(positions), axis=0)
    i0 = np.clip(np.floor(positions).astype(np.int64), 0, arr.shape[0] - 2)
    a = (positions - i0).reshape((-1,) + (1,) * (arr.ndim - 1))
    return (1.0 - a) * arr[i0] + a * arr[i0 + 1]


def slerp_axis_angle(aa: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Spherical interpolation of per-joint rotations at fractional frame positions.

    Args:
        aa: ``[T,J,3]`` axis-angle rotations.
        positions: ``[N]`` fractional source frame positions in ``[0, T-1]``.

    Returns:
        ``float64 [N,J,3]``. Integer positions copy the source axis-angle unchanged; others take
        the shortest arc between the two neighbouring frames' rotations.
    """
    rot = np.asarray(aa, dtype=np.float64)
    if rot.ndim != 3 or rot.shape[2] != 3:
        raise ValueError(f"axis-angle rotations must be [T,J,3], got {rot.shape}")
    num_frames, num_joints = rot.shape[:2]
    pos = np.asarray(positions, dtype=np.float64)
    if num_frames == 1:
        return np.repeat(rot, len(pos), axis=0)
    i0 = np.clip(np.floor(pos).astype(np.int64), 0, num_frames - 2)
    alpha = pos - i0
    quat = Rotation.from_rotvec(rot.reshape(-1, 3)).as_quat().reshape(num_frames, num_joints, 4)
    q0, q1 = quat[i0], quat[i0 + 1]
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)  # q and -q are the same rotation: take the short arc
    dot = np.clip(np.abs(dot), 0.0, 1.0)
    theta = np.arccos(dot)
    sin_t = np.sin(theta)
    a = alpha[:, None, None]
    small = sin_t < 1e-8
    safe = np.where(small, 1.0, sin_t)
    w0 = np.where(small, 1.0 - a, np.sin((1.0 - a) * theta) / safe)
    w1 = np.where(small, a, np.sin(a * theta) / safe)
    q = w0 * q0 + w1 * q1
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    out = Rotation.from_quat(q.reshape(-1, 4)).as_rotvec().reshape(len(pos), num_joints, 3)
    exact = alpha == 0.0
    out[exact] = rot[i0[exact]]
    last = pos >= num_frames - 1
    out[last] = rot[num_frames - 1]
    return out


def resample_motion(
    motion: Motion,
    dst_fps: float,
    method: ResampleMethod = "slerp",
    max_fps_dist: float | None = None,
) -> Resampled:
    """Resample a motion to ``dst_fps`` (methods in the module docstring).

    Args:
        motion: the source, at ``motion.fps``.
        dst_fps: target frame rate (> 0).
        method: ``"slerp"`` or ``"subsample"``.
        max_fps_dist: ``subsample`` only: maximum allowed ``|src_fps/k - dst_fps|``.

    Segments are mapped to the new frame indices (rounded, clipped to the new length).

    Raises:
        ValueError: bad rate, unknown method.
        FpsMismatchError: ``subsample`` rate farther than ``max_fps_dist`` from the target.
    """
    src = motion.fps
    dst = positive_number("dst_fps", dst_fps)
    p, t = motion.poses, motion.trans
    if method == "subsample":
        step = max(1, int(round(src / dst)))
        rate = src / step
        if max_fps_dist is not None and abs(rate - dst) > max_fps_dist:
            raise FpsMismatchError(
                f"cannot subsample {src:g} fps to {dst:g} fps: every {step}th frame gives "
                f"{rate:g} fps, more than {max_fps_dist:g} away"
            )
        index = np.arange(0, p.shape[0], step, dtype=np.int64)
        out_p, out_t = p[index], t[index]
    elif method == "slerp":
        rate = dst
        positions = resample_positions(p.shape[0], src, dst)
        out_p = slerp_axis_angle(p, positions)
        out_t = lerp_frames(t, positions)
        index = np.clip(np.floor(positions + 0.5).astype(np.int64), 0, p.shape[0] - 1)
    else:
        raise ValueError(f"method must be 'slerp' or 'subsample', got {method!r}")
    n = len(index)
    scale = rate / src
    segments = [
        (text, min(n, round(s * scale)), min(n, round(e * scale))) for text, s, e in motion.segments
    ]
    out = replace(
        motion,
        poses=out_p.astype(np.float32),
        trans=out_t.astype(np.float32),
        fps=rate,
        segments=segments,
        texts=list(motion.texts),
    )
    return Resampled(out, index)


def fit_length(motion: Motion, num_frames: int) -> Motion:
    """``motion`` cut to ``num_frames`` frames, or its last frame held to reach them."""
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if motion.num_frames >= num_frames:
        return motion.slice(0, num_frames) if motion.num_frames > num_frames else motion
    pad = num_frames - motion.num_frames
    return replace(
        motion,
        poses=np.concatenate([motion.poses, np.repeat(motion.poses[-1:], pad, 0)]),
        trans=np.concatenate([motion.trans, np.repeat(motion.trans[-1:], pad, 0)]),
        texts=list(motion.texts),
    )
