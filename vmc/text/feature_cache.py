"""On-disk cache of frozen-encoder features (CLIP text/image, sentence embeddings).

MotionCLIP's text and image encoders are frozen, and a training set repeats the same few
thousand labels (and one rendered frame per clip) every epoch. Each distinct input is therefore
encoded **once**; its feature is kept in memory and on disk, so later steps, epochs and runs cost
only the motion model.

Layout: ``<cache_dir>/<encoder.cache_id>/<kind>/<k[:2]>/<k>.npy`` where ``kind`` is ``text`` or
``image`` and ``k`` is the SHA-256 of the input (the UTF-8 text, or the image's pixel bytes and
shape). ``encoder.cache_id`` already hashes the encoder's weights, so features of different
models never mix. Each file is one float32 ``[D]`` array, written atomically (several DDP ranks
may fill the cache at once) and read with ``allow_pickle=False``.

vmc marks a cache folder it creates with a ``.vmc-cache`` file. ``clear_feature_cache(cache_dir)``
(``python -m vmc cache clear``) deletes only inside a marked folder and only files of the layout
above, so a folder that vmc did not make (a dataset stored as ``.npy``, say) is never touched.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vmc.io.atomic import atomic_path
from vmc.io.images import read_image

__all__ = [
    "CACHE_MARKER",
    "ClearedCache",
    "FeatureCache",
    "UnmarkedCacheError",
    "clear_feature_cache",
    "image_key",
    "load_image_rgb",
    "text_key",
]

log = logging.getLogger(__name__)

_SUFFIX = ".npy"
#: Written by vmc into every cache folder it creates; ``cache clear`` refuses folders without it.
CACHE_MARKER = ".vmc-cache"
#: ``<cache_id>/<kind>/<k[:2]>/<k>.npy`` relative to the cache folder: the only files vmc writes.
_FEATURE_FILE = re.compile(r"^[^/]+/(text|image)/([0-9a-f]{2})/\2[0-9a-f]{62}\.npy$")


class UnmarkedCacheError(ValueError):
    """A folder given as a cache that vmc did not create (no :data:`CACHE_MARKER`)."""


def _mark(cache_dir: Path) -> None:
    marker = cache_dir / CACHE_MARKER
    if not marker.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(marker) as tmp:
            tmp.write_text(json.dumps({"format": "vmc-feature-cache", "version": 1}) + "\n")


def text_key(text: str) -> str:
    """SHA-256 hex digest of a text (the cache key of its feature)."""
    if not isinstance(text, str):
        raise TypeError(f"text_key expects a str, got {type(text).__name__}")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def image_key(image: np.ndarray) -> str:
    """SHA-256 hex digest of an ``uint8 [H, W, 3]`` image's shape and pixels."""
    array = np.ascontiguousarray(image)
    digest = hashlib.sha256(str((array.shape, str(array.dtype))).encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def load_image_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as ``uint8 [H, W, 3]`` RGB (FileNotFoundError names the file)."""
    return read_image(path)


class FeatureCache:
    """Features of one frozen encoder, memoised in memory and on disk.

    Args:
        encoder: a :class:`vmc.text.TextEncoder` (anything with ``cache_id``, ``dim``,
            ``encode(list[str])`` and, for images, ``encode_image(list[uint8 HxWx3])``).
        cache_dir: root directory of the on-disk cache; ``None`` keeps features in memory only.

    Attributes:
        encoder_calls: how many times the encoder itself ran (text and image), for tests/logs.
        disk_hits: features read from disk instead of being computed.
    """

    def __init__(self, encoder: Any, cache_dir: str | os.PathLike[str] | None = None) -> None:
        self.encoder = encoder
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._memory: dict[tuple[str, str], torch.Tensor] = {}
        self._file_keys: dict[tuple[str, int, int], str] = {}
        self.encoder_calls = 0
        self.disk_hits = 0

    # ------------------------------------------------------------------ public API
    @property
    def root(self) -> Path | None:
        """``<cache_dir>/<encoder.cache_id>`` (None for a memory-only cache)."""
        if self.cache_dir is None:
            return None
        return self.cache_dir / str(self.encoder.cache_id)

    def text_features(
        self, texts: Sequence[str], device: torch.device | str = "cpu"
    ) -> torch.Tensor:
        """Features of ``texts``: float32 ``[N, D]`` on ``device`` (row i = texts[i]).

        Only texts never seen before (in memory or on disk) reach the encoder, in one call.
        """
        if isinstance(texts, str):
            raise TypeError("text_features expects a list of strings, got a single str")
        texts = list(texts)
        keys = [text_key(t) for t in texts]
        self._fill("text", keys, dict(zip(keys, texts, strict=True)), self._encode_texts)
        return self._stack("text", keys, device)

    def image_features(
        self,
        images: Sequence[str | os.PathLike[str] | np.ndarray],
        device: torch.device | str = "cpu",
    ) -> torch.Tensor:
        """Features of images (file paths or ``uint8 [H, W, 3]`` arrays): float32 ``[N, D]``.

        Paths are keyed by their pixels, so a re-rendered frame with new content is re-encoded.
        """
        if not getattr(self.encoder, "has_image_encoder", False):
            name = getattr(self.encoder, "name", type(self.encoder).__name__)
            raise ValueError(f"{name} has no image encoder: switch the image loss off")
        keys: list[str] = []
        pixels: dict[str, np.ndarray] = {}
        for image in images:
            if isinstance(image, np.ndarray):
                key = image_key(image)
                pixels[key] = image
            else:
                # Remember which content a file had, so a step does not re-read every PNG.
                stat = os.stat(image) if Path(image).is_file() else None
                memo = (str(image), stat.st_mtime_ns, stat.st_size) if stat else None
                key = self._file_keys.get(memo) if memo else None
                if key is None:
                    array = load_image_rgb(image)
                    key = image_key(array)
                    pixels[key] = array
                    if memo:
                        self._file_keys[memo] = key
            keys.append(key)
        self._fill("image", keys, pixels, self._encode_images)
        return self._stack("image", keys, device)

    def warm(self, texts: Sequence[str] = (), images: Sequence[Any] = ()) -> None:
        """Compute (or load) the features of every text and image up front."""
        if texts:
            self.text_features(sorted(set(texts)))
        if images:
            self.image_features(list(dict.fromkeys(str(i) for i in images)))

    def __len__(self) -> int:
        return len(self._memory)

    # ------------------------------------------------------------------ internals
    def _encode_texts(self, texts: list[str]) -> torch.Tensor:
        self.encoder_calls += 1
        return self.encoder.encode(texts)

    def _encode_images(self, images: list[np.ndarray]) -> torch.Tensor:
        self.encoder_calls += 1
        return self.encoder.encode_image(images)

    def _path(self, kind: str, key: str) -> Path | None:
        root = self.root
        return None if root is None else root / kind / key[:2] / f"{key}{_SUFFIX}"

    def _fill(
        self,
        kind: str,
        keys: list[str],
        inputs: dict[str, Any],
        encode: Callable[[list[Any]], torch.Tensor],
    ) -> None:
        missing = [k for k in dict.fromkeys(keys) if (kind, k) not in self._memory]
        to_encode = []
        for key in missing:
            feature = self._read(kind, key)
            if feature is None:
                to_encode.append(key)
            else:
                self._memory[(kind, key)] = feature
                self.disk_hits += 1
        if not to_encode:
            return
        features = encode([inputs[k] for k in to_encode]).detach().float().cpu()
        if features.ndim != 2 or features.shape[0] != len(to_encode):
            raise ValueError(
                f"encoder returned {tuple(features.shape)} for {len(to_encode)} {kind} inputs; "
                "expected [N, D]"
            )
        for key, feature in zip(to_encode, features, strict=True):
            self._memory[(kind, key)] = feature.clone()
            self._write(kind, key, feature)

    def _stack(self, kind: str, keys: list[str], device: torch.device | str) -> torch.Tensor:
        if not keys:
            dim = int(getattr(self.encoder, "dim", 0))
            return torch.zeros(0, dim, device=device)
        return torch.stack([self._memory[(kind, k)] for k in keys]).to(device)

    def _read(self, kind: str, key: str) -> torch.Tensor | None:
        path = self._path(kind, key)
        if path is None or not path.is_file():
            return None
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:  # a corrupt file is recomputed, not fatal
            log.warning("ignoring unreadable cached feature %s (%s)", path, err)
            return None
        if array.ndim != 1 or array.dtype != np.float32:
            log.warning("ignoring cached feature %s with shape %s", path, array.shape)
            return None
        return torch.from_numpy(array.copy())

    def _write(self, kind: str, key: str, feature: torch.Tensor) -> None:
        path = self._path(kind, key)
        if path is None or self.cache_dir is None:
            return
        _mark(self.cache_dir)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.save(handle, feature.numpy().astype(np.float32), allow_pickle=False)


@dataclass
class ClearedCache:
    """What :func:`clear_feature_cache` removed: the files and their total size in bytes."""

    files: list[Path] = field(default_factory=list)
    bytes_freed: int = 0

    def __len__(self) -> int:
        return len(self.files)


def clear_feature_cache(cache_dir: str | os.PathLike[str]) -> ClearedCache:
    """Delete the cached features under ``cache_dir`` that vmc wrote.

    Only inside a folder carrying vmc's :data:`CACHE_MARKER`, and only files of the cache
    layout (``<cache_id>/<text|image>/<k[:2]>/<k>.npy``, ``k`` a SHA-256); everything else is
    kept. The directories those files emptied are removed too; the marked root stays. A
    ``cache_dir`` that does not exist removes nothing.

    Raises:
        NotADirectoryError: ``cache_dir`` is a file.
        UnmarkedCacheError: ``cache_dir`` has no marker: vmc did not create it.
    """
    root = Path(cache_dir)
    cleared = ClearedCache()
    if not root.exists():
        return cleared
    if not root.is_dir():
        raise NotADirectoryError(f"feature cache {root} is not a directory")
    if not (root / CACHE_MARKER).is_file():
        raise UnmarkedCacheError(
            f"{root} is not a vmc feature cache (no {CACHE_MARKER} marker): vmc did not create "
            "it, so cache clear deletes nothing there; give the folder of model.feature_cache_dir"
        )
    emptied: set[Path] = set()
    for path in sorted(root.rglob(f"*{_SUFFIX}")):
        rel = path.relative_to(root).as_posix()
        if not _FEATURE_FILE.match(rel) or path.is_symlink() or not path.is_file():
            continue
        cleared.bytes_freed += path.stat().st_size
        path.unlink()
        cleared.files.append(path)
        emptied.update(p for p in path.parents if p != root and root in p.parents)
    # Remove the directories this emptied, deepest first; keep the root and anything else.
    for sub in sorted(emptied, key=lambda p: -len(p.parts)):
        if sub.is_dir() and not any(sub.iterdir()):
            shutil.rmtree(sub)
    return cleared
