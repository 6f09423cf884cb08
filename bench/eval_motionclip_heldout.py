"""Held-out-caption accuracy of a MotionCLIP model on the procedural library (figures to report).

Loads a model (default: the embedded MotionCLIP shipped in ``vmc/assets/motion/embedded``; or any
export / run folder / ``.ckpt`` given with ``--run``), rebuilds the text encoder it was trained
with, and prints :func:`vmc.motion.evaluate.evaluate_procedural` on fresh motions and unseen
paraphrases, next to the text-only baseline (nearest *training* caption in the sentence
encoder's space, what ``motion=retrieval`` does). Then, for a few example paraphrases, the action
the model's generated motion is nearest to, and the figures that need no library label:

* per action: the judge's verdict on generated motions and the share that start at rest;
* everyday prompts of our own (``vmc.motion.checks.FREE_PROMPTS``, none a training caption),
  judged by plain geometry, for this model and for ``motion=retrieval``;
* modifiers (left/right, forward/backward, slowly/quickly, small/big, walk/run) judged by
  geometry;
* the root rise of "a person jumps up and down", the travel of "a person walks forward";
* foot skating while a foot is planted (cm per frame), next to the library's;
* the seam of chained prompts (``["a person walks forward", "a person jumps in place"]``): the
  largest joint step between frames within ``overlap`` frames of the seam against the largest
  step of the two prompts generated alone (a pop is a step beyond what the motions make);
* seconds for text -> one 60-frame motion on this machine, warm.

    python bench/eval_motionclip_heldout.py [--run PATH] [--per-action 8] [--seed 12345]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from vmc.io.stages import EMBEDDED_MOTIONCLIP_DIR, StageRequest
from vmc.motion.action_judge import ActionJudge
from vmc.motion.checks import (
    FREE_PROMPTS,
    MODIFIER_PAIRS,
    Geometry,
    foot_skating,
    largest_step,
)
from vmc.motion.evaluate import evaluate_procedural, generated_windows, judge_windows
from vmc.motion.procedural import list_actions, sample_motions
from vmc.motion.stage import MotionOptions, select_motion_stage

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
    per_action_table(metrics)
    print(f"  generated motions starting at rest: {metrics['generated_rest_share']:.3f}")
    retrieval = select_motion_stage(StageRequest(motion="retrieval"))
    prompt_checks({"model": stage, "retrieval": retrieval})
    modifier_checks({"model": stage, "retrieval": retrieval})
    raw = select_motion_stage(
        StageRequest(motion="run", motion_run=args.run), MotionOptions(plant_feet=False)
    )
    motion_figures(stage, raw)


def per_action_table(metrics: dict[str, float]) -> None:
    """Markdown table: the judge on generated motions and the rest-start share, per action."""
    print("\n| action | judge on generated | starts at rest |\n|---|---|---|")
    for action in list_actions():
        judge = metrics.get(f"judge/{action}", float("nan"))
        print(f"| {action} | {judge:.2f} | {metrics[f'rest/{action}']:.2f} |")


def _geometry(stage, prompts: list[str], frames: int = 60, seed: int = 0) -> Geometry:
    return Geometry.of(stage.generate(prompts, frames, 30.0, seed))


def prompt_checks(stages: dict) -> None:
    """Everyday prompts judged by geometry, for each stage: a markdown table and the totals."""
    names = list(stages)
    print("\n| prompt | criterion | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    passed = dict.fromkeys(names, 0)
    for check in FREE_PROMPTS:
        cells = []
        for name in names:
            ok, value = check.measure(_geometry(stages[name], [check.prompt]))
            passed[name] += ok
            cells.append(f"{'pass' if ok else 'fail'} ({value:.2f})")
        print(f"| {check.prompt} | {check.criterion} | " + " | ".join(cells) + " |")
    total = len(FREE_PROMPTS)
    print("  everyday prompts passed: " + ", ".join(f"{n} {passed[n]}/{total}" for n in names))


def modifier_checks(stages: dict, seeds: int = 4) -> None:
    """Each modifier pair over ``seeds`` seeds: how often the measure orders the pair right."""
    names = list(stages)
    print("\n| modifier | measure | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for pair in MODIFIER_PAIRS:
        cells = []
        for name in names:
            right = sum(
                pair.measure(_geometry(stages[name], [pair.high], seed=s))
                > pair.measure(_geometry(stages[name], [pair.low], seed=s))
                for s in range(seeds)
            )
            cells.append(f"{right}/{seeds}")
        print(f"| {pair.name} | {pair.quantity} | " + " | ".join(cells) + " |")


def _span(g: Geometry) -> float:
    pelvis = g.joints[:, 0, 1]
    return float(pelvis.max() - pelvis.min())


def motion_figures(stage, raw) -> None:
    """Jump height, walk travel, foot skating, the seam of chained prompts, and speed (``raw``:
    the same model without ``plant_feet``, for the skating figure as decoded)."""
    jump, walk = ["a person jumps up and down"], ["a person walks forward"]
    jumps = [_geometry(stage, jump, seed=s) for s in range(4)]
    walk = [_geometry(stage, walk, seed=s).travel() for s in range(4)]
    library_jumps = [
        Geometry.of(m.motion) for m in sample_motions(40, 60, 30.0, 4242, ["jump_in_place"])
    ]
    # Rise: highest pelvis above frame 0; span: crouch to peak (the take-off crouch included).
    model_cm = [100 * np.mean([f(g) for g in jumps]) for f in (Geometry.pelvis_rise, _span)]
    library_cm = [
        100 * np.mean([f(g) for g in library_jumps]) for f in (Geometry.pelvis_rise, _span)
    ]
    print(
        f"\n  root rise of 'a person jumps up and down': {model_cm[0]:.0f} cm, crouch-to-peak "
        f"span {model_cm[1]:.0f} cm (4 seeds; library jumps in place: {library_cm[0]:.0f} / "
        f"{library_cm[1]:.0f} cm)"
    )
    print(f"  travel of 'a person walks forward' in 2 s: {np.mean(walk):.2f} m (4 seeds)")
    locomotion = ["a person walks forward", "a person jogs forward", "a person walks backwards",
                  "someone side steps to the left", "a person marches in place"]  # fmt: skip
    model_skate = np.mean([foot_skating(_geometry(stage, [p])) for p in locomotion])
    raw_skate = np.mean([foot_skating(_geometry(raw, [p])) for p in locomotion])
    moving = ("walk_forward", "jog_forward", "walk_backward", "sidestep", "march_in_place")
    library = [m for m in sample_motions(200, 60, 30.0, 777) if m.action in moving]
    library_skate = np.mean([foot_skating(Geometry.of(m.motion)) for m in library])
    print(
        f"  foot skating while planted (locomotion prompts): {model_skate:.2f} cm/frame with "
        f"plant_feet, {raw_skate:.2f} as decoded (library clips of those actions: "
        f"{library_skate:.2f})"
    )
    # A pop at the seam is a step larger than either prompt makes alone: the jump's own
    # take-off (its largest step) may fall near the seam, so the clips alone are the reference.
    prompts = ["a person walks forward", "a person jumps in place"]
    chained = stage.generate(prompts, 120, 30.0, 0)
    steps = largest_step(Geometry.of(chained))
    seam, overlap = chained.segments[0][2], stage.generator.overlap
    near = steps[max(0, seam - overlap) : seam + overlap]
    alone = max(largest_step(_geometry(stage, [p])).max() for p in prompts)
    print(
        f"  chained prompts: largest joint step within {overlap} frames of the seam "
        f"{100 * near.max():.1f} cm; the two prompts alone: {100 * alone:.1f} cm"
    )
    times = []
    for _ in range(6):
        start = time.perf_counter()
        stage.generate(["a person waves with the right hand"], 60, 30.0, 0)
        times.append(time.perf_counter() - start)
    print(f"  text -> 60-frame motion, warm: {statistics.median(times[1:]):.3f} s (median of 5)")


if __name__ == "__main__":
    main()
