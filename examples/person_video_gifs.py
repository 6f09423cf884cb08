"""The README's person videos: library motions performed by the example photos (small GIFs).

    python examples/person_video_gifs.py [--out docs] [--size 192]

Writes ``docs/person_squat.gif`` (the full-body example squatting), ``docs/astronaut_arms.gif``
(the public-domain astronaut raising both arms) and ``docs/person_walk.gif`` (a walk in a circle
with ``root_motion=follow``): photo | motion on the body | result, as ``infer.py``'s preview.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from vmc.body.embedded import load_embedded_body
from vmc.io.video import write_gif
from vmc.motion.procedural import generate_motion
from vmc.pipeline.video import VideoMotionCLIP
from vmc.subject.prepare import prepare_subject

ROOT = Path(__file__).resolve().parents[1]
CLIPS = (
    ("person_squat", "person.jpg", "squat", "in_place"),
    ("astronaut_arms", "astronaut.jpg", "raise_arms", "in_place"),
    ("person_walk", "person.jpg", "walk_circle", "follow"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs"))
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--frames", type=int, default=48)
    args = parser.parse_args()
    body = load_embedded_body()
    pipe = VideoMotionCLIP(None, body)
    for name, photo, action, root_motion in CLIPS:
        subject = prepare_subject([ROOT / "examples" / photo], body, image_size=256)
        motion = generate_motion(action, args.frames, 24.0, 0).motion
        video = pipe(
            subject, motion=motion, num_frames=args.frames, fps=24.0, image_size=args.size,
            root_motion=root_motion,
        )  # fmt: skip
        h, w = video.frames.shape[1:3]
        resized = Image.fromarray(subject.photos[0]).resize((w, h), Image.Resampling.LANCZOS)
        panel = np.asarray(resized)
        frames = np.concatenate(
            [np.broadcast_to(panel, video.frames.shape), video.body_frames, video.frames], axis=2
        )
        path = write_gif(Path(args.out) / f"{name}.gif", frames[::2], 12)
        print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
