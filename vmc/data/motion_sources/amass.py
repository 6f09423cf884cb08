"""AMASS ``.npz`` sequences → :class:`MotionRecord` (Z-up world, as AMASS stores them).

Supported files (read without pickle): ``poses`` of width 156 (SMPL+H, what MotionCLIP and
HumanML3D use), 165 (SMPL-X "G" release) or 72 (SMPL); ``trans [T,3]``; a frame rate under
``mocap_framerate`` (SMPL+H), ``mocap_frame_rate`` (SMPL-X) or ``fps``; optional ``betas``,
``gender``. SMPL's 24 joints are taken as MotionCLIP does (``docs/data.md``): body joints 0–21 plus
the left/right index-finger base (SMPL+H joints 22 and 37; SMPL-X 25 and 40) standing in for
SMPL's hand joints 22/23. ``gender`` is kept (``Motion.gender``: the betas belong to that SMPL
model). Per-subject ``shape.npz`` files (betas and gender only) and any other ``.npz`` without
``poses`` are not motions: they are skipped and counted (:class:`NotAMotionError`).

Folder names: AMASS renamed its archives over the years (``BMLrub`` holds the folder
``BioMotionLab_NTroje``, ``HDM05`` holds ``MPI_HDM05`` ...; :data:`AMASS_ARCHIVES`). Users unpack
them at ``<amass_dir>/<subset>/...`` (MotionCLIP, HumanML3D) or at
``<amass_dir>/<archive>/<subset>/...`` (BABEL's tools), under either name:
:func:`find_amass_file` accepts all of these, and :func:`amass_subset` gives the subset name the
splits use.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from vmc.data.motion_sources.record import MotionRecord
from vmc.data.motion_sources.report import LoadReport, publish
from vmc.motion.resample import FpsMismatchError, ResampleMethod
from vmc.motion.types import Motion

__all__ = [
    "AMASS_ARCHIVES",
    "AMASS_HELP",
    "NotAMotionError",
    "amass_subset",
    "amass_to_smpl24",
    "find_amass_file",
    "fps_reason",
    "iter_amass_files",
    "load_amass",
    "read_amass_npz",
]

AMASS_HELP = (
    "AMASS is a licensed motion-capture archive (never shipped with vmc): register at "
    "https://amass.is.tue.mpg.de, download the 'SMPL+H G' body data of the subsets you want and "
    "unpack them so that <amass_dir>/<subset>/<subject>/<sequence>_poses.npz exists "
    "(e.g. <amass_dir>/CMU/01/01_01_poses.npz)"
)

# Joint indices (into the per-joint axis-angle of each body model) that make SMPL's 24.
_TO_SMPL24 = {
    72: list(range(24)),
    156: list(range(22)) + [22, 37],  # SMPL+H: 22 body + 15 left hand + 15 right hand
    165: list(range(22)) + [25, 40],  # SMPL-X: 22 body + jaw + 2 eyes + 15 + 15 hand joints
}
_RATE_KEYS = ("mocap_framerate", "mocap_frame_rate", "fps")
_GENDERS = ("neutral", "male", "female")

AMASS_ARCHIVES: dict[str, str] = {
    "BMLrub": "BioMotionLab_NTroje",
    "DFaust": "DFaust_67",
    "EyesJapanDataset": "Eyes_Japan_Dataset",
    "HDM05": "MPI_HDM05",
    "MoSh": "MPI_mosh",
    "PosePrior": "MPI_Limits",
    "SSM": "SSM_synced",
    "TCDHands": "TCD_handMocap",
    "Transitions": "Transitions_mocap",
}
"""AMASS archive names (as the download page and BABEL's ``feat_p`` spell them) whose folder
inside the archive has another name (the one MotionCLIP's split and HumanML3D's index use).
Archives not listed (CMU, KIT, ACCAD ...) have one name for both."""
_SUBSET_ARCHIVE = {v: k for k, v in AMASS_ARCHIVES.items()}


class NotAMotionError(ValueError):
    """An ``.npz`` without ``poses`` (e.g. AMASS's per-subject ``shape.npz``): not a motion."""


def amass_subset(name: str) -> str:
    """The subset (folder) name of an AMASS archive or subset name: ``"BMLrub"`` ->
    ``"BioMotionLab_NTroje"``; other names unchanged."""
    return AMASS_ARCHIVES.get(name, name)


def _names(*names: str) -> list[str]:
    """Every spelling of the datasets ``names`` (archive and subset names), in order, unique."""
    out: list[str] = []
    for n in names:
        for alias in (n, amass_subset(n), _SUBSET_ARCHIVE.get(n, n)):
            if alias not in out:
                out.append(alias)
    return out


def find_amass_file(
    root: str | os.PathLike[str], dataset: str, rest: str, *alternatives: str
) -> tuple[Path | None, list[Path]]:
    """Where the AMASS file ``<dataset>/<rest>`` is under ``root``, whichever layout was used.

    Tried, in order, for every spelling ``n`` of ``dataset`` (and of ``alternatives``, e.g. the
    archive name BABEL's ``feat_p`` starts with): ``root/n/rest`` (archives unpacked at the root:
    MotionCLIP, HumanML3D), then ``root/n1/n2/rest`` (each archive unpacked into its own folder:
    BABEL's tools).

    Returns:
        ``(the path or None, the candidates tried)`` (the first candidate names the missing file).
    """
    base = Path(root)
    names = _names(dataset, *alternatives)
    tried = [base / n / rest for n in names] + [base / a / b / rest for a in names for b in names]
    for path in tried:
        if path.is_file():
            return path, tried
    return None, tried


def fps_reason(fps_src: float, fps: float, method: str, max_fps_dist: float | None) -> str:
    """The drop reason of a sequence whose rate ``method`` cannot bring near ``fps``."""
    limit = "" if max_fps_dist is None else f", max {max_fps_dist:g} fps off"
    return f"frame rate not reachable ({fps_src:g} fps -> {fps:g}, {method}{limit})"


def _gender(value: np.ndarray) -> str | None:
    """AMASS's ``gender`` (``str`` or ``bytes``, any case) as Motion's, or None if unknown."""
    g = _scalar_str(value).strip().lower()
    return g if g in _GENDERS else None


def amass_to_smpl24(poses: np.ndarray) -> np.ndarray:
    """``[T,72|156|165]`` axis-angle → ``float32 [T,24,3]`` SMPL joints (mapping above)."""
    p = np.asarray(poses)
    if p.ndim != 2 or p.shape[1] not in _TO_SMPL24:
        raise ValueError(
            f"poses must be [T,156] (SMPL+H), [T,165] (SMPL-X) or [T,72] (SMPL), got {p.shape}"
        )
    return p.reshape(p.shape[0], -1, 3)[:, _TO_SMPL24[p.shape[1]]].astype(np.float32)


def _scalar_str(value: np.ndarray) -> str:
    v = value.item() if value.shape == () else value.reshape(-1)[0]
    return v.decode() if isinstance(v, bytes) else str(v)


def read_amass_npz(
    path: str | os.PathLike[str], name: str | None = None, source: str = "amass"
) -> MotionRecord:
    """One AMASS sequence at its own frame rate (``frame="z_up"``, no texts; ``betas`` and
    ``gender`` as the file has them).

    Raises:
        FileNotFoundError: the file does not exist (message says what AMASS is).
        NotAMotionError: the file has no ``poses`` (``shape.npz``: betas and gender only).
        ValueError: not a pickle-free ``.npz``, a missing key or a bad shape (names the file).
    """
    src = Path(path)
    if not src.is_file():
        raise FileNotFoundError(f"AMASS sequence not found: {src}. {AMASS_HELP}")
    try:
        data = np.load(src, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"{src}: not a readable AMASS .npz ({err})") from None
    if not hasattr(data, "files"):
        raise ValueError(f"{src}: expected an .npz archive, got a single .npy array")
    with data:
        keys = set(data.files)
        if "poses" not in keys:
            raise NotAMotionError(f"{src}: not a motion (no 'poses'; found {sorted(keys)})")
        missing = [k for k in ("poses", "trans") if k not in keys]
        rate_key = next((k for k in _RATE_KEYS if k in keys), None)
        if rate_key is None:
            missing.append("mocap_framerate")
        if missing:
            raise ValueError(
                f"{src}: not an AMASS motion file: missing {missing} (found {sorted(keys)})"
            )
        try:
            poses = amass_to_smpl24(data["poses"])
            trans = np.asarray(data["trans"], dtype=np.float32)
            fps = float(np.asarray(data[rate_key]).reshape(-1)[0])
            betas = np.asarray(data["betas"], dtype=np.float32) if "betas" in keys else None
            gender = _gender(np.asarray(data["gender"])) if "gender" in keys else None
        except (ValueError, TypeError, IndexError) as err:
            raise ValueError(f"{src}: {err}") from None
    try:
        return MotionRecord(
            Motion(
                poses=poses,
                trans=trans,
                fps=fps,
                frame="z_up",
                source=source,
                name=name if name is not None else src.stem,
                betas=betas,
                gender=gender,
            )
        )
    except ValueError as err:
        raise ValueError(f"{src}: {err}") from None


def iter_amass_files(root: str | os.PathLike[str]) -> list[Path]:
    """All ``.npz`` under ``root`` (recursive, sorted), ``shape.npz`` files included (the loaders
    skip and count them: :class:`NotAMotionError`)."""
    base = Path(root)
    if not base.is_dir():
        raise FileNotFoundError(f"AMASS folder not found: {base}. {AMASS_HELP}")
    return sorted(base.rglob("*.npz"))


def load_amass(
    root: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    fps: float = 30,
    method: ResampleMethod = "slerp",
    max_fps_dist: float | None = None,
    min_frames: int = 1,
) -> list[MotionRecord]:
    """AMASS sequences resampled to ``fps`` (no texts; see :mod:`.babel` for labels).

    Args:
        root: an AMASS folder (searched recursively) or an iterable of ``.npz`` paths.
        fps: target frame rate. method / max_fps_dist: see :mod:`vmc.motion.resample`
            (sequences the ``subsample`` method cannot bring near ``fps`` are dropped).
        min_frames: sequences shorter than this after resampling are dropped.

    Returns:
        Records named by their path relative to ``root`` without ``.npz`` (Z-up). Files that
        are not motions (``shape.npz``) are skipped; they and every dropped sequence are
        counted in the published :class:`~vmc.data.motion_sources.report.LoadReport`.
    """
    if isinstance(root, str | os.PathLike):
        base = Path(root)
        files = iter_amass_files(base)
        if not files:
            raise FileNotFoundError(f"no AMASS .npz files under {base}. {AMASS_HELP}")
    else:
        base = None
        files = [Path(p) for p in root]
    report = LoadReport("amass", str(base) if base is not None else "")
    records = []
    for f in files:
        rel = (f.relative_to(base) if base is not None else Path(f.name)).as_posix()
        try:
            rec = read_amass_npz(f, name=rel.removesuffix(".npz"))
        except NotAMotionError:
            report.not_motions.append(rel)
            continue
        report.found += 1
        try:
            rec = rec.resampled(fps, method, max_fps_dist)
        except FpsMismatchError:
            report.drop(fps_reason(rec.motion.fps, fps, method, max_fps_dist), rec.motion.name)
            continue
        if rec.motion.num_frames < min_frames:
            report.drop(f"too short (< {min_frames} frames at {fps:g} fps)", rec.motion.name)
            continue
        records.append(rec)
    report.used = report.records = len(records)
    if not report.found:
        raise FileNotFoundError(
            f"no AMASS motion files under {base} ({len(report.not_motions)} .npz files, none "
            f"with 'poses'). {AMASS_HELP}"
        )
    publish(report)
    return records
