"""Posing a body model with a motion, as free functions (smplx style) over :class:`BodyModel`.

Shapes use ``T`` for frames and ``V`` for vertices. Poses are SMPL axis-angle (24 joints, root
first) in the body's own frame (metres, Y up); see :mod:`vmc.body.model` for the model itself.
"""

from __future__ import annotations

import numpy as np
import torch

from vmc.body.model import BodyModel

__all__ = ["pose_body"]


def pose_body(body: BodyModel, poses: np.ndarray, trans: np.ndarray, batch: int = 32) -> np.ndarray:
    """Vertices of ``body`` (mean shape) for each frame of a motion.

    Args:
        body: the body model.
        poses: SMPL axis-angle ``[T, 72]`` or ``[T, 24, 3]``.
        trans: root translation ``[T, 3]``.
        batch: frames per forward pass (bounds the memory of long motions).

    Returns:
        ``float32 [T, V, 3]`` in body space (metres, Y up).
    """
    frames = []
    with torch.no_grad():
        for start in range(0, len(poses), batch):
            aa = torch.from_numpy(np.ascontiguousarray(poses[start : start + batch])).float()
            tr = torch.from_numpy(np.ascontiguousarray(trans[start : start + batch])).float()
            out = body(pose_axis_angle=aa.reshape(len(aa), 72), transl=tr)
            frames.append(out.vertices.numpy())
    return np.concatenate(frames).astype(np.float32)
