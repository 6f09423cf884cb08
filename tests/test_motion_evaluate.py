"""Held-out-caption evaluation of text → motion (vmc.motion.evaluate) and the shipped model."""

from __future__ import annotations

import hashlib

import pytest
import torch

from vmc.motion.action_judge import ActionJudge
from vmc.motion.evaluate import evaluate_procedural
from vmc.motion.generate import TextToMotion
from vmc.motion.model import MotionCLIP
from vmc.motion.procedural import list_actions


class HashEncoder:
    """Deterministic pseudo-random text features (no meaning: scores sit near chance)."""

    name, dim = "hash", 32

    def encode(self, texts: list[str]) -> torch.Tensor:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")
            rows.append(torch.randn(self.dim, generator=torch.Generator().manual_seed(seed)))
        return torch.stack(rows)


def test_evaluate_procedural_reports_fractions():
    torch.manual_seed(0)
    model = MotionCLIP(latent_dim=32, ff_size=32, num_layers=1, max_positions=100)
    t2m = TextToMotion(model, HashEncoder(), translation="root", fps=30.0, window=20)
    judge = ActionJudge.fit_procedural(num_frames=20, fps=30.0, per_action=2)
    metrics = evaluate_procedural(t2m, per_action=1, seed=7, judge=judge)
    assert metrics["num_pairs"] == len(list_actions())
    keys = ("r_top1", "r_top3", "action_acc_heldout", "action_acc_train", "generated_acc_judge")
    keys += ("autoencode_acc_judge",)
    for key in keys:
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["r_top1"] <= metrics["r_top3"]
    # Meaningless text features cannot name the action far above chance (1/34).
    assert metrics["action_acc_heldout"] < 0.3
    # An untrained decoder's motions are not the asked actions to an independent judge.
    assert metrics["generated_acc_judge"] < 0.3
    assert metrics["generated_activity_ratio"] >= 0.0
    with pytest.raises(ValueError, match="Y-up"):
        t2m_z = TextToMotion(model, HashEncoder(), translation="root", fps=30.0, up_axis="z")
        evaluate_procedural(t2m_z)


def test_joint_activity_is_zero_for_a_frozen_pose_and_positive_for_a_wave():
    from types import SimpleNamespace

    from vmc.geometry.rotations import axis_angle_to_matrix
    from vmc.motion.convert import smpl_to_motion
    from vmc.motion.evaluate import joint_activity
    from vmc.motion.procedural import generate_motion

    wave = generate_motion("wave", 30, 30.0, seed=0).motion
    poses = torch.from_numpy(wave.poses[None]).double()
    trans = torch.from_numpy(wave.trans[None]).double()
    x = smpl_to_motion(axis_angle_to_matrix(poses), trans, translation="root", up_axis="y")
    t2m = SimpleNamespace(translation="root")
    frozen = x[..., :1].expand_as(x)
    assert joint_activity(t2m, frozen) == pytest.approx(0.0, abs=1e-9)
    assert joint_activity(t2m, x) > 0.01
