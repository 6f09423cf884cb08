"""AMASS sequences with BABEL labels, as MotionCLIP's parser and loader use them (``docs/data.md``).

What happens, in order (the reference's behaviour unless said otherwise):

1. Labels: BABEL v1.0 ``train.json`` and ``val.json`` (a dict ``babel_sid → entry``). An entry's
   ``feat_p`` is ``<archive>/<subset>/<subject>/<file>`` (e.g.
   ``"BMLrub/BioMotionLab_NTroje/rub001/0001_treadmill_norm_poses.npz"``,
   ``"CMU/CMU/86/86_05_poses.npz"``). The file is looked for under the AMASS folder in every
   layout users have (:func:`~vmc.data.motion_sources.amass.find_amass_file`): without the first
   component (``<amass_dir>/CMU/86/...``, as MotionCLIP's parser joins it), in full
   (``<amass_dir>/CMU/CMU/86/...``, as BABEL's own tools join it), with archive-named or
   subset-named folders (``BMLrub`` or ``BioMotionLab_NTroje``). Records are named by the path
   without the first component (``CMU/86/86_05_poses``) whichever layout held the file. Only
   AMASS files that BABEL labels are used; a labelled file that is missing is dropped and
   counted (never silently).
2. Split: ``split_by="amass"`` (the paper model) takes whole AMASS subsets (:data:`AMASS_SPLITS`);
   ``split_by="babel"`` uses BABEL's own train/val membership (``"vald"`` = ``val.json``).
3. Per-frame raw labels at the file's own rate, with the label frame rate
   ``n_frames / entry["dur"]``: every frame starts as ``""``; with frame annotation
   (``frame_ann``) each segment's frames ``[round(start_t*r), round(end_t*r))`` get its
   ``raw_label`` (later segments overwrite earlier ones); with only sequence annotation every
   frame gets the sequence labels joined with ``"and "`` (no leading space: the reference's
   quirk, giving e.g. ``"walkand turn"``).
4. Resampling to ``fps`` (:mod:`vmc.motion.resample`; labels follow the nearest source frame).
   The paper's way is ``method="subsample", max_fps_dist=5`` (every ``round(src/30)``-th
   frame, files more than 5 fps off skipped); the default ``"slerp"`` gives exactly ``fps`` and
   is identical to it for 120/60 fps sources. Sequences shorter than ``min_frames`` (60) are
   dropped, and so are sequences shorter than one chunk.
5. Chunking (:func:`chunk_records`): non-overlapping 100-frame chunks, remainder dropped. A
   chunk's ``texts`` is ``[window_text(its 100 labels)]``; for MotionCLIP's exact text, take
   ``window_text(frame_labels[s:s+60])`` over the sampled 60-frame window (``s`` in
   ``[0, 39]``: the reference's ``randint(0, 39)``, so frame 99 is never used).

Records are Z-up (AMASS's world) with ``trans`` the true AMASS root translation (the reference
never feeds it to the model; see ``docs/conventions.md#motionclip-motion-tensor``);
``frame_labels`` holds the per-frame raw labels; ``gender`` and ``betas`` are the AMASS file's.
Every sequence of the split is counted as used or dropped for a reason
(:mod:`vmc.data.motion_sources.report`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from vmc.data.motion_sources.amass import (
    AMASS_HELP,
    amass_subset,
    find_amass_file,
    fps_reason,
    read_amass_npz,
)
from vmc.data.motion_sources.record import MotionRecord, window_text
from vmc.data.motion_sources.report import LoadReport, publish
from vmc.motion.resample import FpsMismatchError, ResampleMethod

__all__ = [
    "AMASS_SPLITS",
    "BABEL_HELP",
    "babel_frame_labels",
    "chunk_records",
    "load_amass_babel",
    "read_babel_labels",
]

BABEL_HELP = (
    "BABEL is a licensed label set over AMASS (never shipped with vmc): download "
    "babel_v1.0_release from https://babel.is.tue.mpg.de and point babel_dir at the folder "
    "holding train.json and val.json"
)

AMASS_SPLITS: dict[str, tuple[str, ...]] = {
    "train": (
        "BioMotionLab_NTroje",
        "Eyes_Japan_Dataset",
        "TotalCapture",
        "KIT",
        "ACCAD",
        "CMU",
        "MPI_Limits",
        "TCD_handMocap",
        "EKUT",
    ),
    "vald": ("HumanEva", "MPI_HDM05", "SFU", "MPI_mosh"),
    "test": ("Transitions_mocap", "SSM_synced"),
}
"""MotionCLIP's split by AMASS sub-dataset (``split_by="amass"``)."""

Split = Literal["train", "vald", "test", "all"]


def _feat_parts(feat_p: str) -> list[str]:
    return [p for p in str(feat_p).replace("\\", "/").split("/") if p not in ("", ".")]


def _feat_rel_path(feat_p: str) -> str:
    parts = _feat_parts(feat_p)
    return "/".join(parts[1:]) if len(parts) > 1 else "/".join(parts)


def _find_feat(root: Path, feat_p: str) -> tuple[Path | None, list[Path]]:
    """The AMASS file of ``feat_p`` under ``root`` in any layout (module docstring, step 1)."""
    parts = _feat_parts(feat_p)
    if len(parts) >= 3:  # <archive>/<subset>/<rest>
        return find_amass_file(root, parts[1], "/".join(parts[2:]), parts[0])
    if len(parts) == 2:  # <subset>/<file>: no archive component
        return find_amass_file(root, parts[0], parts[1])
    path = root / "/".join(parts)
    return (path if path.is_file() else None), [path]


def read_babel_labels(
    babel_dir: str | os.PathLike[str], files: Iterable[str] = ("train", "val")
) -> dict[str, dict[str, Any]]:
    """BABEL entries keyed by the AMASS path they label (``feat_p`` minus its first component).

    Each entry is BABEL's dict plus ``"split"`` (the json file it came from).

    Raises:
        FileNotFoundError: a json file is missing (message says what BABEL is).
        ValueError: a file is not BABEL's layout (names the file and the entry).
    """
    base = Path(babel_dir)
    out: dict[str, dict[str, Any]] = {}
    for stem in files:
        path = base / f"{stem}.json"
        if not path.is_file():
            raise FileNotFoundError(f"BABEL label file not found: {path}. {BABEL_HELP}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object of sequences, got {type(data)}")
        for sid, entry in data.items():
            if not isinstance(entry, dict) or any(
                k not in entry for k in ("feat_p", "dur", "seq_ann")
            ):
                raise ValueError(
                    f"{path}: sequence {sid!r} lacks BABEL keys 'feat_p', 'dur', 'seq_ann'"
                )
            out[_feat_rel_path(entry["feat_p"])] = {**entry, "split": stem}
    return out


def _labels(ann: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(ann, dict) or not isinstance(ann.get("labels"), list):
        raise ValueError(f"{where}: annotation without a 'labels' list")
    return ann["labels"]


def babel_frame_labels(entry: dict[str, Any], num_frames: int) -> np.ndarray:
    """Per-frame raw labels ``str [num_frames]`` of one BABEL entry at the file's own rate
    (rules in the module docstring, step 3)."""
    where = f"BABEL entry {entry.get('babel_sid', entry.get('feat_p', '?'))}"
    dur = float(entry["dur"])
    if not dur > 0:
        raise ValueError(f"{where}: duration must be > 0, got {entry['dur']!r}")
    rate = num_frames / dur
    labels = np.full(num_frames, "", dtype=object)
    frame_ann = entry.get("frame_ann")
    if frame_ann is None:
        seq = [lab.get("raw_label") or "" for lab in _labels(entry["seq_ann"], where)]
        labels[:] = "and ".join(seq)
    else:
        for lab in _labels(frame_ann, where):
            start = round(float(lab["start_t"]) * rate)
            end = round(float(lab["end_t"]) * rate)
            labels[start:end] = lab.get("raw_label") or ""
    return labels.astype(np.str_)


def chunk_records(records: Iterable[MotionRecord], chunk_len: int = 100) -> list[MotionRecord]:
    """Cut every record into non-overlapping ``chunk_len``-frame chunks, dropping the
    remainder (a record shorter than ``chunk_len`` gives none). Chunk ``k`` is named
    ``f"{name}#chunk{k:03d}"``; texts follow :meth:`MotionRecord.slice`."""
    if chunk_len < 1:
        raise ValueError(f"chunk_len must be >= 1, got {chunk_len}")
    out = []
    for rec in records:
        for k in range(rec.motion.num_frames // chunk_len):
            out.append(rec.slice(k * chunk_len, (k + 1) * chunk_len, f"#chunk{k:03d}"))
    return out


def _in_split(rel: str, entry: dict[str, Any], split: str, split_by: str) -> bool:
    if split == "all":
        return True
    if split_by == "amass":
        return amass_subset(rel.split("/")[0]) in AMASS_SPLITS[split]
    return entry["split"].replace("val", "vald") == split


def load_amass_babel(
    amass_dir: str | os.PathLike[str],
    babel_dir: str | os.PathLike[str],
    split: Split = "train",
    split_by: Literal["amass", "babel"] = "amass",
    fps: float = 30,
    method: ResampleMethod = "slerp",
    max_fps_dist: float | None = None,
    min_frames: int = 60,
    chunk_len: int | None = 100,
    babel_files: Iterable[str] = ("train", "val"),
) -> list[MotionRecord]:
    """AMASS sequences labelled by BABEL, resampled and chunked (steps in the module docstring).

    Args:
        amass_dir: AMASS root (``<subset>/<subject>/<name>.npz`` or
            ``<archive>/<subset>/<subject>/<name>.npz``, archive or subset folder names).
        babel_dir: folder with BABEL's ``train.json`` / ``val.json``.
        split: ``"train"``, ``"vald"``, ``"test"`` or ``"all"``. split_by: ``"amass"`` or
            ``"babel"``.
        fps, method, max_fps_dist: resampling (paper: ``"subsample"``, 5).
        min_frames: drop sequences shorter than this after resampling (paper: 60).
        chunk_len: chunk length (paper: 100); ``None`` keeps whole sequences.
        babel_files: which BABEL json files to read.

    Returns:
        The records; the counts (found, used, dropped by reason) are published as a
        :class:`~vmc.data.motion_sources.report.LoadReport`.

    Raises:
        FileNotFoundError: missing folders/json, or none of the labelled AMASS files exist.
        ValueError: bad arguments or malformed files.
    """
    if split not in ("train", "vald", "test", "all"):
        raise ValueError(f"split must be 'train', 'vald', 'test' or 'all', got {split!r}")
    if split_by not in ("amass", "babel"):
        raise ValueError(f"split_by must be 'amass' or 'babel', got {split_by!r}")
    if chunk_len is not None and chunk_len < 1:
        raise ValueError(f"chunk_len must be >= 1 or None, got {chunk_len}")
    root = Path(amass_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"AMASS folder not found: {root}. {AMASS_HELP}")
    labels = read_babel_labels(babel_dir, babel_files)
    report = LoadReport(f"amass_babel (split {split}, by {split_by})", str(root))
    records: list[MotionRecord] = []
    first_missing: list[Path] = []
    for rel in sorted(labels):
        entry = labels[rel]
        if not _in_split(rel, entry, split, split_by):
            continue
        report.found += 1
        name = rel.removesuffix(".npz")
        path, tried = _find_feat(root, entry["feat_p"])
        if path is None:
            report.drop("file missing", rel)
            first_missing = first_missing or tried
            continue
        rec = read_amass_npz(path, name=name, source="amass_babel")
        rec.frame_labels = babel_frame_labels(entry, rec.motion.num_frames)
        try:
            rec = rec.resampled(fps, method, max_fps_dist)
        except FpsMismatchError:
            report.drop(fps_reason(rec.motion.fps, fps, method, max_fps_dist), name)
            continue
        if rec.motion.num_frames < min_frames:
            report.drop(f"too short (< {min_frames} frames at {fps:g} fps)", name)
            continue
        if chunk_len is not None and rec.motion.num_frames < chunk_len:
            report.drop(f"shorter than a chunk ({chunk_len} frames)", name)
            continue
        assert rec.frame_labels is not None
        rec.motion.texts = [window_text(rec.frame_labels)]
        records.append(rec)
    missing = len(report.dropped.get("file missing", []))
    if report.found and missing == report.found:
        also = ", ".join(str(p) for p in first_missing[1:3])
        raise FileNotFoundError(
            f"none of the {report.found} AMASS files BABEL labels for split {split!r} exist under "
            f"{root} (first expected: {first_missing[0]}; also tried {also} ...). {AMASS_HELP}"
        )
    out = records if chunk_len is None else chunk_records(records, chunk_len)
    report.used, report.records = len(records), len(out)
    publish(report)
    return out
