"""The stages of a demo job, their expected seconds, and the time left.

A job runs its stages one after the other (a person video: fit, texture, motion, frames,
encoding; a motion: motion, preview). :class:`JobProgress` records when each begins; the page
polls :meth:`JobProgress.snapshot` for the fraction done and a line such as ``texture (2 of 5):
about 4 s left``. The time left comes from :class:`StageEstimates`: seconds per unit of work for
each stage (per photo for the fit, per frame and megapixel for rendering), learnt from the jobs
that finished, starting from figures measured on a 2-core CPU.

The person's preparation (:func:`vmc.subject.prepare.prepare_subject`) does fit and texture in
one call and reports its steps only by printing them (``  fit: 1.2 s``);
:func:`printed_steps` passes those lines of the calling thread to a callback, so that the page
can say when the fit is over and the texture has begun.
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TextIO

__all__ = [
    "MOTION_STAGES",
    "VIDEO_STAGES",
    "JobProgress",
    "JobSize",
    "StageEstimates",
    "printed_steps",
]

#: A person video's stages, in the order they run.
VIDEO_STAGES = ("fit", "texture", "motion", "frames", "encoding")
#: A motion's stages (the preview is the motion rendered on the body and encoded).
MOTION_STAGES = ("motion", "preview")

#: Seconds per unit of work (units: :meth:`JobSize.units`), measured with the embedded default
#: on 2 busy CPU threads (person.jpg, 30 to 60 frames at 256 and 512 px, a new person: the
#: frames include building their renderer); refined by every job.
DEFAULT_RATES = {
    "fit": 2.5,
    "texture": 3.0,
    "motion": 0.015,
    "frames": 0.1,
    "encoding": 0.01,
    "preview": 0.03,
}
#: Weight of the newest job in the running estimate.
LEARNING_RATE = 0.5


@dataclass(frozen=True)
class JobSize:
    """How much work a job is: photos to prepare, frames, and pixels per frame."""

    photos: int
    frames: int
    pixels: int

    def units(self, stage: str) -> float:
        """Units of work of ``stage``: photos for the preparation, frames for the motion,
        frames x megapixels (of a 256 x 256 frame) for rendering and encoding."""
        if stage in ("fit", "texture"):
            return float(self.photos)
        if stage == "motion":
            return float(self.frames)
        return self.frames * self.pixels / 256**2


class StageEstimates:
    """Expected seconds of each stage, learnt from finished jobs (thread-safe)."""

    def __init__(self, rates: dict[str, float] | None = None) -> None:
        self._rates = dict(DEFAULT_RATES if rates is None else rates)
        self._lock = threading.Lock()

    def expected(self, stage: str, size: JobSize) -> float:
        with self._lock:
            return self._rates.get(stage, 0.0) * size.units(stage)

    def observe(self, stage: str, size: JobSize, seconds: float) -> None:
        """Fold one finished stage into its rate."""
        units = size.units(stage)
        if units <= 0:
            return
        with self._lock:
            old = self._rates.get(stage)
            new = seconds / units
            blended = new if old is None else (1 - LEARNING_RATE) * old + LEARNING_RATE * new
            self._rates[stage] = blended


class JobProgress:
    """Where one job is: the stage running, the stages done or skipped, the time left.

    The worker calls :meth:`plan` once the job's size is known, then :meth:`begin` for each
    stage (which ends the previous one), :meth:`skip` for a stage it does not need, and
    :meth:`finish`. Another thread reads :meth:`snapshot` at any time.
    """

    def __init__(
        self,
        stages: Sequence[str],
        estimates: StageEstimates,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stages = tuple(stages)
        self.estimates = estimates
        self.durations: dict[str, float] = {}
        self.skipped: dict[str, str] = {}
        self._clock = clock
        self._size: JobSize | None = None
        self._expected: dict[str, float] = {}
        self._current: str | None = None
        self._started = 0.0
        self._note = "starting"
        self._lock = threading.Lock()

    def plan(self, size: JobSize) -> None:
        with self._lock:
            self._size = size
            self._expected = {s: self.estimates.expected(s, size) for s in self.stages}

    @property
    def current(self) -> str | None:
        """The stage running now (``None`` before the first and after :meth:`finish`)."""
        with self._lock:
            return self._current

    def note(self, text: str) -> None:
        """What the job does outside its stages (waiting for the device, loading models)."""
        with self._lock:
            self._note = text

    def _close(self, now: float) -> None:
        if self._current is not None:
            self.durations[self._current] = now - self._started
            self._current = None

    def begin(self, stage: str) -> None:
        if stage not in self.stages:
            raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(self.stages)}")
        now = self._clock()
        with self._lock:
            self._close(now)
            self._current, self._started = stage, now

    def skip(self, stage: str, why: str) -> None:
        with self._lock:
            self.skipped[stage] = why

    def finish(self) -> None:
        """End the last stage and teach the estimates what this job took."""
        with self._lock:
            self._close(self._clock())
            size = self._size
        if size is not None:
            for stage, seconds in self.durations.items():
                self.estimates.observe(stage, size, seconds)

    def seconds_left(self) -> float:
        """Expected seconds until the job is done (the running stage at least as long as it
        has run so far)."""
        with self._lock:
            return self._left(self._clock())

    def _left(self, now: float) -> float:
        pending = [
            s
            for s in self.stages
            if s not in self.durations and s not in self.skipped and s != self._current
        ]
        left = sum(self._expected.get(s, 0.0) for s in pending)
        if self._current is not None:
            left += max(self._expected.get(self._current, 0.0) - (now - self._started), 0.0)
        return left

    def snapshot(self) -> tuple[float, str]:
        """``(fraction done, one line)`` for a progress bar."""
        now = self._clock()
        with self._lock:
            if self._current is None:
                return 0.0, self._note
            done = sum(self.durations.values()) + (now - self._started)
            left = self._left(now)
            active = [s for s in self.stages if s not in self.skipped]
            number = active.index(self._current) + 1
            reused = "; ".join(f"{s} {why}" for s, why in self.skipped.items())
        eta = f"about {left:.0f} s left" if left >= 1 else "almost done"
        line = f"{self._current} ({number} of {len(active)}): {eta}"
        return min(done / max(done + left, 1e-6), 0.99), line + (f" ({reused})" if reused else "")


# ------------------------------------------------------- the steps prepare_subject prints

#: The line :func:`vmc.subject.prepare.prepare_subject` prints after each step.
STEP_LINE = re.compile(r"^\s+([\w-]+): \d+(?:\.\d+)? s$")


class _StepTee:
    """``sys.stdout`` that passes every write on, and hands the step lines printed by a thread
    that listens to that thread's callback."""

    def __init__(self, underlying: TextIO) -> None:
        self.underlying = underlying
        self.local = threading.local()

    def write(self, text: str) -> int:
        callback = getattr(self.local, "callback", None)
        if callback is not None:
            *lines, self.local.buffer = (self.local.buffer + text).split("\n")
            for line in lines:
                match = STEP_LINE.match(line)
                if match:
                    callback(match.group(1))
        return self.underlying.write(text)

    def flush(self) -> None:
        self.underlying.flush()

    def __getattr__(self, name: str):
        return getattr(self.underlying, name)


_tee_lock = threading.Lock()
_tee: _StepTee | None = None
_listeners = 0


@contextlib.contextmanager
def printed_steps(callback: Callable[[str], None]) -> Iterator[None]:
    """Call ``callback(step)`` for each step line this thread prints inside the block."""
    global _tee, _listeners
    with _tee_lock:
        if _tee is None:
            _tee = _StepTee(sys.stdout)
            sys.stdout = _tee
        _listeners += 1
        tee = _tee
    tee.local.callback, tee.local.buffer = callback, ""
    try:
        yield
    finally:
        tee.local.callback = None
        with _tee_lock:
            _listeners -= 1
            if _listeners == 0:
                if sys.stdout is tee:
                    sys.stdout = tee.underlying
                _tee = None
