"""Tests of the LWG discriminators (vmc.lwg.discriminator) and their loader.

Parity against ``shared/reference/lwg_discriminator_parity_small.npz`` (original iPERCore
classes, ``w::`` single head, ``wtrain::`` four heads) and the released manifest.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import reference_file

from vmc.io.checkpoints import CheckpointError
from vmc.lwg import (
    GlobalBodyHeadDiscriminator,
    GlobalDiscriminator,
    PatchDiscriminator,
    average_logits,
    crop_and_resize,
    load_discriminator,
    save_discriminator,
)
from vmc.lwg.loading import discriminator_kwargs_from_state_dict

# Float arithmetic compared against references: CI reruns these under a second CPU kernel set
# (ATEN_CPU_CAPABILITY=default) so every tolerance holds on any x86-64 CPU.
pytestmark = pytest.mark.numerics

ATOL = 1e-4


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: one intra-op thread avoids OpenMP contention on shared CI cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _reference_dir() -> Path:
    """Fixtures: $VMC_REFERENCE_DIR, else tests/fixtures/reference, else ../shared/reference."""
    return reference_file("lwg_discriminator_state_dict.json").parent


def _fixture():
    z = np.load(_reference_dir() / "lwg_discriminator_parity_small.npz")
    return z, (lambda k: torch.from_numpy(z[k]))


def _shapes(module: torch.nn.Module) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in module.state_dict().items()}


def test_released_configurations_match_the_manifest():
    manifest = json.loads((_reference_dir() / "lwg_discriminator_state_dict.json").read_text())
    with torch.device("meta"):
        single = GlobalDiscriminator()
        four = GlobalBodyHeadDiscriminator()
        logits = single(torch.empty(1, 6, 512, 512))["global"]
    assert _shapes(single) == manifest["keys"] and list(single.state_dict()) == list(
        manifest["keys"]
    )
    assert sum(p.numel() for p in single.parameters()) == manifest["param_count"] == 6_962_625
    assert list(logits.shape) == manifest["output_shape_for_1x6x512x512"][0] == [1, 1, 30, 30]
    train = manifest["training_variant"]
    assert _shapes(four) == train["keys"]
    assert sum(p.numel() for p in four.parameters()) == train["param_count"] == 27_848_452
    # The loader infers the released constructor arguments from shapes alone.
    cls, kw = discriminator_kwargs_from_state_dict(
        {k: torch.empty(v, device="meta") for k, v in train["keys"].items()}
    )
    assert cls is GlobalBodyHeadDiscriminator
    assert kw == dict(
        in_channels=6, bg_in_channels=4, ndf=64, n_layers=4, max_nf_mult=8, use_bg=True
    )


def test_single_head_parity():
    z, t = _fixture()
    d = load_discriminator(_reference_dir() / "lwg_discriminator_parity_small.npz", prefix="w::")
    assert isinstance(d, GlobalDiscriminator)
    with torch.no_grad():
        out = d(t("in_x"))
        assert list(out) == ["global"]
        torch.testing.assert_close(out["global"], t("out_global"), atol=ATOL, rtol=0)
        torch.testing.assert_close(
            average_logits(out).view(1), t("out_global_avg"), atol=ATOL, rtol=0
        )
        x = t("in_x")
        for i, layer in enumerate(d.global_model.model):
            x = layer(x)
            torch.testing.assert_close(x, t(f"out_global_layer{i}"), atol=ATOL, rtol=0, msg=str(i))


def test_four_head_parity_with_skipped_head_box():
    z, t = _fixture()
    d = load_discriminator(
        _reference_dir() / "lwg_discriminator_parity_small.npz", prefix="wtrain::"
    )
    assert isinstance(d, GlobalBodyHeadDiscriminator) and d.use_bg
    x, body, head = t("in_x_train"), t("in_body_rects_train"), t("in_head_rects_train")
    with torch.no_grad():
        body_crops, head_crops = d.crops(x, body, head)
        out = d(x, body, head, bg_x=t("in_bg_x_train"))
    torch.testing.assert_close(body_crops, t("out_train_body_crops"), atol=ATOL, rtol=0)
    torch.testing.assert_close(head_crops, t("out_train_head_crops"), atol=ATOL, rtol=0)
    assert list(out) == ["bg", "global", "body", "head"]
    assert out["head"].shape[0] == 1  # sample 1's head box is degenerate
    for name, logits in out.items():
        torch.testing.assert_close(logits, t(f"out_train_{name}"), atol=ATOL, rtol=0, msg=name)
    torch.testing.assert_close(average_logits(out).view(1), t("out_train_avg"), atol=ATOL, rtol=0)


def test_npz_with_two_networks_needs_a_prefix():
    with pytest.raises(ValueError, match="prefix"):
        load_discriminator(_reference_dir() / "lwg_discriminator_parity_small.npz")


def test_crop_and_resize_skips_empty_boxes_and_clamps():
    x = torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).view(2, 1, 8, 8)
    rects = torch.tensor([[2, 6, 0, 4], [3, 3, 0, 8]])
    crops, kept = crop_and_resize(x, rects, (4, 4))
    assert kept.tolist() == [0] and crops.shape == (1, 1, 4, 4)
    torch.testing.assert_close(crops[0], x[0, :, 0:4, 2:6])  # same size: identity resize
    crops, kept = crop_and_resize(x, torch.tensor([[-3, 4, 5, 20], [0, 8, 0, 8]]), (3, 4))
    assert kept.tolist() == [0, 1]
    torch.testing.assert_close(crops[0, :, 0, 0], x[0, :, 5, 0])
    torch.testing.assert_close(crops[0, :, -1, -1], x[0, :, 7, 3])
    with pytest.raises(ValueError, match="rects"):
        crop_and_resize(x, torch.zeros(3, 4, dtype=torch.long), (4, 4))


def test_heads_without_any_valid_box_are_left_out():
    torch.manual_seed(0)
    d = GlobalBodyHeadDiscriminator(ndf=4, n_layers=2, use_bg=False).eval()
    x = torch.randn(2, 6, 64, 64)
    body = torch.tensor([[0, 64, 0, 64], [10, 40, 5, 60]])
    head = torch.tensor([[5, 5, 0, 10], [0, 10, 3, 3]])
    out = d(x, body, head)
    assert list(out) == ["global", "body"] and out["body"].shape[0] == 2
    with pytest.raises(ValueError, match="bg_x"):
        d(x, body, head, bg_x=torch.zeros(2, 4, 64, 64))
    with pytest.raises(ValueError, match=r"\[N, 6, H, W\]"):
        d(x[:, :5], body, head)


def test_patch_discriminator_sizes_and_minimum_input():
    for n_layers in (2, 3, 4):
        d = PatchDiscriminator(in_channels=3, ndf=2, n_layers=n_layers).eval()
        s = d.min_input_size
        assert d(torch.randn(1, 3, s, s)).shape[-1] == 1
        with pytest.raises((ValueError, RuntimeError)):
            d(torch.randn(1, 3, s - 2**n_layers, s - 2**n_layers))


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
@pytest.mark.parametrize("four", [False, True])
def test_save_and_load_round_trip(tmp_path, suffix, four):
    torch.manual_seed(1)
    if four:
        d = GlobalBodyHeadDiscriminator(ndf=4, n_layers=2, max_nf_mult=2, bg_in_channels=3)
    else:
        d = GlobalDiscriminator(in_channels=5, ndf=4, n_layers=3, max_nf_mult=2)
    loaded = load_discriminator(save_discriminator(d, tmp_path / f"d{suffix}"))
    assert type(loaded) is type(d)
    for (k, a), (k2, b) in zip(d.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(a, b)


def test_discriminator_loader_is_strict(tmp_path):
    sd = {f"module.{k}": v for k, v in GlobalDiscriminator(ndf=4, n_layers=2).state_dict().items()}
    sd["module.global_model.model.5.bias"] = torch.zeros(3)
    torch.save(sd, tmp_path / "D.pth")
    with pytest.raises(CheckpointError, match="global_model.model.5.bias"):
        load_discriminator(tmp_path / "D.pth")
