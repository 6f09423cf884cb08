"""Parity of flows, uv_seg, morphology, BG input, morph image and UV merge with iPERCore.

Fixture: ``shared/reference/lwg_flow_parity.npz`` (random geometry, F=50, 32x32; produced by the
original functions). Tolerances are the fixture README's; most results here are in fact bit-exact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import reference_file

from vmc.lwg.inputs import (
    canny,
    directional_kernels,
    make_bg_inputs,
    morph_image,
    morph_masks,
)
from vmc.render.correspondence import encode_uv_seg, face_uv_corners, uv_seg_table
from vmc.render.flow import bc_transform, warp
from vmc.render.texture import dilate, erode, make_uv_texture, source_uv_textures, uv_visibility

# Float arithmetic compared against references: CI reruns these under a second CPU kernel set
# (ATEN_CPU_CAPABILITY=default) so every tolerance holds on any x86-64 CPU.
pytestmark = pytest.mark.numerics


def _fixture_path() -> Path:
    return reference_file("lwg_flow_parity.npz")


@pytest.fixture(scope="module")
def fx() -> dict[str, torch.Tensor]:
    path = _fixture_path()
    with np.load(path) as z:
        return {k: torch.from_numpy(z[k]) for k in z.files if k != "config_json"}


def _maxdiff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a.float() - b.float()).abs().max().item()


def test_flow_and_warp(fx):
    t = bc_transform(fx["in_f2pts"], fx["in_fim"], fx["in_wim"])
    assert _maxdiff(t, fx["out_T"]) <= 1e-6
    bg = fx["in_fim"] < 0
    assert bg.any() and torch.all(t[bg] == -2)
    assert _maxdiff(warp(fx["in_img"], t), fx["out_img_warped"]) <= 5e-6


def test_uv_seg_table_cond_and_face_uvs(fx):
    table = uv_seg_table(fx["in_vts"], fx["in_faces_vts"])
    assert _maxdiff(table, fx["out_uv_seg_table"]) <= 1e-6
    assert torch.equal(table[-1], torch.tensor([0.0, 0.0, 1.0]))
    assert _maxdiff(encode_uv_seg(fx["in_fim"], table), fx["out_uv_seg_cond"]) <= 1e-6
    corners = face_uv_corners(fx["in_vts"], fx["in_faces_vts"])
    assert _maxdiff(corners, fx["out_f_uvs2img"]) <= 1e-6


@pytest.mark.parametrize("ks", [3, 11])
def test_erode(fx, ks):
    assert torch.equal(erode(fx["in_bg_mask64"], ks), fx[f"out_morph_erode_ks{ks}"])


@pytest.mark.parametrize("ks", [3, 13])
def test_dilate(fx, ks):
    assert torch.equal(dilate(fx["in_bg_mask64"], ks), fx[f"out_morph_dilate_ks{ks}"])


@pytest.mark.parametrize("ks", [3, 5])
def test_soft_morphology(fx, ks):
    soft = fx["in_soft_mask32"]
    assert torch.equal(dilate(soft, ks), fx[f"out_morph_dilate_soft_ks{ks}"])
    assert torch.equal(erode(1 - soft, ks), fx[f"out_morph_erode_soft_ks{ks}"])


def test_bg_inputs(fx):
    out = make_bg_inputs(fx["in_bg_img64"], fx["in_bg_mask64"], bg_ks=11)
    assert torch.equal(out, fx["out_bg_inputs"])


def test_morph_masks(fx):
    conf, outpad = morph_masks(fx["in_alpha"], fx["in_smpl_sil"], conf_erode_ks=3, out_dilate_ks=9)
    assert torch.equal(conf, fx["out_morph_confidant_sil"])
    assert torch.equal(outpad, fx["out_morph_outpad_sil"])


def test_canny_chain(fx):
    c = canny(fx["out_morph_confidant_sil"], 0.1, 0.9, hysteresis=True)
    assert _maxdiff(directional_kernels(), fx["out_canny_directional_kernels"]) == 0
    for name, arr in [
        ("blurred", c.blurred),
        ("grad_x", c.grad_x),
        ("grad_y", c.grad_y),
        ("grad_magnitude", c.magnitude),
    ]:
        assert _maxdiff(arr, fx[f"out_canny_{name}"]) <= 1e-6, name
    ref_o = fx["out_canny_grad_orientation"]
    nan = torch.isnan(ref_o)
    assert torch.equal(nan, torch.isnan(c.orientation))
    assert torch.equal(c.orientation[~nan], ref_o[~nan])
    # Same float32 conv sequence as the original -> the thin edges are reproduced exactly here.
    assert torch.equal(c.thin_edges, fx["out_canny_thin_edges"])


def test_morph_image(fx):
    amb = fx["out_morph_tie_ambiguous"].expand_as(fx["out_morph_img"]) > 0
    out = morph_image(
        fx["in_morph_src_img"],
        fx["out_morph_confidant_sil"],
        fx["out_morph_outpad_sil"],
        boundary=fx["out_canny_thin_edges"],
    )
    assert (out - fx["out_morph_img"])[~amb].abs().max().item() <= 1e-5
    # And with our own Canny boundary (the default).
    own = morph_image(
        fx["in_morph_src_img"], fx["out_morph_confidant_sil"], fx["out_morph_outpad_sil"]
    )
    assert (own - fx["out_morph_img"])[~amb].abs().max().item() <= 1e-5


def test_uv_merge(fx):
    src = fx["in_uv_src_img"]
    _, ts2uv = source_uv_textures(src, fx["in_obj_f2pts"][None], fx["in_uv_fim"], fx["in_uv_wim"])
    assert _maxdiff(ts2uv, fx["out_uv_Ts2uv"]) <= 1e-6
    _, tvis = uv_visibility(fx["in_only_vis_obj_f2pts"][None], fx["in_uv_fim"], fx["in_uv_wim"])
    assert _maxdiff(tvis, fx["out_uv_only_vis_Ts2uv"]) <= 1e-6
    merged = make_uv_texture(
        src,
        fx["in_obj_f2pts"][None],
        fx["in_only_vis_obj_f2pts"][None],
        fx["in_uv_fim"],
        fx["in_uv_wim"],
    )
    assert _maxdiff(merged, fx["out_uv_merged"]) <= 1e-5
