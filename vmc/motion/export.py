"""Motion files: AMASS-style ``.npz`` (write and read) and BVH on the SMPL 24-joint skeleton.

``.npz`` layout written by :func:`save_amass_npz` (AMASS key names, readable by AMASS tools):

* ``poses``: ``float32 [T,72]`` SMPL axis-angle, 24 joints in SMPL order (root first);
* ``trans``: ``float32 [T,3]`` root translation in metres;
* ``betas``: ``float32 [nb]`` shape coefficients (10 zeros by default);
* ``mocap_framerate``: ``float64`` scalar frames per second (also stored as ``fps``);
* ``gender``: ``str`` scalar (``"neutral"``, ``"male"``, ``"female"``);
* ``texts``: ``str [N]`` captions (may be empty), and ``up_axis``: ``"y"`` or ``"z"``, the
  world's up axis. The procedural library and this project's motions are **Y-up**; real AMASS
  files are **Z-up** (no ``up_axis`` key). :func:`y_up_to_z_up` converts.

:func:`load_motion_npz` reads that layout, real AMASS files (SMPL ``[T,72]`` or SMPL+H
``[T,156]`` poses, whose SMPL hand joints are taken from the left/right index-finger base as
MotionCLIP does) and our folder format (``poses``, ``trans``, ``fps``, ``texts``).

BVH (:func:`save_bvh`): the SMPL joint tree with the joint names of
``vmc.motion.procedural.skeleton.SMPL_JOINT_NAMES``; offsets from a rest skeleton (ours by
default), in **centimetres** by default (``scale=100``; pass ``scale=1`` for metres). The root
has channels ``Xposition Yposition Zposition Zrotation Xrotation Yrotation`` and every other
joint ``Zrotation Xrotation Yrotation`` (degrees), i.e. the local rotation is
``R = R_z(a) @ R_x(b) @ R_y(c)`` as in CMU-style BVH. The rest pose is SMPL's T-pose, so BVH
rotations are exactly SMPL's local rotations; the root position channel is ``trans * scale``
and the root lands at ``(offset_root + trans) * scale``. Leaf joints get a short ``End Site``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from vmc.io.atomic import atomic_path
from vmc.motion.procedural.skeleton import REST_JOINTS, SMPL_JOINT_NAMES, SMPL_PARENTS
from vmc.utils.checks import positive_number

__all__ = [
    "BVH_CHANNEL_ORDER",
    "LoadedMotion",
    "load_motion_npz",
    "save_amass_npz",
    "save_bvh",
    "y_up_to_z_up",
    "z_up_to_y_up",
]

BVH_CHANNEL_ORDER = "ZXY"
"""Rotation channel order of :func:`save_bvh` (intrinsic: ``R = R_z R_x R_y``)."""

# SMPL+H (52 joints, 156-d) → SMPL 24: body joints 0..21, then left_index1 (22) and
# right_index1 (37) in place of SMPL's hand joints (MotionCLIP's AMASS parser does the same).
_SMPLH_TO_SMPL = list(range(22)) + [22, 37]


def _poses_72(poses: np.ndarray, name: str = "poses") -> np.ndarray:
    p = np.asarray(poses)
    if p.ndim == 3 and p.shape[1:] == (24, 3):
        p = p.reshape(p.shape[0], 72)
    if p.ndim != 2 or p.shape[1] != 72 or p.shape[0] < 1:
        raise ValueError(f"{name} must be axis-angle [T,72] or [T,24,3] with T >= 1, got {p.shape}")
    if not np.issubdtype(p.dtype, np.number) or not np.isfinite(p).all():
        raise ValueError(f"{name} must be finite numbers")
    return p.astype(np.float32)


def _trans(trans: np.ndarray, num_frames: int, name: str = "trans") -> np.ndarray:
    t = np.asarray(trans)
    if t.shape != (num_frames, 3):
        raise ValueError(f"{name} must be [T,3] = {(num_frames, 3)} to match poses, got {t.shape}")
    if not np.issubdtype(t.dtype, np.number) or not np.isfinite(t).all():
        raise ValueError(f"{name} must be finite numbers")
    return t.astype(np.float32)


def save_amass_npz(
    path: str | os.PathLike[str],
    poses: np.ndarray,
    trans: np.ndarray,
    betas: np.ndarray | None = None,
    fps: float = 30.0,
    gender: str = "neutral",
    texts: list[str] | tuple[str, ...] | None = None,
    up_axis: str = "y",
) -> Path:
    """Write a motion as an AMASS-style ``.npz`` (layout in the module docstring), atomically.

    Args:
        path: output file (``.npz``); parent folders are created.
        poses: ``[T,72]`` or ``[T,24,3]`` axis-angle. trans: ``[T,3]`` metres.
        betas: ``[nb]`` (default 10 zeros). fps: frames per second.
        gender: ``"neutral"``, ``"male"`` or ``"female"``. texts: captions to keep with it.
        up_axis: world up axis of ``poses``/``trans`` (``"y"`` for this project's motions).

    Returns:
        The written path.

    Raises:
        ValueError: bad shapes, non-finite values, bad fps/gender/up_axis.
    """
    p = _poses_72(poses)
    t = _trans(trans, p.shape[0])
    b = np.zeros(10, np.float32) if betas is None else np.asarray(betas, dtype=np.float32)
    if b.ndim != 1 or not np.isfinite(b).all():
        raise ValueError(f"betas must be a finite 1-D array [nb], got shape {b.shape}")
    rate = positive_number("fps", fps)
    if gender not in ("neutral", "male", "female"):
        raise ValueError(f"gender must be 'neutral', 'male' or 'female', got {gender!r}")
    if up_axis not in ("y", "z"):
        raise ValueError(f"up_axis must be 'y' or 'z', got {up_axis!r}")
    captions = [] if texts is None else [str(x) for x in texts]
    out = Path(path)
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        np.savez(
            fh,
            poses=p,
            trans=t,
            betas=b,
            mocap_framerate=np.float64(rate),
            fps=np.float64(rate),
            gender=np.str_(gender),
            texts=np.array(captions, dtype=np.str_),
            up_axis=np.str_(up_axis),
        )
    return out


@dataclass
class LoadedMotion:
    """A motion read by :func:`load_motion_npz`.

    Attributes:
        poses: ``float32 [T,72]`` SMPL axis-angle. trans: ``float32 [T,3]`` metres.
        fps: frames per second. texts: captions (possibly empty).
        betas: ``float32 [nb]`` or ``None``. gender: ``str`` or ``None``.
        up_axis: ``"y"``/``"z"`` when known (real AMASS files without the key: ``"z"``).
    """

    poses: np.ndarray
    trans: np.ndarray
    fps: float
    texts: list[str] = field(default_factory=list)
    betas: np.ndarray | None = None
    gender: str | None = None
    up_axis: str | None = None

    @property
    def poses_24x3(self) -> np.ndarray:
        return self.poses.reshape(-1, 24, 3)


def _scalar_str(value: np.ndarray) -> str:
    v = value.item() if value.shape == () else value.reshape(-1)[0]
    return v.decode() if isinstance(v, bytes) else str(v)


def load_motion_npz(path: str | os.PathLike[str]) -> LoadedMotion:
    """Read an AMASS ``.npz``, one written by :func:`save_amass_npz`, or our folder format.

    Keys: ``poses`` ([T,72], [T,24,3] or SMPL+H [T,156]), ``trans`` [T,3], a frame rate
    (``mocap_framerate``, ``mocap_frame_rate`` or ``fps``); optional ``texts``, ``betas``,
    ``gender``, ``up_axis``. Loaded without pickle.

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
    with data:
        keys = set(data.files)
        if "poses" not in keys:
            raise ValueError(f"{src}: missing key 'poses' (found {sorted(keys)})")
        if "trans" not in keys:
            raise ValueError(f"{src}: missing key 'trans' (found {sorted(keys)})")
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
            poses = _poses_72(raw, f"{src}: poses")
            trans = _trans(data["trans"], poses.shape[0], f"{src}: trans")
            fps = positive_number("fps", np.asarray(data[rate_key]).reshape(-1)[0])
        except (ValueError, IndexError) as err:
            raise ValueError(f"{src}: {err}") from None
        texts: list[str] = []
        if "texts" in keys:
            texts = [str(x) for x in np.asarray(data["texts"]).reshape(-1)]
        betas = np.asarray(data["betas"], dtype=np.float32) if "betas" in keys else None
        gender = _scalar_str(np.asarray(data["gender"])) if "gender" in keys else None
        if "up_axis" in keys:
            up_axis: str | None = _scalar_str(np.asarray(data["up_axis"]))
        else:
            up_axis = "z" if rate_key.startswith("mocap") else None
    return LoadedMotion(poses, trans, fps, texts, betas, gender, up_axis)


# ---- world frames ------------------------------------------------------------------------------

_Y_TO_Z = Rotation.from_euler("x", 90, degrees=True)  # (x, y, z) → (x, -z, y): y-up → z-up


def _rotate_world(poses, trans, rot: Rotation, root_rest: np.ndarray | None):
    p = _poses_72(poses).astype(np.float64).reshape(-1, 24, 3)
    t = _trans(trans, p.shape[0]).astype(np.float64)
    j0 = np.zeros(3) if root_rest is None else np.asarray(root_rest, dtype=np.float64)
    p[:, 0] = (rot * Rotation.from_rotvec(p[:, 0])).as_rotvec()
    # joints = R_root (J - J0) + J0 + trans; rotating the world by R keeps that form with
    # trans' = R (J0 + trans) - J0.
    t = rot.apply(t + j0) - j0
    return p.reshape(-1, 72).astype(np.float32), t.astype(np.float32)


def y_up_to_z_up(poses, trans, root_rest: np.ndarray | None = None):
    """Re-express a Y-up motion (ours) in a Z-up world (AMASS): world rotated by ``R_x(+90°)``;
    a person facing +Z then faces -Y. ``root_rest`` is the body's rest pelvis position (zero for
    this library's skeleton; SMPL's is about ``(0, -0.22, 0.03)``). Returns ``(poses [T,72],
    trans [T,3])``."""
    return _rotate_world(poses, trans, _Y_TO_Z, root_rest)


def z_up_to_y_up(poses, trans, root_rest: np.ndarray | None = None):
    """Inverse of :func:`y_up_to_z_up`."""
    return _rotate_world(poses, trans, _Y_TO_Z.inv(), root_rest)


# ---- BVH ---------------------------------------------------------------------------------------


def _children(parents) -> dict[int, list[int]]:
    ch: dict[int, list[int]] = {i: [] for i in range(len(parents))}
    for i, p in enumerate(parents):
        if p >= 0:
            ch[p].append(i)
    return ch


def save_bvh(
    path: str | os.PathLike[str],
    poses: np.ndarray,
    trans: np.ndarray,
    fps: float = 30.0,
    offsets: np.ndarray | None = None,
    scale: float = 100.0,
) -> Path:
    """Write a motion as BVH on the SMPL skeleton (conventions in the module docstring).

    Args:
        path: output ``.bvh`` (written atomically).
        poses: ``[T,72]`` or ``[T,24,3]`` SMPL axis-angle. trans: ``[T,3]`` metres.
        fps: frame rate (``Frame Time = 1/fps``).
        offsets: ``[24,3]`` rest joint positions in metres (default: the library's
            ``REST_JOINTS``; pass a body model's rest joints to match that body).
        scale: metres → file units (100 = centimetres).

    Raises:
        ValueError: bad shapes or values.
    """
    p = _poses_72(poses).astype(np.float64).reshape(-1, 24, 3)
    t = _trans(trans, p.shape[0]).astype(np.float64)
    rate = positive_number("fps", fps)
    rest = REST_JOINTS if offsets is None else np.asarray(offsets, dtype=np.float64)
    if rest.shape != (24, 3) or not np.isfinite(rest).all():
        raise ValueError(f"offsets must be finite [24,3] rest joint positions, got {rest.shape}")
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be > 0, got {scale!r}")
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
    euler = Rotation.from_rotvec(p.reshape(-1, 3)).as_euler(BVH_CHANNEL_ORDER, degrees=True)
    euler = euler.reshape(num_frames, 24, 3)[:, order]  # [T,24,3] in hierarchy order
    motion = np.concatenate([t * scale, euler.reshape(num_frames, -1)], axis=1)
    lines += ["MOTION", f"Frames: {num_frames}", f"Frame Time: {1.0 / rate:.8f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in motion]
    out = Path(path)
    with atomic_path(out) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n", encoding="ascii")
    return out
