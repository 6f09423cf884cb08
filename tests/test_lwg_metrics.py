"""LWG image metrics: L1/PSNR/SSIM, LPIPS without torchvision (heads from the torchmetrics
wheel, backbone from a torchvision-layout file), FID with a custom feature network."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torchmetrics.functional.image import structural_similarity_index_measure

from vmc.io.checkpoints import CheckpointError
from vmc.lwg.losses.backbones import TorchvisionFeatures
from vmc.lwg.metrics import (
    LPIPS,
    LWGImageMetrics,
    PairedFID,
    build_lpips,
    load_lpips_heads,
    lpips_head_file,
)

# Tiny models: one intra-op thread is faster than several fighting over a shared CPU.
# numerics: CI reruns these under a second CPU kernel set (ATEN_CPU_CAPABILITY=default)
pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.numerics]


def _images(n: int = 2, size: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g) * 2 - 1


def _noisy(x: torch.Tensor, sigma: float, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (x + sigma * torch.randn(x.shape, generator=g)).clamp(-1, 1)


@pytest.fixture(scope="module")
def vgg_lpips() -> LPIPS:
    torch.manual_seed(3)
    return LPIPS(TorchvisionFeatures("vgg16"), "vgg")


# --------------------------------------------------------------------------- LPIPS


@pytest.mark.parametrize(
    ("net", "channels"),
    [("vgg", [64, 128, 256, 512, 512]), ("alex", [64, 192, 384, 256, 256])],
)
def test_lpips_heads_ship_in_the_torchmetrics_wheel(net, channels):
    path = lpips_head_file(net)
    assert path.is_file() and path.parent.name == "lpips_models"
    heads = load_lpips_heads(net)
    assert [h.shape[1] for h in heads] == channels
    assert all(h.shape == (1, c, 1, 1) for h, c in zip(heads, channels, strict=True))
    assert all((h >= 0).all() for h in heads)  # LPIPS v0.1 heads are clamped non-negative
    with pytest.raises(ValueError, match="squeezy"):
        lpips_head_file("squeezy")


@pytest.mark.parametrize(("net", "arch"), [("vgg", "vgg16"), ("alex", "alexnet")])
def test_lpips_equals_torchmetrics_implementation(monkeypatch, net, arch):
    """torchmetrics' own LPIPS, with its torchvision backbone swapped for ours, agrees."""
    import torchmetrics.functional.image.lpips as tm_lpips

    torch.manual_seed(4)
    backbone = TorchvisionFeatures(arch)
    monkeypatch.setattr(
        tm_lpips, "_get_tv_model_features", lambda name, pretrained=False: backbone.features
    )
    reference = tm_lpips._LPIPS(pretrained=True, net=net, pnet_rand=True)
    ours = LPIPS(backbone, net)
    x = _images(seed=5)
    y = _noisy(x, 0.3)
    torch.testing.assert_close(ours(x, y), reference(x, y).flatten(), rtol=1e-4, atol=1e-6)


def test_lpips_zero_for_identical_and_grows_with_noise(vgg_lpips):
    x = _images(n=2, seed=6)
    assert vgg_lpips(x, x).abs().max().item() < 1e-6
    d = [vgg_lpips(x, _noisy(x, s)).mean().item() for s in (0.05, 0.2, 0.6)]
    assert 0 < d[0] < d[1] < d[2]


def test_build_lpips_from_a_torchvision_file(tmp_path):
    torch.manual_seed(7)
    backbone = TorchvisionFeatures("alexnet")
    state = dict(backbone.state_dict())
    state["classifier.1.weight"] = torch.randn(3, 3)  # ignored
    path = tmp_path / "alexnet-owt-7be5be79.pth"
    torch.save(state, path)
    from_file = build_lpips(path, "alex")
    x, y = _images(seed=8), _images(seed=9)
    torch.testing.assert_close(from_file(x, y), LPIPS(backbone, "alex")(x, y))
    with pytest.raises(CheckpointError, match="vgg16"):
        build_lpips(path, "vgg")  # an AlexNet file is not a VGG16
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        build_lpips(tmp_path / "missing.pth", "vgg")
    with pytest.raises(ValueError, match="needs a vgg16 backbone"):
        LPIPS(backbone, "vgg")


# --------------------------------------------------------------------------- L1 / PSNR / SSIM


def test_l1_psnr_ssim_values():
    x = _images(n=3, seed=10) * 0.8  # keep x +- 0.1 inside [-1, 1]
    sign = torch.where(_images(n=3, seed=11) > 0, 1.0, -1.0)
    y = x + 0.1 * sign  # |error| = 0.1 everywhere: MSE 0.01, L1 0.1
    metrics = LWGImageMetrics()
    metrics.update(y, x)
    out = metrics.compute()
    assert set(out) == {"l1", "psnr", "ssim"}
    assert out["l1"].item() == pytest.approx(0.1, rel=1e-5)
    assert out["psnr"].item() == pytest.approx(10 * math.log10(2.0**2 / 0.01), rel=1e-4)
    expected_ssim = structural_similarity_index_measure((y + 1) / 2, (x + 1) / 2, data_range=1.0)
    assert out["ssim"].item() == pytest.approx(expected_ssim.item(), rel=1e-5)
    assert 0 < out["ssim"].item() < 1

    metrics.reset()
    metrics.update(x, x)
    assert metrics.compute()["ssim"].item() == pytest.approx(1.0, abs=1e-6)


def test_metrics_accumulate_over_batches_and_accept_5d():
    a, b = _images(n=4, seed=12), _images(n=4, seed=13)
    whole = LWGImageMetrics(prefix="val/")
    whole.update(a.view(2, 2, 3, 32, 32), b.view(2, 2, 3, 32, 32))
    split = LWGImageMetrics(prefix="val/")
    split(a[:1], b[:1])  # calling it updates, like update()
    split.update(a[1:], b[1:])
    r1, r2 = whole.compute(), split.compute()
    assert set(r1) == {"val/l1", "val/psnr", "val/ssim"}
    for k in r1:
        assert r1[k].item() == pytest.approx(r2[k].item(), rel=1e-5), k


def test_metrics_reject_bad_inputs():
    m = LWGImageMetrics()
    with pytest.raises(ValueError, match="differ"):
        m.update(_images(n=2), _images(n=3))
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        m.update(torch.zeros(2, 1, 32, 32), torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="11x11"):
        m.update(_images(size=8), _images(size=8))


# --------------------------------------------------------------------------- FID


class _TinyFeatures(nn.Module):
    """8-d features: a fixed random conv, ReLU, global average pooling."""

    num_features = 8

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(14)
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x)).mean(dim=(2, 3))


def test_fid_with_a_small_feature_module_runs_offline():
    real = _images(n=24, size=16, seed=15)
    same = _images(n=24, size=16, seed=16)
    shifted = (_images(n=24, size=16, seed=17) * 0.5 + 0.4).clamp(-1, 1)

    fid = PairedFID(_TinyFeatures())
    fid.update(same, real)
    close = fid.compute().item()
    fid.reset()
    fid.update(shifted, real)
    far = fid.compute().item()
    assert 0 <= close < far


def test_image_metrics_with_lpips_and_fid_keep_weights_out_of_state_dict():
    metrics = LWGImageMetrics(lpips_weights="random", lpips_net="alex", fid_feature=_TinyFeatures())
    real = _images(n=6, size=32, seed=18)
    metrics.update(_noisy(real, 0.2), real)
    out = metrics.compute()
    assert set(out) == {"l1", "psnr", "ssim", "lpips", "fid"}
    assert out["lpips"].item() > 0 and math.isfinite(out["fid"].item())
    assert not [k for k in metrics.state_dict() if "weight" in k or "bias" in k]
    assert list(metrics.parameters()) == []

    backbone_fid = LWGImageMetrics(fid_weights="random")  # pooled VGG16 features (512-d)
    backbone_fid.update(_noisy(real, 0.2), real)
    assert math.isfinite(backbone_fid.compute()["fid"].item())
    with pytest.raises(ValueError, match="num_features"):
        LWGImageMetrics(fid_feature=nn.Identity())
