"""What a motion source read, used and dropped: :class:`LoadReport` and the run's one summary.

Every loader of :mod:`vmc.data.motion_sources` counts the sequences it *found* (files of a
folder, BABEL entries of a split, rows of HumanML3D's index), how many it *used* and, for every
sequence it did not use, *why* (a missing file, a frame rate it cannot reach, too short ...),
so that nothing is dropped silently. Files that are not motions at all (AMASS's per-subject
``shape.npz``) are counted apart: they are not sequences.

A loader hands its report to :func:`publish`. Inside :func:`collect_reports` (the data module and
the ``python -m vmc data`` commands) the reports are gathered and the caller prints one summary
(:func:`format_summary`) at the end and writes it to the run folder (:func:`write_summary`:
``data_summary.txt`` and ``data_summary.json``). Outside, each report is logged on its own.

Summary example (the data module's, AMASS + BABEL with three kinds of drop)::

    motion data summary
    amass_babel (split train, by amass) in amass: 5 sequences found, 2 used -> 3 clips; 3 dropped
      - frame rate not reachable (45 fps -> 30, subsample, max 5 fps off): 1 (ACCAD/s1/odd_poses)
      - file missing: 1 (CMU/01/gone_poses.npz)
      - shorter than a chunk (100 frames): 1 (KIT/3/short_poses)
    amass_babel (split vald, by amass) in amass: 1 sequences found, 1 used -> 1 clips; none dropped
    training windows (60 frames, 30 fps, y-up): 3 sequences found, 3 used -> 3 clips; none dropped
    validation windows (60 frames, 30 fps, y-up): 1 sequences found, 1 used -> 1 clips; none dropped
    validation: val_sources
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "SUMMARY_JSON",
    "SUMMARY_TXT",
    "LoadReport",
    "collect_reports",
    "format_summary",
    "publish",
    "write_summary",
]

log = logging.getLogger(__name__)

#: File names of the summary in a run folder.
SUMMARY_TXT = "data_summary.txt"
SUMMARY_JSON = "data_summary.json"
#: How many names a summary line shows per reason (the json keeps them all).
SHOWN_NAMES = 3

# The active collectors (a stack, so nested collection works; a ContextVar, so threads do not
# see each other's lists).
_COLLECTORS: ContextVar[tuple[list[LoadReport], ...]] = ContextVar("vmc_load_reports", default=())


@dataclass
class LoadReport:
    """Counts of one read of one source.

    Attributes:
        source: what was read (``"amass_babel (split train)"``, ``"folder"`` ...).
        where: the folder or file it was read from.
        found: sequences found (every one is either used or dropped for a reason).
        used: sequences that gave at least one record.
        records: records handed on (chunks, caption segments, mirrored clips ...).
        dropped: reason -> names of the sequences dropped for it, in reading order.
        pieces_dropped: reason -> names of pieces of used sequences that were dropped (a
            caption segment too short ...), not counted in ``found``.
        not_motions: files found that are not motions (skipped, not counted in ``found``).
    """

    source: str
    where: str = ""
    found: int = 0
    used: int = 0
    records: int = 0
    dropped: dict[str, list[str]] = field(default_factory=dict)
    pieces_dropped: dict[str, list[str]] = field(default_factory=dict)
    not_motions: list[str] = field(default_factory=list)

    def drop(self, reason: str, name: str, piece: bool = False) -> None:
        """Record that sequence ``name`` (or, with ``piece``, a piece of a sequence) was not
        used, and why."""
        target = self.pieces_dropped if piece else self.dropped
        target.setdefault(reason, []).append(str(name))

    @property
    def num_dropped(self) -> int:
        """Sequences dropped, over all reasons."""
        return sum(len(v) for v in self.dropped.values())

    def lines(self) -> list[str]:
        """The report as summary lines (first line, then one per drop reason)."""
        where = f" in {self.where}" if self.where else ""
        head = (
            f"{self.source}{where}: {self.found} sequences found, {self.used} used -> "
            f"{self.records} clips"
        )
        head += f"; {self.num_dropped} dropped" if self.dropped else "; none dropped"
        out = [head]
        for reason, names in self.dropped.items():
            out.append(f"  - {reason}: {len(names)} ({_first(names)})")
        for reason, names in self.pieces_dropped.items():
            out.append(f"  - pieces: {reason}: {len(names)} ({_first(names)})")
        if self.not_motions:
            out.append(
                f"  files that are not motions, skipped: {len(self.not_motions)} "
                f"({_first(self.not_motions)})"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain values (every name kept) for ``data_summary.json``."""
        return {
            "source": self.source,
            "where": self.where,
            "found": self.found,
            "used": self.used,
            "records": self.records,
            "dropped": {k: list(v) for k, v in self.dropped.items()},
            "pieces_dropped": {k: list(v) for k, v in self.pieces_dropped.items()},
            "not_motions": list(self.not_motions),
        }


def _first(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN_NAMES])
    return shown + (", ..." if len(names) > SHOWN_NAMES else "")


def publish(report: LoadReport) -> LoadReport:
    """Hand a finished report to the active :func:`collect_reports` blocks, or log it.

    Drops are logged as a warning when nobody collects (a direct call of a loader), so that
    they are never silent; inside a collection the collector prints the one summary.
    """
    collectors = _COLLECTORS.get()
    for reports in collectors:
        reports.append(report)
    if not collectors:
        noisy = report.dropped or report.pieces_dropped or report.not_motions
        level = logging.WARNING if noisy else logging.INFO
        log.log(level, "\n".join(report.lines()))
    return report


@contextlib.contextmanager
def collect_reports() -> Iterator[list[LoadReport]]:
    """Gather the reports that loaders publish inside the block (yields the list)."""
    reports: list[LoadReport] = []
    token = _COLLECTORS.set((*_COLLECTORS.get(), reports))
    try:
        yield reports
    finally:
        _COLLECTORS.reset(token)


def format_summary(reports: list[LoadReport], extra: list[str] | None = None) -> str:
    """One summary of several reports (module docstring), plus ``extra`` lines at the end."""
    lines = ["motion data summary"]
    for report in reports:
        lines += report.lines()
    if not reports:
        lines.append("(no source reported counts: records were given directly)")
    return "\n".join(lines + list(extra or []))


def write_summary(
    out_dir: str | os.PathLike[str],
    reports: list[LoadReport],
    extra: list[str] | None = None,
    details: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write ``data_summary.txt`` (:func:`format_summary`) and ``data_summary.json`` (every
    report with all names, plus ``details``) into ``out_dir`` (created). Returns both paths."""
    from vmc.io.atomic import atomic_path  # lazy: keeps this module import-light

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    txt, js = out / SUMMARY_TXT, out / SUMMARY_JSON
    payload = {"sources": [r.to_dict() for r in reports], **(details or {})}
    with atomic_path(txt) as tmp:
        Path(tmp).write_text(format_summary(reports, extra) + "\n", encoding="utf-8")
    with atomic_path(js) as tmp:
        Path(tmp).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return txt, js
