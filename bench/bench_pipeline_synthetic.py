"""The whole person pipeline against ground truth on synthetic subjects: PSNR and SSIM per
appearance method.

Each subject is a render with known shape, pose, camera, clothes and background
(``bench_subject_fit.render_case``: the embedded body in procedural clothes over a procedural
background, standing, a few degrees off frontal). The pipeline prepares it from that photo
alone, exactly as ``infer.py images=[photo]`` does (mediapipe + fit, cut-out, inpainting,
texture), and ``VideoMotionCLIP`` drives it with a known motion of the procedural library
(``framing=full``, ``root_motion=in_place``, no blend-in). The truth is the same motion put on
the *true* body by the same rule (:func:`vmc.pipeline.retarget.retarget` with the true betas,
pose and camera: what a perfect fit would give) and rendered with the true clothes over the
true background. Compared per frame (float in [0, 1]):

* ``frame``: the whole frame (the person, and the background where they stood);
* ``person box``: the box around the true and the rendered person (padded 8 px), where the
  appearance is judged (torchmetrics SSIM, as ``bench/bench_subject_appearance.py``).

Rows: ``warp`` (texture warping: the embedded default), a floor ``photo`` (the photo itself on
every frame: no animation at all), and ``lwg`` only with ``--generator`` (a generator trained
with the embedded body; random weights are meaningless, so none is measured without one).

    python bench/bench_pipeline_synthetic.py [--subjects 4] [--frames 30] [--size 256]
        [--generator export/model.safetensors] [--threads 2]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from bench_subject_appearance import bbox, psnr, ssim
from bench_subject_fit import Case, render_case

from vmc.body.embedded import load_embedded_body
from vmc.lwg.loading import load_generator
from vmc.motion.procedural import generate_motion
from vmc.pipeline.retarget import retarget
from vmc.pipeline.video import VideoMotionCLIP, VideoOutput
from vmc.render.body_render import render_smpl_params, render_textured
from vmc.render.correspondence import UVLayout
from vmc.render.texture import uv_render
from vmc.subject.detect import SubjectWarning
from vmc.subject.prepare import prepare_subject

#: Source photos (standing; the yaw varies) and the motion each subject performs.
SUBJECTS = (
    (Case("stand front", "stand_still", 10, 0.0), "wave"),
    (Case("stand 20deg", "stand_still", 5, 20.0), "squat"),
    (Case("stand -15deg", "stand_still", 15, -15.0), "jumping_jacks"),
    (Case("stand 10deg", "stand_still", 20, 10.0), "raise_arms"),
    (Case("stand -25deg", "stand_still", 8, -25.0), "kick"),
    (Case("stand 5deg", "stand_still", 12, 5.0), "dance_groove"),
)
PHOTO_SIZE = 512
SHADING = 0.3  # render_case's Lambert shading, for the truth too
PAD = 8


def true_frames(body, layout, gt: dict, video: VideoOutput, size: int) -> tuple[np.ndarray, ...]:
    """The motion the pipeline performed, put on the true body by the same rule, rendered with
    the true clothes over the true background: ``(uint8 [T, S, S, 3], bool masks [T, S, S])``."""
    betas = gt["betas"]  # [1, nb]
    rest = body.shaped(betas)[1][0, 0].detach().numpy()
    # The photo is square and framing=full: the photo's NDC is the output frame's.
    moved = retarget(
        video.motion.rebased(rest), body, betas[0].numpy(), gt["poses"][0].numpy(),
        gt["cam"][0].numpy(), "in_place",
    )  # fmt: skip
    background = torch.from_numpy(gt["background"]).permute(2, 0, 1)[None].float()
    background = torch.nn.functional.interpolate(background, size=size, mode="area")[0]
    frames, masks = [], []
    for t in range(len(moved.poses)):
        points, frags = render_smpl_params(
            body, betas, torch.from_numpy(moved.poses[t : t + 1]),
            torch.from_numpy(moved.cams[t : t + 1]), size,
        )  # fmt: skip
        img = render_textured(
            gt["texture"], layout, points.float(), frags, background / 127.5 - 1, SHADING
        )
        frames.append(((img[0] + 1) * 127.5).round().clamp(0, 255).byte().permute(1, 2, 0))
        masks.append(frags.fim[0] >= 0)
    return torch.stack(frames).numpy(), torch.stack(masks).numpy()


def scores(pred: np.ndarray, truth: np.ndarray, regions: np.ndarray) -> dict[str, float]:
    """Mean PSNR/SSIM over frames of the whole frame and of the person box (``regions``: the
    per-frame person masks, true or rendered)."""
    size = truth.shape[1]
    out = {"psnr_frame": [], "ssim_frame": [], "psnr_box": [], "ssim_box": []}
    for p, t, m in zip(pred, truth, regions, strict=True):
        a, b = p.astype(np.float32) / 255, t.astype(np.float32) / 255
        out["psnr_frame"].append(psnr(a, b))
        out["ssim_frame"].append(ssim(a, b))
        ys, xs = bbox(m, PAD, size)
        out["psnr_box"].append(psnr(a[ys, xs], b[ys, xs]))
        out["ssim_box"].append(ssim(a[ys, xs], b[ys, xs]))
    return {k: float(np.mean(v)) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=4)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--size", type=int, default=256, help="output frame side (px)")
    parser.add_argument("--generator", type=Path, default=None, help="trained LWG weights")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    body = load_embedded_body()
    layout = UVLayout.from_body(body)
    uv = uv_render(layout, 512)
    methods = {"warp": VideoMotionCLIP(None, body)}
    if args.generator is not None:
        methods["lwg"] = VideoMotionCLIP(None, body, generator=load_generator(args.generator))
    rows: dict[str, list[dict[str, float]]] = {m: [] for m in (*methods, "photo")}
    per_subject = []
    for k, (case, action) in enumerate(SUBJECTS[: args.subjects]):
        gt = render_case(body, layout, uv, case, PHOTO_SIZE, seed=300 + k)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SubjectWarning)
            subject = prepare_subject([gt["image"]], body, image_size=args.size, texture_size=256)
        motion = generate_motion(action, args.frames, 30.0, k).motion
        truth = masks = None
        line = [f"{case.name} / {action}: fit IoU {subject.reports[0].silhouette_iou:.2f}"]
        for name, pipe in methods.items():
            video = pipe(
                subject, motion=motion, num_frames=args.frames, fps=30.0, framing="full",
                root_motion="in_place", image_size=args.size,
            )  # fmt: skip
            if truth is None:
                truth, masks = true_frames(body, layout, gt, video, args.size)
                photo = np.broadcast_to(_photo(gt, args.size), truth.shape)
                rows["photo"].append(scores(photo, truth, masks | (video.alphas > 0.5)))
            s = scores(video.frames, truth, masks | (video.alphas > 0.5))
            rows[name].append(s)
            line.append(f"{name} {s['psnr_box']:.1f} dB / {s['ssim_box']:.3f}")
        per_subject.append(", ".join(line))
        print(per_subject[-1], flush=True)
    print()
    print(
        f"Whole pipeline vs true renders: {len(per_subject)} synthetic subjects, "
        f"{args.frames} frames each at {args.size}², photo {PHOTO_SIZE}² (mean over frames "
        "and subjects)"
    )
    print()
    print("| appearance | PSNR frame (dB) | SSIM frame | PSNR person box (dB) | SSIM person box |")
    print("|---|---|---|---|---|")
    for name, items in rows.items():
        mean = {k: float(np.mean([r[k] for r in items])) for k in items[0]}
        label = {"warp": "warp (texture warping)", "photo": "photo (floor: no animation)"}.get(
            name, f"lwg ({args.generator})"
        )
        print(
            f"| {label} | {mean['psnr_frame']:.2f} | {mean['ssim_frame']:.3f} | "
            f"{mean['psnr_box']:.2f} | {mean['ssim_box']:.3f} |"
        )
    if args.generator is None:
        print(
            "| lwg | not measured: no trained generator (--generator); random weights are "
            "meaningless | | | |"
        )
    print(f"\n{time.perf_counter() - start:.0f} s in all")


def _photo(gt: dict, size: int) -> np.ndarray:
    """The source photo at the output size: ``uint8 [S, S, 3]``."""
    img = torch.from_numpy(gt["image"]).permute(2, 0, 1)[None].float()
    small = torch.nn.functional.interpolate(img, size=size, mode="area")[0]
    return small.round().clamp(0, 255).byte().permute(1, 2, 0).numpy()


if __name__ == "__main__":
    main()
