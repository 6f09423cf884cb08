"""LWG losses: hand-built VGG19 / SphereFace in the official key layouts, loss values and gradients,
LSGAN targets, mask BCE / TV, missing-file errors
(``docs/conventions.md#lwg-losses-and-training``)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from vmc.io.checkpoints import CheckpointError
from vmc.lwg.losses import (
    FaceIdentityLoss,
    LSGANTargets,
    LWGLosses,
    LWGLossWeights,
    Sphere20a,
    TorchvisionFeatures,
    VGGPerceptualLoss,
    detect_backbone_arch,
    head_rects_from_keypoints,
    load_sphere20a,
    load_torchvision_features,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    mask_bce,
    total_variation,
)

# Tiny models: one intra-op thread is faster than several fighting over a shared CPU.
# numerics: CI reruns these under a second CPU kernel set (ATEN_CPU_CAPABILITY=default)
pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.numerics]


@pytest.fixture(scope="module")
def vgg19_file(tmp_path_factory) -> Path:
    """A random VGG19 saved exactly like torchvision's file (features + classifier keys)."""
    torch.manual_seed(1)
    net = TorchvisionFeatures("vgg19")
    state = dict(net.state_dict())
    # torchvision files also hold the classifier; shapes here are irrelevant, it is ignored.
    state["classifier.0.weight"] = torch.randn(4, 8)
    state["classifier.6.bias"] = torch.randn(4)
    path = tmp_path_factory.mktemp("vgg") / "vgg19-dcbb9e9d.pth"
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def sphere_file(tmp_path_factory) -> Path:
    """A random SphereFace-20a saved in the reference's layout, with its fc6 classifier."""
    torch.manual_seed(2)
    state = dict(Sphere20a().state_dict())
    state["fc6.weight"] = torch.randn(512, 10)  # AngleLinear (in, classes); ignored
    path = tmp_path_factory.mktemp("sphere") / "sphere20a_20171020.pth"
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def small_vgg_loss(vgg19_file) -> VGGPerceptualLoss:
    return VGGPerceptualLoss(vgg19_file, resize=32)


@pytest.fixture(scope="module")
def face_loss(sphere_file) -> FaceIdentityLoss:
    return FaceIdentityLoss(sphere_file)


def _images(n: int = 2, size: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g) * 2 - 1


# --------------------------------------------------------------------------- backbones


def test_backbones_match_torchvision_parameter_counts_and_keys():
    # torchvision: vgg16 138,357,544 / vgg19 143,667,240 / alexnet 61,100,840 parameters in
    # total, of which the classifiers hold 123,642,856 / 123,642,856 / 58,631,144.
    counts = {"vgg16": 14_714_688, "vgg19": 20_024_384, "alexnet": 2_469_696}
    for arch, expected in counts.items():
        net = TorchvisionFeatures(arch)
        assert sum(p.numel() for p in net.parameters()) == expected, arch
    conv_ids = {int(k.split(".")[1]) for k in TorchvisionFeatures("vgg19").state_dict()}
    assert conv_ids == {0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34}
    alex_ids = {int(k.split(".")[1]) for k in TorchvisionFeatures("alexnet").state_dict()}
    assert alex_ids == {0, 3, 6, 8, 10}


def test_vgg19_tapped_layers_are_the_reference_slices():
    net = TorchvisionFeatures("vgg19")
    # iPERCore slices VGG19.features at [2, 7, 12, 21, 30] (after relu1_1 ... relu5_1).
    idx = [net.layer_index(n) + 1 for n in ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")]
    assert idx == [2, 7, 12, 21, 30]
    assert [net.channels(n) for n in ("relu1_1", "relu3_1", "relu5_1")] == [64, 256, 512]
    with pytest.raises(ValueError, match="relu9_9"):
        net.layer_index("relu9_9")


def test_vgg19_file_loads_strictly_ignoring_classifier(vgg19_file):
    loaded = load_torchvision_features(vgg19_file)
    assert loaded.arch == "vgg19"
    saved = torch.load(vgg19_file, weights_only=True)
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, saved[k]), k


def test_backbone_loader_reports_what_is_wrong(tmp_path):
    alex = TorchvisionFeatures("alexnet").state_dict()
    missing = {k: v for k, v in alex.items() if k != "features.10.weight"}
    torch.save(missing, tmp_path / "a.pth")
    with pytest.raises(CheckpointError, match="features.10.weight"):
        load_torchvision_features(tmp_path / "a.pth")
    bad = dict(alex)
    bad["features.3.weight"] = torch.zeros(192, 64, 3, 3)
    torch.save(bad, tmp_path / "b.pth")
    with pytest.raises(CheckpointError, match=r"features.3.weight.*\(192, 64, 3, 3\)"):
        load_torchvision_features(tmp_path / "b.pth")
    bn = dict(alex)
    bn["features.1.running_mean"] = torch.zeros(64)  # a *_bn file
    torch.save(bn, tmp_path / "c.pth")
    with pytest.raises(CheckpointError, match="unexpected.*features.1.running_mean"):
        load_torchvision_features(tmp_path / "c.pth")
    torch.save(alex, tmp_path / "d.pth")
    with pytest.raises(CheckpointError, match="vgg19"):
        load_torchvision_features(tmp_path / "d.pth", arch="vgg19")
    with pytest.raises(CheckpointError, match="not a torchvision"):
        detect_backbone_arch({"conv.weight": torch.zeros(1)})


# --------------------------------------------------------------------------- perceptual


def test_perceptual_loss_matches_weighted_l1_of_reference_slices(small_vgg_loss):
    pred, target = _images(seed=1), _images(seed=2)
    got = small_vgg_loss(pred, target)
    feats = small_vgg_loss.network.features
    slices = [(0, 2), (2, 7), (7, 12), (12, 21), (21, 30)]
    weights = [1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0]
    a, b = pred, target  # already 32x32: the resize is the identity
    expected = 0.0
    with torch.no_grad():
        for (s, e), w in zip(slices, weights, strict=True):
            a, b = feats[s:e](a), feats[s:e](b)
            expected += w * (a - b).abs().mean().item()
    assert got.item() == pytest.approx(expected, rel=1e-5)
    assert got.item() > 0


def test_perceptual_loss_zero_for_identical_and_gradients_reach_only_pred(small_vgg_loss):
    x = _images(seed=3)
    assert small_vgg_loss(x, x.clone()).item() == 0.0
    pred = _images(seed=4).requires_grad_(True)
    target = _images(seed=5).requires_grad_(True)
    small_vgg_loss(pred, target).backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert target.grad is None  # target features are constants
    assert all(p.grad is None for p in small_vgg_loss.network.parameters())
    # the frozen VGG is not part of the module: nothing to optimise, nothing in checkpoints
    assert list(small_vgg_loss.parameters()) == [] and small_vgg_loss.state_dict() == {}


def test_perceptual_loss_resizes_to_224_with_align_corners(vgg19_file):
    loss = VGGPerceptualLoss(vgg19_file)  # paper default: resize 224
    seen = {}

    class _Stop(Exception):
        pass

    def hook(_m, inputs):
        seen["x"] = inputs[0].detach().clone()
        raise _Stop

    handle = loss.network.features[0].register_forward_pre_hook(hook)
    x = _images(n=1, size=40, seed=6)
    try:
        with pytest.raises(_Stop):
            loss(x, x)
    finally:
        handle.remove()
    expected = F.interpolate(x, size=(224, 224), mode="bilinear", align_corners=True)
    assert seen["x"].shape == (1, 3, 224, 224)
    torch.testing.assert_close(seen["x"], expected)  # and no ImageNet normalisation


def test_perceptual_loss_accepts_5d_and_rejects_bad_shapes(small_vgg_loss):
    x = _images(n=4, seed=7)
    y = _images(n=4, seed=8)
    flat = small_vgg_loss(x, y)
    five = small_vgg_loss(x.view(2, 2, 3, 32, 32), y.view(2, 2, 3, 32, 32))
    assert five.item() == pytest.approx(flat.item(), rel=1e-6)
    with pytest.raises(ValueError, match="same shape|must match"):
        small_vgg_loss(x, y[:2])
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        small_vgg_loss(x[:, :1], y[:, :1])
    with pytest.raises(ValueError, match="relu9_1"):
        VGGPerceptualLoss(features=small_vgg_loss.network, layers=("relu9_1",), layer_weights=(1,))


# --------------------------------------------------------------------------- missing files


@pytest.fixture
def empty_assets(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "vmc_assets"
    root.mkdir()
    monkeypatch.setenv("VMC_ASSETS", str(root))
    monkeypatch.chdir(tmp_path)
    return root


def test_missing_vgg19_file_says_which_file_and_where(empty_assets):
    with pytest.raises(FileNotFoundError) as err:
        VGGPerceptualLoss()
    msg = str(err.value)
    assert "vgg19-dcbb9e9d.pth" in msg
    assert str(empty_assets / "losses" / "vgg19-dcbb9e9d.pth") in msg
    assert "weights='random'" in msg and "weight 0" in msg
    with pytest.raises(FileNotFoundError) as err:
        LWGLosses()  # a default run stops at construction
    assert "vgg19-dcbb9e9d.pth" in str(err.value)


def test_missing_sphereface_file_says_which_file_and_where(empty_assets):
    with pytest.raises(FileNotFoundError) as err:
        FaceIdentityLoss()
    msg = str(err.value)
    assert "sphere20a_20171020.pth" in msg
    assert str(empty_assets / "losses" / "sphere20a_20171020.pth") in msg
    with pytest.raises(FileNotFoundError, match="sphere20a_20171020.pth"):
        LWGLosses({"perceptual": 0})


def test_explicit_missing_path_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        VGGPerceptualLoss(tmp_path / "nowhere.pth")


def test_switched_off_losses_need_no_files(empty_assets):
    losses = LWGLosses({"perceptual": 0, "face": None})
    assert losses.perceptual is None and losses.face is None
    out = losses.generator_losses(fake_src=_images(seed=1), real_src=_images(seed=2))
    assert set(out) == {"rec", "total"}


def test_asset_lookup_finds_files_under_vmc_assets(empty_assets, vgg19_file, sphere_file):
    (empty_assets / "losses").mkdir()
    (empty_assets / "losses" / "vgg19-dcbb9e9d.pth").symlink_to(vgg19_file)
    (empty_assets / "losses" / "sphere20a_20171020.pth").symlink_to(sphere_file)
    losses = LWGLosses(vgg_resize=32)
    saved = torch.load(vgg19_file, weights_only=True)
    assert torch.equal(losses.perceptual.network.features[0].weight, saved["features.0.weight"])
    saved = torch.load(sphere_file, weights_only=True)
    assert torch.equal(losses.face.network.conv1_1.weight, saved["conv1_1.weight"])


def test_missing_files_fall_back_to_a_pixel_loss_when_asked(empty_assets, caplog):
    """when_missing='pixel': the target frames keep a pixel signal (perceptual -> weighted L1),
    the face term is off, and both are logged; the default still stops at start."""
    with pytest.raises(FileNotFoundError):
        LWGLosses()
    with pytest.raises(ValueError, match="when_missing"):
        LWGLosses(when_missing="ignore")
    with caplog.at_level(logging.WARNING):
        losses = LWGLosses(when_missing="pixel")
    assert losses.perceptual is None and losses.face is None
    assert losses.sources == {
        "perceptual": "pixel L1 (VGG19 file missing)",
        "face": "off (SphereFace file missing)",
    }
    assert "VGG19 file missing" in caplog.text and "SphereFace file missing" in caplog.text
    fake, real = _images(seed=1), _images(seed=2)
    out = losses.generator_losses(fake_tsf=fake, real_tsf=real)
    assert set(out) == {"perceptual", "total"}
    assert torch.allclose(out["perceptual"], 10 * (fake - real).abs().mean())


def test_loss_sources_name_random_weights_and_files(empty_assets, vgg19_file):
    losses = LWGLosses(vgg_weights=vgg19_file, face_weights="random", vgg_resize=32)
    assert losses.sources == {"perceptual": f"vgg19 ({vgg19_file.name})", "face": "random weights"}


def test_random_weights_are_explicit_and_logged(empty_assets, caplog):
    with caplog.at_level(logging.WARNING):
        LWGLosses(vgg_weights="random", face_weights="random")
    text = caplog.text
    assert "RANDOM weights" in text and "VGG19" in text and "SphereFace" in text


# --------------------------------------------------------------------------- SphereFace


def test_sphere20a_layout_shapes_and_file(sphere_file):
    net = Sphere20a()
    assert sum(p.numel() for p in net.parameters()) == 22_670_656
    keys = net.state_dict().keys()
    assert {"conv1_1.weight", "relu1_1.weight", "conv3_9.bias", "conv4_3.weight"} <= set(keys)
    assert net.state_dict()["fc5.weight"].shape == (512, 512 * 7 * 6)
    assert len(keys) == 20 * 3 + 2  # 20 convs (weight, bias, PReLU) + fc5
    feats = net(torch.zeros(1, 3, 112, 96))
    assert [tuple(f.shape) for f in feats] == [
        (1, 64, 56, 48),
        (1, 128, 28, 24),
        (1, 256, 14, 12),
        (1, 512, 7, 6),
        (1, 512),
    ]
    with pytest.raises(ValueError, match="112, 96"):
        net(torch.zeros(1, 3, 112, 112))
    loaded = load_sphere20a(sphere_file)  # fc6.* is dropped, the rest strict
    saved = torch.load(sphere_file, weights_only=True)
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, saved[k]), k


def test_sphere20a_loader_lists_missing_keys(tmp_path):
    torch.save({"conv1_1.weight": torch.zeros(64, 3, 3, 3)}, tmp_path / "s.pth")
    with pytest.raises(CheckpointError, match=r"missing keys \(61\): conv1_1.bias"):
        load_sphere20a(tmp_path / "s.pth")


def test_head_rects_from_keypoints_rule():
    # binary fractions keep the float arithmetic exact
    kps = torch.tensor([[[-0.5, -0.75], [0.0, -0.25]], [[0.75, 0.5], [1.0, 1.0]]])
    rects = head_rects_from_keypoints(kps, height=64, width=64, margin=0.0625)
    # sample 0: x in [0.25, 0.5], y in [0.125, 0.375]; margin left/right/top only
    assert rects[0].tolist() == [12, 36, 4, 24]
    # sample 1: clamped to the image
    assert rects[1].tolist() == [52, 64, 44, 64]
    assert rects.dtype == torch.long


def test_face_loss_values_crops_and_gradients(face_loss):
    real = _images(n=2, size=64, seed=9)
    assert face_loss(real, real.clone()).item() == 0.0
    rects = torch.tensor([[8, 40, 4, 44], [16, 48, 10, 50]])
    fake = real.clone()
    fake[:, :, 50:, :] = -1.0  # below both boxes: invisible to the loss
    assert face_loss(fake, real, rects).item() == 0.0
    fake[:, :, 20:30, 20:30] = 1.0  # inside both boxes
    fake.requires_grad_(True)
    value = face_loss(fake, real, rects)
    assert value.item() > 0
    value.backward()
    assert fake.grad[:, :, 20:30, 20:30].abs().sum() > 0
    assert fake.grad[:, :, 55:, :].abs().sum() == 0
    assert list(face_loss.parameters()) == []


def test_face_loss_with_only_empty_boxes_is_zero_but_attached(face_loss):
    fake = _images(n=2, size=64, seed=10).requires_grad_(True)
    rects = torch.tensor([[5, 5, 0, 10], [0, 10, 7, 7]])
    value = face_loss(fake, _images(n=2, size=64, seed=11), rects)
    assert value.item() == 0.0 and value.requires_grad


# --------------------------------------------------------------------------- LSGAN


def test_lsgan_targets_and_per_head_averaging():
    t = LSGANTargets()
    assert (t.real, t.fake, t.generator) == (1.0, -1.0, 0.0)
    # perfect discriminator: real -> 1, fake -> -1
    real = {"global": torch.ones(2, 1, 3, 3), "head": torch.ones(1, 1, 1, 1)}
    fake = {"global": -torch.ones(2, 1, 3, 3), "head": -torch.ones(1, 1, 1, 1)}
    d_real, d_fake = lsgan_discriminator_loss(real, fake)
    assert d_real.item() == 0.0 and d_fake.item() == 0.0
    # generator target is 0, not 1
    assert lsgan_generator_loss({"g": torch.zeros(2, 1, 4, 4)}).item() == 0.0
    assert lsgan_generator_loss(fake).item() == pytest.approx(1.0)
    # heads of different sizes are averaged per head, not pooled
    heads = {"big": torch.full((1, 1, 4, 4), 2.0), "small": torch.zeros(1, 1, 1, 1)}
    assert lsgan_generator_loss(heads).item() == pytest.approx((4.0 + 0.0) / 2)
    # an empty head (all boxes skipped) does not count
    heads["empty"] = torch.zeros(0, 1, 1, 1)
    assert lsgan_generator_loss(heads).item() == pytest.approx(2.0)
    with pytest.raises(ValueError, match="empty"):
        lsgan_generator_loss({"e": torch.zeros(0, 1, 2, 2)})
    # list input and the real term uses target 1
    r, f = lsgan_discriminator_loss([torch.zeros(1, 1, 2, 2)], [torch.zeros(1, 1, 2, 2)])
    assert (r.item(), f.item()) == (1.0, 1.0)


# --------------------------------------------------------------------------- masks


def test_mask_bce_matches_formula_and_stacks_lists():
    g = torch.Generator().manual_seed(3)
    p_src = torch.rand(2, 2, 1, 8, 8, generator=g) * 0.98 + 0.01
    p_tsf = torch.rand(2, 1, 1, 8, 8, generator=g) * 0.98 + 0.01
    t_src = (torch.rand(2, 2, 1, 8, 8, generator=g) > 0.5).float()
    t_tsf = (torch.rand(2, 1, 1, 8, 8, generator=g) > 0.5).float()
    got = mask_bce([p_src, p_tsf], [t_src, t_tsf])
    p = torch.cat([p_src.flatten(), p_tsf.flatten()])
    t = torch.cat([t_src.flatten(), t_tsf.flatten()])
    expected = -(t * torch.log(p) + (1 - t) * torch.log(1 - p)).mean()
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)
    assert mask_bce(t_src, t_src).item() == 0.0  # a perfect mask costs nothing
    with pytest.raises(ValueError, match="same shape"):
        mask_bce(p_src, t_tsf)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = mask_bce(p_src.bfloat16(), t_src)
    assert half.dtype == torch.float32


def test_total_variation_values():
    assert total_variation(torch.full((2, 1, 5, 5), 0.3)).item() == 0.0
    stripes = torch.zeros(1, 1, 4, 6)
    stripes[..., 1::2] = 1.0  # alternates along x only
    assert total_variation(stripes).item() == pytest.approx(1.0)
    ramp = torch.arange(5.0).view(1, 1, 5, 1).expand(1, 1, 5, 3) / 4
    assert total_variation(ramp).item() == pytest.approx(0.25)
    with pytest.raises(ValueError, match="share H, W"):
        total_variation([torch.zeros(1, 4, 4), torch.zeros(1, 5, 5)])


# --------------------------------------------------------------------------- combined


def test_loss_weights_validation():
    w = LWGLossWeights.from_any({"rec": 1.0, "face": 0})
    assert w.enabled("rec") and not w.enabled("face") and w.weight("perceptual") == 10.0
    assert LWGLossWeights().to_dict() == {
        "rec": 10.0,
        "perceptual": 10.0,
        "face": 5.0,
        "adv": 1.0,
        "mask": 5.0,
        "tv": 1.0,
    }
    with pytest.raises(ValueError, match="bogus"):
        LWGLossWeights.from_any({"bogus": 1.0})
    with pytest.raises(ValueError, match=">= 0"):
        LWGLossWeights.from_any({"rec": -1.0})


def test_lwg_losses_terms_total_and_gradients(small_vgg_loss, face_loss):
    losses = LWGLosses(vgg_weights="random", face_weights="random", vgg_resize=32)
    # reuse the module-scoped networks so values are reproducible and cheap
    losses.perceptual = small_vgg_loss
    losses.face = face_loss
    B, ns, nt, S = 1, 2, 2, 64
    fake_src, real_src = _images(B * ns, S, 1).view(B, ns, 3, S, S), _images(B * ns, S, 2)
    real_src = real_src.view(B, ns, 3, S, S)
    fake_bg, real_bg = _images(B, S, 3).view(B, 1, 3, S, S), _images(B, S, 4).view(B, 1, 3, S, S)
    fake_tsf = _images(B * nt, S, 5).view(B, nt, 3, S, S).requires_grad_(True)
    real_tsf = _images(B * nt, S, 6).view(B, nt, 3, S, S)
    masks = [torch.rand(B, ns, 1, S, S) * 0.9 + 0.05, torch.rand(B, nt, 1, S, S) * 0.9 + 0.05]
    mask_targets = [(torch.rand_like(m) > 0.5).float() for m in masks]
    d_fake = {"global": torch.randn(B * nt, 1, 3, 3), "head": torch.randn(1, 1, 1, 1)}
    out = losses.generator_losses(
        fake_src=fake_src,
        real_src=real_src,
        fake_bg=fake_bg,
        real_bg=real_bg,
        fake_tsf=fake_tsf,
        real_tsf=real_tsf,
        head_rects=torch.tensor([[10, 50, 5, 40], [20, 60, 0, 30]]),
        masks=masks,
        mask_targets=mask_targets,
        d_fake=d_fake,
    )
    assert set(out) == {"rec", "perceptual", "face", "adv", "mask", "tv", "total"}
    rec = 10 * ((fake_src - real_src).abs().mean() + (fake_bg - real_bg).abs().mean()) / 2
    assert out["rec"].item() == pytest.approx(rec.item(), rel=1e-5)
    assert out["perceptual"].item() == pytest.approx(
        10 * small_vgg_loss(fake_tsf, real_tsf).item(), rel=1e-5
    )
    assert out["tv"].item() == pytest.approx(total_variation(masks).item(), rel=1e-5)
    assert out["mask"].item() == pytest.approx(5 * mask_bce(masks, mask_targets).item(), rel=1e-5)
    terms = sum(v.item() for k, v in out.items() if k != "total")
    assert out["total"].item() == pytest.approx(terms, rel=1e-5)
    assert all(math.isfinite(v.item()) and v.item() > 0 for v in out.values())
    out["total"].backward()
    assert fake_tsf.grad is not None and fake_tsf.grad.abs().sum() > 0
    assert losses.state_dict() == {}  # frozen networks stay out of checkpoints

    d = losses.discriminator_losses(
        {"global": torch.ones(2, 1, 3, 3)}, {"global": -torch.ones(2, 1, 3, 3)}
    )
    assert d["total"].item() == 0.0
    with pytest.raises(ValueError, match="together"):
        losses.generator_losses(fake_src=fake_src)


def test_lwg_losses_respect_switched_off_terms():
    losses = LWGLosses({"perceptual": 0, "face": 0, "adv": None, "tv": 0})
    masks = torch.rand(1, 2, 1, 8, 8)
    out = losses.generator_losses(
        fake_src=_images(seed=1),
        real_src=_images(seed=2),
        masks=masks,
        mask_targets=(masks > 0.5).float(),
        d_fake=torch.zeros(1, 1, 2, 2),
    )
    assert set(out) == {"rec", "mask", "total"}
    with pytest.raises(ValueError, match="switched off"):
        losses.discriminator_losses(torch.ones(1), torch.ones(1))
    with pytest.raises(ValueError, match="no enabled loss term"):
        losses.generator_losses(d_fake=torch.zeros(1, 1, 2, 2))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_losses_follow_inputs_to_cuda_under_autocast():
    losses = LWGLosses(vgg_weights="random", face_weights="random", vgg_resize=64).cuda()
    fake = _images(n=2, size=64, seed=1).cuda().requires_grad_(True)
    real = _images(n=2, size=64, seed=2).cuda()
    masks = torch.rand(2, 1, 64, 64, device="cuda")
    with torch.autocast("cuda", dtype=torch.float16):
        out = losses.generator_losses(
            fake_tsf=fake,
            real_tsf=real,
            fake_src=fake,
            real_src=real,
            masks=masks.half(),
            mask_targets=(masks > 0.5).float(),
            d_fake=torch.randn(2, 1, 4, 4, device="cuda"),
        )
    out["total"].backward()
    assert torch.isfinite(out["total"]) and fake.grad.abs().sum() > 0
    assert losses.perceptual.network.features[0].weight.device.type == "cuda"
