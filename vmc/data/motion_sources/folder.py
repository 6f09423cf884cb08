"""Our own folder format: one ``.npz`` per clip, so that adding training data is easy.

A clip file is what :func:`vmc.motion.export.save_amass_npz` writes (and
:func:`vmc.motion.export.load_motion_npz` reads): ``poses [T,72]`` SMPL axis-angle, ``trans
[T,3]`` metres, ``fps`` (also ``mocap_framerate``), ``texts`` (``str [N]`` captions), ``betas``,
``gender``, ``up_axis`` (``"z"`` as written now, AMASS's frame; ``"y"`` in files of older vmc
versions, still read as Y-up) and, when known, ``root_rest``. Two optional keys are added by
:func:`convert_records_to_folder` when a record has them: ``texts_heldout`` (``str``) and
``frame_labels`` (``str [T]``). A file without ``up_axis`` is Y-up, unless it carries AMASS's
``mocap_framerate`` key only (a raw AMASS file dropped in: Z-up). Sub-folders are searched;
names are paths relative to the folder without ``.npz``.

To add data: write one file per clip with ``save_amass_npz(path, Motion(poses, trans, fps,
texts=[...]))`` or convert any source with :func:`convert_records_to_folder`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np

from vmc.data.motion_sources.record import MotionRecord
from vmc.io.atomic import atomic_path
from vmc.motion.export import load_motion_npz, save_amass_npz

__all__ = ["convert_records_to_folder", "load_folder", "read_folder_clip"]

_EXTRA_KEYS = ("texts_heldout", "frame_labels")


def read_folder_clip(path: str | os.PathLike[str], name: str | None = None) -> MotionRecord:
    """One clip of the folder format at its own frame rate.

    Raises:
        FileNotFoundError: missing file. ValueError: unreadable file or bad content (names it).
    """
    src = Path(path)
    motion = load_motion_npz(src)
    extras: dict[str, np.ndarray] = {}
    with np.load(src, allow_pickle=False) as data:
        for key in _EXTRA_KEYS:
            if key in data.files:
                extras[key] = np.asarray(data[key]).reshape(-1)
    motion = replace(
        motion,
        texts=list(motion.texts),
        source="folder",
        name=name if name is not None else src.stem,
    )
    try:
        return MotionRecord(
            motion,
            texts_heldout=[str(x) for x in extras.get("texts_heldout", [])],
            frame_labels=extras.get("frame_labels"),
        )
    except ValueError as err:
        raise ValueError(f"{src}: {err}") from None


def load_folder(
    root: str | os.PathLike[str], fps: float = 30, min_frames: int = 1
) -> list[MotionRecord]:
    """Every ``.npz`` clip under ``root`` (recursive, sorted), resampled to ``fps`` by slerp.

    Raises:
        FileNotFoundError: ``root`` is missing or holds no ``.npz``.
        ValueError: a malformed clip (the message names the file).
    """
    base = Path(root)
    if not base.is_dir():
        raise FileNotFoundError(
            f"motion folder not found: {base} (expected one .npz per clip with poses [T,72], "
            "trans [T,3], fps, texts; see docs/data.md)"
        )
    files = sorted(base.rglob("*.npz"))
    if not files:
        raise FileNotFoundError(f"no .npz clips under {base} (see docs/data.md, 'folder')")
    records = []
    for f in files:
        rec = read_folder_clip(f, name=f.relative_to(base).with_suffix("").as_posix()).resampled(
            fps
        )
        if rec.motion.num_frames >= min_frames:
            records.append(rec)
    return records


def _safe_stem(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._/-]+", "_", name).strip("/")
    parts = [p for p in stem.split("/") if p not in ("", ".", "..")]
    return "/".join(parts) or "clip"


def convert_records_to_folder(
    records: Iterable[MotionRecord], out_dir: str | os.PathLike[str]
) -> list[Path]:
    """Write records in the folder format (one ``.npz`` each, in AMASS's Z-up frame as
    :func:`~vmc.motion.export.save_amass_npz` writes; rate kept as it is).

    File names come from ``record.motion.name`` (characters outside ``[A-Za-z0-9._/-]`` become
    ``_``, ``/`` makes sub-folders); a repeated name gets a ``-1``, ``-2`` ... suffix. Files are
    written atomically. Returns the written paths in input order.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    written = []
    for rec in records:
        stem = _safe_stem(rec.motion.name)
        candidate, k = stem, 0
        while candidate in used:
            k += 1
            candidate = f"{stem}-{k}"
        used.add(candidate)
        path = out / f"{candidate}.npz"
        save_amass_npz(path, rec.motion)
        if rec.texts_heldout or rec.frame_labels is not None:
            # save_amass_npz has no slot for these: add them to the same file, atomically.
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            arrays["texts_heldout"] = np.array(rec.texts_heldout, dtype=np.str_)
            if rec.frame_labels is not None:
                arrays["frame_labels"] = np.asarray(rec.frame_labels, dtype=np.str_)
            with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
        written.append(path)
    return written
