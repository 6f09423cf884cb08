"""A picture of a body model in several SMPL poses and shapes (docs/embedded_body_grid.png).

:func:`render_body_grid` poses a :class:`~vmc.body.model.BodyModel` (by default the embedded
body) in :data:`SHOWCASE_POSES` x a few shapes and tiles shaded renders into one image. It uses
the project's rasterizer and shading (:func:`vmc.render.preview.render_mesh_frames`), or a small
painter's-algorithm renderer here (``use_rasterizer=False``, or when the rasterizer cannot be
loaded). It lives in ``render/`` because it renders: ``body/`` sits below ``render/`` and must
not import it.

Poses are SMPL axis-angle ``[24, 3]`` in the body frame (Y up, facing +Z, the body's left at +X):
a rotation about +X swings a hanging limb backwards, so hip flexion is negative and knee flexion
positive; about +Z raises the left arm and lowers the right one.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from vmc.body.embedded import betas_from_phenotype, load_embedded_body
from vmc.body.joints import SMPL_JOINT_NAMES
from vmc.body.model import BodyModel
from vmc.io.images import write_image
from vmc.render.preview import frame_grid, render_mesh_frames

__all__ = ["SHOWCASE_POSES", "render_body_grid", "showcase_pose", "write_body_grid"]


def _rx(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _aa(r: np.ndarray) -> list[float]:
    """Rotation matrix -> axis-angle (angles well below pi here)."""
    angle = math.acos(max(-1.0, min(1.0, (np.trace(r) - 1.0) / 2.0)))
    if angle < 1e-9:
        return [0.0, 0.0, 0.0]
    axis = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    return list(axis / (2.0 * math.sin(angle)) * angle)


def showcase_pose(**joints: np.ndarray) -> np.ndarray:
    """SMPL axis-angle pose ``[24, 3]`` from rotation matrices given by joint name."""
    pose = np.zeros((24, 3))
    for name, rot in joints.items():
        pose[SMPL_JOINT_NAMES.index(name)] = _aa(np.asarray(rot, dtype=np.float64))
    return pose


SHOWCASE_POSES: dict[str, np.ndarray] = {
    "T-pose": np.zeros((24, 3)),
    "walking": showcase_pose(
        left_hip=_rx(-0.45),
        right_hip=_rx(0.35),
        left_knee=_rx(0.15),
        right_knee=_rx(0.7),
        right_ankle=_rx(-0.2),
        left_shoulder=_rx(0.35) @ _rz(-1.25),
        right_shoulder=_rx(-0.35) @ _rz(1.25),
        left_elbow=_ry(-0.25),
        right_elbow=_ry(0.5),
        spine1=_ry(0.08),
    ),
    "arms raised": showcase_pose(
        left_shoulder=_rz(1.2),
        right_shoulder=_rz(-1.2),
        left_collar=_rz(0.2),
        right_collar=_rz(-0.2),
        head=_rx(-0.25),
    ),
    "squat": showcase_pose(
        left_hip=_rz(-0.25) @ _rx(-1.65),
        right_hip=_rz(0.25) @ _rx(-1.65),
        left_knee=_rx(2.0),
        right_knee=_rx(2.0),
        left_ankle=_rx(-0.35),
        right_ankle=_rx(-0.35),
        spine1=_rx(0.35),
        left_shoulder=_ry(-1.2) @ _rz(-0.2),
        right_shoulder=_ry(1.2) @ _rz(0.2),
    ),
    "waving": showcase_pose(
        right_shoulder=_rz(-0.25),
        right_elbow=_rz(-1.6),
        right_wrist=_rz(0.3),
        left_shoulder=_rz(-1.3),
        left_elbow=_ry(-0.3),
        head=_ry(-0.3),
    ),
    "elbows 90": showcase_pose(
        left_shoulder=_rz(-1.3),
        right_shoulder=_rz(1.3),
        left_elbow=_ry(-math.pi / 2),
        right_elbow=_ry(math.pi / 2),
        left_wrist=_rx(0.8),
        right_wrist=_rx(0.8),
    ),
}
"""Named SMPL poses (axis-angle ``[24, 3]``) for the showcase grid."""


def _default_shapes(body: BodyModel) -> list[tuple[str, torch.Tensor]]:
    """Mean shape plus a few phenotype-derived ones when the body file maps phenotypes."""
    shapes = [("mean shape", torch.zeros(1, body.num_betas))]
    try:
        path = getattr(body, "source", None)
        for label, pheno in (
            ("male, muscular", {"gender": 0.0, "muscle": 0.9, "weight": 0.5, "height": 0.55}),
            ("female, slim", {"gender": 1.0, "weight": 0.2, "height": 0.35}),
            ("heavy, older", {"gender": 0.3, "weight": 0.95, "age": 0.95, "height": 0.4}),
        ):
            b = betas_from_phenotype(path=path, **pheno)[:, : body.num_betas]
            shapes.append((label, b))
    except (ValueError, FileNotFoundError, KeyError):
        for k in range(min(2, body.num_betas)):
            for sign in (2.0, -2.0):
                b = torch.zeros(1, body.num_betas)
                b[0, k] = sign
                shapes.append((f"beta{k}={sign:+.0f}", b))
    return shapes


def _pose_all(
    body: BodyModel, poses: Sequence[np.ndarray], shapes: Sequence[torch.Tensor]
) -> np.ndarray:
    """Posed vertices ``[S*P, V, 3]`` (shape-major), each standing on y = 0."""
    pose_t = torch.as_tensor(np.stack(poses), dtype=body.dtype)
    out = []
    with torch.no_grad():
        for betas in shapes:
            res = body(betas=betas.to(body.dtype), pose_axis_angle=pose_t.reshape(len(poses), 72))
            v = res.vertices.cpu().numpy().astype(np.float64)
            v[..., 1] -= v[..., 1].min(axis=1, keepdims=True)
            out.append(v)
    return np.concatenate(out)


def _paint_fallback(verts: np.ndarray, faces: np.ndarray, size: int) -> np.ndarray:
    """Painter's-algorithm Lambert renders ``uint8 [N, size, size, 3]`` (no rasterizer needed).

    Orthographic front view, one shared scale for all frames, faces sorted back to front.
    """
    lo = verts.reshape(-1, 3).min(0)
    hi = verts.reshape(-1, 3).max(0)
    centre = (lo + hi) / 2
    scale = 0.92 * size / max(hi[0] - lo[0], hi[1] - lo[1])
    light = np.array([0.25, 0.45, 1.0]) / np.linalg.norm([0.25, 0.45, 1.0])
    frames = []
    for v in verts:
        tri = v[faces]
        n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
        front = n[:, 2] > 0  # seen from +z: facing the camera
        shade = 0.3 + 0.7 * np.clip(n @ light, 0, 1)
        order = np.argsort(tri[:, :, 2].mean(1))  # far (small z) first
        img = Image.new("RGB", (size, size), (236, 237, 240))
        draw = ImageDraw.Draw(img)
        xy = np.empty(tri.shape[:2] + (2,))
        xy[..., 0] = (tri[..., 0] - centre[0]) * scale + size / 2
        xy[..., 1] = size / 2 - (tri[..., 1] - centre[1]) * scale
        for i in order:
            if not front[i]:
                continue
            c = tuple(int(255 * shade[i] * k) for k in (0.60, 0.68, 0.84))
            draw.polygon([tuple(p) for p in xy[i]], fill=c)
        frames.append(np.asarray(img))
    return np.stack(frames)


def render_body_grid(
    body: BodyModel | None = None,
    poses: dict[str, np.ndarray] | None = None,
    shapes: Sequence[tuple[str, torch.Tensor]] | None = None,
    image_size: int = 256,
    *,
    azimuth_deg: float = -35.0,
    supersample: int = 2,
    use_rasterizer: bool | None = None,
) -> np.ndarray:
    """Render ``body`` in every pose x shape and tile them: ``np.uint8 [H, W, 3]``.

    Args:
        body: a :class:`~vmc.body.model.BodyModel` (default: the embedded body).
        poses: name -> SMPL axis-angle ``[24, 3]`` (default :data:`SHOWCASE_POSES`); columns.
        shapes: ``(label, betas [1, <=nb])`` rows (default: mean + phenotype examples).
        image_size: side of each tile in pixels.
        azimuth_deg: camera turn around the vertical axis (0 = straight in front).
        supersample: anti-aliasing factor of the rasterizer path.
        use_rasterizer: force (True) or forbid (False) the rasterizer path; None = use it
            unless it cannot be loaded (the rasterizer imports its backend on first use).
    """
    if body is None:
        body = load_embedded_body()
    poses = dict(SHOWCASE_POSES if poses is None else poses)
    shapes = list(_default_shapes(body) if shapes is None else shapes)
    verts = _pose_all(body, list(poses.values()), [b for _, b in shapes])
    faces = body.faces.cpu().numpy()
    frames = None
    if use_rasterizer is not False:
        try:
            frames = render_mesh_frames(
                verts,
                faces,
                image_size,
                camera="fixed",
                azimuth_deg=azimuth_deg,
                elevation_deg=8.0,
                supersample=supersample,
                floor=True,
            )
        except ImportError:
            if use_rasterizer:
                raise
    if frames is None:
        c, s = math.cos(math.radians(azimuth_deg)), math.sin(math.radians(azimuth_deg))
        rot = np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]])
        frames = _paint_fallback(verts @ rot.T, faces, image_size)
    labels = [f"{shape}: {pose}" for shape, _ in shapes for pose in poses]
    return frame_grid(frames, cols=len(poses), labels=labels)


def write_body_grid(out_path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Render :func:`render_body_grid` and write it as a PNG (atomically). Returns the path.

    ``kwargs`` are :func:`render_body_grid`'s arguments.
    """
    return Path(write_image(Path(out_path), render_body_grid(**kwargs)))
