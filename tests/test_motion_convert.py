"""SMPL <-> MotionCLIP tensor conversion (vmc.motion.convert); frames: tests/test_frames.py."""

from __future__ import annotations

import pytest
import torch

from vmc.body import BodyModel
from vmc.body.procedural import make_tiny_body
from vmc.geometry.rotations import (
    axis_angle_to_matrix,
    matrix_to_rot6d_rows,
)
from vmc.motion.convert import (
    RIGHT_ANKLE,
    forward_kinematics_torch,
    motion_to_smpl,
    smpl_to_motion,
)
from vmc.motion.procedural import generate_motion

# Float arithmetic compared against references: CI reruns these under a second CPU kernel set
# (ATEN_CPU_CAPABILITY=default) so every tolerance holds on any x86-64 CPU.
pytestmark = pytest.mark.numerics


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel.from_arrays(**make_tiny_body()).double()


def _procedural(action: str, frames: int = 30, seed: int = 0):
    m = generate_motion(action, frames, seed=seed).motion
    rot = axis_angle_to_matrix(torch.tensor(m.poses, dtype=torch.float64))
    return rot, torch.tensor(m.trans, dtype=torch.float64)


def _batch(*actions: str, frames: int = 30):
    pairs = [_procedural(a, frames) for a in actions]
    return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])


def _rest_joints(body: BodyModel) -> torch.Tensor:
    return body.shaped()[1][0]


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
    rot2, trans2 = motion_to_smpl(x, translation=mode)
    assert (rot2 - rot).abs().max() < 1e-12
    assert trans2.shape == (3, 30, 3)
    # and back again: the tensor is reproduced exactly (row 24 included)
    x2 = smpl_to_motion(rot2, trans2, translation=mode)
    assert (x2 - x).abs().max() < 1e-12
    if mode == "root":
        expected = trans.clone()
        expected[..., [0, 2]] -= trans[:, :1, [0, 2]]  # horizontal relative, height kept
        assert (trans2 - expected).abs().max() < 1e-12
    else:
        assert torch.count_nonzero(trans2) == 0  # the reference row is not a trajectory


def test_round_trip_float32() -> None:
    rot, trans = _batch("squat")
    x = smpl_to_motion(rot.float(), trans.float(), translation="root")
    rot2, _ = motion_to_smpl(x, translation="root")
    assert x.dtype == torch.float32
    assert (rot2 - rot.float()).abs().max() < 1e-6


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
        # the reference poses a trans-free body (docs/data.md): transl omitted
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
    rot2, trans2 = motion_to_smpl(x, translation="root", mask=mask)
    assert torch.equal(rot2[1, 20:], torch.eye(3, dtype=x.dtype).expand(10, 24, 3, 3))
    assert (rot2[1, :20] - rot[1, :20]).abs().max() < 1e-12
    assert torch.count_nonzero(trans2[1, 20:]) == 0


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
    with pytest.raises(ValueError, match="up_axis"):
        smpl_to_motion(rot, trans, translation="root", up_axis="x")
