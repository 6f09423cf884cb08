"""Atomic file writes: write to a temporary file beside the target, then rename.

A crash, an exception or Ctrl-C (``KeyboardInterrupt``) while writing leaves neither a
half-written target nor the temporary file behind: the target either keeps its previous content
(or stays absent) or gets the complete new content. ``os.replace`` is atomic on POSIX when the
temporary file and the target are on the same file system, which is why the temporary file is
created in the target's own directory.

One level up, :func:`all_or_nothing` makes a *set* of files atomic in the weaker sense a command
needs: each file is written atomically, and if the command fails (or is interrupted) before it
is done, the files it had already written are removed, so a run leaves all its outputs or none.

For a whole folder (a processed video, a subject), :func:`atomic_folder` writes into a temporary
sibling folder that is renamed onto the target at the end: readers never see a half folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["OutputSet", "all_or_nothing", "atomic_folder", "atomic_path", "atomic_write_bytes"]


def _current_umask() -> int:
    # os.umask can only be read by setting it; restore it immediately.
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write to; move it onto ``path`` when the block succeeds.

    The temporary file lives in the same directory as ``path`` and ends with the same suffix
    (``.mp4``, ``.png`` ...), so encoders that choose the format from the file name pick the
    right one. It starts out as an existing, empty file; writers may overwrite or truncate it.
    Missing parent directories are created.

    On success the temporary file is renamed onto ``path`` (replacing an existing file) with the
    permissions an ordinary ``open(path, "w")`` would give. On any exception, including
    ``KeyboardInterrupt`` and ``SystemExit``, the temporary file is removed and the exception
    propagates; an existing file at ``path`` is left untouched.

    Raises:
        IsADirectoryError: ``path`` is an existing directory.
    """
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(f"cannot write to {str(target)!r}: it is a directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates the file as 0600; give the result the usual permissions.
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`); return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


@dataclass
class OutputSet:
    """Files written by one run; removed together if the run fails or is interrupted."""

    written: list[Path] = field(default_factory=list)

    def add(self, path: str | os.PathLike[str]) -> Path:
        """Record ``path`` as one of the run's outputs; returns it as a :class:`~pathlib.Path`."""
        self.written.append(Path(path))
        return Path(path)


@contextlib.contextmanager
def all_or_nothing() -> Iterator[OutputSet]:
    """Yield an :class:`OutputSet`; on any exception (Ctrl-C included) delete its files.

    The exception propagates; files recorded in the set that were never created are ignored.
    """
    outputs = OutputSet()
    try:
        yield outputs
    except BaseException:
        for path in outputs.written:
            path.unlink(missing_ok=True)
        raise


def check_writable(path: str | os.PathLike[str], what: str = "output") -> None:
    """Fail early, with one clear line, when ``path`` cannot be written.

    Walks up to the first existing ancestor: a file there means the folder cannot be made; else
    a probe file is created and removed in it (permission bits alone say nothing for root, and
    a read-only mount refuses root too).

    Raises:
        NotADirectoryError: an ancestor of ``path`` is a file.
        PermissionError: the folder refuses new files (read-only, permissions).
    """
    target = Path(path).expanduser().absolute()
    folder = target.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise NotADirectoryError(f"cannot write {what} {target}: {folder} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".vmc-write-check-", dir=folder)
    except OSError as err:
        raise PermissionError(
            f"cannot write {what} {target}: {folder} does not accept new files "
            f"({err.strerror or err}); choose another folder"
        ) from None
    os.close(fd)
    os.unlink(probe)


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder to fill; it becomes ``path`` when the block succeeds.

    The temporary folder is a hidden sibling of ``path`` (``.<name>.<random>.tmp``: same file
    system, so the final rename is atomic). On success it is renamed onto ``path``; an existing
    ``path`` (only with ``overwrite``) is first moved aside and deleted after the rename, and is
    put back if the rename fails. On any exception, ``KeyboardInterrupt`` included, the temporary
    folder is deleted and ``path`` is left as it was.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False (checked before the block
            runs, so no work is wasted).
        NotADirectoryError: ``path`` exists and is not a folder.
    """
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"{str(target)!r} exists and is not a folder")
    if target.exists() and not overwrite:
        raise FileExistsError(f"{str(target)!r} exists; pass overwrite=True to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        # mkdtemp creates the folder as 0700; give the result the usual permissions.
        os.chmod(tmp, 0o777 & ~_current_umask())
        if target.exists():
            if not overwrite:  # appeared while the block ran
                raise FileExistsError(f"{str(target)!r} exists; pass overwrite=True to replace it")
            old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(target, old)
            try:
                os.replace(tmp, target)
            except BaseException:
                os.replace(old, target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


#: Hidden staging folders of :func:`result_set`: ``.vmc-staging-<pid>-<random>``.
STAGING_PREFIX = ".vmc-staging-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_staging(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the staging folders that killed runs left in ``folder`` (their process is gone)."""
    removed = []
    base = Path(folder)
    if not base.is_dir():
        return removed
    for entry in base.glob(STAGING_PREFIX + "*"):
        pid_text = entry.name[len(STAGING_PREFIX) :].split("-", 1)[0]
        if entry.is_dir() and pid_text.isdigit() and not _pid_alive(int(pid_text)):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


@dataclass
class ResultSet:
    """Files of one result, written into a hidden staging folder and moved into place together.

    Attributes:
        folder: where the results go (every output of the set lives there).
        staging: the hidden folder the writers write into.
        order: the final paths, in the order they are moved (companions first, main last).
    """

    folder: Path
    staging: Path
    order: list[Path] = field(default_factory=list)

    def path(self, final: str | os.PathLike[str]) -> Path:
        """Where to write the output whose final path is ``final`` (registered in order)."""
        final = Path(final)
        if final.absolute().parent != self.folder.absolute():
            raise ValueError(f"{final} is not in the result folder {self.folder}")
        self.order.append(final)
        return self.staging / final.name

    def commit(self) -> list[Path]:
        """Move every staged file onto its final path (renames: microseconds apart)."""
        moved = []
        for final in self.order:
            staged = self.staging / final.name
            if staged.exists():
                os.replace(staged, final)
                moved.append(final)
        return moved


@contextlib.contextmanager
def result_set(folder: str | os.PathLike[str]) -> Iterator[ResultSet]:
    """Stage a result's files and move them into ``folder`` only when the block succeeds.

    During the work nothing visible appears in ``folder``: a process killed at any moment
    (even by SIGKILL) leaves only a hidden ``.vmc-staging-<pid>-*`` folder, which the next
    :func:`result_set` in that folder removes. On success the files are renamed into place in
    registration order (companions first, the main output last); on an error or Ctrl-C the
    staging folder is removed and nothing is kept.
    """
    base = Path(folder)
    base.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(base)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=base))
    results = ResultSet(base, staging)
    try:
        yield results
        results.commit()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
