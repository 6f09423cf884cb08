"""Flights follow gravity (vmc.motion.flight): the root height over a flight is a ballistic arc."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from vmc.motion.checks import Geometry
from vmc.motion.flight import (
    GRAVITY,
    ballistic_flight,
    ballistic_root_offsets,
    flight_phases,
)
from vmc.motion.procedural import sample_motions


def test_flight_phases_need_a_take_off_and_a_landing() -> None:
    h = np.array([0.0, 0.0, 0.10, 0.30, 0.10, 0.0, 0.0, 0.05, 0.2])  # the last flight never lands
    phases = flight_phases(h, fps=30.0, clearance=0.04)
    assert len(phases) == 1
    first, stop, t_off, t_land = phases[0]
    assert (first, stop) == (2, 5)
    assert t_off == pytest.approx(1.4) and t_land == pytest.approx(4.6)  # crossings of 0.04 m
    with pytest.raises(ValueError, match="fps"):
        flight_phases(h, fps=0.0)


def test_a_flattened_flight_gets_gravitys_height_back() -> None:
    fps, duration = 30.0, 0.5
    t = np.arange(30) / fps
    tau = t - 0.3
    arc = np.where((tau > 0) & (tau < duration), 0.5 * GRAVITY * tau * (duration - tau), 0.0)
    feet = arc.copy()  # the feet rise with the body
    root = 0.9 + 0.6 * arc  # the decoder kept the timing but only 60 % of the height
    fixed = root + ballistic_root_offsets(root, feet, fps, clearance=0.0001)
    assert fixed.max() - 0.9 == pytest.approx(GRAVITY * duration**2 / 8, abs=0.01)
    assert np.array_equal(fixed[t < 0.3], root[t < 0.3])  # grounded frames untouched


def test_guards_leave_drifts_and_posed_feet_alone() -> None:
    fps = 30.0
    lifted = np.r_[np.zeros(5), np.full(40, 0.1), np.zeros(5)]  # 1.3 s with the feet up: no jump
    root = 0.9 + lifted
    assert not ballistic_root_offsets(root, lifted, fps).any()
    short = np.r_[np.zeros(5), np.full(10, 0.1), np.zeros(5)]  # feet up, pelvis still: a pose
    assert not ballistic_root_offsets(np.full(20, 0.9), short, fps).any()


def test_library_jumps_are_ballistic_already_and_other_actions_are_left_as_they_are() -> None:
    for action, tolerance in (("jump_in_place", 0.01), ("jump_forward", 0.01), ("squat", 0.0)):
        for sample in sample_motions(4, 60, 30.0, 5, [action]):
            motion = sample.motion
            fixed = ballistic_flight(motion)
            assert np.abs(fixed.trans - motion.trans).max() <= tolerance + 1e-7, action
            assert np.array_equal(fixed.poses, motion.poses)


def test_a_decoder_style_low_jump_rises_as_its_flight_time_says() -> None:
    sample = sample_motions(1, 60, 30.0, 3, ["jump_in_place"])[0].motion
    standing = sample.trans[0, 1]
    low = sample.trans.copy()
    low[:, 1] = standing + 0.7 * (low[:, 1] - standing)  # the height compressed, timing kept
    fixed = ballistic_flight(replace(sample, trans=low))
    rise = Geometry.pelvis_rise
    assert rise(Geometry.of(replace(sample, trans=low))) < rise(Geometry.of(sample)) - 0.05
    assert rise(Geometry.of(fixed)) == pytest.approx(rise(Geometry.of(sample)), abs=0.03)
    in_image = replace(sample, frame="image")  # no floor: nothing to do
    assert ballistic_flight(in_image) is in_image
