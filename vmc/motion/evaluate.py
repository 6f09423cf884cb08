"""Text ↔ motion accuracy of a MotionCLIP model on held-out wordings of the procedural library.

The procedural library keeps, for every action, paraphrases that are never used as training
labels ("someone hops up and down" for the jump). :func:`evaluate_procedural` draws fresh motions
(a seed the training never used), encodes them, and measures with those unseen wordings:

* ``r_top1`` / ``r_top3``: R-precision of text → motion matching in the latent space over groups
  of 32 (:func:`vmc.motion.metrics.r_precision`; chance 1/32 and 3/32).
* ``action_acc_heldout``: the action whose mean motion latent is nearest (cosine) to the
  caption's feature is the caption's action (chance ``1 / number of actions``);
  ``action_acc_train`` is the same with training wordings, for comparison.
* ``generated_acc_heldout``: the motion *decoded* from the held-out caption, encoded again, is
  nearest to the right action's mean latent: does text → motion produce the asked action?
* ``generated_activity_ratio``: how much the generated bodies move (:func:`joint_activity`)
  relative to the library's real motions of the same captions; 1 is as lively, near 0 is a
  decoder that regresses to a static average pose.
* ``generated_acc_judge`` (when a :class:`~vmc.motion.action_judge.ActionJudge` is given): the
  same question answered from the decoded skeleton's joints by a classifier that shares nothing
  with the model, so a model cannot grade its own mistakes as right. ``autoencode_acc_judge`` is
  the same judge on the fresh motions encoded and decoded again: the ceiling generation can
  reach through this decoder. Per action: ``judge/<action>`` (the judge on that action's
  generated motions) and ``rest/<action>`` (the share of them whose first frame is a relaxed
  standing pose, :func:`vmc.motion.checks.starts_at_rest`); ``generated_rest_share`` overall.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from vmc.geometry.rotations import axis_angle_to_matrix
from vmc.motion.action_judge import ActionJudge
from vmc.motion.checks import Geometry, starts_at_rest
from vmc.motion.convert import motion_to_smpl, smpl_to_motion
from vmc.motion.metrics import r_precision
from vmc.motion.procedural import forward_kinematics, list_actions, sample_motions

__all__ = [
    "evaluate_procedural",
    "generated_windows",
    "joint_activity",
    "judge_generated",
    "judge_windows",
    "window_geometries",
]


def _encode_batches(fn, items: torch.Tensor, batch: int) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([fn(items[i : i + batch]) for i in range(0, len(items), batch)])


def generated_windows(t2m: Any, texts: list[str], batch_size: int = 64) -> torch.Tensor:
    """One decoded window per text, from the latents generation uses: ``[N, 25, 6, window]``.

    The text latent, or the latent prior's choice, exactly as
    :meth:`~vmc.motion.generate.TextToMotion.generate` decodes a single window.
    """
    return _encode_batches(
        lambda z: t2m.model.decode(z, num_frames=t2m.window),
        t2m.generation_latents(texts),
        batch_size,
    )


def judge_windows(t2m: Any, x: torch.Tensor, judge: ActionJudge) -> list[str]:
    """The action ``judge`` sees in each decoded window ``x [N, 25, 6, T]`` of ``t2m``'s model."""
    rotations, trans = motion_to_smpl(x.double(), translation=t2m.translation)
    return judge.predict(rotations.numpy(), trans.numpy())


def judge_generated(
    t2m: Any, texts: list[str], judge: ActionJudge, batch_size: int = 64
) -> list[str]:
    """The action :class:`ActionJudge` sees in the motion ``t2m`` generates for each text."""
    return judge_windows(t2m, generated_windows(t2m, texts, batch_size), judge)


def window_geometries(t2m: Any, x: torch.Tensor) -> list[Geometry]:
    """Skeletons of decoded windows ``x [N, 25, 6, T]`` (the model's Y-up world)."""
    rotations, trans = motion_to_smpl(x.double(), translation=t2m.translation)
    joints, _ = forward_kinematics(rotations.numpy(), trans.numpy())
    return [Geometry(joints=j, fps=t2m.fps) for j in joints]


def joint_activity(t2m: Any, x: torch.Tensor) -> float:
    """How much the body moves: mean over clips and joints of the temporal standard deviation
    of root-relative joint positions, in metres (``x``: ``[N, 25, 6, T]``).

    A decoder that regresses to an average pose scores near 0 however right its posture is.
    """
    rotations, trans = motion_to_smpl(x.double(), translation=t2m.translation)
    joints, _ = forward_kinematics(rotations.numpy(), trans.numpy())
    return float((joints - joints[:, :, :1]).std(axis=1).mean())


def evaluate_procedural(
    t2m: Any,
    *,
    per_action: int = 8,
    seed: int = 12345,
    batch_size: int = 64,
    judge: ActionJudge | None = None,
) -> dict[str, float]:
    """Metrics of the module docstring for a text → motion model.

    Args:
        t2m: a :class:`~vmc.motion.generate.TextToMotion` (model, text encoder and how the model
            reads text latents and row 24); its ``up_axis`` must be ``"y"`` (the library is Y-up).
        per_action: clips per action (``per_action * actions`` pairs in all).
        seed: motion and caption draw (keep it away from the training seeds 0 and 1).
        batch_size: encoder/decoder batch.
        judge: adds ``generated_acc_judge`` (fit it with ``t2m.window`` frames at ``t2m.fps``).

    Returns:
        ``{"r_top1", "r_top3", "action_acc_heldout", "action_acc_train",
        "generated_acc_heldout", "generated_activity_ratio", "chance_action", "num_pairs"}``
        + ``generated_rest_share`` and ``rest/<action>`` (+ ``generated_acc_judge``,
        ``autoencode_acc_judge``, ``judge/<action>`` with a judge).
    """
    if t2m.up_axis != "y":
        raise ValueError("the procedural library is Y-up; evaluate a model with up_axis='y'")
    actions = list_actions()
    window = t2m.window
    motions = sample_motions(per_action * len(actions), window, t2m.fps, seed)
    rng = np.random.default_rng(seed)
    heldout = [m.captions_heldout[rng.integers(len(m.captions_heldout))] for m in motions]
    train = [m.motion.texts[rng.integers(len(m.motion.texts))] for m in motions]
    labels = torch.tensor([actions.index(m.action) for m in motions])

    model = t2m.model.eval()
    poses = torch.from_numpy(np.stack([m.motion.poses for m in motions])).double()
    trans = torch.from_numpy(np.stack([m.motion.trans for m in motions])).double()
    x = smpl_to_motion(
        axis_angle_to_matrix(poses), trans, translation=t2m.translation, up_axis="y"
    ).float()
    mu = _encode_batches(model.encode, x, batch_size)

    def latents(texts: list[str]) -> torch.Tensor:
        # The text latents generation uses (centred / rescaled as the model was trained).
        return torch.cat(
            [t2m.encode_texts(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
        ).float()

    text_heldout, text_train = latents(heldout), latents(train)
    # Action prototypes: mean unit motion latent per action.
    unit = F.normalize(mu, dim=1)
    protos = F.normalize(
        torch.stack([unit[labels == a].mean(0) for a in range(len(actions))]), dim=1
    )

    def accuracy(values: torch.Tensor) -> float:
        pred = (F.normalize(values, dim=1) @ protos.T).argmax(1)
        return float((pred == labels).float().mean())

    # Generation decodes what t2m decodes (the text latent, or the latent prior's choice).
    generated = generated_windows(t2m, heldout, batch_size)
    decoded = _encode_batches(model.encode, generated, batch_size)
    precision = r_precision(mu, text_heldout, group_size=32, top_k=(1, 3))
    real_activity = joint_activity(t2m, x)
    asked = [m.action for m in motions]
    rest = np.array([starts_at_rest(g) for g in window_geometries(t2m, generated)])
    extra = {"generated_rest_share": float(rest.mean())}
    for action in actions:
        extra[f"rest/{action}"] = float(rest[[a == action for a in asked]].mean())
    if judge is not None:
        rebuilt = _encode_batches(lambda z: model.decode(z, num_frames=window), mu, batch_size)
        for key, windows in (("generated_acc_judge", generated), ("autoencode_acc_judge", rebuilt)):
            seen = judge_windows(t2m, windows, judge)
            hits = np.array([a == b for a, b in zip(seen, asked, strict=True)])
            extra[key] = float(hits.mean())
            if key == "generated_acc_judge":
                for action in actions:
                    extra[f"judge/{action}"] = float(hits[[a == action for a in asked]].mean())
    return {
        "r_top1": precision[1],
        "r_top3": precision[3],
        "action_acc_heldout": accuracy(text_heldout),
        "action_acc_train": accuracy(text_train),
        "generated_acc_heldout": accuracy(decoded),
        "generated_activity_ratio": joint_activity(t2m, generated) / real_activity,
        "chance_action": 1.0 / len(actions),
        "num_pairs": float(len(motions)),
        **extra,
    }
