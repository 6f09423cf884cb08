"""A minimal ``torchvision.transforms`` stand-in, so that OpenAI's ``clip`` package imports.

``clip`` imports ``Compose, Resize, CenterCrop, ToTensor, Normalize`` (and ``InterpolationMode``)
from torchvision at import time, only to build its image preprocessing. PyPI has no CPU build of
torchvision that matches the CPU torch this project installs, so torchvision is not a dependency.
:func:`installed` registers this module as ``torchvision`` / ``torchvision.transforms`` **only when
the real torchvision cannot be imported**, and only while ``clip`` is being imported
(:func:`import_clip`): afterwards it is removed again, so that other libraries that probe for
torchvision (transformers, torchmetrics) still see that it is absent. The real one always wins.

The five transforms reproduce torchvision's PIL code path used by CLIP's preprocessing, bit for
bit: PIL resize of the shorter side (longer side ``int(size * long / short)``), center crop with
``int(round((H - h) / 2))`` offsets (zero padding when the image is smaller), ``ToTensor``
(``uint8 HWC -> float CHW / 255``) and ``Normalize`` (``(x - mean) / std`` in the tensor's dtype).
Tensor inputs to ``Resize``/``CenterCrop`` are not supported (CLIP only passes PIL images).
"""

from __future__ import annotations

import contextlib
import enum
import importlib
import importlib.machinery
import sys
import types
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

#: Set on the stand-in modules so callers can tell them from the real torchvision.
STAND_IN_ATTR = "__vmc_torchvision_stand_in__"


class InterpolationMode(enum.Enum):
    """Same names and values as ``torchvision.transforms.InterpolationMode``."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


_PIL_MODES = {
    InterpolationMode.NEAREST: Image.Resampling.NEAREST,
    InterpolationMode.NEAREST_EXACT: Image.Resampling.NEAREST,
    InterpolationMode.BILINEAR: Image.Resampling.BILINEAR,
    InterpolationMode.BICUBIC: Image.Resampling.BICUBIC,
    InterpolationMode.BOX: Image.Resampling.BOX,
    InterpolationMode.HAMMING: Image.Resampling.HAMMING,
    InterpolationMode.LANCZOS: Image.Resampling.LANCZOS,
}


def _require_pil(img: Any, what: str) -> Image.Image:
    if not isinstance(img, Image.Image):
        raise TypeError(
            f"{what} (vmc's torchvision stand-in) only accepts PIL images, got {type(img).__name__}"
        )
    return img


def _pair(size: int | Sequence[int], what: str) -> tuple[int, int] | int:
    if isinstance(size, int):
        return size
    size = tuple(int(s) for s in size)
    if len(size) == 1:
        return size[0]
    if len(size) != 2:
        raise ValueError(f"{what}: size must be an int or (h, w), got {size}")
    return size  # type: ignore[return-value]


class Compose:
    """Apply callables in order (``torchvision.transforms.Compose``)."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, img: Any) -> Any:
        for transform in self.transforms:
            img = transform(img)
        return img

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({inner}\n)"


class Resize:
    """Resize a PIL image; an int ``size`` sets the shorter side and keeps the aspect ratio."""

    def __init__(
        self,
        size: int | Sequence[int],
        interpolation: InterpolationMode | int = InterpolationMode.BILINEAR,
        max_size: int | None = None,
        antialias: bool | None = True,
    ) -> None:
        self.size = _pair(size, "Resize")
        if isinstance(interpolation, InterpolationMode):
            self.resample = _PIL_MODES[interpolation]
        else:  # torchvision still accepts PIL's integer constants
            self.resample = Image.Resampling(int(interpolation))
        self.interpolation = interpolation
        self.max_size = max_size
        self.antialias = antialias  # PIL always antialiases; kept for signature compatibility

    def _output_size(self, width: int, height: int) -> tuple[int, int]:
        """(new_h, new_w) exactly as torchvision computes it."""
        if not isinstance(self.size, int):
            return self.size
        short, long = (width, height) if width <= height else (height, width)
        new_short, new_long = self.size, int(self.size * long / short)
        if self.max_size is not None:
            if self.max_size <= self.size:
                raise ValueError(f"max_size ({self.max_size}) must exceed size ({self.size})")
            if new_long > self.max_size:
                new_short, new_long = int(self.max_size * new_short / new_long), self.max_size
        new_w, new_h = (new_short, new_long) if width <= height else (new_long, new_short)
        return new_h, new_w

    def __call__(self, img: Image.Image) -> Image.Image:
        img = _require_pil(img, "Resize")
        new_h, new_w = self._output_size(*img.size)
        if (new_h, new_w) == (img.size[1], img.size[0]):
            return img
        return img.resize((new_w, new_h), self.resample)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, interpolation={self.interpolation})"


class CenterCrop:
    """Crop the center ``(h, w)`` of a PIL image, zero-padding first when it is smaller."""

    def __init__(self, size: int | Sequence[int]) -> None:
        size = _pair(size, "CenterCrop")
        self.size = (size, size) if isinstance(size, int) else size

    def __call__(self, img: Image.Image) -> Image.Image:
        img = _require_pil(img, "CenterCrop")
        crop_h, crop_w = self.size
        width, height = img.size
        if crop_w > width or crop_h > height:
            left = (crop_w - width) // 2 if crop_w > width else 0
            top = (crop_h - height) // 2 if crop_h > height else 0
            padded = Image.new(img.mode, (max(width, crop_w), max(height, crop_h)), 0)
            padded.paste(img, (left, top))
            img = padded
            width, height = img.size
            if (crop_w, crop_h) == (width, height):
                return img
        top = int(round((height - crop_h) / 2.0))
        left = int(round((width - crop_w) / 2.0))
        return img.crop((left, top, left + crop_w, top + crop_h))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size})"


class ToTensor:
    """PIL image (or ``uint8 [H,W,C]`` array) -> float32 ``[C,H,W]`` in [0, 1]."""

    def __call__(self, pic: Image.Image | np.ndarray) -> torch.Tensor:
        if isinstance(pic, np.ndarray):
            array = pic[:, :, None] if pic.ndim == 2 else pic
            tensor = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))
            return (
                tensor.to(torch.get_default_dtype()).div(255)
                if tensor.dtype == torch.uint8
                else tensor
            )
        pic = _require_pil(pic, "ToTensor")
        if pic.mode in ("I", "I;16", "F"):
            raise TypeError(f"ToTensor (vmc's stand-in): unsupported PIL mode {pic.mode!r}")
        array = np.array(pic, np.uint8, copy=True)
        if pic.mode == "1":
            array = array * 255
        array = array.reshape(pic.size[1], pic.size[0], len(pic.getbands()))
        tensor = torch.from_numpy(array).permute(2, 0, 1).contiguous()
        return tensor.to(dtype=torch.get_default_dtype()).div(255)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Normalize:
    """``(x - mean[c]) / std[c]`` on a float ``[..., C, H, W]`` tensor (not in place)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> None:
        self.mean = list(mean)
        self.std = list(std)
        self.inplace = inplace

    def __call__(self, tensor: torch.Tensor) -> torch.Tensor:
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            raise TypeError("Normalize expects a float tensor [..., C, H, W]")
        if not self.inplace:
            tensor = tensor.clone()
        mean = torch.as_tensor(self.mean, dtype=tensor.dtype, device=tensor.device)
        std = torch.as_tensor(self.std, dtype=tensor.dtype, device=tensor.device)
        if (std == 0).any():
            raise ValueError(f"std evaluated to zero after conversion to {tensor.dtype}")
        return tensor.sub_(mean.view(-1, 1, 1)).div_(std.view(-1, 1, 1))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


def real_torchvision_available() -> bool:
    """True when a working torchvision imports (the stand-in is then never installed)."""
    module = sys.modules.get("torchvision")
    if module is not None:
        return not getattr(module, STAND_IN_ATTR, False)
    try:
        importlib.import_module("torchvision")
    except ImportError:
        return False
    except (
        Exception
    ) as err:  # e.g. a CUDA-only build next to CPU torch: "operator ... does not exist"
        warnings.warn(
            f"torchvision is installed but fails to import ({type(err).__name__}: {err}); "
            "using vmc's minimal transforms stand-in instead",
            RuntimeWarning,
            stacklevel=2,
        )
        sys.modules.pop("torchvision", None)
        return False
    return True


def install() -> bool:
    """Register the stand-in as ``torchvision``/``torchvision.transforms`` in ``sys.modules``.

    Returns True when installed; does nothing (False) when the real torchvision imports or the
    stand-in is already there. Prefer :func:`installed`, which removes it again: a permanent fake
    ``torchvision`` would make other libraries (transformers, torchmetrics) believe the real one is
    available.
    """
    existing = sys.modules.get("torchvision")
    if existing is not None and getattr(existing, STAND_IN_ATTR, False):
        return False
    if real_torchvision_available():
        return False
    package = types.ModuleType("torchvision", doc="vmc stand-in: only transforms for CLIP")
    transforms = types.ModuleType(
        "torchvision.transforms",
        doc="vmc stand-in: Compose, Resize, CenterCrop, ToTensor, Normalize",
    )
    for name in ("Compose", "Resize", "CenterCrop", "ToTensor", "Normalize", "InterpolationMode"):
        setattr(transforms, name, globals()[name])
    package.__spec__ = importlib.machinery.ModuleSpec("torchvision", None, is_package=True)
    transforms.__spec__ = importlib.machinery.ModuleSpec("torchvision.transforms", None)
    setattr(package, STAND_IN_ATTR, True)
    setattr(transforms, STAND_IN_ATTR, True)
    package.transforms = transforms
    package.__path__ = []  # a package, so "import torchvision.transforms" resolves
    package.__version__ = "0.0+vmc-stand-in"
    sys.modules["torchvision"] = package
    sys.modules["torchvision.transforms"] = transforms
    return True


def uninstall() -> None:
    """Remove the stand-in from ``sys.modules`` (a real torchvision is never touched)."""
    for name in ("torchvision.transforms", "torchvision"):
        module = sys.modules.get(name)
        if module is not None and getattr(module, STAND_IN_ATTR, False):
            del sys.modules[name]


@contextlib.contextmanager
def installed() -> Iterator[bool]:
    """Context manager: the stand-in is importable inside (when needed), gone afterwards.

    Modules imported inside keep the classes they bound (``clip`` binds its five transforms at
    import time), so they keep working after the stand-in is removed.
    """
    added = install()
    try:
        yield added
    finally:
        if added:
            uninstall()


def import_clip() -> types.ModuleType:
    """Import OpenAI's ``clip`` package (``openai-clip``), installing the stand-in if needed.

    Raises:
        ImportError: the package is missing, with the pip command that installs it.
    """
    with installed(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        try:
            import clip  # heavy (patched torchvision stand-in): only when CLIP is built
        except ImportError as err:
            raise ImportError(
                f"OpenAI CLIP is not importable ({err}). Install it with "
                "`pip install openai-clip==1.0.1 'setuptools<82'` (import name `clip`; the PyPI "
                "package named `clip` is an unrelated clipboard tool)."
            ) from err
    if not hasattr(clip, "tokenize") or not hasattr(clip, "model"):
        raise ImportError(
            f"the module `clip` at {getattr(clip, '__file__', '?')} is not OpenAI CLIP "
            "(PyPI `clip` is a clipboard tool); install `openai-clip==1.0.1`"
        )
    return clip
