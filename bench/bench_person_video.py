"""End-to-end seconds of the person video on the embedded default, split by stage.

    python bench/bench_person_video.py [--frames 60] [--sizes 256 512] [--photo examples/person.jpg]

For each size: preparing the subject (detect, fit, cut-out, background, texture), then the
video (motion, retarget, framing, texture-warping render, shaded-body preview), warm (a first
run is discarded), and the peak resident memory of the process. Texture warping's own cost is
reported per frame. Figures vary with the machine's load: compare sizes within one run.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import torch

from vmc.body.embedded import load_embedded_body
from vmc.motion.procedural import generate_motion
from vmc.pipeline.video import VideoMotionCLIP
from vmc.subject.prepare import prepare_subject
from vmc.subject.texture import TextureAtlas

ROOT = Path(__file__).resolve().parents[1]


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--photo", default=str(ROOT / "examples" / "person.jpg"))
    parser.add_argument("--action", default="jumping_jacks")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    body = load_embedded_body()
    motion = generate_motion(args.action, args.frames, 30.0, 0).motion
    print(f"{args.frames} frames of {args.action}, photo {Path(args.photo).name}, "
          f"{args.threads} threads")  # fmt: skip
    header = f"{'size':>5} {'prepare s':>10} {'video s':>8} {'total s':>8} {'ms/frame warp':>14}"
    rows = []
    for size in args.sizes:
        atlas = TextureAtlas.from_body(body, size=512 if size > 256 else 256)
        for _ in range(2):  # the first run warms caches and is discarded
            t0 = time.perf_counter()
            subject = prepare_subject(
                [args.photo], body, image_size=min(512, size), atlas=atlas,
                texture_size=atlas.size,
            )  # fmt: skip
            t1 = time.perf_counter()
            out = VideoMotionCLIP(None, body)(
                subject, motion=motion, num_frames=args.frames, image_size=size
            )
            t2 = time.perf_counter()
        warp_ms = 1000 * out.timings["render"] / args.frames
        rows.append(f"{size:>5} {t1 - t0:>10.2f} {t2 - t1:>8.2f} {t2 - t0:>8.2f} {warp_ms:>14.1f}")
        stages = ", ".join(f"{k} {v:.2f}" for k, v in {**subject.timings, **out.timings}.items())
        rows.append(f"       stages (s): {stages}")
    print(header)
    print("\n".join(rows))
    print(f"peak resident memory of the process: {_peak_gib():.2f} GiB")


if __name__ == "__main__":
    main()
