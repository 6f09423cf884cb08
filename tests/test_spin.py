"""SPIN regressor: key layout, head parity with iPERCore, strict loading, crop and camera.

Fixtures: ``shared/reference/hmr_state_dict.json`` (``spin_variant_used_by_iPERCore``: the 331
keys / shapes of ``spin_ckpt.pth``) and ``spin_regressor_parity.npz`` (the original head run on
given 2048-d features; missing fixtures fail, see ``conftest.reference_file``).

Tolerances: the fixture's float64-vs-float32 gap on the head is 1.7e-6, so head outputs and
intermediates use 10x that (1.7e-5). Axis-angle uses 1e-4: SPIN converts through the
torchgeometry quaternion route, which differs from vmc's log map by up to 4.1e-5 (same
rotations). In practice this implementation matches the fixture to ~2e-7.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch
from conftest import reference_file

from vmc.geometry.camera import ndc_to_pixels, pixels_to_ndc, project_weak_perspective
from vmc.geometry.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    matrix_to_rot6d_cols,
    rot6d_cols_to_matrix,
)
from vmc.io.checkpoints import CheckpointError
from vmc.lwg.losses.backbones import IMAGENET_MEAN, IMAGENET_STD
from vmc.lwg.spin import (
    SPIN_PARAM_COUNT,
    SPINCropTransform,
    SPINRegressor,
    fit_person,
    load_spin,
    spin_cam_to_square_crop,
    spin_crop,
)

F64_GAP = 1.7e-6  # fixture README: max |float64 run - float32 fixture| on the head
ATOL = 10 * F64_GAP
ATOL_AA = 1e-4


@pytest.fixture(scope="module")
def model() -> SPINRegressor:
    torch.manual_seed(0)
    return SPINRegressor().eval()


@pytest.fixture(scope="module")
def fx() -> dict[str, torch.Tensor]:
    with np.load(reference_file("spin_regressor_parity.npz")) as z:
        return {k: torch.from_numpy(z[k]) for k in z.files if k != "config_json"}


def _maxdiff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a.double() - b.double()).abs().max().item()


# ------------------------------------------------------------------------------ layout
def test_state_dict_matches_spin_ckpt_manifest(model):
    manifest = json.loads(reference_file("hmr_state_dict.json").read_text())
    spin = manifest["spin_variant_used_by_iPERCore"]
    sd = model.state_dict()
    assert list(sd) == list(spin["keys"])  # names and order
    assert {k: list(v.shape) for k, v in sd.items()} == spin["keys"]
    assert len(sd) == spin["num_keys"] == 331
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == spin["param_count"] == SPIN_PARAM_COUNT == 26_977_501
    assert sum(b.numel() for b in model.buffers()) == spin["buffer_element_count"]


def test_forward_shapes_and_valid_rotations(model):
    images = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        out = model(images)
    assert out.pred_cam.shape == (2, 3)
    assert out.pred_rotmat.shape == (2, 24, 3, 3)
    assert out.pred_pose_aa.shape == (2, 72)
    assert out.pred_betas.shape == (2, 10)
    assert out.pred_pose6d.shape == (2, 144)
    assert out.theta.shape == (2, 85)
    assert out.iterations == ()
    r = out.pred_rotmat
    eye = torch.eye(3).expand_as(r)
    assert _maxdiff(r.transpose(-1, -2) @ r, eye) < 1e-5
    assert _maxdiff(torch.linalg.det(r), torch.ones(2, 24)) < 1e-5
    assert _maxdiff(axis_angle_to_matrix(out.pred_pose_aa.reshape(2, 24, 3)), r) < 1e-5
    # The image path is the head applied to the pooled backbone features.
    with torch.no_grad():
        head = model.forward_head(model.forward_features(images))
    assert torch.equal(head.theta, out.theta)
    with pytest.raises(ValueError, match="224"):
        model(torch.zeros(1, 3, 256, 256))
    with pytest.raises(ValueError, match="2048"):
        model.forward_head(torch.zeros(1, 512))


def test_fresh_model_starts_near_its_mean_parameters():
    torch.manual_seed(1)
    m = SPINRegressor().eval()
    with torch.no_grad():
        out = m.forward_head(torch.zeros(1, 2048))
    root = out.pred_rotmat[0, 0]
    assert _maxdiff(root, torch.diag(torch.tensor([1.0, -1.0, -1.0]))) < 0.1  # ~R_x(pi)
    assert abs(out.pred_cam[0, 0].item() - 0.9) < 0.1


def test_dropout_only_in_train_mode(fx):
    m = SPINRegressor()
    load_spin(reference_file("spin_regressor_parity.npz"), parts="head", model=m)
    feats = fx["in_features"]
    with torch.no_grad():
        a, b = m.forward_head(feats).theta, m.forward_head(feats).theta
        assert torch.equal(a, b)
        m.train()
        c = m.forward_head(feats).theta
    assert not torch.allclose(a, c)


# ------------------------------------------------------------------------------ parity
def test_head_parity_with_ipercore(fx):
    m = load_spin(reference_file("spin_regressor_parity.npz"), parts="head")
    assert not m.training
    with torch.no_grad():
        out = m.forward_head(fx["in_features"], record_iterations=True)
    assert _maxdiff(out.pred_cam, fx["out_pred_cam"]) <= ATOL
    assert _maxdiff(out.pred_betas, fx["out_pred_shape"]) <= ATOL
    assert _maxdiff(out.pred_pose6d, fx["out_pred_pose6d"]) <= ATOL
    assert _maxdiff(out.pred_rotmat, fx["out_pred_rotmat"]) <= ATOL
    # Axis-angle: the fixture has no angle near pi (checked), so vectors compare directly.
    ref_aa = fx["out_pred_pose_aa"].reshape(2, 24, 3)
    assert ref_aa.norm(dim=-1).max() < math.pi - 0.01
    assert _maxdiff(out.pred_pose_aa, fx["out_pred_pose_aa"]) <= ATOL_AA
    assert _maxdiff(out.theta[:, :3], fx["out_preds"][:, :3]) <= ATOL
    assert _maxdiff(out.theta[:, 75:], fx["out_preds"][:, 75:]) <= ATOL
    assert _maxdiff(out.theta[:, 3:75], fx["out_preds"][:, 3:75]) <= ATOL_AA
    steps = out.iterations
    assert len(steps) == 3
    for name, attr in (("fc1_in", "fc1_in"), ("dpose", "dpose"), ("dshape", "dshape")):
        got = torch.stack([getattr(s, attr) for s in steps])
        assert _maxdiff(got, fx[f"out_iter_{name}"]) <= ATOL, name
    assert _maxdiff(torch.stack([s.dcam for s in steps]), fx["out_iter_dcam"]) <= ATOL


def test_rot6d_convention(fx):
    assert _maxdiff(rot6d_cols_to_matrix(fx["in_rot6d_test"]), fx["out_rot6d_test_rotmat"]) <= ATOL
    rots = fx["in_rotmat_aa_test"]
    assert _maxdiff(matrix_to_rot6d_cols(rots), fx["out_rotmat_aa_test_rot6d"]) <= ATOL
    # Exactly three rotations (where SPIN's torch.cross without dim goes wrong) still work.
    three = rot6d_cols_to_matrix(fx["in_rot6d_test"][:3])
    assert _maxdiff(torch.linalg.det(three), torch.ones(3)) < 1e-5
    assert _maxdiff(three, fx["out_rot6d_test_rotmat"][:3]) <= ATOL


def test_axis_angle_convention(fx):
    rots = fx["in_rotmat_aa_test"]  # I, R_x(pi), R_y(pi), R_z(pi), 4 random
    aa, ref = matrix_to_axis_angle(rots), fx["out_rotmat_aa_test_aa"]
    # At angle pi the axis sign is arbitrary: compare those as rotations.
    assert _maxdiff(axis_angle_to_matrix(aa), axis_angle_to_matrix(ref)) <= ATOL_AA
    assert _maxdiff(aa[1:4].norm(dim=-1), torch.full((3,), math.pi)) <= ATOL_AA
    assert _maxdiff(aa[[0, 4, 5, 6, 7]], ref[[0, 4, 5, 6, 7]]) <= ATOL_AA


# ------------------------------------------------------------------------------ loading
class NotATensor:
    """An arbitrary Python object: ``weights_only=True`` must refuse to unpickle it."""


def _assert_same_weights(a: SPINRegressor, b: SPINRegressor) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_load_official_and_training_layouts(model, tmp_path):
    sd = model.state_dict()
    official = tmp_path / "spin_ckpt.pth"  # iPERCore: a bare state dict
    torch.save(sd, official)
    _assert_same_weights(load_spin(official), model)
    # SPIN training checkpoint: {"model": DataParallel state dict, "optimizer": ..., ...}
    training = tmp_path / "model_checkpoint.pt"
    wrapped = {f"module.{k}": v for k, v in sd.items()}
    torch.save({"model": wrapped, "optimizer": {"state": {}}, "epoch": 3}, training)
    loaded = load_spin(training)
    _assert_same_weights(loaded, model)
    assert not loaded.training


def test_load_safetensors(model, tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "spin.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    _assert_same_weights(load_spin(path), model)


def test_corrupt_or_unsafe_file_gives_one_line_error(model, tmp_path):
    head = {k: v for k, v in model.state_dict().items() if SPINRegressor.is_head_key(k)}
    path = tmp_path / "truncated.pth"
    torch.save(head, path)
    os.truncate(path, path.stat().st_size // 2)
    with pytest.raises(ValueError) as err:
        load_spin(path, parts="head")
    assert "truncated.pth" in str(err.value) and "\n" not in str(err.value)

    unsafe = tmp_path / "unsafe.pth"
    torch.save({"fc1.weight": NotATensor()}, unsafe)
    with pytest.raises(ValueError, match="unsafe.pth"):
        load_spin(unsafe)
    with pytest.raises(FileNotFoundError):
        load_spin(tmp_path / "absent.pth")


def test_strict_errors_list_the_keys(model, tmp_path):
    head = {k: v.clone() for k, v in model.state_dict().items() if SPINRegressor.is_head_key(k)}
    head_only = tmp_path / "head.pth"
    torch.save(head, head_only)
    head_hint = r"missing keys \(318\): bn1\.bias.*pass parts='head'"
    with pytest.raises(CheckpointError, match=head_hint):
        load_spin(head_only)  # strict by default
    bad = dict(head)
    bad["fc1.weight"] = torch.zeros(1024, 2048)
    bad["decshape.bias"] = torch.zeros(11)
    del bad["init_cam"]
    bad["smpl.faces"] = torch.zeros(3)
    wrong = tmp_path / "wrong.pth"
    torch.save(bad, wrong)
    with pytest.raises(CheckpointError) as err:
        load_spin(wrong, parts="head")
    msg = str(err.value)
    assert "wrong.pth" in msg
    assert "fc1.weight: file (1024, 2048) vs model (1024, 2205)" in msg
    assert "decshape.bias: file (11,) vs model (10,)" in msg
    assert "missing head keys [init_cam]" in msg
    assert "unexpected keys [smpl.faces]" in msg
    with pytest.raises(ValueError, match="parts"):
        load_spin(head_only, parts="backbone")  # type: ignore[arg-type]


def test_head_load_keeps_backbone(model):
    m = SPINRegressor()
    before = m.conv1.weight.clone()
    load_spin(reference_file("spin_regressor_parity.npz"), parts="head", model=m)
    assert torch.equal(m.conv1.weight, before)


# ------------------------------------------------------------------------------ crop
def _unnormalise(crop: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (crop * std + mean) * 255.0


def _ramp_image() -> np.ndarray:
    """256x256: R = column, G = row, B = 128 (linear, so bilinear sampling is exact)."""
    cols, rows = np.meshgrid(np.arange(256), np.arange(256))
    return np.stack([cols, rows, np.full_like(cols, 128)], axis=-1).astype(np.uint8)


def test_spin_crop_geometry_and_normalisation():
    bbox = (80.0, 60.0, 180.0, 200.0)  # long side 140 (vertical)
    crop, tf = spin_crop(_ramp_image(), bbox)
    assert crop.shape == (3, 224, 224) and crop.dtype == torch.float32
    assert tf.scale == pytest.approx(200 / 140)
    # Long side spans 200 px, centred: rows 12..212, box centre at 112.
    corners = tf.image_to_crop(torch.tensor([[80.0, 60.0], [180.0, 200.0]]))
    assert corners[:, 1].tolist() == pytest.approx([12.0, 212.0])
    assert corners[:, 0].mean().item() == pytest.approx(112.0)
    # Every crop pixel centre samples the photo at crop_to_image(centre): value = u - 0.5.
    c = torch.arange(224, dtype=torch.float64) + 0.5
    uv = tf.crop_to_image(torch.stack(torch.meshgrid(c, c, indexing="xy"), dim=-1))
    rgb = _unnormalise(crop).double()
    assert _maxdiff(rgb[0], uv[..., 0] - 0.5) < 2e-3
    assert _maxdiff(rgb[1], uv[..., 1] - 0.5) < 2e-3
    assert _maxdiff(rgb[2], torch.full((224, 224), 128.0)) < 2e-3
    # Round trip of the transform.
    pts = torch.rand(10, 2, dtype=torch.float64) * 300
    assert _maxdiff(tf.crop_to_image(tf.image_to_crop(pts)), pts) < 1e-9


def test_spin_crop_outside_the_photo_is_black():
    white = np.full((100, 60, 3), 255, np.uint8)
    crop, tf = spin_crop(torch.from_numpy(white), (0, 0, 60, 100))  # box = the whole photo
    rgb = _unnormalise(crop)
    inside = tf.image_to_crop(torch.tensor([[0.0, 0.0], [60.0, 100.0]]))  # x 52..172, y 12..212
    assert _maxdiff(inside, torch.tensor([[52.0, 12.0], [172.0, 212.0]])) < 1e-4
    assert _maxdiff(rgb[:, 20:200, 60:160], torch.full((3, 180, 100), 255.0)) < 1e-3
    assert _maxdiff(rgb[:, :, :50], torch.zeros(3, 224, 50)) < 1e-3
    assert _maxdiff(rgb[:, :10], torch.zeros(3, 10, 224)) < 1e-3
    far, _ = spin_crop(white, (1000, 1000, 1010, 1020))  # nowhere near the photo
    assert _maxdiff(_unnormalise(far), torch.zeros(3, 224, 224)) < 1e-3
    with pytest.raises(ValueError, match="uint8"):
        spin_crop(white.astype(np.float32), (0, 0, 10, 10))
    with pytest.raises(ValueError, match="empty"):
        spin_crop(white, (5, 5, 5, 5))


# ------------------------------------------------------------------------------ camera
def _square_ndc(uv: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
    return (uv - box[:, None, :2]) / box[:, None, 2:3] * 2.0 - 1.0


def test_cam_conversion_projects_points_the_same_both_ways():
    g = torch.Generator().manual_seed(3)
    b = 4
    pts = torch.randn(b, 50, 3, generator=g, dtype=torch.float64) * 0.5
    cam = torch.cat(
        [
            0.5 + torch.rand(b, 1, generator=g, dtype=torch.float64),
            0.3 * torch.randn(b, 2, generator=g, dtype=torch.float64),
        ],
        dim=1,
    )
    tfs = [SPINCropTransform(0.2 + i * 0.7, (30.0 * i - 50.0, 12.5 + 9.0 * i)) for i in range(b)]
    box = torch.tensor([[10.0, -20.0, 400.0], [0.0, 0.0, 512.0], [-30.0, 5.0, 300.0],
                        [100.0, 50.0, 128.0]], dtype=torch.float64)  # fmt: skip
    out = spin_cam_to_square_crop(cam, tfs, box)
    assert out.dtype == torch.float64
    # Crop NDC -> crop pixels -> photo pixels -> square NDC  ==  projection with the new cam.
    crop_ndc = project_weak_perspective(pts, cam)[..., :2]
    photo = torch.stack(
        [tf.crop_to_image(ndc_to_pixels(crop_ndc[i], 224)) for i, tf in enumerate(tfs)]
    )
    direct = project_weak_perspective(pts, out)[..., :2]
    assert _maxdiff(_square_ndc(photo, box), direct) < 1e-9
    # And back: square NDC -> photo pixels -> crop pixels -> crop NDC == SPIN's projection.
    photo_back = (direct + 1.0) / 2.0 * box[:, None, 2:3] + box[:, None, :2]
    crop_back = torch.stack(
        [pixels_to_ndc(tf.image_to_crop(photo_back[i]), 224) for i, tf in enumerate(tfs)]
    )
    assert _maxdiff(crop_back, crop_ndc) < 1e-9
    # A resized square (e.g. stored at 512 px) has the same NDC: nothing depends on resolution.
    assert out.shape == (b, 3)


def test_cam_conversion_equals_ipercore_cam_init2orig_and_norm():
    """For the whole square photo: s_c = 224 s / 2, t_c = t + 1/s; s_o = s_c / scale,
    t_o = t_c + (start_pt - 224) / s_c; s = 2 s_o / N, t = t_o - N / (2 s_o)."""
    photo = np.zeros((512, 512, 3), np.uint8)
    _, tf = spin_crop(photo, (200.0, 100.0, 300.0, 420.0))
    cam = torch.tensor([[0.85, 0.05, -0.12]], dtype=torch.float64)
    s_c = 224 * cam[:, :1] / 2
    t_c = cam[:, 1:] + 1 / cam[:, :1]
    s_o = s_c / tf.scale
    t_o = t_c + torch.tensor(tf.offset, dtype=torch.float64) / s_c  # start_pt - 224 = offset
    expected = torch.cat([2 * s_o / 512, t_o - 512 / (2 * s_o)], dim=1)
    got = spin_cam_to_square_crop(cam, tf, (0, 0, 512))
    assert _maxdiff(got, expected) < 1e-12
    with pytest.raises(ValueError, match="1 or 1"):
        spin_cam_to_square_crop(cam, [tf, tf], (0, 0, 512))


def test_fit_person_end_to_end(model):
    image = (np.random.default_rng(0).random((300, 200, 3)) * 255).astype(np.uint8)
    fit = fit_person(model, image, (40, 30, 160, 290), (0, 50, 200))
    assert fit.cam.shape == (3,) and fit.pose.shape == (72,) and fit.betas.shape == (10,)
    expected = spin_cam_to_square_crop(fit.output.pred_cam, fit.transform, (0, 50, 200))[0]
    assert torch.allclose(fit.cam, expected)
    assert torch.equal(fit.pose, fit.output.pred_pose_aa[0])
