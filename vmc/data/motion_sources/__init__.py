"""Motion data sources → :class:`MotionRecord` lists (conventions in ``docs/data.md``).

Every source has a loader ``load_<source>(..., fps=30) -> list[MotionRecord]`` (resampled to
``fps``) registered in :data:`MOTION_SOURCES`; :func:`load_motion_records` dispatches by name:

=================  =====================================================  ========
kind               reads                                                  world
=================  =====================================================  ========
``amass_babel``    AMASS ``.npz`` + BABEL json (paper data; 100-frame     Z-up
                   chunks with per-frame labels)
``motionclip_db``  MotionCLIP's preprocessed ``amass_30fps_{split}.pt``   Z-up
``humanml3d``      HumanML3D captions + ``index.csv`` over AMASS ``.npz``  Z-up
``folder``         our folder format, one ``.npz`` per clip               Y-up*
``procedural``     the procedural motion library (synthetic)              Y-up
``amass``          bare AMASS ``.npz`` files (no texts)                   Z-up
=================  =====================================================  ========

(* as each file's ``up_axis`` says.) ``MotionRecord.to_frame("y_up")`` brings any record into the
project's Y-up frame; ``load_motion_records(..., y_up=True)`` does it for all.
:func:`convert_records_to_folder` writes any records in the folder format.

Every loader counts what it found, used and dropped (and why) in a :class:`LoadReport`;
:func:`collect_reports` gathers them for one summary (:mod:`.report`).
"""

from __future__ import annotations

from collections.abc import Callable

from vmc.data.motion_sources.amass import load_amass
from vmc.data.motion_sources.babel import chunk_records, load_amass_babel
from vmc.data.motion_sources.folder import convert_records_to_folder, load_folder
from vmc.data.motion_sources.humanml3d import load_humanml3d
from vmc.data.motion_sources.motionclip_db import load_motionclip_db
from vmc.data.motion_sources.procedural import load_procedural
from vmc.data.motion_sources.record import MotionRecord, window_text
from vmc.data.motion_sources.report import LoadReport, collect_reports

__all__ = [
    "MOTION_SOURCES",
    "LoadReport",
    "MotionRecord",
    "chunk_records",
    "collect_reports",
    "convert_records_to_folder",
    "load_amass",
    "load_amass_babel",
    "load_folder",
    "load_humanml3d",
    "load_motion_records",
    "load_motionclip_db",
    "load_procedural",
    "window_text",
]

MOTION_SOURCES: dict[str, Callable[..., list[MotionRecord]]] = {
    "amass_babel": load_amass_babel,
    "motionclip_db": load_motionclip_db,
    "humanml3d": load_humanml3d,
    "folder": load_folder,
    "procedural": load_procedural,
    "amass": load_amass,
}
"""Source name → loader (each takes ``fps=`` and returns records at that rate)."""


def load_motion_records(kind: str, *, y_up: bool = False, **kwargs) -> list[MotionRecord]:
    """Load records from the source ``kind`` (a key of :data:`MOTION_SOURCES`).

    Args:
        kind: source name. y_up: convert every record to the Y-up frame (``to_frame("y_up")``).
        **kwargs: the loader's arguments (paths, ``fps`` ...).

    Raises:
        ValueError: unknown ``kind`` (lists the known ones) or the loader's errors.
        FileNotFoundError: the loader's missing-data errors.
    """
    if kind not in MOTION_SOURCES:
        raise ValueError(
            f"unknown motion source {kind!r}; available: {', '.join(sorted(MOTION_SOURCES))}"
        )
    records = MOTION_SOURCES[kind](**kwargs)
    return [r.to_frame("y_up") for r in records] if y_up else records
