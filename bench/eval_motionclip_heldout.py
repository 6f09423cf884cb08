"""Held-out-caption accuracy of a MotionCLIP model on the procedural library (figures to report).

Loads a model (default: the embedded MotionCLIP shipped in ``vmc/assets/motion/embedded``; or any
export / run folder / ``.ckpt`` given with ``--run``), rebuilds the text encoder it was trained
with, and prints :func:`vmc.motion.evaluate.evaluate_procedural` on fresh motions and unseen
paraphrases, next to the text-only baseline (nearest *training* caption in the sentence
encoder's space, what ``motion=retrieval`` does). Then, for a few example paraphrases, the action
the model's generated motion is nearest to.

    python bench/eval_motionclip_heldout.py [--run PATH] [--per-action 8] [--seed 12345]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from vmc.io.stages import EMBEDDED_MOTIONCLIP_DIR, StageRequest
from vmc.motion.action_judge import ActionJudge
from vmc.motion.evaluate import evaluate_procedural, generated_windows, judge_windows
from vmc.motion.stage import select_motion_stage

EXAMPLES = [
    "somebody hops up and down",
    "somebody strolls ahead",
    "somebody greets by waving the right arm",
    "a human performs a knee bend exercise",
    "a human goes from standing to seated",
    "somebody strikes with a foot",
    "a human gives a round of applause",
]


def retrieval_baseline(encoder, per_action: int, seed: int) -> float:
    """Accuracy of 'nearest training caption' on the same held-out captions."""
    from vmc.motion.procedural import list_actions, sample_motions
    from vmc.motion.retrieval import CaptionIndex

    actions = list_actions()
    motions = sample_motions(per_action * len(actions), 60, 30.0, seed)
    rng = np.random.default_rng(seed)
    heldout = [m.captions_heldout[rng.integers(len(m.captions_heldout))] for m in motions]
    captions, labels = [], []
    for m in sample_motions(4 * len(actions), 2, 30.0, 0):  # every training wording variant
        captions += m.motion.texts
        labels += [m.action] * len(m.motion.texts)
    index = CaptionIndex(captions, labels, encoder)
    hits = [match.label == m.action for match, m in zip(index.query(heldout), motions, strict=True)]
    return float(np.mean(hits))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=str(EMBEDDED_MOTIONCLIP_DIR))
    parser.add_argument("--per-action", type=int, default=8)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    stage = select_motion_stage(StageRequest(motion="run", motion_run=args.run))
    t2m = stage.generator
    judge = ActionJudge.fit_procedural(num_frames=t2m.window, fps=t2m.fps)
    metrics = evaluate_procedural(t2m, per_action=args.per_action, seed=args.seed, judge=judge)
    baseline = retrieval_baseline(t2m.text_encoder, args.per_action, args.seed)
    print(f"model: {args.run}  ({int(metrics['num_pairs'])} fresh clips, seed {args.seed})")
    print(
        "  R-precision top-1 / top-3 (groups of 32, held-out wordings): "
        f"{metrics['r_top1']:.3f} / {metrics['r_top3']:.3f}  (chance 0.031 / 0.094)"
    )
    print(f"  action accuracy, held-out wordings:  {metrics['action_acc_heldout']:.3f}")
    print(f"  action accuracy, training wordings:  {metrics['action_acc_train']:.3f}")
    print(
        "  generated motion is the asked action, by the model's encoder: "
        f"{metrics['generated_acc_heldout']:.3f}"
    )
    ceiling = judge.self_accuracy(t2m.window, t2m.fps)
    print(
        "  generated motion is the asked action, by the independent judge: "
        f"{metrics['generated_acc_judge']:.3f}  (judge on real library motions: {ceiling:.3f}; "
        f"on library motions encoded + decoded: {metrics['autoencode_acc_judge']:.3f})"
    )
    print(
        "  generated bodies move this much relative to the library's: "
        f"{metrics['generated_activity_ratio']:.2f}"
    )
    print(f"  text-only baseline (nearest training caption): {baseline:.3f}")
    print(f"  chance: {metrics['chance_action']:.3f}")

    from vmc.geometry.rotations import axis_angle_to_matrix
    from vmc.motion.convert import smpl_to_motion
    from vmc.motion.procedural import list_actions, sample_motions

    actions = list_actions()
    model = t2m.model
    refs = sample_motions(4 * len(actions), t2m.window, t2m.fps, args.seed + 1)
    poses = torch.from_numpy(np.stack([m.motion.poses for m in refs])).double()
    trans = torch.from_numpy(np.stack([m.motion.trans for m in refs])).double()
    x = smpl_to_motion(
        axis_angle_to_matrix(poses), trans, translation=t2m.translation, up_axis="y"
    ).float()
    with torch.no_grad():
        mu = F.normalize(model.encode(x), dim=1)
        labels = torch.tensor([actions.index(m.action) for m in refs])
        protos = torch.stack([mu[labels == a].mean(0) for a in range(len(actions))])
        protos = F.normalize(protos, dim=1)
        generated = generated_windows(t2m, EXAMPLES)  # decoded once, judged twice
        back = F.normalize(model.encode(generated), dim=1)
    seen = judge_windows(t2m, generated, judge)
    print("  generated motion for held-out wordings -> nearest action (model encoder / judge):")
    for text, row, verdict in zip(EXAMPLES, back @ protos.T, seen, strict=True):
        print(f"    {text!r:50} -> {actions[int(row.argmax())]} / {verdict}")


if __name__ == "__main__":
    main()
