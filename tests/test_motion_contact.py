"""Planted feet stay put (vmc.motion.contact): contact detection and the root correction."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from vmc.motion.checks import Geometry, foot_skating
from vmc.motion.contact import foot_contacts, remove_foot_sliding, root_slide_correction
from vmc.motion.procedural import forward_kinematics, generate_motion
from vmc.motion.types import Motion


def _walk() -> Motion:
    return generate_motion("walk_forward", num_frames=60, seed=3).motion


def _skating(motion: Motion, factor: float) -> Motion:
    """``motion`` with its horizontal root path stretched by ``factor`` (the legs unchanged):
    the pelvis outruns the steps and planted feet slide forward."""
    trans = motion.trans.copy()
    trans[:, [0, 2]] = trans[:1, [0, 2]] + factor * (trans[:, [0, 2]] - trans[:1, [0, 2]])
    return replace(motion, trans=trans, texts=list(motion.texts))


def test_a_root_that_outruns_the_steps_is_pulled_back_onto_the_feet():
    walk = _walk()
    fast = _skating(walk, 1.5)
    fixed = remove_foot_sliding(fast)
    before, after = foot_skating(Geometry.of(fast)), foot_skating(Geometry.of(fixed))
    assert before > 1.5  # cm per frame: more than the library walk (1.2)
    assert after < 0.6 * before
    # The body travels as far as its steps carry it: near the library walk's own distance.
    assert Geometry.of(fixed).travel() == pytest.approx(Geometry.of(walk).travel(), rel=0.15)
    assert Geometry.of(fixed).travel() < 0.85 * Geometry.of(fast).travel()


def test_only_the_horizontal_root_path_changes():
    fast = _skating(_walk(), 1.5)
    fixed = remove_foot_sliding(fast)
    np.testing.assert_array_equal(fixed.poses, fast.poses)
    np.testing.assert_array_equal(fixed.trans[:, 1], fast.trans[:, 1])  # Y-up: height kept
    np.testing.assert_allclose(fixed.trans[0], fast.trans[0])  # starts where it started
    assert fixed.texts == fast.texts and fixed.fps == fast.fps


def test_standing_and_jumping_keep_their_paths():
    still = generate_motion("stand_still", num_frames=60, seed=0).motion
    np.testing.assert_allclose(remove_foot_sliding(still).trans, still.trans, atol=2e-3)
    jump = generate_motion("jump_in_place", num_frames=60, seed=0).motion
    fixed = remove_foot_sliding(jump)
    assert Geometry.of(fixed).pelvis_rise() == pytest.approx(Geometry.of(jump).pelvis_rise())


def test_the_standing_foot_is_the_one_that_slides_less():
    # Two planted feet: one still, one shuffling towards its next step. The root must not move
    # back by the shuffle (a side step would lose its travel); a lone planted foot is held.
    joints = np.zeros((3, 24, 3))
    joints[:, 11, 0] = [0.0, 0.02, 0.04]  # right foot shuffles along x
    planted = np.ones((3, 2), dtype=bool)
    np.testing.assert_allclose(root_slide_correction(joints, planted), 0.0)
    joints[:, 10, 0] = [0.0, -0.01, -0.02]  # now the left foot slides too, but less
    offsets = root_slide_correction(joints, planted)
    np.testing.assert_allclose(offsets[:, 0], [0.0, 0.01, 0.02])
    lone = np.array([[True, False]] * 3)
    np.testing.assert_allclose(root_slide_correction(joints, lone)[:, 0], [0.0, 0.01, 0.02])


def test_both_feet_gliding_alike_is_left_alone():
    # A rigid glide of a standing body: no foot can be told to be the standing one.
    still = generate_motion("stand_still", num_frames=30, seed=0).motion
    trans = still.trans.copy()
    trans[:, 0] += np.linspace(0.0, 0.3, 30)
    glide = replace(still, trans=trans, texts=list(still.texts))
    np.testing.assert_allclose(remove_foot_sliding(glide).trans, glide.trans, atol=2e-3)


def test_contacts_need_a_low_and_slow_foot():
    walk = _walk()
    joints, _ = forward_kinematics(walk.poses, walk.trans)
    planted = foot_contacts(joints, walk.fps)
    assert planted.shape == (60, 2)
    assert 0.2 < planted.mean() < 0.95  # feet alternate between stance and swing
    assert planted.any(axis=1).mean() > 0.9  # a walk always has a foot on the ground
    lifted = joints.copy()
    lifted[:, :, 1] += np.linspace(0.0, 1.0, 60)[:, None]  # the whole body rises 1 m
    assert not foot_contacts(lifted, walk.fps)[-10:].any()


def test_any_world_frame_gives_the_same_correction():
    fast = _skating(_walk(), 1.5)
    y_fixed = remove_foot_sliding(fast)
    z_fixed = remove_foot_sliding(fast.to_frame("z_up")).to_frame("y_up")
    np.testing.assert_allclose(z_fixed.trans, y_fixed.trans, atol=1e-4)
    image = fast.to_frame("image")
    assert remove_foot_sliding(image) is image  # no floor in the image frame
