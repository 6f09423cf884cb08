"""The one motion type (vmc.motion.types.Motion): validation, views, slicing, rebasing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vmc.motion.procedural import generate_motion
from vmc.motion.types import Motion


@pytest.fixture(scope="module")
def walk() -> Motion:
    return generate_motion("walk_forward", 20, 30.0, seed=1).motion


def test_fields_and_views(walk: Motion) -> None:
    assert walk.poses.shape == (20, 24, 3) and walk.poses.dtype == np.float32
    assert walk.poses72.shape == (20, 72) and walk.num_frames == 20
    assert walk.frame == "y_up" and walk.up_axis == "y" and walk.source == "procedural"
    assert walk.to_frame("z_up").up_axis == "z"
    with pytest.raises(ValueError, match="no \\+axis up"):
        _ = walk.to_frame("image").up_axis
    assert walk.to_frame("y_up") is walk  # nothing to do


def test_torch_round_trip(walk: Motion) -> None:
    poses, trans = walk.tensors(torch.float64)
    assert poses.shape == (20, 24, 3) and trans.dtype == torch.float64
    from_aa = Motion.from_torch(poses, trans, walk.fps, texts=walk.texts)
    from_mat = Motion.from_torch(walk.rotations(torch.float64), trans, walk.fps)
    np.testing.assert_allclose(from_aa.poses, walk.poses)
    np.testing.assert_allclose(from_mat.rotations().numpy(), walk.rotations().numpy(), atol=1e-6)


def test_slice_keeps_and_clips_segments() -> None:
    m = Motion(np.zeros((10, 72)), np.zeros((10, 3)), 30.0, texts=["a", "b"], name="x",
               segments=[("a", 0, 6), ("b", 6, 10)])  # fmt: skip
    part = m.slice(4, 8, "#p")
    assert part.num_frames == 4 and part.name == "x#p" and part.texts == ["a", "b"]
    assert part.segments == [("a", 0, 2), ("b", 2, 4)]
    with pytest.raises(ValueError, match="out of range"):
        m.slice(5, 11)
    with pytest.raises(ValueError, match="segment"):
        Motion(np.zeros((4, 72)), np.zeros((4, 3)), 30.0, segments=[("a", 0, 5)])


def test_rebased_keeps_the_pelvis(walk: Motion) -> None:
    j0 = np.array([0.0, -0.22, 0.02], np.float32)
    on_body = walk.rebased(j0)
    np.testing.assert_allclose(on_body.trans + j0, walk.trans, atol=1e-6)  # pelvis unchanged
    np.testing.assert_array_equal(on_body.root_rest, j0)
    unknown = Motion(walk.poses, walk.trans, walk.fps)  # AMASS convention: fits any body
    assert unknown.root_rest is None
    np.testing.assert_array_equal(unknown.rebased(j0).trans, walk.trans)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fps": -1.0}, "fps"),
        ({"fps": float("nan")}, "fps"),
        ({"trans": np.full((3, 3), np.inf)}, "finite"),
        ({"texts": "a walk"}, "texts"),
        ({"poses": np.zeros((0, 24, 3)), "trans": np.zeros((0, 3))}, "T >= 1"),
    ],
)
def test_validation_names_the_problem(kwargs, match) -> None:
    args = {"poses": np.zeros((3, 24, 3)), "trans": np.zeros((3, 3)), "fps": 30.0} | kwargs
    with pytest.raises(ValueError, match=match):
        Motion(**args, name="clip")
