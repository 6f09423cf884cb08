"""Reading and writing SMPL-format body model files (.pkl and .npz) safely.

SMPL-format arrays (the keys of the official SMPL pickles, and of our .npz files):

==================  ===================  ==============================================
key                 shape                meaning
==================  ===================  ==============================================
``v_template``      ``[V, 3]`` float     rest-pose template (metres, Y up, facing +z)
``shapedirs``       ``[V, 3, nb]``       shape blend shapes (one per beta)
``posedirs``        ``[V, 3, 207]``      pose correctives, over ``(R_j - I)`` of joints 1..23
``J_regressor``     ``[24, V]``          joints = J_regressor @ vertices (dense here)
``weights``         ``[V, 24]``          linear-blend-skinning weights
``kintree_table``   ``[2, 24]`` int      row 0 = parents (``[0, 0]`` is the root)
``f``               ``[F, 3]`` int       triangles, counter-clockwise seen from outside
``vt`` (optional)   ``[Nvt, 2]`` float   UV coordinates in [0, 1], v up
``ft`` (optional)   ``[F, 3]`` int       UV index of each face corner
``face_part`` (o.)  ``[F]`` int          body part of each face
``part_names`` (o.) ``[P]`` str          names of the parts
==================  ===================  ==============================================

The official SMPL ``.pkl`` files are Python 2 pickles holding chumpy ``Ch`` arrays and scipy
sparse matrices. chumpy does not import on Python 3.11, and a plain ``pickle.load`` would run
whatever the file names. :class:`SMPLUnpickler` therefore resolves only an allow-list of globals
(numpy array reconstruction, scipy csc/csr matrices, chumpy classes) to inert stand-ins and
refuses every other global.
"""

from __future__ import annotations

import _compat_pickle
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

try:
    from numpy._core.multiarray import _reconstruct, scalar
except ImportError:  # numpy < 2
    from numpy.core.multiarray import _reconstruct, scalar  # type: ignore[no-redef]

from vmc.body.joints import NUM_SMPL_JOINTS

__all__ = [
    "REQUIRED_KEYS",
    "OPTIONAL_KEYS",
    "SMPLUnpickler",
    "UnsafePickleError",
    "load_smpl_pkl",
    "load_smpl_npz",
    "load_body_arrays",
    "validate_body_arrays",
    "save_body_npz",
    "convert_smpl_pkl_to_npz",
    "missing_smpl_message",
]

REQUIRED_KEYS = (
    "v_template",
    "shapedirs",
    "posedirs",
    "J_regressor",
    "weights",
    "kintree_table",
    "f",
)
OPTIONAL_KEYS = ("vt", "ft", "face_part", "part_names")
NUM_POSE_BASIS = 9 * (NUM_SMPL_JOINTS - 1)  # 207


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle names a global outside the SMPL allow-list."""


# --------------------------------------------------------------------------------------------
# Inert stand-ins for the classes an SMPL pickle names.


class _ChumpyStub:
    """Stand-in for any chumpy class: only records the pickled state (a dict).

    A plain ``chumpy.ch.Ch`` keeps its value in ``state['x']``; derived chumpy expressions
    (e.g. ``MatVecMult``) have no ``x`` and cannot be evaluated without chumpy.
    """

    # Unpickling creates instances with __new__ (no __init__); BUILD then calls __setstate__.
    state: dict[str, Any] = {}  # read-only default when a pickle has no state

    @property
    def chumpy_class(self) -> str:
        return type(self).__name__

    def __setstate__(self, state: Any) -> None:
        self.state = state if isinstance(state, dict) else {"state": state}

    def to_numpy(self) -> np.ndarray | None:
        x = self.state.get("x")
        if isinstance(x, _ChumpyStub):
            return x.to_numpy()
        if isinstance(x, np.ndarray | int | float | list | tuple):
            return np.asarray(x)
        return None


_CHUMPY_STUBS: dict[str, type] = {}


def _chumpy_stub(name: str) -> type:
    """One inert stub class per chumpy class name (so error messages can name it)."""
    if name not in _CHUMPY_STUBS:
        _CHUMPY_STUBS[name] = type(name, (_ChumpyStub,), {"__module__": __name__})
    return _CHUMPY_STUBS[name]


class _SparseStub:
    """Stand-in for scipy ``csc_matrix`` / ``csr_matrix``; rebuilt with scipy after loading."""

    fmt = "csc"
    state: dict[str, Any] = {}  # read-only default, replaced by __setstate__

    def __setstate__(self, state: Any) -> None:
        self.state = state if isinstance(state, dict) else {}

    def to_scipy(self) -> Any:
        st = self.state
        shape = st.get("_shape", st.get("shape"))
        try:
            parts = (np.asarray(st["data"]), np.asarray(st["indices"]), np.asarray(st["indptr"]))
        except KeyError as e:
            raise pickle.UnpicklingError(f"sparse matrix state lacks {e.args[0]!r}") from None
        cls = sp.csc_matrix if self.fmt == "csc" else sp.csr_matrix
        return cls(parts, shape=tuple(int(s) for s in shape))


class _CscStub(_SparseStub):
    fmt = "csc"


class _CsrStub(_SparseStub):
    fmt = "csr"


def _safe_reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """``copyreg._reconstructor`` limited to our stand-ins (protocol 0/1 pickles use it)."""
    if base is not object or not isinstance(cls, type):
        raise UnsafePickleError("copyreg._reconstructor is only allowed for plain objects")
    if not issubclass(cls, _ChumpyStub | _SparseStub):
        raise UnsafePickleError(f"copyreg._reconstructor refused for {cls!r}")
    return cls.__new__(cls)


def _safe_codecs_encode(obj: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """``_codecs.encode`` as Python 3 protocol-2 pickles use it for bytes (str -> bytes only)."""
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise UnsafePickleError("_codecs.encode is only allowed to encode str to bytes")
    return obj.encode(encoding, errors)


def numpy_reconstruct_globals() -> dict[tuple[str, str], Any]:
    """The numpy callables a pickled array needs (``(module, name) -> object``), by name."""
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(mod, "_reconstruct")] = _reconstruct
        allowed[(mod, "scalar")] = scalar
    return allowed


_SPARSE_MODULES = (
    "scipy.sparse",
    "scipy.sparse.csc",
    "scipy.sparse._csc",
    "scipy.sparse.csr",
    "scipy.sparse._csr",
    "scipy.sparse.compressed",
    "scipy.sparse._compressed",
)


class SMPLUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals an SMPL model pickle needs.

    Allowed: numpy array/dtype/scalar reconstruction; ``scipy.sparse`` ``csc_matrix`` /
    ``csr_matrix`` (as stand-ins); any ``chumpy`` class (as an inert stand-in holding its
    state); ``builtins`` ``set``/``frozenset``/``object``; ``copyreg._reconstructor`` and
    ``_codecs.encode`` restricted to the above. Anything else raises :class:`UnsafePickleError`.
    Open py2 pickles with ``encoding="latin1"`` (the default here).
    """

    _BUILTINS = {"set": set, "frozenset": frozenset, "object": object}

    def __init__(self, file: Any, *, encoding: str = "latin1") -> None:
        super().__init__(file, encoding=encoding, fix_imports=True)
        self._numpy = numpy_reconstruct_globals()

    def find_class(self, module: str, name: str) -> Any:
        # Python 2 names (__builtin__, copy_reg): the base class maps them only in its own
        # find_class, which this override replaces.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if (module, name) in self._numpy:
            return self._numpy[(module, name)]
        if module == "builtins" and name in self._BUILTINS:
            return self._BUILTINS[name]
        if module == "copyreg" and name == "_reconstructor":
            return _safe_reconstructor
        if module == "_codecs" and name == "encode":
            return _safe_codecs_encode
        if (module == "chumpy" or module.startswith("chumpy.")) and name.isidentifier():
            return _chumpy_stub(name)
        if module in _SPARSE_MODULES and name in ("csc_matrix", "csr_matrix"):
            return _CscStub if name == "csc_matrix" else _CsrStub
        raise UnsafePickleError(
            f"refusing to load global '{module}.{name}': SMPL model pickles may only contain "
            "numpy arrays, scipy csc/csr matrices and chumpy arrays"
        )


def _materialise(obj: Any) -> Any:
    """Replace stand-ins by numpy arrays / scipy matrices, recursively through containers."""
    if isinstance(obj, _ChumpyStub):
        arr = obj.to_numpy()
        return arr if arr is not None else obj
    if isinstance(obj, _SparseStub):
        return obj.to_scipy()
    if isinstance(obj, dict):
        return {k: _materialise(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_materialise(v) for v in obj)
    return obj


# --------------------------------------------------------------------------------------------
# Loading, validation, saving


def missing_smpl_message(path: str | os.PathLike[str]) -> str:
    """The FileNotFoundError text for a missing body model file."""
    return (
        f"body model file not found: {path}. The SMPL model is licensed and not shipped: register "
        "at https://smpl.is.tue.mpg.de, download the neutral model and put it at "
        "assets/smpl/SMPL_NEUTRAL.pkl (or $VMC_ASSETS/smpl/SMPL_NEUTRAL.pkl; an .npz made with "
        "`python -m vmc body convert-smpl` works too). Without it, vmc uses its embedded body."
    )


def _check_exists(path: Path) -> None:
    if not path.is_file():
        raise FileNotFoundError(missing_smpl_message(path))


def _to_dense(x: Any) -> Any:
    return x.toarray() if hasattr(x, "toarray") else x


def _select(raw: dict[str, Any], source: str) -> dict[str, np.ndarray]:
    """Pick the SMPL-format keys from a loaded mapping, as plain numpy arrays."""
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise ValueError(
            f"{source}: missing key(s) {missing}; an SMPL-format body needs {list(REQUIRED_KEYS)}"
        )
    out: dict[str, np.ndarray] = {}
    for key in REQUIRED_KEYS + OPTIONAL_KEYS:
        if key not in raw:
            continue
        val = _to_dense(raw[key])
        if isinstance(val, _ChumpyStub):
            raise ValueError(
                f"{source}: key {key!r} is a chumpy expression ({val.chumpy_class}) without a "
                "stored value; convert the file with chumpy installed (Python 2 / 3.8 era)"
            )
        out[key] = np.asarray(val)
    return out


def load_smpl_pkl(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Load an SMPL-format ``.pkl`` (official chumpy pickle or plain numpy) with
    :class:`SMPLUnpickler`, validate it and return the SMPL-format arrays (numpy, J dense)."""
    path = Path(path)
    _check_exists(path)
    with open(path, "rb") as fh:
        try:
            raw = SMPLUnpickler(fh).load()
        except UnsafePickleError as e:
            raise UnsafePickleError(f"{path}: {e}") from None
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as e:
            raise ValueError(f"{path}: not a readable SMPL pickle ({type(e).__name__}: {e})") from e
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a pickled dict of arrays, got {type(raw).__name__}")
    arrays = _select(_materialise(raw), str(path))
    return validate_body_arrays(arrays, source=str(path))


def load_smpl_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Load an SMPL-format ``.npz`` (no pickle allowed), validate it, return its arrays."""
    path = Path(path)
    _check_exists(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            raw = {k: z[k] for k in z.files}
    except ValueError as e:
        raise ValueError(f"{path}: cannot read as a plain .npz ({e})") from e
    return validate_body_arrays(_select(raw, str(path)), source=str(path))


def load_body_arrays(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Load SMPL-format arrays from a ``.pkl`` or ``.npz`` file (chosen by suffix)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".pkl":
        return load_smpl_pkl(path)
    if suffix == ".npz":
        return load_smpl_npz(path)
    raise ValueError(f"{path}: unsupported body model file type {suffix!r}; use .pkl or .npz")


def validate_body_arrays(arrays: dict[str, Any], source: str = "<arrays>") -> dict[str, np.ndarray]:
    """Check shapes, dtypes and index ranges of SMPL-format arrays and normalise their types.

    Returns a new dict: floats as float32 (v_template, shapedirs, posedirs, J_regressor,
    weights, vt), integers as int64 (kintree_table, f, ft, face_part; ``kintree_table[0, 0]``
    set to -1), ``part_names`` as a unicode array. Raises ValueError naming the key and source.
    """

    def fail(key: str, msg: str) -> ValueError:
        return ValueError(f"{source}: key {key!r} {msg}")

    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        raise ValueError(f"{source}: missing key(s) {missing}")
    out: dict[str, np.ndarray] = {}

    def as_float(key: str) -> np.ndarray:
        a = np.asarray(_to_dense(arrays[key]))
        if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
            raise fail(key, f"must be numeric, got dtype {a.dtype}")
        a = a.astype(np.float32)
        if not np.isfinite(a).all():
            raise fail(key, "contains NaN or inf")
        return a

    def as_int(key: str) -> np.ndarray:
        a = np.asarray(arrays[key])
        if np.issubdtype(a.dtype, np.floating):
            if not np.all(a == np.round(a)):
                raise fail(key, "must hold integers")
        elif not np.issubdtype(a.dtype, np.integer):
            raise fail(key, f"must be an integer array, got dtype {a.dtype}")
        return a.astype(np.int64)

    v = as_float("v_template")
    if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] < 3:
        raise fail("v_template", f"must have shape [V, 3], got {list(v.shape)}")
    nv = v.shape[0]
    out["v_template"] = v

    sd = as_float("shapedirs")
    if sd.ndim != 3 or sd.shape[:2] != (nv, 3):
        raise fail("shapedirs", f"must have shape [V={nv}, 3, nb], got {list(sd.shape)}")
    out["shapedirs"] = sd

    pd = as_float("posedirs")
    if pd.shape != (nv, 3, NUM_POSE_BASIS):
        raise fail("posedirs", f"must have shape [{nv}, 3, {NUM_POSE_BASIS}], got {list(pd.shape)}")
    out["posedirs"] = pd

    jr = as_float("J_regressor")
    if jr.shape != (NUM_SMPL_JOINTS, nv):
        raise fail(
            "J_regressor", f"must have shape [{NUM_SMPL_JOINTS}, {nv}], got {list(jr.shape)}"
        )
    out["J_regressor"] = jr

    w = as_float("weights")
    if w.shape != (nv, NUM_SMPL_JOINTS):
        raise fail("weights", f"must have shape [{nv}, {NUM_SMPL_JOINTS}], got {list(w.shape)}")
    out["weights"] = w

    kt = np.asarray(arrays["kintree_table"])
    if kt.shape != (2, NUM_SMPL_JOINTS):
        raise fail("kintree_table", f"must have shape [2, {NUM_SMPL_JOINTS}], got {list(kt.shape)}")
    # The root's parent is stored as 0, -1 or 2^32-1 depending on the writer.
    kt = kt.astype(np.int64)
    kt[0, 0] = -1
    parents = kt[0]
    bad = [i for i in range(1, NUM_SMPL_JOINTS) if not 0 <= parents[i] < i]
    if bad:
        raise fail(
            "kintree_table",
            f"row 0 must give each joint i>0 a parent in [0, i); joints {bad} break this "
            f"(parents {parents.tolist()})",
        )
    out["kintree_table"] = kt

    f = as_int("f")
    if f.ndim != 2 or f.shape[1] != 3 or f.shape[0] < 1:
        raise fail("f", f"must have shape [F, 3], got {list(f.shape)}")
    if f.min() < 0 or f.max() >= nv:
        raise fail("f", f"indices must lie in [0, {nv}), got [{f.min()}, {f.max()}]")
    out["f"] = f
    nf = f.shape[0]

    if "vt" in arrays or "ft" in arrays:
        if not ("vt" in arrays and "ft" in arrays):
            raise ValueError(f"{source}: 'vt' and 'ft' must be given together")
        vt = as_float("vt")
        if vt.ndim != 2 or vt.shape[1] != 2:
            raise fail("vt", f"must have shape [Nvt, 2], got {list(vt.shape)}")
        ft = as_int("ft")
        if ft.shape != (nf, 3):
            raise fail("ft", f"must have shape [F={nf}, 3], got {list(ft.shape)}")
        if ft.min() < 0 or ft.max() >= vt.shape[0]:
            raise fail(
                "ft", f"indices must lie in [0, {vt.shape[0]}), got [{ft.min()}, {ft.max()}]"
            )
        out["vt"], out["ft"] = vt, ft

    if "face_part" in arrays or "part_names" in arrays:
        if not ("face_part" in arrays and "part_names" in arrays):
            raise ValueError(f"{source}: 'face_part' and 'part_names' must be given together")
        fp = as_int("face_part")
        names = np.asarray(arrays["part_names"]).astype(str)
        if fp.shape != (nf,):
            raise fail("face_part", f"must have shape [F={nf}], got {list(fp.shape)}")
        if names.ndim != 1 or names.size == 0:
            raise fail("part_names", f"must be a non-empty 1-D array, got {list(names.shape)}")
        if fp.min() < 0 or fp.max() >= names.size:
            raise fail("face_part", f"values must lie in [0, {names.size}) (number of part_names)")
        out["face_part"], out["part_names"] = fp, names
    return out


def save_body_npz(
    arrays: dict[str, Any], path: str | os.PathLike[str], compress: bool = True
) -> Path:
    """Validate SMPL-format arrays and write them to ``path`` (.npz) atomically.

    The file is written to a temporary file in the same directory and renamed into place, so
    an interrupted write never leaves a truncated file behind.
    """
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise ValueError(f"{path}: output must end in .npz")
    clean = validate_body_arrays(arrays, source=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            (np.savez_compressed if compress else np.savez)(fh, **clean)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def convert_smpl_pkl_to_npz(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> Path:
    """Convert an SMPL ``.pkl`` (official chumpy format included) to a plain ``.npz``.

    Only the SMPL-format keys are kept (J_regressor made dense, float32, int64 faces). The
    write is atomic (temporary file + rename).
    """
    return save_body_npz(load_smpl_pkl(src), dst)
