"""The background plate behind the subject: classical inpainting of the person region, or a
user-supplied clean photo aligned to the source.

Methods (OpenCV, no learned weights): ``telea`` / ``ns`` (``cv2.inpaint``: fast marching of
Telea, Navier-Stokes; local, smooth, 0.1 s at 512x512), ``fsr_fast`` / ``fsr_best`` (frequency
selective reconstruction, ``cv2.xphoto.inpaint``: extends textures; seconds) and ``shiftmap``
(``cv2.xphoto``: copies patches, works in CIE Lab). The xphoto methods take the *valid* pixels as
their mask (non-zero = known), the inverse of ``cv2.inpaint``. They run on the hole's bounding box
plus a margin of context only, and optionally at a reduced ``scale`` (the result is upsampled into
the hole only), which keeps them inside a few seconds per photo. The benchmark
(``bench/bench_subject_appearance.py``, ``docs/subject_appearance.md``) chose the default.

Arrays: images ``uint8 [H, W, 3]`` RGB; alphas float ``[H, W]`` in [0, 1] (1 = person).
No Lightning/Hydra imports.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from vmc.io.images import check_rgb_image

__all__ = [
    "DEFAULT_INPAINT_METHOD",
    "INPAINT_METHODS",
    "align_background",
    "background_plate",
    "hole_mask",
    "inpaint_background",
]

INPAINT_METHODS = ("telea", "ns", "fsr_fast", "fsr_best", "shiftmap")
#: Chosen from the benchmark table in docs/subject_appearance.md: on synthetic 512x512 photos
#: Telea is within 0.1 dB PSNR / 0.001 SSIM of NS and half-scale FSR_FAST and 5-20x faster (0.2 s);
#: ShiftMap and FSR_BEST score higher in the hole but take 6-20 s per photo (budget: 5 s).
DEFAULT_INPAINT_METHOD = "telea"
#: Default working scale per method: FSR at full size takes ~4 s at 512x512; at half size it is
#: ~3.5x faster and, on the benchmark, no worse in the hole (backgrounds are smooth there).
_DEFAULT_SCALE = {"telea": 1.0, "ns": 1.0, "fsr_fast": 0.5, "fsr_best": 0.5, "shiftmap": 1.0}


def hole_mask(
    alpha: np.ndarray, dilate_px: int | None = None, threshold: float = 0.02
) -> np.ndarray:
    """The region to inpaint: ``alpha > threshold`` dilated by ``dilate_px`` (a disk).

    The dilation covers what a cut-out misses: the soft edge, hair wisps, the contact shadow.
    Default ``dilate_px = max(2, round(0.015 * max(H, W)))`` (8 px at 512).

    Returns:
        ``bool [H, W]`` (True = to inpaint).
    """
    a = np.asarray(alpha, dtype=np.float32)
    if a.ndim != 2:
        raise ValueError(f"alpha must be [H, W], got {a.shape}")
    r = max(2, round(0.015 * max(a.shape))) if dilate_px is None else int(dilate_px)
    m = (a > threshold).astype(np.uint8)
    if r > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        m = cv2.dilate(m, k)
    return m.astype(bool)


def _run(img: np.ndarray, hole: np.ndarray, method: str, radius: float) -> np.ndarray:
    """One inpainting call on ``img`` (uint8 [h, w, 3]) with ``hole`` (bool) to fill."""
    if method in ("telea", "ns"):
        flag = cv2.INPAINT_TELEA if method == "telea" else cv2.INPAINT_NS
        return cv2.inpaint(img, hole.astype(np.uint8) * 255, radius, flag)
    valid = (~hole).astype(np.uint8) * 255  # xphoto: non-zero = known pixel
    out = np.zeros_like(img)
    if method == "shiftmap":
        # ShiftMap expects a Lab-like image (intensity first, then colour).
        lab = cv2.cvtColor(img, cv2.COLOR_RGB2LAB)
        cv2.xphoto.inpaint(lab, valid, out, cv2.xphoto.INPAINT_SHIFTMAP)
        return cv2.cvtColor(out, cv2.COLOR_LAB2RGB)
    flag = cv2.xphoto.INPAINT_FSR_FAST if method == "fsr_fast" else cv2.xphoto.INPAINT_FSR_BEST
    cv2.xphoto.inpaint(img, valid, out, flag)
    return out


def inpaint_background(
    image: np.ndarray,
    alpha: np.ndarray,
    method: str = DEFAULT_INPAINT_METHOD,
    *,
    dilate_px: int | None = None,
    scale: float | None = None,
    margin: float = 0.5,
    radius: float = 5.0,
) -> np.ndarray:
    """Remove the person: inpaint the dilated person region of ``image``.

    Args:
        image: ``uint8 [H, W, 3]`` RGB photo.
        alpha: ``[H, W]`` person alpha in [0, 1].
        method: one of :data:`INPAINT_METHODS`.
        dilate_px: see :func:`hole_mask`.
        scale: working scale (< 1 = inpaint a downscaled copy, upsample into the hole);
            default per method (``fsr_*`` 0.5, others 1).
        margin: context kept around the hole's bounding box, as a fraction of its larger side
            (at least 16 px); the rest of the image is not looked at (speed).
        radius: neighbourhood radius of ``telea``/``ns`` in pixels.

    Returns:
        ``uint8 [H, W, 3]``: equal to ``image`` outside the hole.
    """
    img = check_rgb_image(image)
    if method not in INPAINT_METHODS:
        raise ValueError(f"unknown inpainting method {method!r}; use one of {INPAINT_METHODS}")
    hole = hole_mask(alpha, dilate_px)
    if hole.shape != img.shape[:2]:
        raise ValueError(f"alpha {hole.shape} does not match image {img.shape[:2]}")
    if not hole.any():
        return img.copy()
    if hole.all():
        raise ValueError("the person covers the whole image: nothing to inpaint from")
    ys, xs = np.nonzero(hole)
    pad = max(16, int(math.ceil(margin * max(np.ptp(ys) + 1, np.ptp(xs) + 1))))
    y0, y1 = max(0, ys.min() - pad), min(img.shape[0], ys.max() + 1 + pad)
    x0, x1 = max(0, xs.min() - pad), min(img.shape[1], xs.max() + 1 + pad)
    crop, hcrop = img[y0:y1, x0:x1], hole[y0:y1, x0:x1]
    if hcrop.all():  # no context inside the crop: use the whole image
        y0, y1, x0, x1 = 0, img.shape[0], 0, img.shape[1]
        crop, hcrop = img, hole
    s = _DEFAULT_SCALE[method] if scale is None else float(scale)
    if not 0 < s <= 1:
        raise ValueError(f"scale must be in (0, 1], got {s}")
    h, w = crop.shape[:2]
    if s < 1:
        sw, sh = max(8, round(w * s)), max(8, round(h * s))
        small = cv2.resize(crop, (sw, sh), interpolation=cv2.INTER_AREA)
        # Any hole pixel under a small pixel makes it a hole pixel (no person colour leaks in).
        shole = cv2.resize(hcrop.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA) > 0
        filled = _run(small, shole, method, max(1.0, radius * s))
        filled = cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC)
    else:
        filled = _run(np.ascontiguousarray(crop), hcrop, method, radius)
    out = img.copy()
    region = out[y0:y1, x0:x1]
    region[hcrop] = filled[hcrop]
    return out


def align_background(photo: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Fit a user's clean background photo to the source: scale to cover ``size = (H, W)``
    (aspect kept), then centre-crop.

    Args:
        photo: ``uint8 [h, w, 3]``.

    Returns:
        ``uint8 [H, W, 3]``.
    """
    img = check_rgb_image(photo)
    th, tw = int(size[0]), int(size[1])
    if th < 1 or tw < 1:
        raise ValueError(f"size must be positive, got {size}")
    h, w = img.shape[:2]
    k = max(th / h, tw / w)
    nh, nw = max(th, round(h * k)), max(tw, round(w * k))
    interp = cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC
    big = cv2.resize(img, (nw, nh), interpolation=interp)
    y0, x0 = (nh - th) // 2, (nw - tw) // 2
    return np.ascontiguousarray(big[y0 : y0 + th, x0 : x0 + tw])


def background_plate(
    image: np.ndarray,
    alpha: np.ndarray,
    clean: np.ndarray | None = None,
    method: str = DEFAULT_INPAINT_METHOD,
    **kwargs: object,
) -> np.ndarray:
    """The background for compositing: ``clean`` aligned to ``image`` when given (used as is),
    else :func:`inpaint_background` of ``image`` (keyword arguments pass through).

    Returns:
        ``uint8 [H, W, 3]``.
    """
    img = check_rgb_image(image)
    if clean is not None:
        return align_background(clean, img.shape[:2])
    return inpaint_background(img, alpha, method, **kwargs)  # type: ignore[arg-type]
