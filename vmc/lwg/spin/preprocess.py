"""SPIN input crops and the conversion of SPIN's crop camera to other square crops of a photo.

Pixel convention: continuous pixel coordinates ``u`` (x right, y down), pixel ``c`` covers
``[c, c + 1)`` and its centre is ``c + 0.5``. Boxes are ``(x0, y0, x1, y1)`` in these
coordinates (``x1``/``y1`` are the far edges, so the width is ``x1 - x0``).

The crop (as iPERCore feeds SPIN): the person box is scaled by ``s = 200 / max(w, h)`` (its long
side becomes 200 px) and centred in a 224x224 crop, i.e. ``u_crop = s * u_img - offset`` with
``offset = s * centre - 112`` (:class:`SPINCropTransform`). Pixels are sampled bilinearly
(like ``cv2.resize`` with linear interpolation, no anti-aliasing); outside the photo the crop is
black (0 before normalisation). The crop is normalised with the ImageNet mean/std:
``(x / 255 - mean) / std``. iPERCore rounds the box centre to a whole pixel of the rescaled
photo; here it is kept exact (a sub-pixel difference in what the network sees; the returned
transform is always the exact one, so cameras stay consistent).

Cameras: SPIN predicts a weak-perspective camera ``(s, tx, ty)`` in the NDC of its 224 crop
(``x = s (X + tx)``, ``y = s (Y + ty)``, ``[-1, 1]`` spanning the crop, y down).
:func:`spin_cam_to_square_crop` re-expresses it in the NDC of any axis-aligned square region of
the photo (for instance the square crop a subject folder stores, at whatever resolution it was
resized to: NDC does not depend on the resolution). For the whole (square) photo this equals
iPERCore's ``cam_init2orig`` followed by ``cam_norm``. The pose needs no conversion: its root is
already in the y-down image frame, which every axis-aligned crop shares.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from vmc.geometry.camera import cam_crop_to_image
from vmc.lwg.losses.backbones import IMAGENET_MEAN, IMAGENET_STD
from vmc.lwg.spin.regressor import SPIN_INPUT_SIZE, SPINOutput, SPINRegressor

__all__ = [
    "SPIN_BOX_SIZE",
    "SPINCropTransform",
    "SPINFit",
    "fit_person",
    "spin_cam_to_square_crop",
    "spin_crop",
]

#: Long side of the person box inside the 224 crop, in pixels.
SPIN_BOX_SIZE = 200

BoxLike = Sequence[float] | np.ndarray | torch.Tensor


@dataclass(frozen=True)
class SPINCropTransform:
    """Similarity from photo pixels to crop pixels: ``u_crop = scale * u_img - offset``.

    Attributes:
        scale: crop pixels per photo pixel.
        offset: ``(ox, oy)``, crop pixels (the crop's top-left corner in the rescaled photo).
        crop_size: side of the square crop (224).
    """

    scale: float
    offset: tuple[float, float]
    crop_size: int = SPIN_INPUT_SIZE

    def image_to_crop(self, uv: torch.Tensor) -> torch.Tensor:
        """Photo pixel coordinates ``[..., 2]`` -> crop pixel coordinates ``[..., 2]``."""
        return uv * self.scale - uv.new_tensor(self.offset)

    def crop_to_image(self, uv: torch.Tensor) -> torch.Tensor:
        """Crop pixel coordinates ``[..., 2]`` -> photo pixel coordinates ``[..., 2]``."""
        return (uv + uv.new_tensor(self.offset)) / self.scale


def _box(bbox: BoxLike, n: int, name: str) -> tuple[float, ...]:
    vals = tuple(float(v) for v in torch.as_tensor(bbox, dtype=torch.float64).reshape(-1))
    if len(vals) != n or not all(math.isfinite(v) for v in vals):
        raise ValueError(f"{name} must be {n} finite numbers, got {vals}")
    return vals


def _as_image(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    img = torch.as_tensor(np.asarray(image)) if isinstance(image, np.ndarray) else image
    if img.dtype != torch.uint8 or img.dim() != 3 or img.shape[2] != 3:
        raise ValueError(f"image must be uint8 [H, W, 3] RGB, got {img.dtype} {list(img.shape)}")
    return img


def spin_crop(
    image: np.ndarray | torch.Tensor,
    bbox: BoxLike,
    *,
    crop_size: int = SPIN_INPUT_SIZE,
    box_size: float = SPIN_BOX_SIZE,
) -> tuple[torch.Tensor, SPINCropTransform]:
    """Cut SPIN's normalised input crop around a person box.

    Args:
        image: ``[H, W, 3]`` uint8 **RGB** photo (numpy or torch, CPU).
        bbox: ``(x0, y0, x1, y1)`` person box in continuous pixel coordinates.
        crop_size: crop side (224 for SPIN).
        box_size: long side of the box in the crop (200 for SPIN).

    Returns:
        ``(crop, transform)``: ``crop [3, crop_size, crop_size]`` float32,
        ``(rgb / 255 - mean) / std`` with the ImageNet statistics; ``transform`` maps photo
        pixels to crop pixels.
    """
    img = _as_image(image)
    x0, y0, x1, y1 = _box(bbox, 4, "bbox")
    long_side = max(x1 - x0, y1 - y0)
    if long_side <= 0:
        raise ValueError(f"bbox {(x0, y0, x1, y1)} is empty")
    scale = box_size / long_side
    cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    offset = (scale * cx - 0.5 * crop_size, scale * cy - 0.5 * crop_size)
    tf = SPINCropTransform(scale, offset, crop_size)

    # Photo positions of the crop's pixel centres.
    centres = torch.arange(crop_size, dtype=torch.float64) + 0.5
    ux = (centres + tf.offset[0]) / scale
    uy = (centres + tf.offset[1]) / scale
    # Cut the photo region the bilinear taps can reach (1 px margin), so that a huge photo is
    # never converted to float as a whole; zero padding then equals a black surrounding.
    h, w = img.shape[:2]
    xa = min(max(math.floor(ux[0].item() - 0.5) - 1, 0), w)
    xb = max(min(math.ceil(ux[-1].item() + 0.5) + 1, w), xa)
    ya = min(max(math.floor(uy[0].item() - 0.5) - 1, 0), h)
    yb = max(min(math.ceil(uy[-1].item() + 0.5) + 1, h), ya)
    if xb <= xa or yb <= ya:  # the crop lies entirely outside the photo
        region = torch.zeros(1, 3, 1, 1)
        gx = torch.full_like(ux, 3.0)
        gy = torch.full_like(uy, 3.0)
    else:
        region = img[ya:yb, xa:xb].permute(2, 0, 1)[None].float() / 255.0
        gx = 2.0 * (ux - xa) / (xb - xa) - 1.0  # align_corners=False: -1/+1 = region edges
        gy = 2.0 * (uy - ya) / (yb - ya) - 1.0
    grid = torch.stack(torch.meshgrid(gx, gy, indexing="xy"), dim=-1)[None].float()
    crop = F.grid_sample(region, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (crop[0] - mean) / std, tf


def spin_cam_to_square_crop(
    cam: torch.Tensor,
    transform: SPINCropTransform | Sequence[SPINCropTransform],
    square_box: BoxLike | Sequence[BoxLike],
) -> torch.Tensor:
    """Re-express SPIN's crop camera in the NDC of a square region of the same photo.

    Args:
        cam: ``[B, 3]`` ``(s, tx, ty)`` predicted on the crops.
        transform: the crops' :class:`SPINCropTransform` (one, shared, or ``B`` of them).
        square_box: ``(x0, y0, side)`` in photo pixels: the square region whose NDC the
            result uses (one, shared, or ``B`` of them). For a square photo of side ``N``,
            ``(0, 0, N)``.

    Returns:
        ``[B, 3]`` camera: ``s (X + tx), s (Y + ty)`` in that square's NDC ([-1, 1], y down),
        which is also the NDC of the square after any resize.
    """
    if cam.dim() != 2 or cam.shape[1] != 3:
        raise ValueError(f"cam must be [B, 3], got {list(cam.shape)}")
    b = cam.shape[0]
    tfs = [transform] * b if isinstance(transform, SPINCropTransform) else list(transform)
    boxes_t = torch.as_tensor(
        np.asarray(square_box, dtype=np.float64)
        if not isinstance(square_box, torch.Tensor)
        else square_box,
        dtype=torch.float64,
    ).reshape(-1, 3)
    if boxes_t.shape[0] == 1:
        boxes_t = boxes_t.expand(b, 3)
    if len(tfs) != b or boxes_t.shape[0] != b:
        raise ValueError(
            f"need 1 or {b} transforms and square boxes, got {len(tfs)} and {boxes_t.shape[0]}"
        )
    if bool((boxes_t[:, 2] <= 0).any()):
        raise ValueError("square_box side must be positive")
    if any(tf.crop_size != tfs[0].crop_size for tf in tfs):
        raise ValueError("all transforms must share one crop_size")
    scale = torch.tensor([tf.scale for tf in tfs], dtype=torch.float64)
    offset = torch.tensor([tf.offset for tf in tfs], dtype=torch.float64)
    # Square pixels u_sq = side * v (v in [0, 1]): u_crop = (scale side) v + scale x0 - offset.
    crop_offset = offset - scale[:, None] * boxes_t[:, :2]
    crop_scale = scale * boxes_t[:, 2]
    out = cam_crop_to_image(cam.double(), crop_offset, crop_scale, tfs[0].crop_size, 1)
    return out.to(cam.dtype)


@dataclass
class SPINFit:
    """One person's SMPL fit, in a subject folder's conventions.

    Attributes:
        cam: ``[3]`` ``(s, tx, ty)`` in the NDC of the requested square region.
        pose: ``[72]`` axis-angle, SMPL joint order, root in the y-down image frame.
        betas: ``[10]`` SMPL shape.
        output: the raw :class:`SPINOutput` (batch of 1, crop camera).
        transform: the crop's :class:`SPINCropTransform`.
    """

    cam: torch.Tensor
    pose: torch.Tensor
    betas: torch.Tensor
    output: SPINOutput
    transform: SPINCropTransform


@torch.no_grad()
def fit_person(
    model: SPINRegressor,
    image: np.ndarray | torch.Tensor,
    bbox: BoxLike,
    square_box: BoxLike,
) -> SPINFit:
    """Crop, regress and convert the camera for one person in one photo (no SMPLify).

    Args:
        model: the regressor (used as is: call ``.eval()`` for inference).
        image: ``[H, W, 3]`` uint8 RGB photo.
        bbox: ``(x0, y0, x1, y1)`` person box (pixels).
        square_box: ``(x0, y0, side)`` square region whose NDC the returned camera uses.

    Returns:
        :class:`SPINFit` (float32 CPU tensors).
    """
    crop, tf = spin_crop(image, bbox)
    param = next(model.parameters())
    out = model(crop[None].to(device=param.device, dtype=param.dtype))
    cam = spin_cam_to_square_crop(out.pred_cam.float().cpu(), tf, square_box)
    return SPINFit(
        cam=cam[0],
        pose=out.pred_pose_aa[0].float().cpu(),
        betas=out.pred_betas[0].float().cpu(),
        output=out,
        transform=tf,
    )
