"""One rendered frame per motion clip, for MotionCLIP's CLIP image loss.

The reference paired every 100-frame chunk of AMASS with an offline Blender render of the SMPL-X
body (white background). Here the frames come from the project's own renderer
(:func:`vmc.render.preview.render_mesh_frames`): the clip's middle frame, posed on the given
body (SMPL or the embedded body) with betas 0 (or, with ``use_betas``, the clip's own betas:
AMASS clips on the SMPL model of their gender, which the caller picks), upright in the Y-up
world, seen from the front, no floor. The file of clip ``name`` is
``<out_dir>/<frame_filename(name)>``; the dataset
(:class:`vmc.data.motion_dataset.MotionWindowDataset`, ``frames_dir``) finds it by that name
(chunk name first, then the whole record's name).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from vmc.data.motion_sources.record import MotionRecord
from vmc.io.images import write_image
from vmc.render.preview import render_mesh_frames

__all__ = ["frame_filename", "frame_path", "render_clip_frames"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def frame_filename(name: str) -> str:
    """A flat, file-system-safe PNG name for clip ``name`` (unique: a short hash is appended)."""
    if not name:
        raise ValueError("a clip needs a non-empty name to get a frame file")
    stem = _UNSAFE.sub("_", name).strip("._")[:120] or "clip"
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return f"{stem}-{digest}.png"


def frame_path(frames_dir: str | os.PathLike[str], name: str) -> Path:
    """``<frames_dir>/<frame_filename(name)>``."""
    return Path(frames_dir) / frame_filename(name)


def render_clip_frames(
    records: Iterable[MotionRecord],
    out_dir: str | os.PathLike[str],
    body: torch.nn.Module,
    *,
    image_size: int = 224,
    overwrite: bool = False,
    backend: str = "torch",
    device: str | torch.device | None = None,
    progress: bool = False,
    use_betas: bool = False,
) -> list[Path]:
    """Render the middle frame of every clip to ``out_dir`` (PNG, ``image_size`` square).

    Args:
        records: motion clips (any world frame: Z-up clips are turned Y-up first).
        out_dir: destination folder (created).
        body: a :class:`vmc.body.BodyModel` (posed with betas 0, no translation: the frame shows
            the pose, framed on the body).
        image_size: side in pixels (CLIP's preprocessing resizes to 224 anyway).
        overwrite: re-render frames whose file exists.
        backend, device: rasterizer options (``vmc.render.rasterizer``).
        progress: show a progress bar.
        use_betas: pose each clip with its own ``motion.betas`` (the first ``body.num_betas``;
            none: 0) instead of betas 0; give the body they belong to (same gender).

    Returns:
        The frame paths, one per record, in order (existing ones included).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    records = list(records)
    iterator = records
    if progress:
        iterator = tqdm(records, desc="render clip frames", unit="clip")
    for record in iterator:
        path = frame_path(out, record.motion.name)
        paths.append(path)
        if path.is_file() and not overwrite:
            continue
        motion = record.motion.to_frame("y_up")
        pose = torch.from_numpy(motion.poses[motion.num_frames // 2].reshape(1, 72).copy())
        betas = None
        if use_betas and motion.betas is not None:
            nb = int(getattr(body, "num_betas", motion.betas.shape[0]))
            # AMASS stores 16 betas; a 10-component SMPL uses the first 10 (the rest are 0).
            betas = torch.from_numpy(motion.betas[:nb].copy())[None].to(body.v_template)
        with torch.no_grad():
            verts = body(betas=betas, pose_axis_angle=pose.to(body.v_template)).vertices  # [1,V,3]
        frame = render_mesh_frames(
            verts.cpu().numpy(),
            body.faces,
            image_size,
            floor=False,
            backend=backend,
            device=device,
        )[0]
        write_image(path, np.ascontiguousarray(frame))
    return paths
