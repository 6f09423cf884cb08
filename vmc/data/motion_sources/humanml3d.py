"""HumanML3D text annotations over the AMASS SMPL motions they were made from.

HumanML3D's own motion files (``new_joints``, ``new_joint_vecs``) are joint positions and
derived features, not SMPL parameters, so they cannot drive a body model. This reader goes back
to the source: it follows HumanML3D's ``index.csv`` to the AMASS ``.npz`` of every clip and
reproduces the clip's frame range the way HumanML3D's ``raw_pose_processing`` cut it:

1. ``index.csv`` rows ``source_path,start_frame,end_frame,new_name``; ``source_path`` is
   ``./pose_data/<subset>/<subject>/<name>.npy``, read here as ``<amass_dir>/<subset>/<subject>/
   <name>.npz`` (or any layout :func:`~vmc.data.motion_sources.amass.find_amass_file` accepts:
   ``BMLrub`` for ``BioMotionLab_NTroje``, ``<archive>/<subset>/...``). HumanAct12 rows (not
   AMASS) are dropped and counted. HumanML3D ships ``index.csv`` in its repository root, beside
   the ``HumanML3D/`` folder: it is looked for in ``humanml3d_dir`` and then in its parent.
2. Every ``int(fps / 20)``-th frame of the AMASS file (HumanML3D's nominal 20 fps; the true rate
   ``fps / step`` is kept, e.g. 20 for 60/120 fps files).
3. The per-subset crop (first 3 s of Eyes_Japan_Dataset and MPI_HDM05, 1 s of TotalCapture and
   MPI_Limits, 0.5 s of Transitions_mocap), then Python's ``[start_frame:end_frame]`` (so
   ``end_frame = -1`` drops the last frame, as HumanML3D does).
4. ``texts/<new_name stem>.txt``: one ``caption#tokens#start#end`` per line. ``start = end = 0``
   (or NaN) → a caption of the whole clip (all of them go into one record's ``texts``); other
   lines → a record of the clip's frames ``[int(start*20), int(end*20))`` (same range grouped),
   named ``<id>#<a>-<b>``.
5. Mirrored clips ``M<id>`` (``include_mirrored=True``): HumanML3D's left/right swap, applied to
   the SMPL motion (:func:`mirror_record`), with the ``texts/M<id>.txt`` captions.
6. Resampling to ``fps`` by slerp (:mod:`vmc.motion.resample`).

World frame: records stay in AMASS's **Z-up** world (``frame="z_up"``; ``to_frame("y_up")``
converts).
HumanML3D's joint files are Y-up in a different frame: a point ``(x, y, z)`` of AMASS is
``(-x, z, y)`` there (``R_y(180°) R_x(-90°)``), i.e. ours rotated 180° about the vertical; its
feature files are further re-centred and turned to face +Z at frame 0, which this reader does
not do. Splits: ``<humanml3d_dir>/<split>.txt`` lists clip ids (``train``, ``val``, ``test``,
``train_val``, ``all``); ``split=None`` reads every row. Every clip id of the split is counted
as used or dropped for a reason (:mod:`vmc.data.motion_sources.report`), ids of the split file
that the index does not list included.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from vmc.body.joints import SMPL_FLIP_PERMUTATION
from vmc.data.motion_sources.amass import AMASS_HELP, find_amass_file, read_amass_npz
from vmc.data.motion_sources.record import MotionRecord
from vmc.data.motion_sources.report import LoadReport, publish

__all__ = [
    "HUMANML3D_HELP",
    "find_humanml3d_index",
    "load_humanml3d",
    "mirror_record",
    "parse_humanml3d_texts",
    "read_humanml3d_index",
]

HUMANML3D_HELP = (
    "HumanML3D (https://github.com/EricGuo5513/HumanML3D) provides the captions: clone it, unzip "
    "HumanML3D/texts.zip so that <humanml3d_dir>/texts/000000.txt exists (humanml3d_dir is the "
    "repository's HumanML3D/ folder, with train.txt, val.txt, test.txt; index.csv is read from "
    "it or from the repository root beside it); the motions themselves come from the licensed "
    "AMASS archive (SMPL+H G) under amass_dir"
)

HUMANML3D_FPS = 20.0
_CROP_SECONDS = (
    ("Eyes_Japan_Dataset", 3.0),
    ("MPI_HDM05", 3.0),
    ("TotalCapture", 1.0),
    ("MPI_Limits", 1.0),
    ("Transitions_mocap", 0.5),
)


def read_humanml3d_index(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Rows of HumanML3D's ``index.csv`` (``source_path, start_frame, end_frame, new_name``).

    Raises:
        FileNotFoundError: missing file. ValueError: missing columns (names the file).
    """
    src = Path(path)
    if not src.is_file():
        raise FileNotFoundError(f"HumanML3D index not found: {src}. {HUMANML3D_HELP}")
    with open(src, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        need = {"source_path", "start_frame", "end_frame", "new_name"}
        if reader.fieldnames is None or not need <= set(reader.fieldnames):
            raise ValueError(f"{src}: expected columns {sorted(need)}, found {reader.fieldnames}")
        return [dict(row) for row in reader]


def parse_humanml3d_texts(
    path: str | os.PathLike[str],
) -> tuple[list[str], dict[tuple[float, float], list[str]]]:
    """Captions of one clip: ``(whole_clip_captions, {(start_s, end_s): captions})``.

    Raises:
        ValueError: a line that is not ``caption#tokens#start#end`` (names file and line).
    """
    src = Path(path)
    whole: list[str] = []
    spans: dict[tuple[float, float], list[str]] = {}
    for lineno, line in enumerate(src.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.strip().split("#")
        if len(parts) != 4:
            raise ValueError(
                f"{src}:{lineno}: expected 'caption#tokens#start#end', got {line.strip()!r}"
            )
        try:
            start, end = (float(x) if x.strip() else 0.0 for x in parts[2:4])
        except ValueError:
            raise ValueError(
                f"{src}:{lineno}: start/end must be numbers, got {parts[2:4]}"
            ) from None
        start = 0.0 if math.isnan(start) else start
        end = 0.0 if math.isnan(end) else end
        caption = parts[0].strip()
        if start == 0.0 and end == 0.0:
            whole.append(caption)
        else:
            spans.setdefault((start, end), []).append(caption)
    return whole, spans


def mirror_record(rec: MotionRecord, name: str | None = None) -> MotionRecord:
    """Left/right mirror image across the world's ``x = 0`` plane (SMPL's lateral axis).

    Joint ``i`` takes the rotation of its mirror joint ``SMPL_FLIP_PERMUTATION[i]`` with the
    axis-angle ``(a, b, c) → (a, -b, -c)`` (``R → M R M``, ``M = diag(-1, 1, 1)``, for the root
    as well), and ``trans_x → -trans_x`` (exact for a body whose rest pelvis has ``x = 0``).
    Mirroring twice gives the original. Texts are kept (pass mirrored captions yourself).
    """
    m = rec.motion
    poses = m.poses[:, list(SMPL_FLIP_PERMUTATION)] * np.array([1, -1, -1], np.float32)
    trans = m.trans * np.array([-1, 1, 1], np.float32)
    mirrored = replace(m, poses=poses, trans=trans, name=name or f"M{m.name}", texts=list(m.texts))
    return MotionRecord(mirrored, list(rec.texts_heldout), rec.frame_labels)


def find_humanml3d_index(
    humanml3d_dir: str | os.PathLike[str], index_csv: str | os.PathLike[str] | None = None
) -> Path:
    """HumanML3D's ``index.csv``: ``index_csv`` if given, else ``<humanml3d_dir>/index.csv``,
    else ``<humanml3d_dir>/../index.csv`` (where the HumanML3D repository ships it).

    Raises:
        FileNotFoundError: none of them exists (names the places looked at).
    """
    if index_csv is not None:
        path = Path(index_csv)
        if not path.is_file():
            raise FileNotFoundError(f"HumanML3D index not found: {path}. {HUMANML3D_HELP}")
        return path
    base = Path(humanml3d_dir)
    candidates = [base / "index.csv", base.resolve().parent / "index.csv"]
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"HumanML3D index.csv not found in {candidates[0].parent} nor in {candidates[1].parent} "
        f"(or pass index_csv=...). {HUMANML3D_HELP}"
    )


def _amass_rel(source_path: str) -> str | None:
    parts = [p for p in source_path.replace("\\", "/").split("/") if p not in ("", ".")]
    if "pose_data" in parts:
        parts = parts[parts.index("pose_data") + 1 :]
    if not parts or "humanact12" in parts:
        return None
    rel = "/".join(parts)
    return rel[: -len(".npy")] + ".npz" if rel.endswith(".npy") else rel


def _clip_frames(rec: MotionRecord, source_path: str, start: int, end: int) -> MotionRecord:
    """Steps 2-3 of the module docstring: HumanML3D's 20 fps subsampling, crop and slice."""
    m = rec.motion
    step = max(1, int(m.fps / HUMANML3D_FPS))
    index = np.arange(m.num_frames)[::step]
    for subset, seconds in _CROP_SECONDS:
        if subset in source_path:
            index = index[int(seconds * HUMANML3D_FPS) :]
    index = index[start:end]
    if index.size == 0:
        raise ValueError("empty frame range")
    clipped = replace(m, poses=m.poses[index], trans=m.trans[index], fps=m.fps / step, texts=[])
    return MotionRecord(clipped, list(rec.texts_heldout))


def _segments(
    clip: MotionRecord,
    clip_id: str,
    whole: list[str],
    spans: dict[tuple[float, float], list[str]],
    segment_captions: bool,
    report: LoadReport,
) -> list[MotionRecord]:
    out = []
    if whole:
        out.append(MotionRecord(replace(clip.motion, texts=list(whole), name=clip_id)))
    if segment_captions:
        for (start, end), caps in sorted(spans.items()):
            a, b = int(start * HUMANML3D_FPS), min(int(end * HUMANML3D_FPS), clip.motion.num_frames)
            if b - a >= 2:
                seg = clip.slice(a, b, f"#{a}-{b}")
                named = replace(seg.motion, texts=list(caps), name=f"{clip_id}#{a}-{b}")
                out.append(MotionRecord(named))
            else:  # a caption span outside the clip or under 2 frames (0.1 s) at 20 fps
                report.drop("caption span under 2 frames", f"{clip_id}#{start:g}-{end:g}", True)
    return out


def load_humanml3d(
    humanml3d_dir: str | os.PathLike[str],
    amass_dir: str | os.PathLike[str],
    split: str | None = "train",
    fps: float = 30,
    include_mirrored: bool = True,
    segment_captions: bool = True,
    index_csv: str | os.PathLike[str] | None = None,
    min_frames: int = 1,
) -> list[MotionRecord]:
    """HumanML3D clips as SMPL records with their captions (steps in the module docstring).

    Args:
        humanml3d_dir: the repository's ``HumanML3D/`` folder, with ``texts/`` and the split
            files (the repository root, which holds that folder, is accepted too).
        amass_dir: the AMASS root the index points into.
        split: split file stem (``"train"``, ``"val"``, ``"test"``...) or ``None`` for all rows.
        fps: target frame rate. include_mirrored: also the ``M<id>`` mirrored clips.
        segment_captions: also records for time-ranged captions.
        index_csv: HumanML3D's ``index.csv``; ``None``: in ``humanml3d_dir``, else beside it
            (:func:`find_humanml3d_index`).
        min_frames: drop records shorter than this after resampling.

    Returns:
        The records; counts (clip ids found, used, dropped by reason) are published as a
        :class:`~vmc.data.motion_sources.report.LoadReport`.

    Raises:
        FileNotFoundError: missing folder/index/split file, or none of the indexed AMASS files
            exist (says what HumanML3D/AMASS are and where to get them).
        ValueError: malformed index or text files.
    """
    base = Path(humanml3d_dir)
    if not (base / "texts").is_dir() and (base / "HumanML3D" / "texts").is_dir():
        base = base / "HumanML3D"  # the repository root was given: its data folder is inside
    texts_dir = base / "texts"
    if not texts_dir.is_dir():
        hint = " (unzip texts.zip there first)" if (base / "texts.zip").is_file() else ""
        raise FileNotFoundError(
            f"HumanML3D texts folder not found: {texts_dir}{hint}. {HUMANML3D_HELP}"
        )
    rows = read_humanml3d_index(find_humanml3d_index(base, index_csv))
    ids: set[str] | None = None
    if split is not None:
        split_file = base / f"{split}.txt"
        if not split_file.is_file():
            raise FileNotFoundError(
                f"HumanML3D split file not found: {split_file}. {HUMANML3D_HELP}"
            )
        lines = split_file.read_text(encoding="utf-8").splitlines()
        ids = {ln.strip() for ln in lines if ln.strip()}
    root = Path(amass_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"AMASS folder not found: {root}. {AMASS_HELP}")
    where = "all rows" if split is None else f"split {split}"
    report = LoadReport(f"humanml3d ({where})", f"{base} + {root}")
    records: list[MotionRecord] = []
    listed: set[str] = set()
    wanted = missing = 0
    first_missing: Path | None = None
    for row in rows:
        clip_id = Path(row["new_name"]).stem
        variants = [(clip_id, False)] + ([(f"M{clip_id}", True)] if include_mirrored else [])
        listed.update((clip_id, f"M{clip_id}"))  # mirrored ids left out on purpose are no drop
        variants = [(v, m) for v, m in variants if ids is None or v in ids]
        if not variants:
            continue
        report.found += len(variants)
        rel = _amass_rel(row["source_path"])
        if rel is None:
            for vid, _ in variants:
                report.drop("HumanAct12 (not in AMASS)", vid)
            continue
        wanted += 1
        subset, _, rest = rel.partition("/")
        path, tried = find_amass_file(root, subset, rest)
        if path is None:
            missing += 1
            first_missing = first_missing or tried[0]
            for vid, _ in variants:
                report.drop("AMASS file missing", f"{vid} ({rel})")
            continue
        try:
            start, end = int(row["start_frame"]), int(row["end_frame"])
        except ValueError:
            raise ValueError(
                f"index row {row['new_name']}: start/end frames must be integers"
            ) from None
        source = read_amass_npz(path, name=clip_id, source="humanml3d")
        try:
            clip = _clip_frames(source, row["source_path"], start, end)
        except ValueError:
            for vid, _ in variants:
                report.drop("empty frame range after HumanML3D's crop", vid)
            continue
        for vid, mirrored in variants:
            text_file = texts_dir / f"{vid}.txt"
            if not text_file.is_file():
                report.drop("no texts/<id>.txt", vid)
                continue
            whole, spans = parse_humanml3d_texts(text_file)
            base_clip = mirror_record(clip, vid) if mirrored else clip
            pieces = [
                r.resampled(fps)
                for r in _segments(base_clip, vid, whole, spans, segment_captions, report)
            ]
            kept = [r for r in pieces if r.motion.num_frames >= min_frames]
            short = f"too short (< {min_frames} frames at {fps:g} fps)"
            if not kept:
                report.drop(short if pieces else "no usable caption", vid)
                continue
            report.used += 1
            records += kept
            for r in pieces:
                if r.motion.num_frames < min_frames:  # a short piece of a used clip
                    report.drop(short, r.motion.name, piece=True)
    for vid in sorted((ids or set()) - listed):
        report.found += 1
        report.drop("not in index.csv", vid)
    if wanted and missing == wanted:
        raise FileNotFoundError(
            f"none of the {wanted} AMASS files HumanML3D's index points to exist under {root} "
            f"(first expected: {first_missing}). {AMASS_HELP}"
        )
    report.records = len(records)
    publish(report)
    return records
