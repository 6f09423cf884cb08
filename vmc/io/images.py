"""Reading and writing images robustly, and converting them to model tensors.

Everything read comes back as ``np.uint8`` RGB ``[H, W, 3]`` in the image's *displayed*
orientation, whatever the file holds:

* EXIF orientation (all 8 values) is applied, so a portrait phone photo is upright.
* Grayscale, bilevel, palette, CMYK, YCbCr, LAB and HSV images are converted to RGB; an embedded
  ICC colour profile is converted to sRGB when Pillow's colour management can do it.
* 16-bit images are scaled to 8 bits by value (``round(v / 257)`` for 16-bit grayscale; Pillow
  keeps the high byte of 16-bit RGB(A), i.e. ``v // 256``), never wrapped by a plain cast.
* Transparency (RGBA, LA, palette with a transparent index) is composited over a background
  colour (white by default) by :func:`read_image`; :func:`read_image_with_alpha` returns the colour
  and the alpha channel separately instead.
* Images larger than ``max_side`` on their longer side are downscaled (aspect ratio kept) with a
  ``UserWarning`` naming the file and both sizes.
* Missing files raise ``FileNotFoundError``; files that are not decodable images raise
  ``ValueError``; both name the file.

Inside models images are float RGB in [-1, 1], channels first: see :func:`image_to_tensor`.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

try:
    from PIL import ImageCms
except ImportError:  # Pillow built without littlecms: images keep their colours unconverted
    ImageCms = None

from vmc.io.atomic import atomic_path

__all__ = [
    "IMAGE_SUFFIXES",
    "check_rgb_image",
    "image_to_tensor",
    "read_image",
    "read_image_with_alpha",
    "tensor_to_image",
    "write_image",
]

#: File suffixes treated as images when scanning folders.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif")

_WHITE = (255, 255, 255)


def _open(path: Path, max_side: int | None) -> tuple[Image.Image, tuple[int, int]]:
    """Open and decode ``path``; return the image and its stored size before any reduction."""
    if not path.exists():
        raise FileNotFoundError(f"image file not found: {str(path)!r}")
    if path.is_dir():
        raise ValueError(f"expected an image file but {str(path)!r} is a directory")
    try:
        with warnings.catch_warnings():
            # We warn about (and downscale) large images ourselves.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
            size = img.size
            if max_side is not None and img.format == "JPEG" and max(size) > max_side:
                # Let libjpeg decode at 1/2, 1/4 or 1/8 scale while staying >= the target size:
                # huge photos then cost a fraction of the memory and time.
                r = max_side / max(size)
                img.draft("RGB", (int(np.ceil(size[0] * r)), int(np.ceil(size[1] * r))))
            img.load()
    except Image.DecompressionBombError as err:
        raise ValueError(
            f"image {str(path)!r} is too large to decode safely ({err}); "
            "downscale it with an image editor first"
        ) from err
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"cannot read image {str(path)!r}: {err}") from err
    return img, size


def _apply_exif_orientation(img: Image.Image, path: Path) -> Image.Image:
    try:
        out = ImageOps.exif_transpose(img)
    except Exception as err:  # corrupt EXIF must not make a readable image unreadable
        warnings.warn(
            f"ignoring unreadable EXIF data in {str(path)!r}: {err}", UserWarning, stacklevel=3
        )
        return img
    return img if out is None else out


def _to_srgb(img: Image.Image) -> Image.Image:
    """Convert an image with an embedded ICC profile to sRGB; return it unchanged on failure."""
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("RGB", "RGBA", "CMYK"):
        return img
    if ImageCms is None:
        return img
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        dst = ImageCms.createProfile("sRGB")
        out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(img, src, dst, outputMode=out_mode)
    except Exception:  # missing littlecms, broken profile: plain conversion is good enough
        return img
    return converted if converted is not None else img


def _high_bit_to_uint8(img: Image.Image, path: Path) -> np.ndarray:
    """Scale single-channel 16/32-bit integer or float images to uint8 ``[H, W]``."""
    arr = np.asarray(img)
    if img.mode.startswith("I;16"):
        return np.round(arr.astype(np.float64) / 257.0).astype(np.uint8)
    arr = arr.astype(np.float64)
    lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
    if img.mode == "I" and lo >= 0 and hi <= 65535:
        return np.round(arr / 257.0).astype(np.uint8)  # 16-bit data stored as 32-bit ints
    if img.mode == "F" and lo >= 0 and hi <= 1:
        return np.round(arr * 255.0).astype(np.uint8)
    warnings.warn(
        f"image {str(path)!r} has mode {img.mode} with values in [{lo:g}, {hi:g}]; "
        "rescaling that range to 0-255",
        UserWarning,
        stacklevel=5,
    )
    span = hi - lo if hi > lo else 1.0
    return np.round((arr - lo) / span * 255.0).astype(np.uint8)


def _to_rgb_alpha(img: Image.Image, path: Path) -> tuple[Image.Image, Image.Image | None]:
    """Return an 8-bit ``RGB`` image and an ``L`` alpha image (or ``None`` when opaque)."""
    mode = img.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        return Image.fromarray(_high_bit_to_uint8(img, path), "L").convert("RGB"), None
    if mode == "P" or mode == "PA":
        # Palette images may carry transparency in the palette or in info["transparency"].
        has_alpha = mode == "PA" or "transparency" in img.info or img.has_transparency_data
        img = img.convert("RGBA" if has_alpha else "RGB")
    elif mode in ("LA", "La", "RGBa"):
        img = img.convert("RGBA")
    elif mode == "RGBA":
        pass
    elif mode == "L" and "transparency" in img.info:
        img = img.convert("RGBA")
    elif mode != "RGB":
        img = _to_srgb(img) if mode == "CMYK" else img
        img = img.convert("RGB")
    else:
        img = _to_srgb(img)
    if img.mode == "RGBA":
        img = _to_srgb(img)
        alpha = img.getchannel("A")
        if alpha.getextrema() == (255, 255):
            return img.convert("RGB"), None
        return img.convert("RGB"), alpha
    return img, None


def _check_max_side(max_side: int | None) -> None:
    if max_side is not None and (
        isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 1
    ):
        raise ValueError(f"max_side must be a positive int or None, got {max_side!r}")


def _downscale(img: Image.Image, max_side: int) -> Image.Image:
    w, h = img.size
    scale = max_side / max(w, h)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    return img.resize(new, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _read(
    path: str | os.PathLike[str], max_side: int | None
) -> tuple[Image.Image, Image.Image | None]:
    _check_max_side(max_side)
    p = Path(path)
    img, stored_size = _open(p, max_side)
    try:
        oriented = _apply_exif_orientation(img, p)
        rgb, alpha = _to_rgb_alpha(oriented, p)
    finally:
        img.close()
    if max_side is not None and max(stored_size) > max_side:
        if max(rgb.size) > max_side:
            rgb = _downscale(rgb, max_side)
            alpha = None if alpha is None else _downscale(alpha, max_side)
        warnings.warn(
            f"image {str(p)!r} is {stored_size[0]}x{stored_size[1]} px (as stored), larger than "
            f"max_side={max_side}; downscaled to {rgb.size[0]}x{rgb.size[1]}",
            UserWarning,
            stacklevel=3,
        )
    return rgb, alpha


def read_image_with_alpha(
    path: str | os.PathLike[str], max_side: int | None = 4096
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read an image as straight (not premultiplied) RGB plus its alpha channel.

    Args:
        path: image file (anything Pillow decodes: PNG, JPEG, TIFF, WebP, BMP, GIF ...).
        max_side: longer side limit in pixels; larger images are downscaled with a warning.
            ``None`` disables the limit.

    Returns:
        ``(rgb, alpha)``: ``rgb`` is ``np.uint8 [H, W, 3]``; ``alpha`` is ``np.uint8 [H, W]``
        (255 = opaque) when the file has transparency that is not fully opaque, else ``None``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable image, or ``max_side`` is invalid.
    """
    rgb, alpha = _read(path, max_side)
    rgb_arr = np.array(rgb, dtype=np.uint8)
    return rgb_arr, None if alpha is None else np.array(alpha, dtype=np.uint8)


def read_image(
    path: str | os.PathLike[str],
    max_side: int | None = 4096,
    *,
    background: tuple[int, int, int] = _WHITE,
) -> np.ndarray:
    """Read an image as ``np.uint8 [H, W, 3]`` RGB, upright, transparency flattened.

    Transparent pixels are composited over ``background`` (white by default): a cut-out person
    saved as RGBA appears on white rather than on whatever colour the hidden pixels hold. Use
    :func:`read_image_with_alpha` to keep the alpha channel.

    Args:
        path: image file.
        max_side: longer side limit in pixels; larger images are downscaled with a
            ``UserWarning`` naming the file and both sizes. ``None`` disables the limit.
        background: RGB colour (0-255) shown through transparent pixels.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable image, or an argument is invalid.
    """
    rgb, alpha = _read(path, max_side)
    if alpha is None:
        return np.array(rgb, dtype=np.uint8)
    bg = Image.new("RGB", rgb.size, tuple(int(c) for c in background))
    return np.array(Image.composite(rgb, bg, alpha), dtype=np.uint8)


def check_rgb_image(image: np.ndarray, name: str = "image") -> np.ndarray:
    """``image`` as a ``uint8 [H, W, 3]`` RGB array (what :func:`read_image` returns).

    Raises:
        ValueError: another dtype or shape (the message names ``name``).
    """
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"{name} must be uint8 [H, W, 3] RGB, got {img.dtype} {img.shape}")
    return img


def _validate_uint8_image(image: np.ndarray, name: str = "image") -> np.ndarray:
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise ValueError(
            f"{name} must be uint8 (0-255), got dtype {arr.dtype}; convert with "
            "tensor_to_image() or np.clip(x, 0, 255).astype(np.uint8)"
        )
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (1, 3, 4))):
        raise ValueError(f"{name} must have shape [H,W], [H,W,3] or [H,W,4], got {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    return arr[..., 0] if arr.ndim == 3 and arr.shape[2] == 1 else arr


def write_image(path: str | os.PathLike[str], image: np.ndarray, *, quality: int = 95) -> Path:
    """Write a uint8 image atomically; the format follows the suffix (.png, .jpg, .webp ...).

    Args:
        path: target file; parent directories are created.
        image: ``np.uint8`` ``[H, W]`` (gray), ``[H, W, 3]`` (RGB) or ``[H, W, 4]`` (RGBA).
        quality: JPEG/WebP quality (1-100); ignored by lossless formats.

    Returns:
        The path written.

    Raises:
        ValueError: wrong dtype/shape, unknown suffix, or alpha requested for a JPEG.
    """
    arr = _validate_uint8_image(image)
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".jpg", ".jpeg") and arr.ndim == 3 and arr.shape[2] == 4:
        raise ValueError(f"JPEG has no alpha channel; cannot write an RGBA image to {str(p)!r}")
    img = Image.fromarray(np.ascontiguousarray(arr))
    params = {"quality": int(quality)} if suffix in (".jpg", ".jpeg", ".webp") else {}
    try:
        with atomic_path(p) as tmp:
            img.save(tmp, **params)
    except (ValueError, KeyError) as err:
        raise ValueError(f"cannot write image {str(p)!r}: {err}") from err
    return p


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 RGB ``[H,W,3]`` (or ``[B,H,W,3]``) → float32 ``[3,H,W]`` (or ``[B,3,H,W]``) in [-1,1].

    The mapping is ``x / 127.5 - 1``, so 0 → -1 and 255 → 1 exactly.
    """
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim not in (3, 4) or arr.shape[-1] != 3:
        raise ValueError(
            f"image_to_tensor expects uint8 [H,W,3] or [B,H,W,3], got {arr.dtype} {arr.shape}"
        )
    t = torch.from_numpy(np.ascontiguousarray(arr)).float().div_(127.5).sub_(1.0)
    return t.movedim(-1, -3).contiguous()


def tensor_to_image(tensor: torch.Tensor) -> np.ndarray:
    """Float ``[3,H,W]`` (or ``[B,3,H,W]``) in [-1,1] → uint8 ``[H,W,3]`` (or ``[B,H,W,3]``).

    Values outside [-1, 1] are clipped; the result is rounded, so
    ``tensor_to_image(image_to_tensor(x)) == x``.
    """
    if not isinstance(tensor, torch.Tensor):
        tensor = torch.as_tensor(tensor)
    if tensor.ndim not in (3, 4) or tensor.shape[-3] != 3:
        raise ValueError(f"tensor_to_image expects [3,H,W] or [B,3,H,W], got {tuple(tensor.shape)}")
    t = tensor.detach().float().cpu().add(1.0).mul(127.5).round_().clamp_(0, 255)
    return t.to(torch.uint8).movedim(-3, -1).contiguous().numpy()
