"""The subject's cut-out: a soft person alpha from a segmentation probability map.

A segmenter (e.g. mediapipe's selfie/pose segmentation) gives a per-pixel person probability that
is noisy away from the person (other people, posters, reflections) and often too hard or too
blurry at the edge. :func:`person_alpha` keeps one person: the connected component of
``prob > threshold`` that is the largest, or, given the fitted body's silhouette, the one that
overlaps it most; it fills small holes inside it (not the gaps between arm and torso, which are
large), then rebuilds a soft edge: fully opaque well inside, the remapped probability in a band
``edge_px`` wide around the contour, 0 beyond, and a light blur so that the edge is never a hard
step even when the probabilities are.

Arrays: ``prob`` float ``[H, W]`` in [0, 1]; ``silhouette`` bool/float ``[H, W]`` (1 = body);
the result is ``float32 [H, W]`` in [0, 1]. No Lightning/Hydra imports.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["person_alpha"]


def _disk(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def person_alpha(
    prob: np.ndarray,
    *,
    silhouette: np.ndarray | None = None,
    threshold: float = 0.5,
    edge_px: int | None = None,
    max_hole_frac: float = 0.002,
    blur_sigma: float = 0.8,
) -> np.ndarray:
    """Soft alpha of the one person in a segmentation probability map.

    Args:
        prob: ``[H, W]`` float person probability in [0, 1].
        silhouette: ``[H, W]`` the fitted body's rendered silhouette (optional): selects the
            component that overlaps it most (instead of the largest) and is added, blurred, to
            the probability inside the edge band at half weight, which closes thin gaps the
            segmenter misses (fingers, a strap) without growing the person elsewhere.
        threshold: probability that counts as person.
        edge_px: half width of the soft band (default ``max(1, round(0.006 * max(H, W)))``,
            3 px at 512).
        max_hole_frac: holes of the component smaller than this fraction of the image are
            filled (segmentation dropouts); larger ones (between an arm and the body) stay.
        blur_sigma: Gaussian sigma in pixels of the final softening (0 = none).

    Returns:
        ``float32 [H, W]`` in [0, 1]; all zero when nothing exceeds ``threshold``.
    """
    p = np.asarray(prob, dtype=np.float32)
    if p.ndim != 2:
        raise ValueError(f"prob must be [H, W], got {p.shape}")
    p = np.clip(np.nan_to_num(p), 0.0, 1.0)
    h, w = p.shape
    sil = None
    if silhouette is not None:
        sil = np.asarray(silhouette, dtype=np.float32)
        if sil.shape != p.shape:
            raise ValueError(f"silhouette {sil.shape} does not match prob {p.shape}")
    hard = (p > threshold).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(hard, connectivity=8)
    if n <= 1:
        return np.zeros((h, w), np.float32)
    if sil is not None and (sil > 0.5).any():
        overlap = np.bincount(labels[sil > 0.5].ravel(), minlength=n)
        overlap[0] = 0
        keep = int(overlap.argmax()) if overlap.max() > 0 else int(stats[1:, 4].argmax()) + 1
    else:
        keep = int(stats[1:, cv2.CC_STAT_AREA].argmax()) + 1
    comp = (labels == keep).astype(np.uint8)

    # Fill small holes: background components that do not touch the border and are small.
    inv = 1 - comp
    nh, hl, hs, _ = cv2.connectedComponentsWithStats(inv, connectivity=4)
    limit = max_hole_frac * h * w
    for i in range(1, nh):
        x, y, bw, bh, area = hs[i]
        touches = x == 0 or y == 0 or x + bw == w or y + bh == h
        if not touches and area <= limit:
            comp[hl == i] = 1

    r = max(1, round(0.006 * max(h, w))) if edge_px is None else int(edge_px)
    inner = cv2.erode(comp, _disk(r)).astype(bool)
    outer = cv2.dilate(comp, _disk(r)).astype(bool)
    q = p
    if sil is not None:
        blurred = cv2.GaussianBlur(sil, (0, 0), max(r / 2, 0.5))
        q = np.maximum(q, 0.5 * blurred)
    # Remap so that the threshold lands at 0.5 and the band spans the full range.
    lo, hi = threshold / 2, (1 + threshold) / 2
    band = np.clip((q - lo) / (hi - lo), 0.0, 1.0)
    alpha = np.where(inner, 1.0, np.where(outer, band, 0.0)).astype(np.float32)
    # The band may reach into another component's probability; keep only what touches ours.
    alpha[~outer] = 0.0
    if blur_sigma > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), blur_sigma)
        # Blur must not leak the alpha beyond the band nor dent the opaque core.
        alpha[cv2.erode(inner.astype(np.uint8), _disk(1)).astype(bool)] = 1.0
        alpha[~cv2.dilate(outer.astype(np.uint8), _disk(1)).astype(bool)] = 0.0
    return np.clip(alpha, 0.0, 1.0).astype(np.float32)
