"""Preview videos of text → motion for a few prompts, tiled into one GIF and one MP4 for the docs.

Runs the same code as ``python infer.py text=... out=x.npz`` (the configured motion stage:
by default the embedded MotionCLIP) for each prompt, renders each motion on the embedded body,
and writes ``<out>.gif`` / ``<out>.mp4`` with the prompts as column titles.

    python examples/text_to_motion_previews.py [--out docs/text_to_motion] [--size 192]
        [--frames 90] [--motion embedded] [prompt ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

# Wordings the embedded model never saw in training (held-out paraphrases of the library).
DEFAULT_PROMPTS = [
    "somebody hops up and down",
    "somebody strolls ahead",
    "somebody greets by waving the right arm",
    "a human performs a knee bend exercise",
    "somebody strikes with a foot",
]


def title_bar(text: str, width: int, height: int = 28) -> np.ndarray:
    """A white bar with ``text`` (wrapped to two lines): ``uint8 [height, width, 3]``."""
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    words, lines, line = text.split(), [], ""
    for word in words:
        trial = f"{line} {word}".strip()
        if draw.textlength(trial) > width - 6 and line:
            lines.append(line)
            line = word
        else:
            line = trial
    lines.append(line)
    for i, part in enumerate(lines[:2]):
        draw.text((3, 2 + 12 * i), part, fill=(20, 20, 20))
    return np.asarray(image)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prompts", nargs="*", default=DEFAULT_PROMPTS)
    parser.add_argument("--out", default="docs/text_to_motion")
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--motion", default="embedded", help="motion stage (conf/motion)")
    args = parser.parse_args()

    # Imported after argument parsing so that --help answers without loading torch.
    from vmc.body.embedded import load_embedded_body
    from vmc.body.posing import pose_body
    from vmc.io.stages import StageRequest
    from vmc.io.video import write_gif, write_video
    from vmc.motion.stage import select_motion_stage
    from vmc.render.preview import render_mesh_frames

    body = load_embedded_body()
    _, rest = body.shaped()
    stage = select_motion_stage(StageRequest(motion=args.motion, text_encoder="sentence"))
    print(f"motion stage: {stage.description} ({stage.why})")
    columns = []
    for prompt in args.prompts:
        motion = stage.generate([prompt], args.frames, 30.0, seed=0)
        motion = motion.rebased(rest[0, 0].numpy())  # smplx: pelvis = J0 + trans
        vertices = pose_body(body, motion.poses, motion.trans)
        frames = render_mesh_frames(vertices, body.faces, image_size=args.size, progress=True)
        bar = title_bar(prompt, args.size)
        columns.append(np.concatenate([np.broadcast_to(bar, (len(frames), *bar.shape)), frames], 1))
    tiled = np.concatenate(columns, axis=2)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    gif = write_gif(out.with_suffix(".gif"), tiled[::2], 15.0)
    mp4 = write_video(out.with_suffix(".mp4"), tiled, 30.0, crf=28)
    print(f"wrote {gif} and {mp4}")


if __name__ == "__main__":
    main()
