"""Texture warping on the example photos: colours read from the photo where it saw them, or the
UV texture alone.

For each photo in ``examples/`` (prepared like ``infer.py`` does), the person is re-rendered in
the photo's own fitted pose, where the result should be the photo: PSNR against the crop over
the pixels the body covers inside the cut-out, over all of them and over the head's box (the
face is where a 512² texture is coarsest: the head's UV island is about 130 texels tall). Then
the time to render 24 frames of a library motion with either renderer (ratio in one run).

    python bench/bench_photo_colours.py [--threads 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from bench_subject_appearance import psnr  # bench/ is on the path when run as a script

from vmc.body.embedded import load_embedded_body
from vmc.body.joints import joint_index
from vmc.geometry.camera import project_weak_perspective
from vmc.subject.prepare import prepare_subject
from vmc.subject.warp import SubjectRenderer, source_view

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ["astronaut.jpg", "person.jpg", "person2.jpg"]
HEAD = joint_index("head")


def head_box(body, subject, size: int, half: float = 0.09) -> tuple[slice, slice]:
    """Square around the head joint in the crop (``half`` of the crop side each way)."""
    betas = torch.as_tensor(subject.betas).float().reshape(1, -1)
    pose = torch.as_tensor(subject.poses[:1]).float()
    cam = torch.as_tensor(subject.cams[:1]).float()
    with torch.no_grad():
        joints = body(betas=betas, pose_axis_angle=pose).joints[:, [HEAD]]
    x, y = ((project_weak_perspective(joints, cam)[0, 0, :2] + 1) * size / 2).tolist()
    r = int(half * size)
    return slice(max(0, int(y) - r), int(y) + r), slice(max(0, int(x) - r), int(x) + r)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    body = load_embedded_body()
    print(
        "| photo | PSNR person, texture | with photo colours | PSNR head, texture | "
        "with photo colours | render ms/frame, texture | with photo colours (ratio) |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in PHOTOS:
        subject = prepare_subject([str(ROOT / "examples" / name)], body)
        size = subject.image_size
        view = source_view(
            body, subject.betas, subject.poses[0], subject.cams[0], subject.crops[0],
            subject.alphas[0],
        )  # fmt: skip
        plain = SubjectRenderer(body, subject.betas, subject.texture)
        direct = SubjectRenderer(body, subject.betas, subject.texture, source=view)
        photo = subject.crops[0].astype(np.float32) / 255
        pose, cam = subject.poses[:1], subject.cams[:1]
        scores = []
        for renderer in (plain, direct):
            rgb, alpha = renderer.render(pose, cam, size)
            rgb, alpha = rgb[0].numpy(), alpha[0].numpy()
            mask = (alpha > 0.99) & (subject.alphas[0] > 0.5)
            ys, xs = head_box(body, subject, size)
            head = mask[ys, xs]
            whole = psnr(rgb[mask], photo[mask])
            scores.append((whole, psnr(rgb[ys, xs][head], photo[ys, xs][head])))
        poses = np.repeat(subject.poses[:1], 24, 0)
        poses[:, 16 * 3 + 2] += np.linspace(0, -1.2, 24)  # the left arm rises
        cams = np.repeat(subject.cams[:1], 24, 0)
        ms = []
        for renderer in (plain, direct, plain, direct):  # twice each, the second timed
            t = time.perf_counter()
            renderer.render(poses, cams, size)
            ms.append(1000 * (time.perf_counter() - t) / 24)
        print(
            f"| {name} | {scores[0][0]:.2f} dB | {scores[1][0]:.2f} dB | {scores[0][1]:.2f} dB | "
            f"{scores[1][1]:.2f} dB | {ms[2]:.0f} | {ms[3]:.0f} ({ms[3] / ms[2]:.2f}) |",
            flush=True,
        )


if __name__ == "__main__":
    main()
