"""An action classifier for SMPL motions that is independent of any MotionCLIP model.

"Does the motion generated for *someone hops up and down* show a jump?" can be judged by the
model's own motion encoder, but a model that encodes its own mistakes consistently would then
grade itself well. :class:`ActionJudge` answers the question from the joints alone: it computes
hand-made, phase-invariant features of the posed skeleton (posture, which joints move and how
much, the direction of change over the clip, root travel, height and turning, all in the
clip's own heading frame) and classifies with k nearest neighbours among procedural motions of a
seed the training never used. Its own accuracy on fresh procedural motions is the ceiling to
read a generated-action accuracy against (:meth:`ActionJudge.self_accuracy`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vmc.motion.procedural import forward_kinematics, list_actions, sample_motions

__all__ = ["ActionJudge", "motion_features"]

# Seeds of the motions the judge is fitted on and checked with; the training data uses 0 and 1.
JUDGE_FIT_SEED = 777
JUDGE_CHECK_SEED = 778


def _heading_frames(root_rot: np.ndarray) -> np.ndarray:
    """Rotations about +Y that undo each clip's initial heading: ``[N,3,3]``.

    Args:
        root_rot: ``[N,3,3]`` world rotation of the root at the first frame (Y-up).
    """
    forward = root_rot[:, :, 2]  # the body's +Z (facing) axis in the world
    yaw = np.arctan2(forward[:, 0], forward[:, 2])
    c, s = np.cos(-yaw), np.sin(-yaw)
    out = np.zeros((len(yaw), 3, 3))
    out[:, 0, 0], out[:, 0, 2], out[:, 1, 1], out[:, 2, 0], out[:, 2, 2] = c, s, 1.0, -s, c
    return out


def motion_features(poses: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """Phase-invariant features of Y-up SMPL motions: ``[N, F]``.

    Args:
        poses: ``[N,T,72]`` axis-angle or ``[N,T,24,3,3]`` local rotations (SMPL order).
        trans: ``[N,T,3]`` root translation in metres (Y-up).

    Returns:
        float64 ``[N, 24*3*4 + 24 + 6]``: per joint (root-relative, in the first frame's
        heading frame) the mean, standard deviation, last-third minus first-third mean and
        mean speed; then root travel (x, z), root height range and change, total turning,
        and mean root speed.
    """
    joints, rots = forward_kinematics(np.asarray(poses, np.float64), np.asarray(trans, np.float64))
    if joints.ndim != 4 or joints.shape[1] < 6:
        raise ValueError(f"expected [N,T>=6,...] motions, got joints of shape {joints.shape}")
    n, t = joints.shape[:2]
    heading = _heading_frames(rots[:, 0, 0])  # [N,3,3]
    root = joints[:, :, :1]
    local = np.einsum("nij,ntkj->ntki", heading, joints - root)  # [N,T,24,3]
    third = max(t // 3, 1)
    speed = np.linalg.norm(np.diff(local, axis=1), axis=-1).mean(1)  # [N,24]
    path = np.einsum("nij,ntj->nti", heading, root[:, :, 0] - root[:, :1, 0])  # [N,T,3]
    facing = rots[:, :, 0, :, 2]  # [N,T,3]
    yaw = np.unwrap(np.arctan2(facing[..., 0], facing[..., 2]), axis=1)
    root_speed = np.linalg.norm(np.diff(path, axis=1), axis=-1).mean(1)
    return np.concatenate(
        [
            local.mean(1).reshape(n, -1),
            local.std(1).reshape(n, -1),
            (local[:, -third:].mean(1) - local[:, :third].mean(1)).reshape(n, -1),
            speed,
            path[:, -1, [0, 2]],
            np.ptp(path[:, :, 1], axis=1)[:, None],
            path[:, -1, 1:2],
            (yaw[:, -1] - yaw[:, 0])[:, None],
            root_speed[:, None],
        ],
        axis=1,
    )


class ActionJudge:
    """k-nearest-neighbour action classifier on :func:`motion_features` (standardised)."""

    def __init__(
        self, features: np.ndarray, labels: np.ndarray, actions: Sequence[str], k: int = 5
    ) -> None:
        """
        Args:
            features: ``[M, F]`` reference features.
            labels: ``[M]`` int indices into ``actions``.
            actions: action names.
            k: neighbours that vote (ties go to the nearest neighbour's action).
        """
        if len(features) != len(labels) or len(features) < k:
            raise ValueError(f"need >= k={k} references with one label each")
        self.actions = list(actions)
        self.k = k
        self.mean = features.mean(0)
        self.scale = features.std(0) + 1e-6
        self.refs = (features - self.mean) / self.scale
        self.labels = np.asarray(labels)

    @classmethod
    def fit_procedural(
        cls, num_frames: int, fps: float, per_action: int = 24, seed: int = JUDGE_FIT_SEED
    ) -> ActionJudge:
        """A judge whose references are ``per_action`` procedural motions of each action.

        Cyclic actions run at random phases in the references (``aligned_cycles=False``): the
        judge must not depend on where a cycle starts, and it stays the judge the goals of the
        embedded model were measured with (it recognises aligned and random-phase clips alike,
        0.978 of fresh clips of either kind).
        """
        actions = list_actions()
        motions = sample_motions(
            per_action * len(actions), num_frames, fps, seed, aligned_cycles=False
        )
        feats = motion_features(
            np.stack([m.motion.poses for m in motions]), np.stack([m.motion.trans for m in motions])
        )
        labels = np.array([actions.index(m.action) for m in motions])
        return cls(feats, labels, actions)

    def predict(self, poses: np.ndarray, trans: np.ndarray) -> list[str]:
        """Action names of ``N`` motions (arguments as :func:`motion_features`)."""
        query = (motion_features(poses, trans) - self.mean) / self.scale
        dist = ((query[:, None] - self.refs[None]) ** 2).sum(-1)  # [N, M]
        nearest = np.argsort(dist, axis=1)[:, : self.k]
        out = []
        for row in nearest:
            votes = np.bincount(self.labels[row], minlength=len(self.actions))
            best = np.flatnonzero(votes == votes.max())
            # Ties: the tied action that owns the nearest of the k neighbours.
            choice = next(int(lab) for lab in self.labels[row] if lab in best)
            out.append(self.actions[choice])
        return out

    def self_accuracy(self, num_frames: int, fps: float, per_action: int = 8) -> float:
        """Accuracy on fresh procedural motions of another seed: the judge's own ceiling."""
        motions = sample_motions(per_action * len(self.actions), num_frames, fps, JUDGE_CHECK_SEED)
        pred = self.predict(
            np.stack([m.motion.poses for m in motions]), np.stack([m.motion.trans for m in motions])
        )
        return float(np.mean([p == m.action for p, m in zip(pred, motions, strict=True)]))
