"""Weak-perspective (scaled orthographic) camera of HMR/SPIN/iPERCore, and helpers around it.

Conventions (``docs/conventions.md#hmr-image-frame-and-camera``)
-----------------------------------------------------------------
* Camera ``cam = (s, tx, ty)`` per sample, ``[B, 3]``.
* A 3D point ``(X, Y, Z)`` (already posed, global orientation included) projects to
  ``x = s (X + tx)``, ``y = s (Y + ty)``, depth ``z = Z``.
* ``(x, y)`` are normalised device coordinates (NDC) of the square processed image: ``[-1, 1]``
  spans the image, x to the right, **y down**. The camera looks along +z, so a smaller z is
  nearer. In this frame an upright person facing the camera has root rotation ~ ``R_x(pi)``
  (motion from a Y-up world must be left-multiplied by ``R_x(pi)`` on the root).
* Pixels: a continuous pixel coordinate ``u`` in ``[0, W]`` (pixel ``c`` covers ``[c, c+1)``,
  its centre is ``c + 0.5``) maps to ``x = 2 u / W - 1``. The rasterizer samples pixel centres,
  ``x = (2c + 1)/W - 1``.
"""

from __future__ import annotations

import torch

__all__ = [
    "project_weak_perspective",
    "ndc_to_pixels",
    "pixels_to_ndc",
    "cam_ndc_to_pixels",
    "cam_pixels_to_ndc",
    "cam_crop_to_image",
    "cam_from_bbox",
    "cam_fit_points",
]


def _check(x: torch.Tensor, name: str, last: int, ndim: int) -> None:
    """ValueError unless ``x`` is a float tensor with ``ndim`` dims and last dim ``last``."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != ndim or x.shape[-1] != last or not x.is_floating_point():
        lead = ["B", "N"][: ndim - 1]
        want = "[" + ", ".join([*lead, str(last)]) + "]"
        raise ValueError(f"{name} must be a float tensor of shape {want}, got {list(x.shape)}")


def project_weak_perspective(vertices: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """Project points with the HMR weak-perspective camera.

    Args:
        vertices: ``[B, V, 3]`` float, points in the camera frame (y down, looking along +z).
        cam: ``[B, 3]`` float, ``(s, tx, ty)``.

    Returns:
        ``[B, V, 3]``: ``(s (X + tx), s (Y + ty), Z)``; x, y in NDC ([-1, 1] = image, y down),
        z unchanged (smaller = nearer).
    """
    _check(vertices, "vertices", 3, 3)
    _check(cam, "cam", 3, 2)
    if cam.shape[0] != vertices.shape[0]:
        raise ValueError(
            f"cam batch {cam.shape[0]} does not match vertices batch {vertices.shape[0]}"
        )
    s = cam[:, None, 0:1]
    t = cam[:, None, 1:3]
    xy = s * (vertices[..., :2] + t)
    return torch.cat([xy, vertices[..., 2:3]], dim=-1)


def ndc_to_pixels(xy: torch.Tensor, image_size: int) -> torch.Tensor:
    """NDC ``[..., 2]`` -> continuous pixel coordinates ``[..., 2]`` in a square image.

    ``u = (x + 1) * image_size / 2``; pixel ``c``'s centre is ``c + 0.5``.
    """
    return (xy + 1.0) * (0.5 * image_size)


def pixels_to_ndc(uv: torch.Tensor, image_size: int) -> torch.Tensor:
    """Continuous pixel coordinates ``[..., 2]`` -> NDC ``[..., 2]`` (inverse of ndc_to_pixels)."""
    return uv * (2.0 / image_size) - 1.0


def cam_ndc_to_pixels(cam: torch.Tensor, image_size: int) -> torch.Tensor:
    """NDC camera ``[B, 3]`` -> pixel camera ``(s_p, tx_p, ty_p)`` of an ``image_size`` image.

    With the pixel camera, ``u = s_p (X + tx_p)`` is the continuous pixel coordinate:
    ``s_p = s N / 2`` and ``t_p = t + 1/s`` (iPERCore's ``cam_denormalize``).
    """
    _check(cam, "cam", 3, 2)
    s = cam[:, :1]
    return torch.cat([s * (0.5 * image_size), cam[:, 1:] + 1.0 / s], dim=1)


def cam_pixels_to_ndc(cam_px: torch.Tensor, image_size: int) -> torch.Tensor:
    """Pixel camera ``[B, 3]`` -> NDC camera (inverse of :func:`cam_ndc_to_pixels`).

    ``s = 2 s_p / N``, ``t = t_p - N / (2 s_p)`` (iPERCore's ``cam_norm``).
    """
    _check(cam_px, "cam_px", 3, 2)
    s_p = cam_px[:, :1]
    return torch.cat([s_p * (2.0 / image_size), cam_px[:, 1:] - image_size / (2.0 * s_p)], dim=1)


def cam_crop_to_image(
    cam_crop: torch.Tensor,
    crop_offset: torch.Tensor,
    crop_scale: torch.Tensor | float,
    crop_size: int,
    image_size: int,
) -> torch.Tensor:
    """Re-express a camera predicted on a square crop in the full (square) image.

    The crop relates to the image by ``u_img = (u_crop + crop_offset) / crop_scale`` (continuous
    pixels): the image was scaled by ``crop_scale`` and the crop's top-left corner sits at
    ``crop_offset`` in the scaled image. (iPERCore pads the scaled image by ``crop_size`` before
    cropping; pass ``crop_offset = start_pt - crop_size`` to reproduce ``cam_init2orig`` +
    ``cam_norm``.)

    Args:
        cam_crop: ``[B, 3]`` NDC camera of the crop (e.g. SPIN's ``pred_cam`` on 224x224).
        crop_offset: ``[B, 2]`` (x, y) pixels in the scaled image.
        crop_scale: scalar or ``[B]``, scaled size / original size.
        crop_size: side of the crop in pixels.
        image_size: side of the (square) target image in pixels.

    Returns:
        ``[B, 3]`` NDC camera of the full image.
    """
    cam_px = cam_ndc_to_pixels(cam_crop, crop_size)
    scale = torch.as_tensor(crop_scale, dtype=cam_px.dtype, device=cam_px.device).reshape(-1, 1)
    offset = torch.as_tensor(crop_offset, dtype=cam_px.dtype, device=cam_px.device)
    s_img = cam_px[:, :1] / scale
    t_img = cam_px[:, 1:] + offset / cam_px[:, :1]
    return cam_pixels_to_ndc(torch.cat([s_img, t_img], dim=1), image_size)


def cam_from_bbox(points: torch.Tensor, bbox: torch.Tensor, fill: float = 1.0) -> torch.Tensor:
    """Camera that centres ``points`` in ``bbox`` and fits them inside it (aspect kept).

    Args:
        points: ``[B, V, 3]`` camera-frame points (y down).
        bbox: ``[B, 4]`` NDC box ``(x0, y0, x1, y1)``.
        fill: fraction of the box the points should span along their limiting side.

    Returns:
        ``[B, 3]`` camera ``(s, tx, ty)``.
    """
    _check(points, "points", 3, 3)
    _check(bbox, "bbox", 4, 2)
    lo = points[..., :2].amin(dim=1)
    hi = points[..., :2].amax(dim=1)
    extent = (hi - lo).clamp(min=1e-8)
    box_lo, box_hi = bbox[:, :2], bbox[:, 2:]
    if bool(((box_hi - box_lo) <= 0).any()):
        raise ValueError("bbox must satisfy x1 > x0 and y1 > y0")
    s = (fill * (box_hi - box_lo) / extent).amin(dim=1, keepdim=True)
    t = 0.5 * (box_lo + box_hi) / s - 0.5 * (lo + hi)
    return torch.cat([s, t], dim=1)


def cam_fit_points(
    points3d: torch.Tensor, points2d: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Weighted least-squares weak-perspective camera mapping 3D points onto 2D ones.

    Minimises ``sum_i w_i |s (P_i.xy + t) - p_i|^2``: linear in ``(s, s tx, s ty)``.

    Args:
        points3d: ``[B, N, 3]`` camera-frame points (only x, y are used).
        points2d: ``[B, N, 2]`` NDC targets.
        weights: ``[B, N]`` non-negative confidences (default 1). At least two points with
            distinct positions need positive weight.

    Returns:
        ``[B, 3]`` camera ``(s, tx, ty)``; ``s`` is clamped to be positive.
    """
    _check(points3d, "points3d", 3, 3)
    _check(points2d, "points2d", 2, 3)
    if points2d.shape[:2] != points3d.shape[:2]:
        raise ValueError(
            f"points2d {list(points2d.shape)} and points3d {list(points3d.shape)} disagree"
        )
    w = torch.ones_like(points2d[..., 0]) if weights is None else weights
    if w.shape != points2d.shape[:2]:
        raise ValueError(f"weights must have shape {list(points2d.shape[:2])}, got {list(w.shape)}")
    wsum = w.sum(1, keepdim=True).clamp(min=1e-12)
    p_mean = (w[..., None] * points3d[..., :2]).sum(1) / wsum  # [B,2]
    q_mean = (w[..., None] * points2d).sum(1) / wsum
    dp = points3d[..., :2] - p_mean[:, None]
    dq = points2d - q_mean[:, None]
    num = (w[..., None] * dp * dq).sum((1, 2))
    den = (w[..., None] * dp * dp).sum((1, 2)).clamp(min=1e-12)
    s = (num / den).clamp(min=1e-6)[:, None]
    t = q_mean / s - p_mean
    return torch.cat([s, t], dim=1)
