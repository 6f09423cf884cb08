"""Our processed-video layout (``vmc-processed-video``): its writer and its ``meta.json`` check.

The layout, one folder per video (or per subject)::

    <video>/
        frames/000000.png ...   RGB uint8, square, all the same size
        masks/000000.png ...    optional; person alpha as 8-bit grey (255 = person)
        smpls.npz               cams [T,3], poses [T,72], betas [T,nb] or [nb] (float32),
                                optional front_ids [K] int64 (best source frames first)
        meta.json               {"format": "vmc-processed-video", "version": 2, "num_frames",
                                 "image_size": [H, W], "fps" (null for photos), "body",
                                 "num_betas", "has_masks",
                                 "background": "background.png" | null, ...extra keys}
        background.png          optional clean background plate

Versions: 1 is the above. 2 (what this vmc writes) adds the optional parts of a *subject
folder* (``meta.json`` ``"kind": "subject"``; :mod:`vmc.subject.folder`): the original photos, the
crop boxes, the plate in the photo's frame, the UV texture and the fit report. A version-2 folder
reads as a video exactly like a version-1 one (the frames are a subject's photo crops), so LWG
fine-tuning trains on subject folders unchanged.

The readers live with their users (:func:`vmc.data.lwg_layouts.read_processed_video` for videos,
:func:`vmc.subject.folder.read_subject_folder` for subjects); both check ``meta.json`` with
:func:`read_layout_meta`. This module sits in ``vmc.io`` so that both may import it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from scipy.spatial.transform import Rotation

from vmc.io.atomic import atomic_folder

__all__ = [
    "LAYOUT_FORMAT",
    "LAYOUT_VERSION",
    "READABLE_VERSIONS",
    "frames_uint8",
    "frontal_order",
    "masks_uint8",
    "read_layout_meta",
    "write_processed_files",
    "write_processed_video",
]

LAYOUT_FORMAT = "vmc-processed-video"
#: The version this vmc writes.
LAYOUT_VERSION = 2
#: The versions this vmc reads.
READABLE_VERSIONS = (1, 2)


def frontal_order(poses: np.ndarray, min_score: float = 0.0) -> list[int]:
    """Frames ordered by how directly the body faces the camera (most frontal first).

    The facing direction is the root rotation applied to the body's forward axis ``+z``; in the
    image frame the camera looks along ``+z``, so facing it means a direction with ``z < 0``.
    Frames with score ``-z <= min_score`` are dropped unless none is left (then all frames).

    Args:
        poses: ``[T, 72]`` axis-angle, image-frame root.
    """
    p = np.asarray(poses, dtype=np.float64).reshape(len(poses), -1)
    fwd = Rotation.from_rotvec(p[:, :3]).apply(np.array([0.0, 0.0, 1.0]))
    score = -fwd[:, 2]
    order = np.argsort(-score, kind="stable")
    keep = [int(i) for i in order if score[i] > min_score]
    return keep if keep else [int(i) for i in order]


def frames_uint8(frames: Any) -> np.ndarray:
    """uint8 ``[T,H,W,3]``, or float ``[T,H,W,3]``/``[T,3,H,W]`` in [-1, 1], to uint8."""
    if isinstance(frames, torch.Tensor):
        frames = frames.detach().cpu().numpy()
    f = np.asarray(frames)
    if f.ndim != 4:
        raise ValueError(f"frames must be [T, H, W, 3] or [T, 3, H, W], got {f.shape}")
    if f.dtype == np.uint8:
        if f.shape[-1] != 3:
            raise ValueError(f"uint8 frames must be [T, H, W, 3], got {f.shape}")
        return f
    if not np.issubdtype(f.dtype, np.floating):
        raise ValueError(f"frames must be uint8 or float in [-1, 1], got {f.dtype}")
    if f.shape[-1] != 3 and f.shape[1] == 3:
        f = f.transpose(0, 2, 3, 1)
    if f.shape[-1] != 3:
        raise ValueError(f"float frames must be [T, 3, H, W] or [T, H, W, 3], got {f.shape}")
    return ((np.clip(f, -1, 1) + 1) * 127.5 + 0.5).astype(np.uint8)


def masks_uint8(masks: Any, shape: tuple[int, int, int]) -> np.ndarray:
    """bool/uint8/float person masks ``[T,H,W]`` (or ``[T,1,H,W]``) -> ``uint8 [T,H,W]``."""
    if isinstance(masks, torch.Tensor):
        masks = masks.detach().cpu().numpy()
    m = np.asarray(masks)
    if m.ndim == 4 and m.shape[1] == 1:
        m = m[:, 0]
    if m.shape != shape:
        raise ValueError(f"masks must be [T, H, W] = {list(shape)}, got {list(m.shape)}")
    if m.dtype == np.bool_:
        return m.astype(np.uint8) * 255
    if m.dtype == np.uint8:
        return m
    return (np.clip(m.astype(np.float64), 0, 1) * 255 + 0.5).astype(np.uint8)


def _array(x: Any) -> np.ndarray:
    return np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x)


def write_processed_files(
    folder: str | os.PathLike[str],
    frames: Any,
    masks: Any | None = None,
    *,
    cams: Any,
    poses: Any,
    betas: Any,
    fps: float | None = 30.0,
    body: str = "embedded",
    background: np.ndarray | None = None,
    front_ids: Sequence[int] | None = None,
    meta: dict[str, Any] | None = None,
) -> None:
    """Write the layout's files into ``folder`` (an existing, empty folder; not atomic).

    Arguments as :func:`write_processed_video`. Everything is checked before the first file is
    written (ValueError).
    """
    out = Path(folder)
    f = frames_uint8(frames)
    t, h, w, _ = f.shape
    if h != w:
        raise ValueError(f"frames must be square (crop first), got {h}x{w}")
    m = None if masks is None else masks_uint8(masks, (t, h, w))
    c = _array(cams).astype(np.float32)
    p = _array(poses).astype(np.float32)
    p = p.reshape(len(p), -1)
    b = _array(betas).astype(np.float32)
    if c.shape != (t, 3) or p.shape != (t, 72) or b.ndim not in (1, 2):
        raise ValueError(
            f"expected cams [{t}, 3], poses [{t}, 72], betas [nb] or [{t}, nb]; got "
            f"{c.shape}, {p.shape}, {b.shape}"
        )
    if b.ndim == 2 and b.shape[0] != t:
        raise ValueError(f"betas must be [nb] or [{t}, nb], got {b.shape}")
    if background is not None:
        bg = np.asarray(background)
        if bg.dtype != np.uint8 or bg.shape != (h, w, 3):
            raise ValueError(f"background must be uint8 [{h}, {w}, 3], got {bg.dtype} {bg.shape}")
    fids = list(frontal_order(p)) if front_ids is None else [int(i) for i in front_ids]
    if not fids or min(fids) < 0 or max(fids) >= t:
        raise ValueError(f"front_ids must be non-empty indices in [0, {t})")

    (out / "frames").mkdir()
    for i in range(t):
        Image.fromarray(f[i]).save(out / "frames" / f"{i:06d}.png")
    if m is not None:
        (out / "masks").mkdir()
        for i in range(t):
            Image.fromarray(m[i], mode="L").save(out / "masks" / f"{i:06d}.png")
    if background is not None:
        Image.fromarray(np.asarray(background)).save(out / "background.png")
    np.savez(out / "smpls.npz", cams=c, poses=p, betas=b, front_ids=np.asarray(fids, np.int64))
    info = {
        "format": LAYOUT_FORMAT,
        "version": LAYOUT_VERSION,
        "num_frames": int(t),
        "image_size": [int(h), int(w)],
        "fps": None if fps is None else float(fps),
        "body": str(body),
        "num_betas": int(b.shape[-1]),
        "has_masks": m is not None,
        "background": "background.png" if background is not None else None,
        **(meta or {}),
    }
    (out / "meta.json").write_text(json.dumps(info, indent=2))


def write_processed_video(
    out_dir: str | os.PathLike[str],
    frames: Any,
    masks: Any | None = None,
    *,
    cams: Any,
    poses: Any,
    betas: Any,
    fps: float | None = 30.0,
    body: str = "embedded",
    background: np.ndarray | None = None,
    front_ids: Sequence[int] | None = None,
    meta: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write one video in our processed layout (module docstring), atomically.

    Everything is written into a temporary sibling folder that is renamed at the end
    (:func:`vmc.io.atomic.atomic_folder`), so an interrupted write never leaves a half video.

    Args:
        out_dir: the video folder to create (``<root>/<video>``).
        frames: ``uint8 [T, H, W, 3]`` or float in [-1, 1] (``[T, 3, H, W]`` or ``[T, H, W, 3]``);
            square frames.
        masks: person masks ``[T, H, W]`` (bool, uint8 0/255 or float alpha in [0, 1]) or None.
        cams: ``[T, 3]``; poses: ``[T, 72]`` (image-frame root); betas: ``[nb]`` or ``[T, nb]``.
        fps: frame rate (None: the frames are photos, not a video).
        body: the body model the parameters belong to (``"smpl"``, ``"embedded"``, ...).
        background: optional ``uint8 [H, W, 3]`` clean plate.
        front_ids: candidate source frames (default: :func:`frontal_order` of ``poses``).
        meta: extra JSON-serialisable metadata.
        overwrite: replace an existing folder (else FileExistsError).

    Returns:
        ``out_dir`` as a Path.
    """
    kwargs = {"cams": cams, "poses": poses, "betas": betas, "fps": fps, "body": body}
    kwargs |= {"background": background, "front_ids": front_ids, "meta": meta}
    out = Path(out_dir)
    if out.exists() and not overwrite:  # before any encoding work
        raise FileExistsError(f"{str(out)!r} exists; pass overwrite=True to replace it")
    frames_u8 = frames_uint8(frames)
    with atomic_folder(out, overwrite=overwrite) as tmp:
        write_processed_files(tmp, frames_u8, masks, **kwargs)
    return out


def read_layout_meta(root: str | os.PathLike[str]) -> dict[str, Any]:
    """``<root>/meta.json`` of our layout, checked: the format marker and a readable version.

    Raises:
        FileNotFoundError: no ``meta.json``.
        ValueError: not JSON, another format, or a version newer than this vmc reads.
    """
    folder = Path(root)
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        raise FileNotFoundError(
            f"{str(meta_path)!r} not found: {str(folder)!r} is not a processed video folder "
            f"(expected frames/, smpls.npz, meta.json)"
        )
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{str(meta_path)!r} is not valid JSON: {err}") from err
    if not isinstance(meta, dict) or meta.get("format") != LAYOUT_FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise ValueError(f"{str(meta_path)!r}: format is {found!r}, not {LAYOUT_FORMAT!r}")
    try:
        version = int(meta.get("version", 0))
    except (TypeError, ValueError) as err:
        bad = meta.get("version")
        raise ValueError(f"{str(meta_path)!r}: version {bad!r} is not a number") from err
    if version > LAYOUT_VERSION:
        raise ValueError(
            f"{str(meta_path)!r}: layout version {version} is newer than this vmc reads "
            f"({', '.join(map(str, READABLE_VERSIONS))}); update vmc"
        )
    if version not in READABLE_VERSIONS:
        raise ValueError(f"{str(meta_path)!r}: unknown layout version {meta.get('version')!r}")
    return meta
