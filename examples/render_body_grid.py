"""Render the embedded body in several SMPL poses and shapes: docs/embedded_body_grid.png.

    python examples/render_body_grid.py [--out docs/embedded_body_grid.png] [--size 224]

Columns are poses (T-pose, walking, arms raised, squat, waving, elbows bent 90 degrees), rows are
shapes (the mean and three phenotype-derived betas). Uses the project's rasterizer unless
--painter is given (vmc.render.showcase).
"""

from __future__ import annotations

import argparse
import time

from vmc.render.showcase import write_body_grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/embedded_body_grid.png")
    parser.add_argument("--size", type=int, default=256, help="tile side in pixels")
    parser.add_argument("--azimuth", type=float, default=-35.0, help="camera turn, degrees")
    parser.add_argument(
        "--painter", action="store_true", help="use the built-in painter, not vmc.render"
    )
    args = parser.parse_args()
    t0 = time.perf_counter()
    path = write_body_grid(
        args.out,
        image_size=args.size,
        azimuth_deg=args.azimuth,
        use_rasterizer=False if args.painter else None,
    )
    print(f"wrote {path} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
