"""Our own folder format: one ``.npz`` per clip, so that adding training data is easy.

A clip file is what :func:`vmc.motion.export.save_amass_npz` writes (and
:func:`vmc.motion.export.load_motion_npz` reads): ``poses [T,72]`` SMPL axis-angle, ``trans
[T,3]`` metres, ``fps`` (also ``mocap_framerate``), ``texts`` (``str [N]`` captions), ``betas``,
``gender``, ``up_axis`` (``"z"`` as written now, AMASS's frame; ``"y"`` in files of older vmc
versions, still read as Y-up) and, when known, ``root_rest``. Two optional keys are added by
:func:`convert_records_to_folder` when a record has them: ``texts_heldout`` (``str``) and
``frame_labels`` (``str [T]``). A file without ``up_axis`` is Y-up, unless it carries AMASS's
``mocap_framerate`` key only (a raw AMASS file dropped in: Z-up; SMPL+H and SMPL-X widths are
read as :mod:`.amass` reads them, gender included). Sub-folders are searched; names are paths
relative to the folder without ``.npz``. Files without ``poses`` are not motions (AMASS's
``shape.npz``, in every subject folder of a copied AMASS subset): they are skipped and counted
in the load report (:mod:`vmc.data.motion_sources.report`), as are clips too short to use.

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

from vmc.data.motion_sources.amass import NotAMotionError, read_amass_npz
from vmc.data.motion_sources.record import MotionRecord
from vmc.data.motion_sources.report import LoadReport, publish
from vmc.io.atomic import atomic_path
from vmc.motion.export import load_motion_npz, save_amass_npz

__all__ = ["convert_records_to_folder", "load_folder", "read_folder_clip"]

_EXTRA_KEYS = ("texts_heldout", "frame_labels")


def _peek(src: Path) -> tuple[set[str], int | None]:
    """``(keys, width of poses or None)`` of an ``.npz`` from the array headers only (the
    arrays themselves are read once, by the reader the width picks)."""
    try:
        with np.load(src, allow_pickle=False) as data:
            keys = set(data.files)
            if "poses" not in keys:
                return keys, None
            with data.zip.open("poses.npy") as fh:
                major, _ = np.lib.format.read_magic(fh)
                if major == 1:
                    shape = np.lib.format.read_array_header_1_0(fh)[0]
                elif major == 2:
                    shape = np.lib.format.read_array_header_2_0(fh)[0]
                else:  # a newer header version: read the array instead
                    shape = data["poses"].shape
    except (ValueError, OSError, EOFError, AttributeError, KeyError) as err:
        raise ValueError(f"{src}: not a readable .npz ({err})") from None
    return keys, int(shape[-1]) if shape else 0


def read_folder_clip(path: str | os.PathLike[str], name: str | None = None) -> MotionRecord:
    """One clip of the folder format at its own frame rate.

    Raises:
        FileNotFoundError: missing file.
        NotAMotionError: the file has no ``poses`` (e.g. AMASS's ``shape.npz``).
        ValueError: unreadable file or bad content (names it).
    """
    src = Path(path)
    if not src.is_file():
        raise FileNotFoundError(f"motion file not found: {src}")
    keys, width = _peek(src)
    if width is None:
        raise NotAMotionError(f"{src}: not a motion (no 'poses'; found {sorted(keys)})")
    if width in (156, 165) and "up_axis" not in keys:  # a raw AMASS file (SMPL+H or SMPL-X)
        rec = read_amass_npz(src, name=name, source="folder")
        return MotionRecord(replace(rec.motion, texts=[]))
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

    Files that are not motions (no ``poses``: AMASS's ``shape.npz``) are skipped, clips shorter
    than ``min_frames`` after resampling are dropped; both are counted in the published
    :class:`~vmc.data.motion_sources.report.LoadReport`.

    Raises:
        FileNotFoundError: ``root`` is missing or holds no motion ``.npz``.
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
    report = LoadReport("folder", str(base))
    records = []
    for f in files:
        rel = f.relative_to(base).with_suffix("").as_posix()
        try:
            rec = read_folder_clip(f, name=rel)
        except NotAMotionError:
            report.not_motions.append(f"{rel}.npz")
            continue
        report.found += 1
        rec = rec.resampled(fps)
        if rec.motion.num_frames < min_frames:
            report.drop(f"too short (< {min_frames} frames at {fps:g} fps)", rel)
            continue
        records.append(rec)
    report.used = report.records = len(records)
    if not report.found:
        raise FileNotFoundError(
            f"no motion clips under {base}: its {len(files)} .npz files have no 'poses' "
            "(see docs/data.md, 'folder')"
        )
    publish(report)
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
