"""Rotation conversions: round trips, numerically hard cases, roma, and the reference fixtures.

Fixtures (skipped when absent): ``shared/reference/motionclip_parity_small.npz`` (``rot_*``
arrays, MotionCLIP's row 6D) and ``spin_regressor_parity.npz`` (SPIN's column 6D and its
axis-angle conversion). Set ``VMC_REFERENCE_DIR`` to point elsewhere.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import roma
import torch
from conftest import reference_file

from vmc.geometry import rotations as R

# Float arithmetic compared against references: CI reruns these under a second CPU kernel set
# (ATEN_CPU_CAPABILITY=default) so every tolerance holds on any x86-64 CPU.
pytestmark = pytest.mark.numerics


def _ref(name: str) -> dict[str, torch.Tensor]:
    path = reference_file(name)
    with np.load(path) as z:
        return {k: torch.from_numpy(z[k]) for k in z.files if not k.startswith(("w::", "config"))}


def _random_aa(n: int, *, dtype=torch.float64, max_angle: float = math.pi) -> torch.Tensor:
    axis = torch.nn.functional.normalize(torch.randn(n, 3, dtype=dtype), dim=-1)
    angle = torch.rand(n, 1, dtype=dtype) * max_angle
    return axis * angle


def _random_rotmat(n: int, dtype=torch.float64) -> torch.Tensor:
    return R.axis_angle_to_matrix(_random_aa(n, dtype=dtype))


def _is_rotation(m: torch.Tensor, atol: float) -> bool:
    eye = torch.eye(3, dtype=m.dtype).expand_as(m)
    ortho = torch.allclose(m @ m.transpose(-1, -2), eye, atol=atol)
    return ortho and torch.allclose(torch.linalg.det(m), torch.ones_like(m[..., 0, 0]), atol=atol)


# ------------------------------------------------------------------------------ round trips


def test_axis_angle_matrix_round_trip_batched_shapes():
    aa = _random_aa(60).reshape(3, 4, 5, 3) * 0.999  # angles < pi: vectors are unique
    m = R.axis_angle_to_matrix(aa)
    assert m.shape == (3, 4, 5, 3, 3)
    assert _is_rotation(m, 1e-12)
    assert torch.allclose(R.matrix_to_axis_angle(m), aa, atol=1e-10)


@pytest.mark.parametrize("angle", [0.0, 1e-12, 1e-8, 1e-5, 1e-3, 0.5, 2.0])
def test_small_and_moderate_angles_are_accurate(angle):
    axis = torch.nn.functional.normalize(torch.tensor([[0.3, -0.5, 0.8]], dtype=torch.float64))
    aa = axis * angle
    m = R.axis_angle_to_matrix(aa)
    # exact Rodrigues in float64 via matrix exponential
    ref = torch.linalg.matrix_exp(R._skew(aa))
    # float64: a few transcendental ops of <= 1 ulp each plus matrix_exp's Pade error: 1e-13
    assert torch.allclose(m, ref, atol=1e-13, rtol=0)
    back = R.matrix_to_axis_angle(m)
    assert torch.allclose(back, aa, atol=1e-13 + 1e-12 * angle, rtol=0)
    q = R.axis_angle_to_quaternion(aa)
    assert torch.allclose(R.quaternion_to_axis_angle(q), aa, atol=1e-13, rtol=0)
    assert torch.allclose(R.quaternion_to_matrix(q), ref, atol=1e-13, rtol=0)


@pytest.mark.parametrize("delta", [0.0, 1e-9, 1e-6, 1e-3])
def test_angles_near_pi(delta):
    axes = torch.nn.functional.normalize(torch.randn(16, 3, dtype=torch.float64), dim=-1)
    aa = axes * (math.pi - delta)
    m = R.axis_angle_to_matrix(aa)
    back = R.matrix_to_axis_angle(m)
    # angle exact; rotation identical (the axis sign may flip exactly at pi)
    assert torch.allclose(back.norm(dim=-1), aa.norm(dim=-1), atol=1e-9)
    assert torch.allclose(R.axis_angle_to_matrix(back), m, atol=1e-9)
    if delta >= 1e-6:
        assert torch.allclose(back, aa, atol=1e-8)


def test_quaternion_round_trips_and_sign_convention():
    q = torch.randn(100, 4, dtype=torch.float64)
    m = R.quaternion_to_matrix(q)  # non-unit input is allowed
    assert _is_rotation(m, 1e-12)
    q2 = R.matrix_to_quaternion(m)
    assert (q2[:, 0] >= 0).all()
    assert torch.allclose(q2.norm(dim=-1), torch.ones(100, dtype=torch.float64), atol=1e-12)
    qn = R.standardize_quaternion(q)
    assert torch.allclose(q2, qn, atol=1e-12)
    aa = R.quaternion_to_axis_angle(q)
    assert torch.allclose(R.axis_angle_to_quaternion(aa), qn, atol=1e-12)
    # q and -q give the same result
    assert torch.allclose(R.quaternion_to_axis_angle(-q), aa, atol=1e-12)


def test_axis_rotations_are_right_handed():
    ex, ey, ez = torch.eye(3, dtype=torch.float64)
    half = torch.tensor(math.pi / 2, dtype=torch.float64)
    assert torch.allclose(R.rotation_about_z(half) @ ex, ey, atol=1e-13)
    assert torch.allclose(R.rotation_about_x(half) @ ey, ez, atol=1e-13)
    assert torch.allclose(R.rotation_about_y(half) @ ez, ex, atol=1e-13)
    angles = torch.rand(4, 5, dtype=torch.float64) * 6 - 3
    for fn, axis in ((R.rotation_about_x, ex), (R.rotation_about_y, ey), (R.rotation_about_z, ez)):
        assert torch.allclose(
            fn(angles), R.axis_angle_to_matrix(angles[..., None] * axis), atol=1e-13
        )
    assert R.rotation_about_x(0.5).shape == (3, 3)


def test_rot6d_conventions_differ_and_round_trip():
    m = _random_rotmat(50)
    rows, cols = R.matrix_to_rot6d_rows(m), R.matrix_to_rot6d_cols(m)
    assert torch.allclose(rows, m[:, :2, :].reshape(50, 6))
    assert torch.allclose(cols, m[:, :, :2].reshape(50, 6))
    assert torch.allclose(R.rot6d_rows_to_matrix(rows), m, atol=1e-12)
    assert torch.allclose(R.rot6d_cols_to_matrix(cols), m, atol=1e-12)
    # mixing them up gives a different (transposed) rotation: the names matter
    assert not torch.allclose(R.rot6d_cols_to_matrix(rows), m, atol=1e-3)
    assert torch.allclose(R.rot6d_cols_to_matrix(R.matrix_to_rot6d_cols(m.transpose(1, 2))),
                          m.transpose(1, 2), atol=1e-12)  # fmt: skip
    # any non-degenerate 6D gives a proper rotation
    noisy = torch.randn(30, 6, dtype=torch.float64)
    assert _is_rotation(R.rot6d_rows_to_matrix(noisy), 1e-12)
    assert _is_rotation(R.rot6d_cols_to_matrix(noisy), 1e-12)


def test_geodesic_angle():
    a = _random_rotmat(10)
    angle = torch.rand(10, dtype=torch.float64) * math.pi
    b = a @ R.rotation_about_y(angle)
    assert torch.allclose(R.geodesic_angle(a, b), angle, atol=1e-9)


# ------------------------------------------------------------------------------ gradients


def test_gradients_finite_at_zero_and_pi():
    aa = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    R.axis_angle_to_matrix(aa).sum().backward()
    assert torch.isfinite(aa.grad).all()
    aa2 = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    R.axis_angle_to_quaternion(aa2).sum().backward()
    assert torch.isfinite(aa2.grad).all()
    for m0 in (torch.eye(3, dtype=torch.float64), R.rotation_about_x(torch.tensor(math.pi))):
        m = m0.clone().requires_grad_(True)
        R.matrix_to_axis_angle(m).sum().backward()
        assert torch.isfinite(m.grad).all()


def test_gradcheck():
    aa = (_random_aa(4) * 0.9).requires_grad_(True)
    assert torch.autograd.gradcheck(R.axis_angle_to_matrix, (aa,))
    assert torch.autograd.gradcheck(R.axis_angle_to_quaternion, (aa,))
    small = (torch.randn(3, 3, dtype=torch.float64) * 1e-4).requires_grad_(True)
    assert torch.autograd.gradcheck(R.axis_angle_to_matrix, (small,))
    m = _random_rotmat(4).requires_grad_(True)
    assert torch.autograd.gradcheck(R.matrix_to_axis_angle, (m,))
    assert torch.autograd.gradcheck(R.matrix_to_quaternion, (m,))
    d6 = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(R.rot6d_rows_to_matrix, (d6,))
    assert torch.autograd.gradcheck(R.rot6d_cols_to_matrix, (d6,))


# ------------------------------------------------------------------------------ input checks


@pytest.mark.parametrize(
    ("fn", "bad"),
    [
        (R.axis_angle_to_matrix, torch.zeros(4, 4)),
        (R.matrix_to_axis_angle, torch.zeros(4, 3)),
        (R.quaternion_to_matrix, torch.zeros(4, 3)),
        (R.rot6d_rows_to_matrix, torch.zeros(4, 9)),
        (R.rot6d_cols_to_matrix, torch.zeros(5)),
        (R.axis_angle_to_matrix, torch.zeros(4, 3, dtype=torch.long)),
    ],
)
def test_bad_shapes_raise_value_error(fn, bad):
    with pytest.raises(ValueError, match="shape|floating"):
        fn(bad)


def test_float32_and_dtype_preserved():
    aa = _random_aa(8, dtype=torch.float32)
    m = R.axis_angle_to_matrix(aa)
    assert m.dtype == torch.float32
    assert R.matrix_to_axis_angle(m).dtype == torch.float32
    assert torch.allclose(R.matrix_to_axis_angle(m), aa, atol=2e-5)


# ------------------------------------------------------------------------------ roma


def test_against_roma():
    aa = _random_aa(64) * 0.999
    m = R.axis_angle_to_matrix(aa)
    assert torch.allclose(m, roma.rotvec_to_rotmat(aa), atol=1e-12)
    assert torch.allclose(R.matrix_to_axis_angle(m), roma.rotmat_to_rotvec(m), atol=1e-10)
    q_xyzw = roma.rotvec_to_unitquat(aa)
    q_wxyz = R.axis_angle_to_quaternion(aa)
    assert torch.allclose(q_wxyz, R.standardize_quaternion(q_xyzw[:, [3, 0, 1, 2]]), atol=1e-12)
    # roma's special Gram-Schmidt takes the 3x2 column matrix: our "cols" convention
    d6 = torch.randn(64, 6, dtype=torch.float64)
    ref = roma.special_gramschmidt(d6.reshape(64, 3, 2))
    assert torch.allclose(R.rot6d_cols_to_matrix(d6), ref, atol=1e-12)
    assert torch.allclose(R.matrix_to_rot6d_cols(m).reshape(64, 3, 2), m[:, :, :2])


# ------------------------------------------------------------------------------ fixtures


def test_motionclip_fixture_row_convention():
    z = _ref("motionclip_parity_small.npz")
    m = R.axis_angle_to_matrix(z["rot_axis_angle"])
    assert torch.allclose(m, z["rot_matrix"], atol=1e-5)
    assert torch.allclose(R.matrix_to_rot6d_rows(z["rot_matrix"]), z["rot_6d"], atol=1e-5)
    assert torch.allclose(R.rot6d_rows_to_matrix(z["rot_6d"]), z["rot_matrix"], atol=1e-5)
    noisy = R.rot6d_rows_to_matrix(z["rot_6d_noisy"])
    assert torch.allclose(noisy, z["rot_matrix_from_noisy_6d"], atol=1e-5)
    # the column convention would not reproduce it (the test can fail)
    assert not torch.allclose(R.rot6d_cols_to_matrix(z["rot_6d_noisy"]), noisy, atol=1e-3)
    glob = R.rot6d_rows_to_matrix(torch.tensor([1.0, 0, 0, 0, -1, 0]))
    assert torch.allclose(glob, z["rot_matrix_of_generate_glob6d"].float(), atol=1e-6)


def test_spin_fixture_column_convention():
    z = _ref("spin_regressor_parity.npz")
    m = R.rot6d_cols_to_matrix(z["in_rot6d_test"])
    assert torch.allclose(m, z["out_rot6d_test_rotmat"], atol=2e-5)
    assert not torch.allclose(R.rot6d_rows_to_matrix(z["in_rot6d_test"]), m, atol=1e-3)
    assert torch.allclose(
        R.matrix_to_rot6d_cols(z["in_rotmat_aa_test"]), z["out_rotmat_aa_test_rot6d"], atol=2e-5
    )
    # SPIN head: pose6d [2,144] -> rotmat [2,24,3,3] -> axis-angle [2,72]
    rot = R.rot6d_cols_to_matrix(z["out_pred_pose6d"].reshape(2, 24, 6))
    assert torch.allclose(rot, z["out_pred_rotmat"], atol=2e-5)
    aa = R.matrix_to_axis_angle(z["out_pred_rotmat"]).reshape(2, 72)
    assert torch.allclose(aa, z["out_pred_pose_aa"], atol=1e-4)


def test_spin_fixture_axis_angle_including_pi():
    z = _ref("spin_regressor_parity.npz")
    mats = z["in_rotmat_aa_test"].double()
    ours = R.matrix_to_axis_angle(mats)
    ref = z["out_rotmat_aa_test_aa"].double()
    # compare as rotations (the axis sign is arbitrary at pi) and as angles
    assert torch.allclose(R.axis_angle_to_matrix(ours), R.axis_angle_to_matrix(ref), atol=1e-4)
    assert torch.allclose(ours.norm(dim=-1), ref.norm(dim=-1), atol=1e-4)
    assert torch.allclose(R.axis_angle_to_matrix(ours), mats, atol=1e-5)
