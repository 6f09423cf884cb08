"""MotionCLIP's preprocessed AMASS database (``amass_30fps_{train,vald,test}.pt``), read safely.

What the files are (``docs/data.md``): despite the ``.pt`` suffix, MotionCLIP's parser writes them
with ``joblib.dump`` (a pickle stream with numpy arrays stored raw after their placeholders), not
``torch.save``; ``torch.load`` cannot read them at all. Each is a dict of lists, one element per
kept AMASS sequence:

* ``vid_names``: ``str [T]`` (the name repeated per frame); ``thetas``: ``[T,72]`` SMPL
  axis-angle at 30 fps in AMASS's **Z-up** world (SMPL+H joints 0–21, 22, 37);
* ``joints3d``: ``[T,18,3]`` joints of a trans-free neutral SMPL-H body (element 0 = right
  ankle), or ``None``; ``clip_images``: ``uint8 [n,H,W,3]`` renders or ``None``;
  ``clip_pathes``; ``text_raw_labels`` / ``text_proc_labels`` / ``action_cat``: per-frame
  object arrays of ``str``.

The training CLI is given ``…/amass_30fps_db.pt`` and the loader reads ``…_{split}.pt``
(``_db.pt`` rewritten); :func:`resolve_db_path` does the same.

Safety: nothing is unpickled without an allow-list. A joblib stream is read by
:class:`JoblibArrayUnpickler`, which resolves only numpy array/dtype reconstruction and joblib's
array placeholder (turned into a plain array read from the stream), and reads nested object
arrays (the labels) with the same allow-list. A file that ``torch.save`` wrote (zip format, e.g.
a re-saved database) is read with ``torch.load(weights_only=True)`` plus numpy arrays as the only
extra safe globals. Anything else in the file raises :class:`UnsafeDatabaseError`.

Records: one per sequence (or per 100-frame chunk, the loader's unit;
``docs/conventions.md#motionclip-training-items``), Z-up, ``frame_labels`` = ``text_raw_labels``,
``texts = [window_text(labels)]``. ``trans`` is zero (the file has no root trajectory) unless
``translation="ankle"``: then it is the reference's pseudo-translation, ``joints3d[:,0] -
joints3d[0,0]`` (the model's row 24 is this minus its value at the window's first frame). Rendered
images are not read (the project renders its own frames).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import pickle
import zipfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
import torch

from vmc.body.smpl_files import numpy_reconstruct_globals
from vmc.data.motion_sources.babel import chunk_records
from vmc.data.motion_sources.record import MotionRecord, window_text
from vmc.data.motion_sources.report import LoadReport, publish
from vmc.motion.types import Motion

__all__ = [
    "MOTIONCLIP_DB_HELP",
    "JoblibArrayUnpickler",
    "UnsafeDatabaseError",
    "load_motionclip_db",
    "read_motionclip_db",
    "resolve_db_path",
]

MOTIONCLIP_DB_HELP = (
    "the MotionCLIP preprocessed AMASS database (amass_30fps_train.pt / _vald.pt / _test.pt) "
    "is derived from licensed AMASS + BABEL data and never shipped with vmc: get it from the "
    "Google Drive link in the MotionCLIP README (GuyTevet/MotionCLIP, 'Data') or build it with "
    "MotionCLIP's src/datasets/amass_parser.py, then point the path at the _db.pt name or a "
    "split file"
)


class UnsafeDatabaseError(pickle.UnpicklingError):
    """The file names a Python global outside the allow-list."""


class _ArrayPlaceholder:
    """Inert stand-in for ``joblib.numpy_pickle.NumpyArrayWrapper`` (its state dict only)."""


_NUMPY = numpy_reconstruct_globals()


def _restricted_find_class(module: str, name: str) -> Any:
    if (module, name) in _NUMPY:
        return _NUMPY[(module, name)]
    if module == "joblib.numpy_pickle" and name == "NumpyArrayWrapper":
        return _ArrayPlaceholder
    raise UnsafeDatabaseError(
        f"refusing to load global '{module}.{name}': a MotionCLIP database may only hold "
        "dicts, lists, strings, numbers and numpy arrays"
    )


class _InnerUnpickler(pickle.Unpickler):
    """Nested pickle of an object-dtype array (the per-frame labels), same allow-list."""

    def find_class(self, module: str, name: str) -> Any:
        return _restricted_find_class(module, name)


def _read_exact(fh: BinaryIO, size: int) -> bytes:
    data = fh.read(size)
    if len(data) != size:
        raise pickle.UnpicklingError(f"truncated array data: expected {size} bytes")
    return data


def _read_into(fh: BinaryIO, out: np.ndarray) -> None:
    """Fill the ``uint8`` view ``out`` from ``fh`` (no intermediate bytes copy)."""
    view = memoryview(out)
    done = 0
    while done < len(view):
        got = fh.readinto(view[done:])
        if not got:
            raise pickle.UnpicklingError(f"truncated array data: expected {len(view)} bytes")
        done += got


class JoblibArrayUnpickler(pickle._Unpickler):  # type: ignore[name-defined,misc]
    """Allow-listed reader of a (non-memory-mapped) ``joblib.dump`` stream.

    joblib writes each numpy array as a ``NumpyArrayWrapper`` object followed, right after its
    BUILD opcode, by the raw array bytes (or, for object arrays, a nested pickle). The pure
    Python unpickler lets us hook BUILD to read them; the allow-list is
    :func:`_restricted_find_class`.
    """

    dispatch = dict(pickle._Unpickler.dispatch)  # type: ignore[attr-defined]

    def __init__(self, fh: BinaryIO) -> None:
        super().__init__(fh)
        self._fh = fh

    def find_class(self, module: str, name: str) -> Any:
        return _restricted_find_class(module, name)

    def _load_build(self) -> None:
        pickle._Unpickler.load_build(self)  # type: ignore[attr-defined]
        if isinstance(self.stack[-1], _ArrayPlaceholder):
            state = self.stack.pop().__dict__
            self.stack.append(self._read_array(state))

    dispatch[pickle.BUILD[0]] = _load_build

    def _read_array(self, state: dict[str, Any]) -> np.ndarray:
        dtype, shape, order = state.get("dtype"), state.get("shape"), state.get("order", "C")
        if not isinstance(dtype, np.dtype) or not isinstance(shape, tuple):
            raise pickle.UnpicklingError("malformed joblib array placeholder")
        if state.get("subclass", np.ndarray) is not np.ndarray:
            raise UnsafeDatabaseError("only plain numpy arrays are allowed")
        if dtype.hasobject:
            arr = _InnerUnpickler(self._fh).load()
            if not isinstance(arr, np.ndarray):
                raise pickle.UnpicklingError("object array placeholder without an array")
            return arr
        if state.get("numpy_array_alignment_bytes") is not None:  # joblib >= 1.2 pads
            pad = _read_exact(self._fh, 1)[0]
            _read_exact(self._fh, pad)
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        arr = np.empty(count, dtype=dtype)
        _read_into(self._fh, arr.view(np.uint8).reshape(-1))
        if order == "F":
            return arr.reshape(shape[::-1]).transpose()
        return arr.reshape(shape)


def _open_stream(path: Path) -> BinaryIO:
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if magic.startswith(b"BZ"):
        return bz2.open(path, "rb")  # type: ignore[return-value]
    if magic.startswith(b"\xfd7zXZ") or magic.startswith(b"\x5d\x00"):
        return lzma.open(path, "rb")  # type: ignore[return-value]
    if magic.startswith(b"\x78"):  # joblib's zlib compressor: one zlib stream
        return io.BytesIO(zlib.decompress(path.read_bytes()))
    return open(path, "rb")


def _torch_load_numpy(path: Path) -> Any:
    allowed: list[Any] = [np.ndarray, np.dtype, *set(_NUMPY.values())]
    dtypes = getattr(np, "dtypes", None)  # numpy >= 1.25: one class per dtype
    if dtypes is not None:
        allowed += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith("DType")]
    with torch.serialization.safe_globals(allowed):
        return torch.load(path, weights_only=True, map_location="cpu")


def resolve_db_path(path: str | os.PathLike[str], split: str = "train") -> Path:
    """MotionCLIP's naming: ``…_db.pt`` means ``…_{split}.pt``; any other name is used as is.

    Raises:
        FileNotFoundError: the resolved file does not exist (message says what it is).
    """
    p = Path(path)
    resolved = p.with_name(p.name.replace("_db.pt", f"_{split}.pt")) if "_db.pt" in p.name else p
    if not resolved.is_file():
        extra = f" (from {p}, split {split!r})" if resolved != p else ""
        raise FileNotFoundError(
            f"MotionCLIP database not found: {resolved}{extra}. {MOTIONCLIP_DB_HELP}"
        )
    return resolved


def read_motionclip_db(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The raw database dict of one split file (joblib or torch zip format), read safely.

    Raises:
        FileNotFoundError: no such file. UnsafeDatabaseError: disallowed content.
        ValueError: unreadable, or not a dict holding ``thetas``.
    """
    src = Path(path)
    if not src.is_file():
        raise FileNotFoundError(f"MotionCLIP database not found: {src}. {MOTIONCLIP_DB_HELP}")
    try:
        if zipfile.is_zipfile(src):
            try:
                db = _torch_load_numpy(src)
            except pickle.UnpicklingError as err:  # weights_only refusals
                reason = next(
                    (ln for ln in str(err).splitlines() if "GLOBAL" in ln), str(err).strip()
                )
                raise UnsafeDatabaseError(
                    f"torch.load(weights_only=True, numpy arrays allowed) refused it: {reason}"
                ) from None
        else:
            with _open_stream(src) as fh:
                db = JoblibArrayUnpickler(fh).load()
    except UnsafeDatabaseError as err:
        raise UnsafeDatabaseError(f"{src}: {err}") from None
    except (
        pickle.UnpicklingError, EOFError, OSError, ValueError, zlib.error,
        KeyError, IndexError, TypeError, AttributeError,
    ) as err:  # fmt: skip
        # the pure-Python unpickler reports garbage as unknown opcodes (KeyError) and the like
        raise ValueError(f"{src}: not a readable MotionCLIP database ({err})") from None
    except RuntimeError as err:  # torch.load's format errors
        raise ValueError(f"{src}: not a readable MotionCLIP database ({err})") from None
    if not isinstance(db, dict) or not isinstance(db.get("thetas"), list | tuple):
        found = sorted(db) if isinstance(db, dict) else type(db).__name__
        raise ValueError(f"{src}: expected a dict with a 'thetas' list, found {found}")
    n = len(db["thetas"])
    for key in ("vid_names", "joints3d", "text_raw_labels", "text_proc_labels"):
        if key in db and db[key] is not None and len(db[key]) != n:
            raise ValueError(f"{src}: '{key}' has {len(db[key])} entries, 'thetas' has {n}")
    return db


def load_motionclip_db(
    path: str | os.PathLike[str],
    split: str = "train",
    fps: float = 30,
    chunk_len: int | None = 100,
    translation: Literal["zeros", "ankle"] = "zeros",
    label_key: str = "text_raw_labels",
    skip_first_sequence: bool = False,
    db_fps: float = 30.0,
) -> list[MotionRecord]:
    """Records from MotionCLIP's database (layout and conventions in the module docstring).

    Args:
        path: ``…/amass_30fps_db.pt`` (rewritten to ``_{split}.pt``) or a split file.
        split: ``"train"``, ``"vald"`` or ``"test"`` (used only to rewrite ``_db.pt``).
        fps: target rate; the database is at ``db_fps`` (30), resampled by slerp otherwise.
        chunk_len: 100-frame chunks as the reference loader; ``None`` keeps whole sequences.
        translation: ``"zeros"`` or ``"ankle"`` (the reference's pseudo-translation; needs
            ``joints3d``).
        label_key: per-frame label list to use (``"text_raw_labels"``, as the paper).
        skip_first_sequence: reproduce the reference loader, which skips sequence 0.

    Raises:
        FileNotFoundError, UnsafeDatabaseError, ValueError: see :func:`read_motionclip_db`.
    """
    if translation not in ("zeros", "ankle"):
        raise ValueError(f"translation must be 'zeros' or 'ankle', got {translation!r}")
    src = resolve_db_path(path, split)
    db = read_motionclip_db(src)
    names = db.get("vid_names")
    joints = db.get("joints3d")
    labels = db.get(label_key)
    records = []
    report = LoadReport(f"motionclip_db ({src.name})", str(src))
    for i, theta in enumerate(db["thetas"]):
        report.found += 1
        if skip_first_sequence and i == 0:
            report.drop("skip_first_sequence (as the reference loader)", f"{i:05d}")
            continue
        poses = np.asarray(theta, dtype=np.float32)
        if poses.ndim != 2 or poses.shape[1] != 72:
            raise ValueError(f"{src}: thetas[{i}] must be [T,72], got {poses.shape}")
        num = poses.shape[0]
        name = f"{src.stem}/{i:05d}"
        vid = None if names is None or names[i] is None else np.asarray(names[i]).reshape(-1)
        if vid is not None and vid.size:
            name = str(vid[0])
        trans = np.zeros((num, 3), np.float32)
        if translation == "ankle":
            if joints is None or joints[i] is None:
                raise ValueError(f"{src}: translation='ankle' needs joints3d, absent for {name}")
            ankle = np.asarray(joints[i], dtype=np.float32)[:, 0]
            trans = ankle - ankle[:1]
        frame_labels = None
        if labels is not None and labels[i] is not None:
            frame_labels = np.asarray(labels[i]).reshape(-1)
            frame_labels = np.array(["" if x is None else str(x) for x in frame_labels])
        try:
            motion = Motion(
                poses=poses,
                trans=trans,
                fps=db_fps,
                frame="z_up",
                texts=[] if frame_labels is None else [window_text(frame_labels)],
                source="motionclip_db",
                name=name,
            )
            rec = MotionRecord(motion, frame_labels=frame_labels)
        except ValueError as err:
            raise ValueError(f"{src}: sequence {i}: {err}") from None
        rec = rec.resampled(fps)
        if chunk_len is not None and rec.motion.num_frames < chunk_len:
            report.drop(f"shorter than a chunk ({chunk_len} frames)", name)
            continue
        if rec.frame_labels is not None:
            rec.motion.texts = [window_text(rec.frame_labels)]
        records.append(rec)
    out = records if chunk_len is None else chunk_records(records, chunk_len)
    report.used, report.records = len(records), len(out)
    publish(report)
    return out
