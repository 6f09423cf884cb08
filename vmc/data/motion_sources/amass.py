"""AMASS ``.npz`` sequences → :class:`MotionRecord` (Z-up world, as AMASS stores them).

Supported files (read without pickle): ``poses`` of width 156 (SMPL+H, what MotionCLIP and
HumanML3D use), 165 (SMPL-X "G" release) or 72 (SMPL); ``trans [T,3]``; a frame rate under
``mocap_framerate`` (SMPL+H), ``mocap_frame_rate`` (SMPL-X) or ``fps``; optional ``betas``,
``gender``. SMPL's 24 joints are taken as MotionCLIP does (``docs/data.md``): body joints 0–21 plus
the left/right index-finger base (SMPL+H joints 22 and 37; SMPL-X 25 and 40) standing in for
SMPL's hand joints 22/23. Per-subject ``*shape.npz`` files (betas only) are skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from vmc.data.motion_sources.record import MotionRecord
from vmc.motion.resample import FpsMismatchError, ResampleMethod
from vmc.motion.types import Motion

__all__ = ["AMASS_HELP", "amass_to_smpl24", "iter_amass_files", "load_amass", "read_amass_npz"]

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
    """One AMASS sequence at its own frame rate (``frame="z_up"``, no texts).

    Raises:
        FileNotFoundError: the file does not exist (message says what AMASS is).
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
            )
        )
    except ValueError as err:
        raise ValueError(f"{src}: {err}") from None


def iter_amass_files(root: str | os.PathLike[str]) -> list[Path]:
    """All motion ``.npz`` under ``root`` (recursive, sorted, ``*shape.npz`` skipped)."""
    base = Path(root)
    if not base.is_dir():
        raise FileNotFoundError(f"AMASS folder not found: {base}. {AMASS_HELP}")
    return sorted(p for p in base.rglob("*.npz") if not p.name.endswith("shape.npz"))


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
            (sequences the ``subsample`` method cannot bring near ``fps`` are skipped).
        min_frames: sequences shorter than this after resampling are skipped.

    Returns:
        Records named by their path relative to ``root`` without ``.npz`` (Z-up).
    """
    if isinstance(root, str | os.PathLike):
        base = Path(root)
        files = iter_amass_files(base)
        if not files:
            raise FileNotFoundError(f"no AMASS .npz files under {base}. {AMASS_HELP}")
    else:
        base = None
        files = [Path(p) for p in root]
    records = []
    for f in files:
        rel = f.relative_to(base) if base is not None else Path(f.name)
        rec = read_amass_npz(f, name=rel.with_suffix("").as_posix())
        try:
            rec = rec.resampled(fps, method, max_fps_dist)
        except FpsMismatchError:
            continue
        if rec.motion.num_frames >= min_frames:
            records.append(rec)
    return records
