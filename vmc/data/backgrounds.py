"""Backgrounds for synthetic LWG clips: procedural images or a folder of photos, augmented.

:func:`procedural_background` draws gradients, multi-octave value noise, random shapes or
stripes; :class:`BackgroundSource` draws from those or from a folder of photos (e.g. Places365)
and applies LWG pretraining's Places365 augmentation, :func:`random_resized_crop`: a crop whose
area is 0.75-1.1 times the image (clipped to what fits) with aspect 3/4-4/3 (log-uniform),
resized to the target size, then a random horizontal flip.

Images are ``uint8 [S, S, 3]`` RGB. No Lightning/Hydra imports.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from vmc.io.images import IMAGE_SUFFIXES, read_image

__all__ = [
    "BACKGROUND_KINDS",
    "BackgroundSource",
    "procedural_background",
    "random_colour",
    "random_resized_crop",
]


def random_colour(
    rng: np.random.Generator, lo: float = 0.05, hi: float = 0.95
) -> tuple[float, ...]:
    """A random saturated-ish colour (HSV sampled, converted to RGB in [0, 1])."""
    h, s, v = rng.uniform(0, 1), rng.uniform(0.25, 0.9), rng.uniform(0.25, 0.95)
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return tuple(float(np.clip(c, lo, hi)) for c in rgb)


def _gradient(size: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    t = (np.cos(a) * xx + np.sin(a) * yy)[..., None]
    t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
    return (1 - t) * np.asarray(random_colour(rng)) + t * np.asarray(random_colour(rng))


def _noise(size: int, rng: np.random.Generator) -> np.ndarray:
    img = np.zeros((size, size, 3))
    amp, total = 1.0, 0.0
    for cells in (3, 6, 12, 24):
        grid = torch.from_numpy(rng.uniform(0, 1, (1, 3, cells, cells))).float()
        up = F.interpolate(grid, size=(size, size), mode="bicubic", align_corners=False)
        img += amp * up[0].permute(1, 2, 0).numpy()
        total += amp
        amp *= 0.5
    img /= total
    base, tint = np.asarray(random_colour(rng)), np.asarray(random_colour(rng))
    return base * 0.6 + 0.8 * (img - 0.5) * tint + 0.2


def _shapes(size: int, rng: np.random.Generator) -> np.ndarray:
    base = _gradient(size, rng)
    im = Image.fromarray((np.clip(base, 0, 1) * 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(4, 14))):
        x0, y0 = rng.uniform(-0.2, 1.0, 2) * size
        w, h = rng.uniform(0.05, 0.6, 2) * size
        col = tuple(int(c * 255) for c in random_colour(rng))
        box = [float(x0), float(y0), float(x0 + w), float(y0 + h)]
        kind = int(rng.integers(3))
        if kind == 0:
            draw.rectangle(box, fill=col)
        elif kind == 1:
            draw.ellipse(box, fill=col)
        else:
            pts = [tuple(float(c) for c in rng.uniform(0, 1, 2) * size) for _ in range(3)]
            draw.polygon(pts, fill=col)
    return np.asarray(im, dtype=np.float64) / 255


def _stripes(size: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.uniform(0, np.pi)
    period = rng.uniform(0.05, 0.3) * size
    yy, xx = np.mgrid[0:size, 0:size]
    t = (np.sin(2 * np.pi * (np.cos(a) * xx + np.sin(a) * yy) / period) > 0)[..., None]
    return np.where(t, np.asarray(random_colour(rng)), np.asarray(random_colour(rng)))


_BACKGROUNDS = {"gradient": _gradient, "noise": _noise, "shapes": _shapes, "stripes": _stripes}

BACKGROUND_KINDS = tuple(_BACKGROUNDS)


def procedural_background(
    size: int, rng: np.random.Generator, kind: str | None = None
) -> np.ndarray:
    """A procedural background ``uint8 [size, size, 3]``.

    Args:
        kind: ``"gradient"``, ``"noise"`` (multi-octave value noise), ``"shapes"`` (rectangles,
            ellipses, triangles over a gradient), ``"stripes"``; random when None.
    """
    if kind is None:
        kind = BACKGROUND_KINDS[int(rng.integers(len(BACKGROUND_KINDS)))]
    if kind not in _BACKGROUNDS:
        raise ValueError(f"unknown background kind {kind!r}; use one of {BACKGROUND_KINDS}")
    img = _BACKGROUNDS[kind](int(size), rng)
    # A little pixel noise so backgrounds are never perfectly flat (as photos are not).
    img = img + rng.normal(0, 0.01, img.shape)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def random_resized_crop(
    image: np.ndarray,
    size: int,
    rng: np.random.Generator,
    scale: tuple[float, float] = (0.75, 1.1),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    hflip: bool = True,
) -> np.ndarray:
    """LWG's Places365 augmentation: random resized crop to ``size x size`` then h-flip.

    The crop's area is ``scale`` times the image area (values above 1 are clipped to what fits,
    like torchvision's fallback) with aspect ``ratio`` (log-uniform), placed uniformly.

    Args:
        image: ``uint8 [H, W, 3]``.

    Returns:
        ``uint8 [size, size, 3]``.
    """
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image must be uint8 [H, W, 3], got {img.dtype} {img.shape}")
    h, w = img.shape[:2]
    area = h * w * rng.uniform(*scale)
    r = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
    cw = int(round(min(w, math.sqrt(area * r))))
    ch = int(round(min(h, math.sqrt(area / r))))
    cw, ch = max(cw, 1), max(ch, 1)
    x0 = int(rng.integers(0, w - cw + 1))
    y0 = int(rng.integers(0, h - ch + 1))
    crop = Image.fromarray(img[y0 : y0 + ch, x0 : x0 + cw])
    out = np.asarray(crop.resize((size, size), Image.BILINEAR))
    if hflip and rng.uniform() < 0.5:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


@dataclass
class BackgroundSource:
    """Where backgrounds come from: procedural, or a folder of images (e.g. Places365).

    Folder images are found recursively (``vmc.io.images.IMAGE_SUFFIXES``). Every draw applies
    :func:`random_resized_crop` (area scale ``scale``, random h-flip) as LWG does for Places365;
    procedural backgrounds are drawn at the target size and flipped only.

    Attributes:
        folder: directory of images, or None for procedural backgrounds.
        kinds: procedural kinds to draw from (all by default).
        scale: area scale range of the random resized crop.
        max_side: images are downscaled to at most this side when read (speed).
    """

    folder: str | os.PathLike[str] | None = None
    kinds: tuple[str, ...] = BACKGROUND_KINDS
    scale: tuple[float, float] = (0.75, 1.1)
    max_side: int = 1024
    _files: list[Path] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        for k in self.kinds:
            if k not in _BACKGROUNDS:
                raise ValueError(f"unknown background kind {k!r}; use one of {BACKGROUND_KINDS}")
        if self.folder is not None:
            root = Path(self.folder).expanduser()
            if not root.is_dir():
                raise FileNotFoundError(f"background folder not found: {str(root)!r}")
            self._files = sorted(
                p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
            if not self._files:
                raise FileNotFoundError(
                    f"no images ({', '.join(IMAGE_SUFFIXES)}) found under {str(root)!r}"
                )

    @property
    def num_images(self) -> int:
        """Number of images in the folder (0 for procedural backgrounds)."""
        return len(self._files)

    def sample(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """One augmented background ``uint8 [size, size, 3]``."""
        if self._files:
            path = self._files[int(rng.integers(len(self._files)))]
            img = read_image(path, max_side=self.max_side)
            return random_resized_crop(img, size, rng, scale=self.scale)
        kind = self.kinds[int(rng.integers(len(self.kinds)))]
        img = procedural_background(size, rng, kind)
        return np.ascontiguousarray(img[:, ::-1]) if rng.uniform() < 0.5 else img
