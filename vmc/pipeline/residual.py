"""What the body mesh does not cover (hair, loose clothes, a held object) moves with the body.

The person's cut-out in photo 0 minus the fitted body's silhouette leaves the *residual*: pixels
of the person that no texel can carry. Each residual pixel is attached to the nearest body vertex
visible in the photo; in every frame it is moved by that vertex's displacement (a dense flow
extended from the mesh by nearest-vertex assignment) and splatted into a layer drawn under the
body, over the background. So hair follows the head and a wide sleeve follows the arm, instead of
being erased into the inpainted background.

All positions are pixels of the output frame (the square box of :mod:`vmc.pipeline.video`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from scipy.spatial import cKDTree

from vmc.render.body_render import render_smpl_params
from vmc.subject.crop import CropBox
from vmc.subject.prepare import Subject

__all__ = ["Residual", "ndc_to_photo", "render_residual", "residual_of"]

#: Residual pixels this close to the fitted silhouette (crop pixels) are left to the body (0: none;
#: a gap would show the background between the body and the hair).
EDGE_PX = 0
#: A residual pixel farther than this from any visible vertex (fraction of the crop) is dropped:
#: it is segmentation noise far from the person, not a part of them.
MAX_REACH = 0.12


@dataclass
class Residual:
    """Residual pixels of photo 0, attached to body vertices.

    Attributes:
        photo_xy: ``float32 [N, 2]`` their positions in photo 0's pixels.
        colour: ``uint8 [N, 3]``; alpha: ``float32 [N]`` the cut-out's alpha there.
        vertex: ``int64 [N]`` the body vertex each follows.
        vertex_photo_xy: ``float32 [V, 2]`` every vertex's position in photo 0 (pixels).
        pixel_size: photo pixels per crop pixel (the splat size).
    """

    photo_xy: np.ndarray
    colour: np.ndarray
    alpha: np.ndarray
    vertex: np.ndarray
    vertex_photo_xy: np.ndarray
    pixel_size: float

    @property
    def num_pixels(self) -> int:
        return int(len(self.photo_xy))


def ndc_to_photo(xy: np.ndarray, box: CropBox) -> np.ndarray:
    """``[..., 2]`` NDC of ``box`` → photo pixels."""
    return np.array([box.x0, box.y0]) + (np.asarray(xy, np.float64) + 1) * box.side / 2


def residual_of(subject: Subject, body: torch.nn.Module) -> Residual:
    """The residual of photo 0 (module docstring)."""
    box = subject.boxes[0]
    size = subject.image_size
    device = body.v_template.device
    points, frags = render_smpl_params(
        body,
        torch.as_tensor(subject.betas).float().reshape(1, -1).to(device),
        torch.as_tensor(subject.poses[:1]).float().to(device),
        torch.as_tensor(subject.cams[:1]).float().to(device),
        size,
    )
    points = points.cpu()
    fim = frags.fim[0].cpu().numpy()
    silhouette = (fim >= 0).astype(np.uint8)
    near_body = cv2.dilate(silhouette, np.ones((2 * EDGE_PX + 1,) * 2, np.uint8)) > 0
    person = subject.alphas[0] > 0.5
    ys, xs = np.nonzero(person & ~near_body)
    vertices_px = (points[0, :, :2].numpy() + 1) * size / 2  # crop pixels
    faces = body.faces.cpu().numpy()
    visible = np.unique(faces[np.unique(fim[fim >= 0])].reshape(-1))
    if len(ys) == 0 or len(visible) == 0:
        empty = np.zeros((0, 2), np.float32)
        return Residual(empty, np.zeros((0, 3), np.uint8), np.zeros(0, np.float32),
                        np.zeros(0, np.int64), ndc_to_photo(points[0, :, :2].numpy(), box)
                        .astype(np.float32), box.side / size)  # fmt: skip
    tree = cKDTree(vertices_px[visible])
    pixels = np.stack([xs, ys], 1).astype(np.float64) + 0.5
    distance, nearest = tree.query(pixels)
    keep = distance <= MAX_REACH * size
    pixels, nearest = pixels[keep], nearest[keep]
    ys, xs = ys[keep], xs[keep]
    crop_to_photo = box.side / size
    return Residual(
        photo_xy=(np.array([box.x0, box.y0]) + pixels * crop_to_photo).astype(np.float32),
        colour=subject.crops[0][ys, xs],
        alpha=subject.alphas[0][ys, xs].astype(np.float32),
        vertex=visible[nearest].astype(np.int64),
        vertex_photo_xy=ndc_to_photo(points[0, :, :2].numpy(), box).astype(np.float32),
        pixel_size=float(crop_to_photo),
    )


def render_residual(
    residual: Residual, vertex_photo_xy: np.ndarray, box: CropBox
) -> tuple[np.ndarray, np.ndarray]:
    """The residual layer of each frame in the output box.

    Args:
        residual: from :func:`residual_of`.
        vertex_photo_xy: ``[T, V, 2]`` the moving body's vertices in photo 0's pixels.
        box: the output frame (photo 0 pixels → ``box.size`` square pixels).

    Returns:
        ``rgb uint8 [T, S, S, 3]`` and ``alpha float32 [T, S, S]``.
    """
    t = len(vertex_photo_xy)
    s = box.size
    rgb = np.zeros((t, s, s, 3), np.uint8)
    alpha = np.zeros((t, s, s), np.float32)
    if residual.num_pixels == 0:
        return rgb, alpha
    scale = s / box.side
    # Splat each residual pixel as a square of its own size in the output (no gaps on zoom).
    reach = max(1, int(np.ceil(residual.pixel_size * scale)))
    offsets = [(dx, dy) for dx in range(reach) for dy in range(reach)]
    origin = np.array([box.x0, box.y0])
    for i in range(t):
        moved = residual.photo_xy + (
            vertex_photo_xy[i, residual.vertex] - residual.vertex_photo_xy[residual.vertex]
        )
        out = np.floor((moved - origin) * scale).astype(np.int64)
        for dx, dy in offsets:
            x, y = out[:, 0] + dx, out[:, 1] + dy
            ok = (x >= 0) & (x < s) & (y >= 0) & (y < s)
            rgb[i, y[ok], x[ok]] = residual.colour[ok]
            alpha[i, y[ok], x[ok]] = np.maximum(alpha[i, y[ok], x[ok]], residual.alpha[ok])
        _close_cracks(rgb[i], alpha[i])
    return rgb, alpha


def _close_cracks(rgb: np.ndarray, alpha: np.ndarray) -> None:
    """Fill the one-pixel cracks between splats in place (``rgb [S, S, 3]``, ``alpha [S, S]``).

    Neighbouring residual pixels follow different vertices, so where the body stretches they
    part and the background shows through as thin lines; a 3x3 closing finds those gaps and the
    mean of their covered neighbours fills them. An isolated pixel stays as it is.
    """
    covered = (alpha > 0).astype(np.uint8)
    closed = cv2.morphologyEx(covered, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    gaps = (closed > 0) & (covered == 0)
    if not gaps.any():
        return
    weight = cv2.blur(covered.astype(np.float32), (3, 3))[gaps][:, None]
    colour = cv2.blur(rgb.astype(np.float32) * covered[..., None], (3, 3))[gaps]
    rgb[gaps] = np.clip(colour / np.maximum(weight, 1e-6) + 0.5, 0, 255).astype(np.uint8)
    alpha[gaps] = cv2.blur(alpha, (3, 3))[gaps] / np.maximum(weight[:, 0], 1e-6)
