"""World frames of motions and every conversion between them (root orientation + translation).

A motion (:class:`vmc.motion.types.Motion`) is SMPL axis-angle poses plus a root translation.
Only the **root** (joint 0's rotation, and ``trans``) lives in a world frame; every other joint
rotation is local to its parent and never changes with the frame. Three frames exist:

``"z_up"``
    The training data's world (AMASS, and models trained on it such as the paper MotionCLIP
    checkpoint): +Z up. An upright person has root ≈ ``R_x(+90°)`` (the body's +Y, its head
    direction in SMPL's rest pose, mapped to world +Z). AMASS's heading is arbitrary; the
    canonical heading here is facing **-Y** (what a +Z-facing Y-up person becomes).
``"y_up"``
    The canonical Y-up world (SMPL's rest frame): +Y up, an upright person facing **+Z** with
    root ≈ identity, its left hand on +X. The procedural library, the embedded MotionCLIP and
    this project's BVH files live here.
``"image"``
    The HMR image frame of the renderer and Liquid Warping GAN: x right, y **down**, the camera
    at the origin looking along **+z**. An upright person facing the camera has root ≈
    ``R_x(pi)`` = diag(1, -1, -1): up is -y, facing -z.

Converting is a fixed world rotation ``W`` (:func:`world_rotation`): ``z_up → y_up`` is
``R_x(-90°)`` (a point ``(x, y, z)`` becomes ``(x, z, -y)``), ``y_up → image`` is ``R_x(pi)`` and
the others compose from those. ``W`` acts on a motion (:func:`rotate_world`) as

* root orientation: ``R0' = W @ R0``;
* translation: ``trans' = W @ (trans + J0) - J0``.

``trans`` follows smplx's convention: the posed pelvis is at ``J0 + trans``, ``J0`` being the
**rest** pelvis of the body the motion is posed on (its shaped rest joint 0, in the body's own
rest coordinates, so it does not depend on the world frame). With that ``J0`` every posed joint
and vertex is exactly ``W`` times the original; with a wrong ``J0`` the whole motion is shifted
by the constant ``(W - I) (J0_used - J0_true)``.

``face_front`` (:func:`face_front`) additionally turns the motion about the frame's up axis so
that at frame 0 the body's forward axis (its +Z in the rest pose) points to the frame's front
(:data:`FRONT`): +Z for ``y_up``, -Y for ``z_up``, -z (towards the camera) for ``image``. The
heading then evolves as in the source. The turn is about the vertical line through the pelvis at
frame 0, so the trajectory starts where it did.

One rule per motion source (:data:`SOURCE_FRAMES`, :func:`to_image_frame`):

* ``paper`` (the paper model's output): ``z_up``; to the image frame by the reference's
  overwrite (:func:`reference_root`): root set to exactly ``R_x(pi)`` on every frame, trans zero
  (that model's row 24 is not a trajectory; turning is lost).
* ``embedded`` (our MotionCLIP) and runs trained on our data: ``y_up``; ``face_front``, then
  ``R_x(pi)``.
* ``procedural`` library: ``y_up``, already facing +Z above the origin at frame 0; ``R_x(pi)``.
* ``amass`` files (and the sources read from them: ``amass_babel``, ``motionclip_db``,
  ``humanml3d``): ``z_up``; ``R_x(-90°)`` to ``y_up``, ``face_front``, then ``R_x(pi)``.
* ``folder`` (our ``.npz``): the frame its ``up_axis`` key names (``"z"`` for files written by
  this version, ``"y"`` for older vmc files; no key: Y-up), then that frame's rule.

All functions are pure torch; rotations are computed in float64 and returned in the input dtype.
"""

from __future__ import annotations

import math

import torch

from vmc.geometry.rotations import rotation_about_x, rotation_about_y

__all__ = [
    "FRAMES",
    "FRONT",
    "SOURCE_FRAMES",
    "UP",
    "check_frame",
    "convert_frame",
    "face_front",
    "frame_of_up_axis",
    "heading",
    "reference_root",
    "rotate_world",
    "to_image_frame",
    "up_axis_of_frame",
    "world_rotation",
]

#: The frames a motion can live in (module docstring).
FRAMES: tuple[str, ...] = ("z_up", "y_up", "image")
#: World "up" direction of each frame (where an upright person's head points).
UP: dict[str, tuple[float, float, float]] = {
    "z_up": (0.0, 0.0, 1.0),
    "y_up": (0.0, 1.0, 0.0),
    "image": (0.0, -1.0, 0.0),
}
#: The direction a canonically oriented person faces in each frame (see :func:`face_front`).
FRONT: dict[str, tuple[float, float, float]] = {
    "z_up": (0.0, -1.0, 0.0),
    "y_up": (0.0, 0.0, 1.0),
    "image": (0.0, 0.0, -1.0),
}
#: World frame of each motion source's output (rules in the module docstring).
SOURCE_FRAMES: dict[str, str] = {
    "paper": "z_up",
    "embedded": "y_up",
    "procedural": "y_up",
    "amass": "z_up",
    "amass_babel": "z_up",
    "motionclip_db": "z_up",
    "humanml3d": "z_up",
}

# Rotation taking each frame's coordinates to y_up coordinates.
_TO_Y_UP_ANGLE = {"z_up": -math.pi / 2, "y_up": 0.0, "image": math.pi}


def check_frame(frame: str) -> str:
    """Return ``frame`` if it is one of :data:`FRAMES`, else raise ``ValueError``."""
    if frame not in FRAMES:
        raise ValueError(f"unknown world frame {frame!r}; expected one of {FRAMES}")
    return frame


def frame_of_up_axis(up_axis: str) -> str:
    """``"y"`` → ``"y_up"``, ``"z"`` → ``"z_up"`` (the ``up_axis`` key of motion files)."""
    if up_axis not in ("y", "z"):
        raise ValueError(f"up_axis must be 'y' or 'z', got {up_axis!r}")
    return f"{up_axis}_up"


def up_axis_of_frame(frame: str) -> str:
    """``"y_up"`` → ``"y"``, ``"z_up"`` → ``"z"``; the image frame has no up axis of its own."""
    if frame not in ("y_up", "z_up"):
        raise ValueError(f"frame {frame!r} has no +axis up (expected 'y_up' or 'z_up')")
    return frame[0]


def _exact_about_x(angle: float) -> torch.Tensor:
    """``R_x(angle)`` in float64, with cos/sin of multiples of 90° rounded to exact 0/±1."""
    r = rotation_about_x(torch.tensor(angle, dtype=torch.float64))
    return torch.where(r.abs() < 1e-12, torch.zeros_like(r), r)


def world_rotation(src: str, dst: str) -> torch.Tensor:
    """The float64 ``[3, 3]`` rotation ``W`` with ``x_dst = W @ x_src`` for world points."""
    check_frame(src)
    check_frame(dst)
    to_y = _exact_about_x(_TO_Y_UP_ANGLE[src])
    from_y = _exact_about_x(-_TO_Y_UP_ANGLE[dst])
    return from_y @ to_y


def _rest(root_rest: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    if root_rest is None:
        return torch.zeros(3, dtype=torch.float64, device=like.device)
    j0 = torch.as_tensor(root_rest).to(device=like.device, dtype=torch.float64)
    if tuple(j0.shape) != (3,):
        raise ValueError(f"root_rest must be [3] (the rest pelvis J0), got {tuple(j0.shape)}")
    return j0


def _check(root: torch.Tensor, trans: torch.Tensor) -> None:
    if root.ndim < 3 or tuple(root.shape[-2:]) != (3, 3):
        raise ValueError(f"root must be [..., T, 3, 3] rotation matrices, got {tuple(root.shape)}")
    if tuple(trans.shape) != tuple(root.shape[:-2]) + (3,):
        raise ValueError(
            f"trans must be [..., T, 3] = {tuple(root.shape[:-2]) + (3,)} to match root, "
            f"got {tuple(trans.shape)}"
        )


def rotate_world(
    root: torch.Tensor,
    trans: torch.Tensor,
    rotation: torch.Tensor,
    root_rest: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate the world under a motion: ``R0' = W R0``, ``trans' = W (trans + J0) - J0``.

    Args:
        root: ``[..., T, 3, 3]`` root orientations. trans: ``[..., T, 3]`` metres (smplx).
        rotation: ``W``, ``[3, 3]`` or ``[..., 3, 3]`` (one per motion, broadcast over ``T``).
        root_rest: ``[3]`` rest pelvis ``J0`` of the posed body (``None`` = origin).

    Returns:
        ``(root', trans')`` in the input dtype.
    """
    _check(root, trans)
    w = rotation.to(device=root.device, dtype=torch.float64)
    if w.ndim > 2:
        w = w[..., None, :, :]  # one W per motion, shared by its T frames
    j0 = _rest(root_rest, root)
    new_root = w @ root.to(torch.float64)
    new_trans = (w @ (trans.to(torch.float64) + j0)[..., None])[..., 0] - j0
    return new_root.to(root.dtype), new_trans.to(trans.dtype)


def heading(root0: torch.Tensor, frame: str) -> torch.Tensor:
    """Angle ``[...]`` about the frame's up axis from the frame's front (:data:`FRONT`) to the
    body's forward axis (``root0 @ +Z``), for root orientations ``root0 [..., 3, 3]``."""
    to_y = world_rotation(frame, "y_up").to(root0.device)
    forward = (to_y @ root0.to(torch.float64))[..., :, 2]  # body +Z in y_up coordinates
    # y_up's front is +Z; in y_up coordinates every frame's front is W_frame→y FRONT[frame].
    front = to_y @ torch.tensor(FRONT[frame], dtype=torch.float64, device=root0.device)
    yaw_body = torch.atan2(forward[..., 0], forward[..., 2])
    yaw_front = torch.atan2(front[0], front[2])
    return yaw_body - yaw_front


def _yaw_rotation(angle: torch.Tensor, frame: str) -> torch.Tensor:
    """Rotation by ``angle`` about the frame's up axis, ``[..., 3, 3]`` float64."""
    to_y = world_rotation(frame, "y_up").to(angle.device)
    return to_y.T @ rotation_about_y(angle.to(torch.float64)) @ to_y


def face_front(
    root: torch.Tensor, trans: torch.Tensor, frame: str, root_rest: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn motions about the up axis so the body faces the frame's front at frame 0.

    Args:
        root: ``[..., T, 3, 3]``. trans: ``[..., T, 3]``. frame: their world frame.
        root_rest: ``[3]`` rest pelvis of the posed body.

    The turn is about the vertical line through the pelvis at frame 0, so ``J0 + trans[0]``
    does not move.
    """
    _check(root, trans)
    check_frame(frame)
    w = _yaw_rotation(-heading(root[..., 0, :, :], frame), frame)  # [..., 3, 3]
    j0 = _rest(root_rest, root)
    pelvis0 = trans[..., :1, :].to(torch.float64) + j0  # [..., 1, 3]
    new_root, new_trans = rotate_world(root, trans, w, root_rest)
    # Rotating about the origin moved the first pelvis to W p0: move it back.
    shift = pelvis0 - (w[..., None, :, :] @ pelvis0[..., None])[..., 0]
    return new_root, (new_trans.to(torch.float64) + shift).to(trans.dtype)


def convert_frame(
    root: torch.Tensor,
    trans: torch.Tensor,
    src: str,
    dst: str,
    *,
    face_front_at_start: bool = False,
    root_rest: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Re-express motions from frame ``src`` in frame ``dst`` (:func:`world_rotation`).

    Args:
        root: ``[..., T, 3, 3]`` root orientations. trans: ``[..., T, 3]`` metres (smplx).
        src, dst: frames of :data:`FRAMES`.
        face_front_at_start: also turn about the up axis so the body faces ``dst``'s front at
            frame 0 (:func:`face_front`).
        root_rest: ``[3]`` rest pelvis ``J0`` of the posed body (``None`` = origin).

    Returns:
        ``(root, trans)`` in ``dst``, same dtype.
    """
    root, trans = rotate_world(root, trans, world_rotation(src, dst), root_rest)
    if face_front_at_start:
        root, trans = face_front(root, trans, dst, root_rest)
    return root, trans


def reference_root(shape: tuple[int, ...], dtype: torch.dtype, device=None) -> torch.Tensor:
    """The reference text-to-motion's root: exactly ``R_x(pi)`` = diag(1, -1, -1) (upright,
    facing the camera in the image frame), broadcast to ``[*shape, 3, 3]``."""
    flip = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=dtype, device=device))
    return flip.expand(*shape, 3, 3).clone()


def to_image_frame(
    root: torch.Tensor,
    trans: torch.Tensor,
    source: str,
    *,
    face_camera: bool = True,
    root_rest: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A motion's root in the HMR image frame by its source's rule (module docstring table).

    Args:
        root: ``[..., T, 3, 3]``. trans: ``[..., T, 3]``.
        source: a key of :data:`SOURCE_FRAMES` or a frame name of :data:`FRAMES`. ``"paper"``
            uses the reference's overwrite (:func:`reference_root`, zero translation).
        face_camera: turn the person to face the camera at frame 0 (not for ``"paper"``).
        root_rest: ``[3]`` rest pelvis of the posed body.
    """
    _check(root, trans)
    if source == "paper":
        return reference_root(tuple(root.shape[:-2]), root.dtype, root.device), torch.zeros_like(
            trans
        )
    if source in SOURCE_FRAMES:
        frame = SOURCE_FRAMES[source]
    elif source in FRAMES:
        frame = source
    else:
        raise ValueError(
            f"unknown motion source {source!r}; expected one of "
            f"{sorted(SOURCE_FRAMES) + list(FRAMES)}"
        )
    return convert_frame(
        root, trans, frame, "image", face_front_at_start=face_camera, root_rest=root_rest
    )
