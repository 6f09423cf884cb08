"""The public API of ``vmc.motion``: the names it re-exports are the implementations'."""

from __future__ import annotations

import vmc.motion
from vmc.motion import convert, generate, model, runs


def test_motion_package_reexports():
    expected = {
        "load_motionclip_run": runs.load_motionclip_run,
        "TextToMotion": generate.TextToMotion,
        "MotionResult": generate.MotionResult,
        "read_prompt_file": generate.read_prompt_file,
        "smpl_to_motion": convert.smpl_to_motion,
        "motion_to_smpl": convert.motion_to_smpl,
        "MotionCLIP": model.MotionCLIP,
    }
    for name, obj in expected.items():
        assert name in vmc.motion.__all__, name
        assert getattr(vmc.motion, name) is obj, name
    assert all(hasattr(vmc.motion, name) for name in vmc.motion.__all__)
