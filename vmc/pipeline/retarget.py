"""A motion performed by a prepared subject: image-frame poses and per-frame cameras.

The body keeps the subject's fitted shape (``betas``) and the camera of photo 0; the pose comes
from the motion, its root brought into the HMR image frame (x right, y down, camera along +z) by
one rule (:func:`vmc.geometry.frames.convert_frame` with ``face_front_at_start``): the person is
upright, head above feet, and faces the camera at frame 0; then the motion's own turns follow.

Root motion (``root_motion``):

* ``reference``: the reference code's rule, root exactly ``R_x(pi)`` on every frame (upright,
  facing the camera; turning is lost) and no travel;
* ``in_place``: turns kept, horizontal travel dropped; the vertical is kept, so jumps leave the
  ground and come back;
* ``follow``: the person travels and turns as in the motion; the camera stays.

Ground: the photo's lowest body point is where the feet stand. The motion's ground is its
standing level (the 90th percentile over frames of the lowest point, in y-down coordinates:
most frames of most motions have a foot down), so feet stand on the photo's floor while the
motion stands and a jump rises above it. Horizontally the pelvis starts where the photo's is.

Weak perspective has no depth: travel towards the camera does not change the size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vmc.geometry.frames import reference_root
from vmc.geometry.rotations import (
    axis_angle_to_matrix,
    axis_angle_to_quaternion,
    matrix_to_axis_angle,
    quaternion_to_axis_angle,
)
from vmc.motion.generate import slerp
from vmc.motion.types import Motion

__all__ = ["ROOT_MOTIONS", "Retargeted", "retarget"]

ROOT_MOTIONS = ("reference", "in_place", "follow")
#: Percentile of the per-frame lowest point taken as the motion's floor (module docstring).
GROUND_PERCENTILE = 90.0


@dataclass
class Retargeted:
    """A motion on the subject's body, ready to render.

    Attributes:
        poses: ``float32 [T, 72]`` axis-angle, root in the HMR image frame.
        cams: ``float32 [T, 3]`` weak-perspective ``(s, tx, ty)`` in photo 0's crop NDC, the
            body's translation folded in (``x = s (X + tx)`` for body-space ``X``).
        vertices: ``float32 [T, V, 2]`` projected vertices in that NDC (for framing).
        joints: ``float32 [T, 24, 2]`` projected joints.
    """

    poses: np.ndarray
    cams: np.ndarray
    vertices: np.ndarray
    joints: np.ndarray


def _pose_body(
    body: torch.nn.Module, betas: torch.Tensor, poses: torch.Tensor, batch: int = 32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Vertices ``[T, V, 3]`` and joints ``[T, 24, 3]`` of ``poses [T, 72]`` (no translation)."""
    verts, joints = [], []
    with torch.no_grad():
        for start in range(0, len(poses), batch):
            chunk = poses[start : start + batch]
            out = body(betas=betas.expand(len(chunk), -1), pose_axis_angle=chunk)
            verts.append(out.vertices)
            joints.append(out.joints)
    return torch.cat(verts), torch.cat(joints)


def _blend_from(poses: torch.Tensor, start: torch.Tensor, frames: int) -> torch.Tensor:
    """``poses [T, 24, 3]`` starting from ``start [72]``: frame ``i < frames`` is the slerp from
    ``start`` to the motion's frame ``i`` with weight ``smoothstep(i / frames)`` (0 at frame 0)."""
    n = min(int(frames), len(poses))
    u = torch.arange(n, dtype=torch.float64) / max(frames, 1)
    w = (u * u * (3 - 2 * u)).to(poses.device)[:, None, None]  # [n, 1, 1]
    q0 = axis_angle_to_quaternion(start.reshape(1, 24, 3).to(torch.float64)).expand(n, -1, -1)
    q1 = axis_angle_to_quaternion(poses[:n].to(torch.float64))
    out = poses.clone()
    out[:n] = quaternion_to_axis_angle(slerp(q0, q1, w)).to(poses.dtype)
    return out


def retarget(
    motion: Motion,
    body: torch.nn.Module,
    betas: np.ndarray,
    photo_pose: np.ndarray,
    photo_cam: np.ndarray,
    root_motion: str = "in_place",
    blend_in: int = 0,
) -> Retargeted:
    """Put ``motion`` on the subject (module docstring for the rules).

    Args:
        motion: any frame; its ``root_rest`` should be the subject body's rest pelvis
            (:meth:`Motion.rebased`).
        body: the subject's ``BodyModel``.
        betas: ``[nb]`` the subject's shape.
        photo_pose: ``[72]`` the fitted pose of photo 0 (root in the image frame).
        photo_cam: ``[3]`` its camera in photo 0's crop NDC.
        root_motion: one of :data:`ROOT_MOTIONS`.
        blend_in: frames over which the pose goes from the photo's (frame 0 = the photo) to
            the motion's (smoothstep per joint, on the sphere); 0 = the motion from frame 0.

    Raises:
        ValueError: unknown ``root_motion``.
    """
    if root_motion not in ROOT_MOTIONS:
        raise ValueError(
            f"root_motion must be one of {', '.join(ROOT_MOTIONS)}; got {root_motion!r}"
        )
    dtype, device = body.v_template.dtype, body.v_template.device
    image = motion.to_frame("image", face_front=True)
    poses = torch.from_numpy(image.poses.astype(np.float32)).to(device, dtype)  # [T, 24, 3]
    trans = torch.from_numpy(image.trans.astype(np.float32)).to(device, dtype)  # [T, 3]
    t = len(poses)
    if root_motion == "reference":
        poses[:, 0] = matrix_to_axis_angle(reference_root((t,), torch.float64)).to(device, dtype)
        trans = torch.zeros_like(trans)
    elif root_motion == "in_place":
        trans[:, [0, 2]] = trans[:1, [0, 2]]  # travel dropped; height kept (jumps)
    if blend_in > 0:
        poses = _blend_from(poses, torch.as_tensor(photo_pose, dtype=dtype).to(device), blend_in)
    poses = poses.reshape(t, 72)
    b = torch.as_tensor(betas, dtype=dtype).reshape(1, -1).to(device)

    verts, joints = _pose_body(body, b, poses)  # body space, no translation
    verts = verts + trans[:, None]
    joints = joints + trans[:, None]
    photo_verts, photo_joints = _pose_body(
        body, b, torch.as_tensor(photo_pose, dtype=dtype).reshape(1, 72).to(device)
    )
    # Ground (y down: the lowest point has the largest y) and the pelvis's horizontal start.
    photo_ground = photo_verts[0, :, 1].max()
    lowest = verts[..., 1].amax(dim=1)  # [T]
    motion_ground = torch.quantile(lowest.to(torch.float64), GROUND_PERCENTILE / 100).to(dtype)
    shift = torch.stack(
        [photo_joints[0, 0, 0] - joints[0, 0, 0], photo_ground - motion_ground]
    )  # [2]
    offset = trans[:, :2] + shift  # [T, 2]: the per-frame translation, folded into the camera
    cam = torch.as_tensor(photo_cam, dtype=dtype).reshape(3).to(device)
    cams = torch.cat([cam[:1].expand(t, 1), cam[1:] + offset], dim=1)
    vertices_xy = cam[0] * (verts[..., :2] - trans[:, None, :2] + cams[:, None, 1:])
    joints_xy = cam[0] * (joints[..., :2] - trans[:, None, :2] + cams[:, None, 1:])
    return Retargeted(
        poses=poses.float().cpu().numpy(),
        cams=cams.float().cpu().numpy(),
        vertices=vertices_xy.float().cpu().numpy(),
        joints=joints_xy.float().cpu().numpy(),
    )


def root_facing(poses: np.ndarray) -> np.ndarray:
    """The body's forward axis (its rest +z) in the image frame per frame: ``[T, 3]``."""
    root = axis_angle_to_matrix(torch.from_numpy(np.asarray(poses, np.float64)[:, :3]))
    return root[:, :, 2].numpy()
