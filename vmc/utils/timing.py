"""Seconds per step of a sequence of steps (the pipeline's and the subject preparation's)."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["StepTimer"]


class StepTimer:
    """Times consecutive steps: :meth:`lap` closes the step that began at the previous lap
    (or at construction) and records its seconds under a label.

    Args:
        report: called with ``(label, seconds)`` after each lap (e.g. to print progress).

    Attributes:
        timings: ``label -> seconds``, in the order the steps ran.
    """

    def __init__(self, report: Callable[[str, float], None] | None = None) -> None:
        self.timings: dict[str, float] = {}
        self._report = report
        self._clock = time.perf_counter()

    def lap(self, label: str) -> float:
        """End the current step as ``label``; returns its seconds."""
        now = time.perf_counter()
        seconds = self.timings[label] = now - self._clock
        self._clock = now
        if self._report is not None:
            self._report(label, seconds)
        return seconds
