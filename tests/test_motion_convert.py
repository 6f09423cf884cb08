"""SMPL <-> MotionCLIP tensor conversion and root frames (vmc.motion.convert)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vmc.body import BodyModel
from vmc.body.procedural import make_tiny_body
from vmc.geometry.rotations import (
    axis_angle_to_matrix,
    geodesic_angle,
    matrix_to_rot6d_rows,
    rotation_about_y,
    rotation_about_z,
)
from vmc.motion.convert import (
    RIGHT_ANKLE,
    forward_kinematics_torch,
    motion_to_smpl,
    smpl_to_motion,
    to_image_frame,
)
from vmc.motion.export import y_up_to_z_up
from vmc.motion.model import overwrite_root_orientation
from vmc.motion.procedural import generate_motion

# Float arithmetic compared against references: CI reruns these under a second CPU kernel set
# (ATEN_CPU_CAPABILITY=default) so every tolerance holds on any x86-64 CPU.
pytestmark = pytest.mark.numerics

HEAD, L_ANKLE, R_ANKLE, L_FOOT, R_FOOT, L_HIP, R_HIP = 15, 7, 8, 10, 11, 1, 2


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel.from_arrays(**make_tiny_body()).double()


def _procedural(action: str, frames: int = 30, seed: int = 0):
    m = generate_motion(action, frames, seed=seed)
    rot = axis_angle_to_matrix(torch.tensor(m.poses, dtype=torch.float64))
    return rot, torch.tensor(m.trans, dtype=torch.float64)


def _batch(*actions: str, frames: int = 30):
    pairs = [_procedural(a, frames) for a in actions]
    return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])


def _rest_joints(body: BodyModel) -> torch.Tensor:
    return body.shaped()[1][0]


def _pose(body: BodyModel, rot: torch.Tensor, trans: torch.Tensor) -> torch.Tensor:
    """Joints ``[T, 24, 3]`` of one motion ``rot [T,24,3,3]``, ``trans [T,3]``."""
    return body(rotations=rot, transl=trans).joints


# ---------------------------------------------------------------- tensor layout / round trips


def test_layout_rows_and_padding() -> None:
    rot, trans = _batch("walk_forward", "jump_in_place")
    x = smpl_to_motion(rot, trans, translation="root")
    assert x.shape == (2, 25, 6, 30)
    # rows 0..23 are MotionCLIP's row-6D of the joint rotations, frame-last
    assert torch.equal(x[:, :24].permute(0, 3, 1, 2), matrix_to_rot6d_rows(rot))
    assert torch.count_nonzero(x[:, 24, 3:]) == 0


@pytest.mark.parametrize("mode", ["root", "reference"])
def test_round_trip_exact(mode: str) -> None:
    rot, trans = _batch("walk_forward", "jump_in_place", "wave")
    x = smpl_to_motion(rot, trans, translation=mode)
    smpl = motion_to_smpl(x, translation=mode)
    assert (smpl.rotations - rot).abs().max() < 1e-12
    assert smpl.poses_aa.shape == (3, 30, 24, 3)
    assert torch.allclose(axis_angle_to_matrix(smpl.poses_aa), rot, atol=1e-10)
    # and back again: the tensor is reproduced exactly (row 24 included)
    x2 = smpl_to_motion(smpl.rotations, smpl.trans, translation=mode)
    assert (x2 - x).abs().max() < 1e-12
    if mode == "root":
        expected = trans.clone()
        expected[..., [0, 2]] -= trans[:, :1, [0, 2]]  # horizontal relative, height kept
        assert (smpl.trans - expected).abs().max() < 1e-12
    else:
        assert torch.count_nonzero(smpl.trans) == 0  # the reference row is not a trajectory


def test_round_trip_float32() -> None:
    rot, trans = _batch("squat")
    x = smpl_to_motion(rot.float(), trans.float(), translation="root")
    smpl = motion_to_smpl(x, translation="root")
    assert x.dtype == torch.float32
    assert (smpl.rotations - rot.float()).abs().max() < 1e-6


def test_root_mode_travels_and_jumps() -> None:
    rot, trans = _batch("walk_forward", "jump_in_place", frames=60)
    x = smpl_to_motion(rot, trans, translation="root")
    walk, jump = x[0, 24, :3], x[1, 24, :3]
    assert walk[[0, 2], 0].abs().max() == 0  # starts above the origin
    assert walk[2, -1] > 0.5  # walked forward (+Z) more than half a metre
    height = jump[1]
    assert height[0] > 0.5  # height is kept (pelvis above the floor), not made relative
    assert height.max() - height.min() > 0.05  # leaves the ground
    # the reference row stays in place for the walk: no global drift of the ankle
    xr = smpl_to_motion(rot, trans, translation="reference")
    assert xr[0, 24, 2].abs().max() < 0.5 * walk[2, -1]


def test_z_up_keeps_z_height() -> None:
    rot, trans = _batch("jump_in_place")
    x = smpl_to_motion(rot, trans[..., [0, 2, 1]], translation="root", up_axis="z")
    assert torch.allclose(x[0, 24, 2], trans[0, :, 1])
    assert x[0, 24, 1, 0] == 0


def test_reference_row_is_right_ankle_displacement(body: BodyModel) -> None:
    rot, trans = _batch("kick", "walk_forward")
    rest = _rest_joints(body)
    x = smpl_to_motion(rot, trans, translation="reference", rest_joints=rest)
    for b in range(2):
        # the reference poses a trans-free body (spec §4.1): transl omitted
        ankle = body(rotations=rot[b]).joints[:, RIGHT_ANKLE]
        expected = ankle - ankle[:1]
        assert (x[b, 24, :3].T - expected).abs().max() < 1e-9
    # translation does not enter the reference row
    x_moved = smpl_to_motion(rot, trans + 5.0, translation="reference", rest_joints=rest)
    assert torch.equal(x, x_moved)
    assert x[:, 24, :3, 0].abs().max() == 0


def test_fk_matches_body_model(body: BodyModel) -> None:
    rot, trans = _batch("dance_groove")
    joints = forward_kinematics_torch(rot[0], _rest_joints(body))
    assert (joints - body(rotations=rot[0]).joints).abs().max() < 1e-9


def test_mask_zeroes_padded_frames() -> None:
    rot, trans = _batch("walk_forward", "wave")
    mask = torch.ones(2, 30, dtype=torch.bool)
    mask[1, 20:] = False
    x = smpl_to_motion(rot, trans, translation="root", mask=mask)
    assert torch.count_nonzero(x[1, :, :, 20:]) == 0
    smpl = motion_to_smpl(x, translation="root", mask=mask)
    assert torch.equal(smpl.rotations[1, 20:], torch.eye(3, dtype=x.dtype).expand(10, 24, 3, 3))
    assert (smpl.rotations[1, :20] - rot[1, :20]).abs().max() < 1e-12


def test_bad_inputs_are_clear() -> None:
    rot, trans = _batch("wave")
    with pytest.raises(ValueError, match="translation must be one of"):
        smpl_to_motion(rot, trans, translation="global")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"rotations must be a \[B, T, 24, 3, 3\]"):
        smpl_to_motion(rot[0], trans, translation="root")
    with pytest.raises(ValueError, match="trans must be"):
        smpl_to_motion(rot, trans[:, :5], translation="root")
    with pytest.raises(ValueError, match=r"\[B, 25, 6, T\]"):
        motion_to_smpl(torch.zeros(1, 24, 6, 10), translation="root")
    with pytest.raises(ValueError, match="unknown motion source"):
        to_image_frame(rot, trans, source="blender")
    with pytest.raises(ValueError, match="up_axis"):
        smpl_to_motion(rot, trans, translation="root", up_axis="x")


# ---------------------------------------------------------------- image frame


def _check_upright_facing_camera(joints: torch.Tensor) -> None:
    """``joints [T,24,3]`` in the image frame (y down, camera looks along +z)."""
    feet_y = joints[:, [L_ANKLE, R_ANKLE, L_FOOT, R_FOOT], 1].max(dim=1).values
    assert bool((joints[:, HEAD, 1] < feet_y - 0.8).all()), "head must be above the feet"
    j0 = joints[0]
    # toes point at the camera (smaller z than the ankles)
    assert j0[L_FOOT, 2] < j0[L_ANKLE, 2] and j0[R_FOOT, 2] < j0[R_ANKLE, 2]
    # a person facing the camera has their left side on the image's right (+x)
    assert j0[L_HIP, 0] > j0[R_HIP, 0]


@pytest.mark.parametrize("yaw", [0.0, 1.3, -2.5])
def test_y_up_source_faces_camera(body: BodyModel, yaw: float) -> None:
    rot, trans = _procedural("walk_forward", 30)
    turn = rotation_about_y(torch.tensor(yaw, dtype=torch.float64))
    rot = rot.clone()
    rot[:, 0] = turn @ rot[:, 0]
    trans = trans @ turn.T
    r_img, t_img = to_image_frame(rot[None], trans[None], source="procedural")
    _check_upright_facing_camera(_pose(body, r_img[0], t_img[0]))
    # the root is close to R_x(pi) at frame 0 (upright; a slight procedural lean is allowed)
    flip = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64))
    assert geodesic_angle(r_img[0, 0, 0], flip) < 0.2
    # only the root changes
    assert torch.equal(r_img[0, :, 1:], rot[:, 1:])
    # the world turn also applies to the trajectory: walking forward = towards the camera
    assert t_img[0, -1, 2] - t_img[0, 0, 2] < -0.3


def test_y_up_without_face_camera_keeps_heading(body: BodyModel) -> None:
    rot, trans = _procedural("wave", 10)
    rot = rot.clone()
    rot[:, 0] = rotation_about_y(torch.tensor(math.pi / 2, dtype=torch.float64)) @ rot[:, 0]
    r_img, _ = to_image_frame(rot[None], trans[None], source="y_up", face_camera=False)
    forward = r_img[0, 0, 0, :, 2]  # body front in the image frame
    assert forward[0] > 0.9  # still sideways (+x), not facing the camera
    r_face, _ = to_image_frame(rot[None], trans[None], source="y_up")
    assert r_face[0, 0, 0, 2, 2] < -0.9


def test_z_up_source_matches_y_up_rule(body: BodyModel) -> None:
    rot, trans = _procedural("jumping_jacks", 30)
    poses_z, trans_z = y_up_to_z_up(_aa(rot), trans.numpy())
    rot_z = axis_angle_to_matrix(torch.tensor(poses_z, dtype=torch.float64).reshape(-1, 24, 3))
    trans_z = torch.tensor(trans_z, dtype=torch.float64)
    # an arbitrary AMASS-like heading: turn about the Z-up vertical (face_camera removes it)
    turn = rotation_about_z(torch.tensor(0.7, dtype=torch.float64))
    rot_z[:, 0] = turn @ rot_z[:, 0]
    trans_z = trans_z @ turn.T
    r_img, t_img = to_image_frame(rot_z[None], trans_z[None], source="amass")
    _check_upright_facing_camera(_pose(body, r_img[0], t_img[0]))
    r_ref, t_ref = to_image_frame(rot[None], trans[None], source="y_up")
    assert (r_img - r_ref).abs().max() < 1e-5
    assert (t_img - t_ref).abs().max() < 1e-5


def _aa(rot: torch.Tensor) -> np.ndarray:
    from vmc.geometry.rotations import matrix_to_axis_angle

    return matrix_to_axis_angle(rot).reshape(-1, 72).numpy()


def test_reference_overwrite_source(body: BodyModel) -> None:
    rot, trans = _procedural("bow", 20)
    rot = rot.clone()
    rot[:, 0] = rotation_about_y(torch.linspace(0, 3, 20, dtype=torch.float64)) @ rot[:, 0]
    r_img, t_img = to_image_frame(rot[None], trans[None], source="reference")
    flip = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64))
    assert torch.equal(r_img[0, :, 0], flip.expand(20, 3, 3))
    assert torch.count_nonzero(t_img) == 0
    # same as the model-side overwrite applied to the motion tensor
    x = overwrite_root_orientation(smpl_to_motion(rot[None], trans[None], translation="root"))
    assert torch.allclose(motion_to_smpl(x, translation="root").rotations, r_img, atol=1e-12)
    _check_upright_facing_camera(_pose(body, r_img[0], t_img[0]))


def test_smpl_motion_to_image_frame_updates_axis_angle() -> None:
    rot, trans = _batch("walk_forward")
    smpl = motion_to_smpl(smpl_to_motion(rot, trans, translation="root"), translation="root")
    img = smpl.to_image_frame(source="y_up")
    assert torch.allclose(axis_angle_to_matrix(img.poses_aa), img.rotations, atol=1e-9)
    assert not torch.allclose(img.rotations[:, :, 0], smpl.rotations[:, :, 0])
