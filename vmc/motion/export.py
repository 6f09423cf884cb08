"""Motion files: AMASS-style ``.npz`` (write and read) and BVH on the SMPL 24-joint skeleton.

``.npz`` layout written by :func:`save_amass_npz`, exactly as AMASS stores motions so that AMASS
tools (which assume Z-up and ignore unknown keys) read it right:

* ``poses``: ``float32 [T,72]`` SMPL axis-angle, 24 joints in SMPL order (root first), the root
  in AMASS's **Z-up** world (:mod:`vmc.geometry.frames`; an upright person has root ≈
  ``R_x(+90°)``);
* ``trans``: ``float32 [T,3]`` metres, Z-up, smplx convention: the posed pelvis is at
  ``J0(betas) + trans`` (``J0`` the rest pelvis of the body with ``betas``);
* ``betas``: ``float32 [nb]`` shape coefficients (10 zeros when the motion has none);
* ``mocap_framerate``: ``float64`` frames per second (also stored as ``fps``);
* ``gender``: ``str`` (``"neutral"``, ``"male"``, ``"female"``);
* vmc's extra keys: ``up_axis`` = ``"z"`` (explicit), ``texts`` (``str [N]`` captions) and, when
  known, ``root_rest`` (``float32 [3]``: the ``J0`` that ``trans`` refers to).

:func:`load_motion_npz` reads that layout, real AMASS files (SMPL ``[T,72]`` or SMPL+H
``[T,156]`` poses, whose SMPL hand joints are taken from the left/right index-finger base as
MotionCLIP does), files of older vmc versions (written Y-up with ``up_axis="y"``) and our folder
format (``poses``, ``trans``, ``fps``, ``texts``). The returned :class:`~vmc.motion.types.Motion`
is in the file's own frame: ``up_axis`` if present, else Z-up for AMASS files (a
``mocap_framerate`` key) and Y-up for the folder format.

BVH (:func:`save_bvh`): the SMPL joint tree with the joint names of
``vmc.body.joints.SMPL_JOINT_NAMES``, in the **Y-up** frame (what BVH importers expect). Offsets
are the rest joints of the body the motion is meant for (pass the body's shaped rest joints;
default: the procedural skeleton's ``REST_JOINTS``), in **centimetres** (``units="cm"``, the
default) or metres (``units="m"``). The root has channels ``Xposition Yposition Zposition
Zrotation Xrotation Yrotation`` and every other joint ``Zrotation Xrotation Yrotation`` (degrees),
i.e. the local rotation is ``R = R_z(a) @ R_x(b) @ R_y(c)`` as in CMU-style BVH. The rest pose is
SMPL's T-pose, so BVH rotations are exactly SMPL's local rotations. The root position channel is
``trans`` for the skeleton's own rest pelvis (smplx: the root lands at ``offset_root + trans``).
Euler angles are continuous from frame to frame (:func:`continuous_euler`: of the two Euler
triples of a rotation and their 360° turns, the one nearest the previous frame), so a knee
bending past 90° does not flip its channels by 180°. Leaf joints get a short ``End Site``.

Blender (File > Import > Motion Capture (.bvh)): with ``units="cm"`` set **Scale 0.01**; with
``units="m"`` keep Scale 1. Keep Forward -Z, Up Y (the defaults); see ``docs/text_to_motion.md``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from vmc.body.joints import SMPL_JOINT_NAMES, SMPL_PARENTS
from vmc.io.atomic import atomic_path
from vmc.motion.procedural.skeleton import REST_JOINTS
from vmc.motion.types import Motion
from vmc.utils.checks import positive_number

__all__ = [
    "BVH_CHANNEL_ORDER",
    "BVH_UNITS",
    "check_bvh_units",
    "continuous_euler",
    "load_motion_npz",
    "save_amass_npz",
    "save_bvh",
]

BVH_CHANNEL_ORDER = "ZXY"
"""Rotation channel order of :func:`save_bvh` (intrinsic: ``R = R_z R_x R_y``)."""
#: BVH length units and their metres → file factor.
BVH_UNITS: dict[str, float] = {"cm": 100.0, "m": 1.0}

# SMPL+H (52 joints, 156-d) → SMPL 24: body joints 0..21, then left_index1 (22) and
# right_index1 (37) in place of SMPL's hand joints (MotionCLIP's AMASS parser does the same).
_SMPLH_TO_SMPL = list(range(22)) + [22, 37]


def check_bvh_units(units: str) -> str:
    """``units`` if it is ``"cm"`` or ``"m"``, else a ``ValueError`` naming the choices."""
    if units not in BVH_UNITS:
        raise ValueError(f"bvh_units must be one of {sorted(BVH_UNITS)}, got {units!r}")
    return units


def save_amass_npz(path: str | os.PathLike[str], motion: Motion) -> Path:
    """Write ``motion`` as an AMASS ``.npz`` (Z-up; layout in the module docstring), atomically.

    The motion is converted to the Z-up frame first (:meth:`Motion.to_frame`); ``trans`` is
    written as it is (smplx convention for ``motion.root_rest``, recorded as ``root_rest``): to
    write for a particular body, rebase the motion on it first (:meth:`Motion.rebased`) or use
    :func:`vmc.motion.writing.write_motion_files`.

    Returns:
        The written path (parent folders are created).
    """
    m = motion.to_frame("z_up")
    betas = np.zeros(10, np.float32) if m.betas is None else m.betas
    arrays: dict[str, np.ndarray] = {
        "poses": m.poses72,
        "trans": m.trans,
        "betas": betas,
        "mocap_framerate": np.float64(m.fps),
        "fps": np.float64(m.fps),
        "gender": np.str_(m.gender or "neutral"),
        "texts": np.array(m.texts, dtype=np.str_),
        "up_axis": np.str_("z"),
    }
    if m.root_rest is not None:
        arrays["root_rest"] = m.root_rest
    out = Path(path)
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    return out


def _scalar_str(value: np.ndarray) -> str:
    v = value.item() if value.shape == () else value.reshape(-1)[0]
    return v.decode() if isinstance(v, bytes) else str(v)


def load_motion_npz(path: str | os.PathLike[str]) -> Motion:
    """Read an AMASS ``.npz``, one written by :func:`save_amass_npz` (this or an older vmc), or
    our folder format, as a :class:`Motion` in the file's frame (module docstring).

    Keys: ``poses`` ([T,72], [T,24,3] or SMPL+H [T,156]), ``trans`` [T,3], a frame rate
    (``mocap_framerate``, ``mocap_frame_rate`` or ``fps``); optional ``texts``, ``betas``,
    ``gender``, ``up_axis``, ``root_rest`` (absent: ``None``). Loaded without pickle.
    ``name`` is the file's stem.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a readable npz, a missing key, or a bad shape (message names the file).
    """
    src = Path(path)
    if not src.is_file():
        raise FileNotFoundError(f"motion file not found: {src}")
    try:
        data = np.load(src, allow_pickle=False)
    except ValueError as err:  # object arrays (pickled) or not an npz at all
        raise ValueError(f"{src}: cannot read as a pickle-free .npz ({err})") from None
    except (OSError, EOFError) as err:
        raise ValueError(f"{src}: not a valid .npz file ({err})") from None
    if not hasattr(data, "files"):
        raise ValueError(f"{src}: expected an .npz archive, got a single .npy array")
    with data:
        keys = set(data.files)
        for key in ("poses", "trans"):
            if key not in keys:
                raise ValueError(f"{src}: missing key {key!r} (found {sorted(keys)})")
        rate_key = next((k for k in ("mocap_framerate", "mocap_frame_rate", "fps") if k in keys),
                        None)  # fmt: skip
        if rate_key is None:
            raise ValueError(
                f"{src}: missing frame rate (one of 'mocap_framerate', 'mocap_frame_rate', "
                f"'fps'; found {sorted(keys)})"
            )
        try:
            raw = np.asarray(data["poses"])
            if raw.ndim == 2 and raw.shape[1] == 156:
                raw = raw.reshape(-1, 52, 3)[:, _SMPLH_TO_SMPL].reshape(-1, 72)
            if "up_axis" in keys:
                up = _scalar_str(np.asarray(data["up_axis"]))
            else:  # AMASS files carry mocap_framerate and no up_axis; our folder format is Y-up
                up = "z" if rate_key.startswith("mocap") else "y"
            if up not in ("y", "z"):
                raise ValueError(f"up_axis must be 'y' or 'z', got {up!r}")
            return Motion(
                poses=raw,
                trans=np.asarray(data["trans"]),
                fps=positive_number("fps", np.asarray(data[rate_key]).reshape(-1)[0]),
                frame=f"{up}_up",
                texts=[str(x) for x in np.asarray(data["texts"]).reshape(-1)]
                if "texts" in keys
                else [],
                betas=np.asarray(data["betas"]) if "betas" in keys else None,
                gender=_scalar_str(np.asarray(data["gender"])) if "gender" in keys else None,
                root_rest=np.asarray(data["root_rest"]) if "root_rest" in keys else None,
                name=src.stem,
            )
        except (ValueError, IndexError, TypeError) as err:
            raise ValueError(f"{src}: {err}") from None


# ---- BVH ---------------------------------------------------------------------------------------


def _children(parents) -> dict[int, list[int]]:
    ch: dict[int, list[int]] = {i: [] for i in range(len(parents))}
    for i, p in enumerate(parents):
        if p >= 0:
            ch[p].append(i)
    return ch


def _wrap_near(angles: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``angles`` (degrees) plus the multiple of 360° that brings each nearest ``reference``."""
    return angles - 360.0 * np.round((angles - reference) / 360.0)


def continuous_euler(rotvecs: np.ndarray, order: str = BVH_CHANNEL_ORDER) -> np.ndarray:
    """Intrinsic Euler angles (degrees) ``[T, J, 3]`` of axis-angle ``rotvecs [T, J, 3]`` that
    change continuously over time.

    A rotation has two Euler triples for a Tait-Bryan order, ``(a, b, c)`` and ``(a + 180,
    180 - b, c + 180)``, each defined up to 360° turns. Frame 0 takes scipy's (middle angle in
    [-90°, 90°]); every later frame takes, of both triples wrapped nearest the previous frame's
    angles, the one closest to it. Without this a joint bending past 90° about the middle axis
    (a knee in ``ZXY``) flips its outer channels by 180° between neighbouring frames.
    """
    r = np.asarray(rotvecs, dtype=np.float64)
    num_frames, num_joints = r.shape[:2]
    raw = Rotation.from_rotvec(r.reshape(-1, 3)).as_euler(order, degrees=True)
    raw = raw.reshape(num_frames, num_joints, 3)
    alt = np.stack([raw[..., 0] + 180.0, 180.0 - raw[..., 1], raw[..., 2] + 180.0], axis=-1)
    out = np.empty_like(raw)
    out[0] = raw[0]
    for t in range(1, num_frames):
        prev = out[t - 1]
        a = _wrap_near(raw[t], prev)
        b = _wrap_near(alt[t], prev)
        pick_b = np.abs(b - prev).sum(-1) < np.abs(a - prev).sum(-1)
        out[t] = np.where(pick_b[:, None], b, a)
    return out


def save_bvh(
    path: str | os.PathLike[str],
    motion: Motion,
    rest_joints: np.ndarray | None = None,
    units: str = "cm",
) -> Path:
    """Write a motion as BVH on the SMPL skeleton (conventions in the module docstring).

    Args:
        path: output ``.bvh`` (written atomically).
        motion: any frame (converted to Y-up); ``Frame Time = 1 / motion.fps``.
        rest_joints: ``[24, 3]`` rest joint positions in metres of the body the motion is for
            (its shaped rest joints); default: the procedural skeleton's ``REST_JOINTS``. The
            motion is rebased on ``rest_joints[0]`` (:meth:`Motion.rebased`).
        units: ``"cm"`` (default) or ``"m"``.

    Raises:
        ValueError: bad rest joints or units.
    """
    scale = BVH_UNITS[check_bvh_units(units)]
    rest = REST_JOINTS if rest_joints is None else np.asarray(rest_joints, dtype=np.float64)
    if rest.shape != (24, 3) or not np.isfinite(rest).all():
        raise ValueError(f"rest_joints must be finite [24,3] positions, got {rest.shape}")
    m = motion.to_frame("y_up").rebased(rest[0])
    p = m.poses.astype(np.float64)
    t = m.trans.astype(np.float64)
    children = _children(SMPL_PARENTS)
    order: list[int] = []
    lines = ["HIERARCHY"]
    rot_channels = "Zrotation Xrotation Yrotation"

    def emit(j: int, depth: int) -> None:
        ind = "  " * depth
        par = SMPL_PARENTS[j]
        off = rest[j] * scale if par < 0 else (rest[j] - rest[par]) * scale
        lines.append(f"{ind}{'ROOT' if par < 0 else 'JOINT'} {SMPL_JOINT_NAMES[j]}")
        lines.append(f"{ind}{{")
        lines.append(f"{ind}  OFFSET {off[0]:.6f} {off[1]:.6f} {off[2]:.6f}")
        if par < 0:
            lines.append(f"{ind}  CHANNELS 6 Xposition Yposition Zposition {rot_channels}")
        else:
            lines.append(f"{ind}  CHANNELS 3 {rot_channels}")
        order.append(j)
        if children[j]:
            for c in children[j]:
                emit(c, depth + 1)
        else:  # End Site: continue the bone a little (head: straight up)
            bone = rest[j] - rest[par] if par >= 0 else np.array([0.0, 1.0, 0.0])
            tip = bone / max(np.linalg.norm(bone), 1e-9) * 0.08 * scale
            if SMPL_JOINT_NAMES[j] == "head":
                tip = np.array([0.0, 0.12, 0.0]) * scale
            lines.append(f"{ind}  End Site")
            lines.append(f"{ind}  {{")
            lines.append(f"{ind}    OFFSET {tip[0]:.6f} {tip[1]:.6f} {tip[2]:.6f}")
            lines.append(f"{ind}  }}")
        lines.append(f"{ind}}}")

    emit(0, 0)
    num_frames = p.shape[0]
    euler = continuous_euler(p)[:, order]  # [T, 24, 3] in hierarchy order
    data = np.concatenate([t * scale, euler.reshape(num_frames, -1)], axis=1)
    lines += ["MOTION", f"Frames: {num_frames}", f"Frame Time: {1.0 / m.fps:.8f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in data]
    out = Path(path)
    with atomic_path(out) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n", encoding="ascii")
    return out
