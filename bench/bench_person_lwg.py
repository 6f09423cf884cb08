"""The person video with the Liquid Warping GAN as appearance: per-frame cost vs the generator.

    python bench/bench_person_lwg.py [--size 256] [--frames 16] [--widths paper|tiny]

Random weights (the timing does not depend on them). Per frame: the whole LWG appearance step
(target renders, I_syn and correspondence inputs, flows, ``G.forward_transfer``) against
``G.forward_transfer`` alone on the same inputs; the ratio's goal is <= 1.3. What depends only
on the subject (source renders, UV texture, source encodings) is built once and reported apart.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from vmc.body.embedded import load_embedded_body
from vmc.lwg.generator import AttentionLWBGenerator
from vmc.lwg.inputs import prepare_targets
from vmc.motion.procedural import generate_motion
from vmc.pipeline.lwg_appearance import LWGRenderer
from vmc.pipeline.retarget import retarget
from vmc.render.body_render import render_smpl_params
from vmc.render.flow import source_to_target_flows
from vmc.subject.prepare import prepare_subject

ROOT = Path(__file__).resolve().parents[1]
TINY = {"bg_filters": (4, 8, 8, 16), "src_filters": (4, 8, 16), "tsf_filters": (4, 8, 16),
        "spade_hidden": 8}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--widths", choices=("paper", "tiny"), default="paper")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    body = load_embedded_body()
    subject = prepare_subject([ROOT / "examples" / "person.jpg"], body, image_size=256)
    torch.manual_seed(0)
    generator = AttentionLWBGenerator(**({} if args.widths == "paper" else TINY)).eval()
    motion = generate_motion("wave", args.frames, 30.0, 0).motion
    moved = retarget(motion, body, subject.betas, subject.poses[0], subject.cams[0])
    t0 = time.perf_counter()
    renderer = LWGRenderer(generator, body, subject, args.size)
    setup = time.perf_counter() - t0
    whole = generator_only = 0.0
    betas = renderer.betas
    for i in range(0, args.frames, args.batch):
        poses = torch.from_numpy(moved.poses[i : i + args.batch])
        cams = torch.from_numpy(moved.cams[i : i + args.batch])
        t0 = time.perf_counter()
        renderer.render(poses, cams, args.size)
        whole += time.perf_counter() - t0
        # the generator alone, on the same batch's inputs
        _, frags = render_smpl_params(body, betas.expand(len(poses), -1), poses, cams, args.size)
        fim, wim = frags.fim[None], frags.wim.float()[None]
        with torch.no_grad():
            tsf = prepare_targets(renderer.sources.uv_texture, fim, wim, renderer.layout)
            tst = source_to_target_flows(renderer.src_f2pts, fim, wim)
            t0 = time.perf_counter()
            generator.forward_transfer(tsf, tst, renderer.features)
            generator_only += time.perf_counter() - t0
    n = args.frames
    print(f"{args.widths} widths, {args.size}^2, {n} frames in batches of {args.batch}, "
          f"{args.threads} threads")  # fmt: skip
    print(f"subject setup (source renders, UV texture, encodings, BGNet): {setup:.2f} s")
    print(f"per frame: whole appearance step {1000 * whole / n:.0f} ms, generator alone "
          f"{1000 * generator_only / n:.0f} ms, ratio {whole / generator_only:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
