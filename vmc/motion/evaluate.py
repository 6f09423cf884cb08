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
* ``generated_acc_judge`` (when a :class:`~vmc.motion.action_judge.ActionJudge` is given): the
  same question answered from the decoded skeleton's joints by a classifier that shares nothing
  with the model, so a model cannot grade its own mistakes as right.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from vmc.geometry.rotations import axis_angle_to_matrix
from vmc.motion.action_judge import ActionJudge
from vmc.motion.convert import motion_to_smpl, smpl_to_motion
from vmc.motion.metrics import r_precision

__all__ = ["evaluate_procedural", "judge_generated"]


def _encode_batches(fn, items: torch.Tensor, batch: int) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([fn(items[i : i + batch]) for i in range(0, len(items), batch)])


def judge_generated(
    t2m: Any, texts: list[str], judge: ActionJudge, batch_size: int = 64
) -> list[str]:
    """The action :class:`ActionJudge` sees in the motion ``t2m`` generates for each text.

    Decodes one window per text from the latents generation uses (text latent or latent prior),
    exactly as :meth:`~vmc.motion.generate.TextToMotion.generate` does for a single window.
    """
    latents = t2m.generation_latents(texts)
    decoded = _encode_batches(
        lambda z: t2m.model.decode(z, num_frames=t2m.window), latents, batch_size
    )
    smpl = motion_to_smpl(decoded.double(), translation=t2m.translation)
    return judge.predict(smpl.rotations.numpy(), smpl.trans.numpy())


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
        "generated_acc_heldout", "chance_action", "num_pairs"}`` (+ ``generated_acc_judge``).
    """
    from vmc.motion.procedural import list_actions, sample_motions

    if t2m.up_axis != "y":
        raise ValueError("the procedural library is Y-up; evaluate a model with up_axis='y'")
    actions = list_actions()
    window = t2m.window
    motions = sample_motions(per_action * len(actions), window, t2m.fps, seed)
    rng = np.random.default_rng(seed)
    heldout = [m.captions_heldout[rng.integers(len(m.captions_heldout))] for m in motions]
    train = [m.captions[rng.integers(len(m.captions))] for m in motions]
    labels = torch.tensor([actions.index(m.action) for m in motions])

    model = t2m.model.eval()
    poses = torch.from_numpy(np.stack([m.poses for m in motions])).double()
    trans = torch.from_numpy(np.stack([m.trans for m in motions])).double()
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
    decoded = _encode_batches(
        lambda z: model.encode(model.decode(z, num_frames=window)),
        t2m.generation_latents(heldout),
        batch_size,
    )
    precision = r_precision(mu, text_heldout, group_size=32, top_k=(1, 3))
    extra = {}
    if judge is not None:
        seen = judge_generated(t2m, heldout, judge, batch_size)
        hits = [s == m.action for s, m in zip(seen, motions, strict=True)]
        extra["generated_acc_judge"] = float(np.mean(hits))
    return {
        "r_top1": precision[1],
        "r_top3": precision[3],
        "action_acc_heldout": accuracy(text_heldout),
        "action_acc_train": accuracy(text_train),
        "generated_acc_heldout": accuracy(decoded),
        "chance_action": 1.0 / len(actions),
        "num_pairs": float(len(motions)),
        **extra,
    }
