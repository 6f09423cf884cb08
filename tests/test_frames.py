"""World frames and the conversions between them (vmc.geometry.frames, Motion.to_frame).

Checked on a real posed body whose rest pelvis is NOT at the origin (the tiny procedural body,
J0 ≈ (0, -0.22, 0.02)): head above feet, facing the camera at frame 0 where that is the rule,
round trips, and that the posed body is exactly the rotated one.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vmc.body import BodyModel
from vmc.body.procedural import make_tiny_body
from vmc.geometry.frames import (
    FRAMES,
    SOURCE_FRAMES,
    convert_frame,
    face_front,
    heading,
    reference_root,
    to_image_frame,
    world_rotation,
)
from vmc.geometry.rotations import geodesic_angle, rotation_about_y, rotation_about_z
from vmc.motion.procedural import generate_motion
from vmc.motion.types import Motion

# Float arithmetic compared against references: CI reruns these under a second CPU kernel set.
pytestmark = pytest.mark.numerics

HEAD, L_ANKLE, R_ANKLE, L_FOOT, R_FOOT, L_HIP, R_HIP = 15, 7, 8, 10, 11, 1, 2


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel.from_arrays(**make_tiny_body()).double()


@pytest.fixture(scope="module")
def j0(body: BodyModel) -> torch.Tensor:
    rest = body.shaped()[1][0, 0]
    assert rest.abs().max() > 0.1  # the test body's pelvis is really off the origin
    return rest


def _motion(action: str = "walk_forward", frames: int = 30) -> Motion:
    return generate_motion(action, frames, seed=0).motion


def _joints(body: BodyModel, m: Motion) -> torch.Tensor:
    """Posed joints ``[T, 24, 3]`` (smplx: ``transl`` = ``m.trans``)."""
    poses, trans = m.tensors(torch.float64)
    return body(pose_axis_angle=poses, transl=trans).joints


def _check_upright_facing_camera(joints: torch.Tensor) -> None:
    """``joints [T,24,3]`` in the image frame (y down, camera looks along +z)."""
    feet_y = joints[:, [L_ANKLE, R_ANKLE, L_FOOT, R_FOOT], 1].max(dim=1).values
    assert bool((joints[:, HEAD, 1] < feet_y - 0.8).all()), "head must be above the feet"
    first = joints[0]
    # toes point at the camera (smaller z than the ankles)
    assert first[L_FOOT, 2] < first[L_ANKLE, 2] and first[R_FOOT, 2] < first[R_ANKLE, 2]
    # a person facing the camera has their left side on the image's right (+x)
    assert first[L_HIP, 0] > first[R_HIP, 0]


# ---------------------------------------------------------------- rotations between frames


def test_world_rotations_are_exact_and_compose() -> None:
    for a in FRAMES:
        for b in FRAMES:
            w = world_rotation(a, b)
            assert torch.allclose(w @ w.T, torch.eye(3, dtype=torch.float64), atol=0)
            assert torch.equal(w.T, world_rotation(b, a))
            for c in FRAMES:
                assert torch.equal(world_rotation(b, c) @ w, world_rotation(a, c))
    up = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)  # y_up's up
    assert torch.equal(world_rotation("y_up", "z_up") @ up, torch.tensor([0.0, 0.0, 1.0]).double())
    assert torch.equal(
        world_rotation("y_up", "image") @ up, torch.tensor([0.0, -1.0, 0.0]).double()
    )


def test_unknown_frame_and_source_are_clear() -> None:
    with pytest.raises(ValueError, match="unknown world frame"):
        world_rotation("x_up", "y_up")
    root = torch.eye(3).expand(2, 3, 3)
    with pytest.raises(ValueError, match="unknown motion source"):
        to_image_frame(root, torch.zeros(2, 3), "blender")


@pytest.mark.parametrize(("src", "dst"), [("y_up", "z_up"), ("y_up", "image"), ("z_up", "image")])
def test_round_trip_and_posed_body_is_rotated(body, j0, src: str, dst: str) -> None:
    """src → dst → src is the identity; in dst, every posed joint is exactly W times the
    original (smplx trans + the body's J0)."""
    m = _motion("jump_forward").to_frame(src).rebased(j0.numpy())
    there = m.to_frame(dst)
    back = there.to_frame(src)
    assert np.abs(back.poses - m.poses).max() < 1e-5
    assert np.abs(back.trans - m.trans).max() < 1e-5
    w = world_rotation(src, dst)
    expected = _joints(body, m) @ w.T
    assert (_joints(body, there) - expected).abs().max() < 1e-5


def test_wrong_rest_pelvis_shifts_by_a_constant(body, j0) -> None:
    m = _motion().rebased(j0.numpy())
    wrong = Motion(m.poses, m.trans, m.fps, root_rest=np.zeros(3))
    w = world_rotation("y_up", "z_up")
    diff = _joints(body, wrong.to_frame("z_up")) - _joints(body, m) @ w.T
    # (W - I)(J0_used - J0_true) with J0_used = 0
    expected = (torch.eye(3, dtype=torch.float64) - w) @ j0
    assert (diff - expected).abs().max() < 1e-5


# ---------------------------------------------------------------- rules per source


@pytest.mark.parametrize("yaw", [0.0, 1.3, -2.5])
def test_procedural_and_embedded_y_up_face_the_camera(body, j0, yaw: float) -> None:
    m = _motion().rebased(j0.numpy())
    turn = rotation_about_y(torch.tensor(yaw, dtype=torch.float64))
    root, trans = _root_trans(m)
    root = turn @ root
    trans = ((trans + j0) @ turn.T) - j0
    for source in ("procedural", "embedded"):
        r_img, t_img = to_image_frame(root, trans, source, root_rest=j0)
        img = _with_root(m, r_img, t_img, "image")
        _check_upright_facing_camera(_joints(body, img))
        flip = reference_root((), torch.float64)
        assert geodesic_angle(r_img[0], flip) < 0.2  # ≈ R_x(pi) at frame 0 (a lean is allowed)
        # walking forward = towards the camera
        assert t_img[-1, 2] - t_img[0, 2] < -0.3


def test_amass_z_up_rule_matches_y_up_rule(body, j0) -> None:
    m = _motion("jumping_jacks").rebased(j0.numpy())
    z = m.to_frame("z_up")
    # an arbitrary AMASS heading: turn about the Z-up vertical (face_front removes it)
    turn = rotation_about_z(torch.tensor(0.7, dtype=torch.float64))
    root, trans = _root_trans(z)
    root, trans = turn @ root, ((trans + j0) @ turn.T) - j0
    r_img, t_img = to_image_frame(root, trans, "amass", root_rest=j0)
    _check_upright_facing_camera(_joints(body, _with_root(m, r_img, t_img, "image")))
    r_ref, t_ref = to_image_frame(*_root_trans(m), "procedural", root_rest=j0)
    assert (r_img - r_ref).abs().max() < 1e-5
    # face_front turns about the first pelvis, so the trajectories differ by a constant only
    offset = (t_img - t_ref) - (t_img - t_ref)[:1]
    assert offset.abs().max() < 1e-5


def test_paper_rule_is_the_reference_overwrite(body) -> None:
    m = _motion("bow", 20)
    root, trans = _root_trans(m.to_frame("z_up"))
    root = rotation_about_z(torch.linspace(0, 3, 20, dtype=torch.float64)) @ root
    r_img, t_img = to_image_frame(root, trans, "paper")
    flip = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64))
    assert torch.equal(r_img, flip.expand(20, 3, 3))
    assert torch.count_nonzero(t_img) == 0
    _check_upright_facing_camera(_joints(body, _with_root(m, r_img, t_img, "image")))
    assert SOURCE_FRAMES["paper"] == "z_up"


def test_face_front_keeps_first_pelvis_and_heading_changes(j0) -> None:
    m = _motion().rebased(j0.numpy())
    root, trans = _root_trans(m)
    turn = rotation_about_y(torch.tensor(2.0, dtype=torch.float64))
    root = turn @ root
    assert abs(float(heading(root[0], "y_up")) - 2.0) < 0.1
    new_root, new_trans = face_front(root, trans, "y_up", root_rest=j0)
    assert abs(float(heading(new_root[0], "y_up"))) < 1e-9
    assert (new_trans[0] - trans[0]).abs().max() < 1e-12  # turned about the first pelvis
    # in every frame the front is where a canonical person faces
    for frame in FRAMES:
        r, _ = convert_frame(root, trans, "y_up", frame, face_front_at_start=True, root_rest=j0)
        assert abs(float(heading(r[0], frame))) < 1e-9


def test_face_front_without_it_keeps_heading() -> None:
    m = _motion("wave", 10)
    root, trans = _root_trans(m)
    root = rotation_about_y(torch.tensor(math.pi / 2, dtype=torch.float64)) @ root
    r_img, _ = to_image_frame(root, trans, "y_up", face_camera=False)
    assert r_img[0, 0, 2] > 0.9  # body front still sideways (+x), not facing the camera
    r_face, _ = to_image_frame(root, trans, "y_up")
    assert r_face[0, 2, 2] < -0.9


# ---------------------------------------------------------------- helpers


def _root_trans(m: Motion) -> tuple[torch.Tensor, torch.Tensor]:
    rot = m.rotations(torch.float64)
    return rot[:, 0], torch.from_numpy(m.trans.astype(np.float64))


def _with_root(m: Motion, root: torch.Tensor, trans: torch.Tensor, frame: str) -> Motion:
    rot = m.rotations(torch.float64).clone()
    rot[:, 0] = root
    return Motion.from_torch(rot, trans, m.fps, frame=frame, root_rest=m.root_rest)
