"""vmc.utils.timing.StepTimer: seconds per step, in order, with an optional report."""

from __future__ import annotations

import time

from vmc.utils.timing import StepTimer


def test_laps_record_each_step_in_order_and_report() -> None:
    seen = []
    timer = StepTimer(lambda label, seconds: seen.append((label, seconds)))
    time.sleep(0.01)
    first = timer.lap("a")
    second = timer.lap("b")
    assert list(timer.timings) == ["a", "b"] and first >= 0.01 and 0 <= second < first
    assert seen == [("a", first), ("b", second)]
