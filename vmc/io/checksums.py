"""SHA-256 of files, memoised per (path, size, mtime): hashing 350 MB takes about a second."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["file_sha256"]

_memo: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file; recomputed only when its size or modification time changes."""
    stat = Path(path).stat()
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _memo:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _memo[key] = digest.hexdigest()
    return _memo[key]
