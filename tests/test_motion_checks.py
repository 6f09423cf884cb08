"""Plain-geometry prompt checks (vmc.motion.checks) on library motions with known content."""

from __future__ import annotations

import numpy as np
import pytest

from vmc.motion.checks import (
    FREE_PROMPTS,
    MODIFIER_PAIRS,
    Geometry,
    foot_skating,
    largest_step,
    starts_at_rest,
)
from vmc.motion.procedural import generate_motion, list_actions, sample_motions


def _clip(action: str, **want) -> Geometry:
    """A 60-frame library clip of ``action`` whose params match ``want`` (first seed that does)."""
    for seed in range(200):
        clip = generate_motion(action, 60, 30.0, seed)
        if all(clip.params.get(k) == v for k, v in want.items()):
            return Geometry.of(clip.motion)
    raise AssertionError(f"no seed gives {action} with {want}")


CHECKS = {c.prompt: c for c in FREE_PROMPTS}
# prompt -> (library clip that does it, library clip that does not)
CASES = {
    "a man throws both hands up in the air": (("raise_arms", {"variant": "both_overhead"}),
                                              ("wave", {"variant": "left"})),
    "the woman bends her knees and goes down low": (("squat", {}), ("walk_forward", {})),
    "a guy springs up off the floor": (("jump_in_place", {}), ("squat", {})),
    "the person heads forward on foot": (("walk_forward", {}), ("walk_backward", {})),
    "she backs away a few steps": (("walk_backward", {}), ("walk_forward", {})),
    "he spins to look behind him": (("turn_around", {}), ("look_around", {})),
    "a man lifts his left arm": (("raise_arms", {"variant": "one_side", "side": "left"}),
                                 ("raise_arms", {"variant": "one_side", "side": "right"})),
    "the woman greets someone with her right hand": (("wave", {"variant": "right"}),
                                                      ("wave", {"variant": "left"})),
    "a player kicks a ball with the right foot": (("kick", {"side": "right"}),
                                                   ("kick", {"side": "left"})),
    "the old man settles into an armchair": (("sit_down", {}), ("squat", {})),
    "a man bends forward at the waist": (("bow", {}), ("nod", {})),
    "the person waits without moving": (("stand_still", {}), ("wave", {})),
}  # fmt: skip


def test_every_free_prompt_has_a_case():
    assert set(CASES) == set(CHECKS)


@pytest.mark.parametrize("prompt", sorted(CASES))
def test_checks_tell_the_asked_motion_from_another(prompt):
    (good, good_params), (bad, bad_params) = CASES[prompt]
    check = CHECKS[prompt]
    assert check.measure(_clip(good, **good_params))[0], (prompt, good)
    assert not check.measure(_clip(bad, **bad_params))[0], (prompt, bad)


def test_free_prompts_are_not_captions_of_the_library():
    captions = set()
    for clip in sample_motions(20 * len(list_actions()), 2, 30.0, 0):
        captions |= {t.lower() for t in clip.motion.texts + clip.captions_heldout}
    assert not {c.prompt.lower() for c in FREE_PROMPTS} & captions


def test_modifier_measures_order_library_motions():
    pairs = {p.name: p for p in MODIFIER_PAIRS}
    hand = pairs["left vs right hand"].measure
    assert hand(_clip("wave", variant="left")) > hand(_clip("wave", variant="right"))
    legs = pairs["left vs right leg"].measure
    assert legs(_clip("kick", side="left")) > legs(_clip("kick", side="right"))
    speed = pairs["slowly vs quickly"].measure
    assert speed(_clip("walk_forward", speed="fast")) > speed(_clip("walk_forward", speed="slow"))


def test_size_modifiers_order_library_motions_by_their_drawn_size():
    pairs = {p.name: p for p in MODIFIER_PAIRS}
    for action, param, pair, margin in (
        ("jump_in_place", "height_m", "small vs big jump", 0.08),
        ("squat", "depth", "shallow vs deep squat", 0.05),
    ):
        clips = sorted(
            (generate_motion(action, 60, 30.0, seed) for seed in range(12)),
            key=lambda c: c.params[param],
        )
        measure = pairs[pair].measure
        assert (
            measure(Geometry.of(clips[-1].motion)) > measure(Geometry.of(clips[0].motion)) + margin
        )


def test_rest_start_skating_and_steps():
    wave = _clip("wave")
    assert starts_at_rest(wave)  # the library eases every action in from standing
    sit = Geometry.of(generate_motion("stand_up", 60, 30.0, 0).motion)
    assert not starts_at_rest(sit)  # standing up begins seated
    assert foot_skating(_clip("stand_still")) < 0.05
    slid = _clip("stand_still")
    slid.joints = slid.joints + np.linspace(0, 0.6, 60)[:, None, None] * np.array([1.0, 0, 0])
    assert foot_skating(slid) > 0.9  # 1 cm per frame of sliding feet
    steps = largest_step(wave)
    assert steps.shape == (59,) and steps.max() < 0.3
