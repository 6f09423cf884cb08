"""Contact sheet of procedural motions: one row of stick-figure frames per action.

    python examples/procedural_motions.py --out outputs/procedural_motions.png \
        --actions walk_forward jump_in_place wave --frames 6

Each row shows evenly spaced frames of one generated 2 s clip (fixed camera, so travel shows),
labelled with the action and time.
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

from vmc.motion.procedural import SMPL_PARENTS, forward_kinematics, generate_motion, list_actions
from vmc.render.preview import frame_grid, render_skeleton_frames


def render_sheet(
    actions: list[str], frames: int = 6, size: int = 160, seed: int = 0, azimuth: float = 30.0
) -> np.ndarray:
    """``uint8 [H,W,3]`` grid: ``len(actions)`` rows × ``frames`` columns."""
    tiles, labels = [], []
    for i, action in enumerate(actions):
        m = generate_motion(action, num_frames=60, fps=30, seed=seed + i)
        joints, _ = forward_kinematics(m.motion.poses, m.motion.trans)
        idx = np.linspace(0, m.num_frames - 1, frames).round().astype(int)
        video = render_skeleton_frames(
            joints[idx], SMPL_PARENTS, size, azimuth_deg=azimuth, elevation_deg=15.0
        )
        tiles.append(video)
        labels += [f"{action[:14]} {t / m.fps:.1f}s" for t in idx]
    return frame_grid(np.concatenate(tiles), cols=frames, labels=labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="outputs/procedural_motions.png")
    parser.add_argument("--actions", nargs="*", default=None, help="default: all actions")
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--azimuth", type=float, default=30.0)
    args = parser.parse_args()
    sheet = render_sheet(args.actions or list_actions(), args.frames, args.size, args.seed,
                         args.azimuth)  # fmt: skip
    from pathlib import Path

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(args.out)
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")


if __name__ == "__main__":
    main()
