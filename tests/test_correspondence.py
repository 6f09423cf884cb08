"""Correspondence maps, flows, UV textures and generator inputs on small synthetic bodies.

These complement the fixture parity tests with other sizes, windings and batch layouts. A tiny
brute-force numpy rasterizer (test-only, conventions of docs/conventions.md#rasterizer) stands in
for ``vmc.render.rasterizer`` so the tests do not depend on it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vmc.lwg.inputs import (
    canny,
    make_bg_inputs,
    morph_image,
    prepare_sources,
    prepare_targets,
)
from vmc.render.correspondence import (
    UVLayout,
    encode_uv_seg,
    face_k_nearest,
    load_part_info,
    load_uv_obj,
    orient_uv_faces,
    uv_seg_table,
    uv_to_grid,
)
from vmc.render.flow import bc_transform, source_to_target_flows, visible_face_f2pts, warp
from vmc.render.texture import dilate, erode, merge_uv_textures, synthesize_target

# Float arithmetic compared against references: CI reruns these under a second CPU kernel set
# (ATEN_CPU_CAPABILITY=default) so every tolerance holds on any x86-64 CPU.
pytestmark = pytest.mark.numerics

# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


def raster(pts: np.ndarray, faces: np.ndarray, size: int, cull: bool = True):
    """Brute-force rasterizer: pts [V,3] (x, y down, z; nearer = smaller z) -> fim, wim, f2pts."""
    c = (2 * np.arange(size) + 1) / size - 1
    px, py = np.meshgrid(c, c)  # [H, W], row = y
    fim = -np.ones((size, size), np.int64)
    wim = np.zeros((size, size, 3), np.float32)
    zbuf = np.full((size, size), np.inf)
    for f, (a, b, d) in enumerate(faces):
        p0, p1, p2 = pts[a], pts[b], pts[d]
        area = (p1[0] - p0[0]) * (p2[1] - p0[1]) - (p1[1] - p0[1]) * (p2[0] - p0[0])
        if area == 0 or (cull and area > 0):
            continue

        def edge(pa, pb):
            return (pb[0] - pa[0]) * (py - pa[1]) - (pb[1] - pa[1]) * (px - pa[0])

        w0, w1, w2 = edge(p1, p2) / area, edge(p2, p0) / area, edge(p0, p1) / area
        inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0)
        z = w0 * p0[2] + w1 * p1[2] + w2 * p2[2]
        upd = inside & (z < zbuf)
        zbuf[upd] = z[upd]
        fim[upd] = f
        wim[upd] = np.stack([w0, w1, w2], -1)[upd]
    f2pts = pts[faces][:, :, :2].astype(np.float32)
    return torch.from_numpy(fim), torch.from_numpy(wim), torch.from_numpy(f2pts)


def grid_mesh(n: int = 6, half: float = 0.6, mirror_uv: bool = False):
    """Flat n x n vertex grid facing the camera; faces CCW on screen; planar UVs."""
    lin = np.linspace(-half, half, n)
    xx, yy = np.meshgrid(lin, lin)  # row index i = y
    verts = np.stack([xx.ravel(), yy.ravel(), np.zeros(n * n)], -1)
    faces = []
    for i in range(n - 1):
        for j in range(n - 1):
            a, b, c, d = i * n + j, i * n + j + 1, (i + 1) * n + j, (i + 1) * n + j + 1
            faces += [(a, c, b), (b, c, d)]
    faces = np.asarray(faces, np.int64)
    u = (verts[:, 0] + 1) / 2
    v = (1 - verts[:, 1]) / 2 * 0.9 + 0.05  # v up, image y down
    if mirror_uv:
        u = 1 - u
    vt = np.stack([u * 0.9 + 0.05, v], -1).astype(np.float32)
    return verts, faces, vt, faces.copy()


def pixel_centres(size: int) -> torch.Tensor:
    c = (2 * torch.arange(size, dtype=torch.float32) + 1) / size - 1
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([xx, yy], -1)


# ------------------------------------------------------------------------------------------
# uv_seg and layouts
# ------------------------------------------------------------------------------------------


def test_uv_to_grid_convention():
    g = uv_to_grid(np.array([[0.0, 0.0], [1.0, 1.0], [0.25, 0.75]], np.float32))
    np.testing.assert_allclose(g, [[-1, 1], [1, -1], [-0.5, -0.5]])


def test_uv_seg_table_is_edge_midpoint_with_bg_row():
    vt = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], np.float32)
    ft = np.array([[0, 1, 2], [3, 2, 1]])
    t = uv_seg_table(vt, ft)
    assert t.shape == (3, 3)
    g = uv_to_grid(vt)
    np.testing.assert_allclose(t[0, :2], 0.5 * (g[0] + g[1]), atol=1e-6)
    np.testing.assert_allclose(t[1, :2], 0.5 * (g[3] + g[2]), atol=1e-6)
    assert torch.all(t[:2, 2] == 0) and torch.equal(t[2], torch.tensor([0.0, 0.0, 1.0]))
    fim = torch.tensor([[[-1, 0], [1, -1]]])
    cond = encode_uv_seg(fim, t)
    assert cond.shape == (1, 3, 2, 2)
    assert torch.equal(cond[0, :, 0, 0], t[2]) and torch.equal(cond[0, :, 1, 0], t[1])
    with pytest.raises(ValueError, match="face ids"):
        encode_uv_seg(torch.tensor([[[5]]]), t)


def test_orient_uv_faces_makes_all_uv_triangles_ccw():
    _, faces, vt, ft = grid_mesh(5, mirror_uv=True)
    rng = np.random.default_rng(0)
    keep = rng.random(len(faces)) < 0.5  # half the faces reversed in mesh order as well
    faces[keep] = faces[keep][:, ::-1]
    ft[keep] = ft[keep][:, ::-1]
    ef, eft, perm = orient_uv_faces(faces, vt, ft)
    p = uv_to_grid(vt)[eft].astype(np.float64)
    area_vup = -(
        (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1])
        - (p[:, 1, 1] - p[:, 0, 1]) * (p[:, 2, 0] - p[:, 0, 0])
    )
    assert np.all(area_vup > 0)
    rows = np.arange(len(faces))[:, None]
    assert np.array_equal(faces[rows, perm], ef) and np.array_equal(ft[rows, perm], eft)
    assert np.any(perm[:, 0] != 0) and np.any(perm[:, 0] == 0)


def test_layout_to_enc_order_matches_enc_render():
    verts, faces, vt, ft = grid_mesh(5, mirror_uv=True)
    lay = UVLayout.from_arrays(faces, vt, ft)
    _, _, f2 = raster(verts, faces, 16)
    _, _, f2_enc = raster(verts, lay.enc_faces.numpy(), 16, cull=False)
    assert torch.equal(lay.to_enc_order(f2[None])[0], f2_enc)
    # the UV render's f2pts are f_img2uvs
    _, _, uvf2 = raster(lay.uv_points()[0].numpy(), lay.enc_ft.numpy(), 16)
    assert torch.allclose(uvf2, lay.f_img2uvs)


def test_face_k_nearest_stays_within_part_and_starts_with_self():
    _, faces, vt, ft = grid_mesh(6)
    part = (np.arange(len(faces)) >= len(faces) // 2).astype(np.int64)
    knn = face_k_nearest(vt, ft, part, k=3).numpy()
    assert knn.shape == (len(faces), 3)
    assert np.array_equal(knn[:, 0], np.arange(len(faces)))
    assert np.all(part[knn] == part[:, None])
    one_part = face_k_nearest(vt, ft, None, k=3).numpy()
    assert not np.all(part[one_part] == part[:, None])  # without parts, neighbours cross over


def _write_obj(path, faces, ft, vt, nv):
    lines = [f"v {i} 0 0" for i in range(nv)] + [f"vt {u} {v}" for u, v in vt]
    lines += [
        "f " + " ".join(f"{a + 1}/{t + 1}" for a, t in zip(f, tf, strict=True))
        for f, tf in zip(faces, ft, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")


def test_smpl_style_files(tmp_path):
    verts, faces, vt, ft = grid_mesh(4, mirror_uv=True)
    ef, eft, _ = orient_uv_faces(faces, vt, ft)
    _write_obj(tmp_path / "mapper_uv.txt", faces, ft, vt, len(verts))
    _write_obj(tmp_path / "mapper_fim_enc.txt", ef, eft, vt, len(verts))
    nf = len(faces)
    (tmp_path / "parts.json").write_text(
        json.dumps({"b": {"face": list(range(nf // 2))}, "a": {"face": list(range(nf // 2, nf))}})
    )
    obj = load_uv_obj(tmp_path / "mapper_uv.txt")
    assert np.array_equal(obj.faces, faces) and np.allclose(obj.vt, vt, atol=1e-6)
    fp, names = load_part_info(tmp_path / "parts.json", nf)
    assert names == ["a", "b"] and fp[0] == 1 and fp[-1] == 0
    lay = UVLayout.from_smpl_files(
        tmp_path / "mapper_fim_enc.txt",
        tmp_path / "mapper_uv.txt",
        tmp_path / "parts.json",
        faces=faces,
    )
    ref = UVLayout.from_arrays(faces, vt, ft)
    assert torch.equal(lay.enc_perm, ref.enc_perm)
    assert torch.allclose(lay.uv_seg, ref.uv_seg, atol=1e-6)
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        load_uv_obj(tmp_path / "nope.txt")
    (tmp_path / "bad.txt").write_text("v 0 0 0\nf 1 1 1\n")
    with pytest.raises(ValueError, match="no vt index"):
        load_uv_obj(tmp_path / "bad.txt")
    with pytest.raises(ValueError, match="faces differ"):
        UVLayout.from_smpl_files(
            tmp_path / "mapper_fim_enc.txt", tmp_path / "mapper_uv.txt", faces=faces[::-1]
        )


# ------------------------------------------------------------------------------------------
# flows
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [12, 20])
def test_identity_flow_and_sentinel(size):
    verts, faces, _, _ = grid_mesh(5)
    fim, wim, f2 = raster(verts, faces, size)
    t = bc_transform(f2[None], fim[None], wim[None])[0]
    body = fim >= 0
    assert body.any() and (~body).any()
    assert torch.allclose(t[body], pixel_centres(size)[body], atol=1e-5)
    assert torch.all(t[~body] == -2)
    img = torch.randn(1, 3, size, size)
    out = warp(img, t[None])
    assert torch.allclose(out[0][:, body], img[0][:, body], atol=1e-5)
    assert torch.all(out[0][:, ~body] == 0)


def test_shifted_target_flow_points_back_to_source():
    verts, faces, _, _ = grid_mesh(5)
    size = 16
    shift = 4 * 2 / size  # 4 pixels right
    src = raster(verts, faces, size)
    tgt = raster(verts + [shift, 0, 0], faces, size)
    t = bc_transform(src[2][None], tgt[0][None], tgt[1][None])[0]
    body = tgt[0] >= 0
    expect = pixel_centres(size) - torch.tensor([shift, 0.0])
    assert torch.allclose(t[body], expect[body], atol=1e-5)


def test_source_to_target_flows_layout_and_broadcast():
    verts, faces, _, _ = grid_mesh(4)
    frames = [raster(verts * s, faces, 10) for s in (1.0, 0.8, 1.2)]
    src_f2 = torch.stack([frames[0][2], frames[1][2]])[None]  # [1, ns=2, F, 3, 2]
    tfim = torch.stack([frames[1][0], frames[2][0]])[None]  # [1, nt=2, H, W]
    twim = torch.stack([frames[1][1], frames[2][1]])[None]
    tst = source_to_target_flows(src_f2, tfim, twim)
    assert tst.shape == (1, 2, 2, 10, 10, 2)
    for t in range(2):
        for s in range(2):
            ref = bc_transform(src_f2[0, s][None], tfim[0, t][None], twim[0, t][None])[0]
            assert torch.equal(tst[0, t, s], ref)
    with pytest.raises(ValueError, match="wim"):
        bc_transform(src_f2[0], tfim[0], twim[0][..., :2])
    with pytest.raises(ValueError, match="face ids"):
        bc_transform(src_f2[0, :1], torch.full((1, 2, 2), 999), torch.zeros(1, 2, 2, 3))


def test_visible_face_f2pts():
    f2 = torch.arange(5 * 3 * 2, dtype=torch.float32).view(1, 5, 3, 2)
    knn = torch.tensor([[0, 1], [1, 0], [2, 3], [3, 2], [4, 3]])
    fim = torch.tensor([[[-1, 4], [4, -1]]])
    out = visible_face_f2pts(f2, fim, knn)
    kept = [3, 4]
    for f in range(5):
        if f in kept:
            assert torch.equal(out[0, f], f2[0, f])
        else:
            assert torch.all(out[0, f] == -2)
    # no background pixel at all: face 0 still counts as visible (the reference would drop it)
    out = visible_face_f2pts(f2, torch.zeros(1, 2, 2, dtype=torch.long), knn)
    assert torch.equal(out[0, 0], f2[0, 0]) and torch.all(out[0, 2] == -2)


# ------------------------------------------------------------------------------------------
# textures and generator inputs
# ------------------------------------------------------------------------------------------


def test_morphology_semantics():
    m = torch.ones(1, 1, 9, 9)
    m[0, 0, 4, 4] = 0
    e = erode(m, 3)
    assert e[0, 0, 3:6, 3:6].sum() == 0 and e.sum() == 81 - 9  # border padded with 1
    d = dilate(1 - m, 3)
    assert d.sum() == 9
    soft = torch.zeros(1, 1, 5, 5)
    soft[0, 0, 2, 2] = 0.5
    assert dilate(soft, 3).sum() == 0  # box-sum must reach 1
    soft[0, 0, 2, 3] = 0.5
    assert dilate(soft, 3).sum() > 0


def test_merge_uv_textures():
    u = torch.stack([torch.full((1, 3, 4, 4), 1.0), torch.full((1, 3, 4, 4), -1.0)], 1)
    vis = torch.ones(1, 2, 1, 4, 4)
    vis[0, 0, :, :, :2] = 0  # primary invisible on the left half
    out = merge_uv_textures(u, vis)
    assert torch.allclose(out[..., :2], torch.full_like(out[..., :2], -1.0), atol=1e-4)
    assert torch.equal(out[..., 2:], torch.ones_like(out[..., 2:]))
    assert torch.equal(merge_uv_textures(u[:, :1], vis[:, :1]), u[:, 0])


def test_synthesize_constant_texture():
    verts, faces, vt, ft = grid_mesh(5)
    lay = UVLayout.from_arrays(faces, vt, ft)
    fim, wim, _ = raster(verts, faces, 16)
    tex = torch.full((1, 3, 32, 32), 0.25)
    out = synthesize_target(tex, lay.f_uvs2img, fim[None, None], wim[None, None])
    assert out.shape == (1, 1, 3, 16, 16)
    body = fim >= 0
    assert torch.allclose(out[0, 0][:, body], torch.tensor(0.25), atol=1e-6)
    assert torch.all(out[0, 0][:, ~body] == 0)


def test_morph_image_ring_constant_colour():
    size = 24
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    disk = (((yy - 12) ** 2 + (xx - 12) ** 2) <= 36).float()[None, None]
    img = torch.full((1, 3, size, size), 0.3)
    conf = erode(disk, 3)
    outpad = dilate(disk, 9)
    out = morph_image(img, conf, outpad)
    ring = (outpad > 0) & (conf == 0)
    assert torch.allclose(out[0][:, ring[0, 0]], torch.tensor(0.3), atol=1e-6)
    assert torch.all(out[0][:, (outpad == 0)[0, 0]] == 0)
    edges = canny(conf).thin_edges
    assert edges.sum() > 0 and edges[0, 0, 12, 12] == 0


@pytest.mark.parametrize("mirror_uv", [False, True])
def test_texture_round_trip_reproduces_source(mirror_uv):
    """Source == target pose: I_syn equals the source inside the body (both windings)."""
    verts, faces, vt, ft = grid_mesh(6, half=0.7, mirror_uv=mirror_uv)
    lay = UVLayout.from_arrays(faces, vt, ft)
    size = 24
    fim, wim, f2 = raster(verts, faces, size)
    uv_fim, uv_wim, _ = raster(lay.uv_points()[0].numpy(), lay.enc_ft.numpy(), 32)
    assert (uv_fim >= 0).float().mean() > 0.3  # enc winding survives culling
    g = pixel_centres(size)
    img = torch.stack([0.5 * g[..., 0], 0.4 * g[..., 1], 0.3 * g[..., 0] - 0.2 * g[..., 1]])
    src_img = img[None, None].repeat(1, 2, 1, 1, 1)  # ns = 2 (duplicated, like the reference)
    fims, f2s = fim[None, None].repeat(1, 2, 1, 1), f2[None, None].repeat(1, 2, 1, 1, 1)
    srcs = prepare_sources(src_img, fims, f2s, lay, uv_fim, uv_wim, out_dilate_ks=5)
    assert srcs.bg_inputs.shape == (1, 1, 4, size, size)
    assert srcs.src_inputs.shape == (1, 2, 6, size, size)
    tsf = prepare_targets(srcs.uv_texture, fim[None, None], wim[None, None], lay)
    assert tsf.shape == (1, 1, 6, size, size)
    body = fim >= 0
    inner = erode(body[None, None].float(), 7)[0, 0] > 0
    assert inner.sum() > 20
    err = (tsf[0, 0, :3][:, inner] - img[:, inner]).abs().max()
    assert err < 2e-3, err
    assert torch.all(tsf[0, 0, :3][:, ~body] == 0)
    # C_t: background code outside the body, 0 in channel 2 inside.
    assert torch.all(tsf[0, 0, 5][~body] == 1) and torch.all(tsf[0, 0, 5][body] == 0)
    # BG input: mask channel = 11x11 erosion of the (silhouette) background mask
    bgm = (~body).float()[None, None]
    assert torch.equal(srcs.bg_inputs[0], make_bg_inputs(img[None], bgm, 11))


def test_prepare_sources_rejects_bad_shapes():
    verts, faces, vt, ft = grid_mesh(4)
    lay = UVLayout.from_arrays(faces, vt, ft)
    fim, _, f2 = raster(verts, faces, 8)
    with pytest.raises(ValueError, match="f2pts"):
        prepare_sources(
            torch.zeros(1, 1, 3, 8, 8), fim[None, None], f2[None, None, :-1], lay, fim, None
        )


def test_layout_from_body_requires_uv():
    class NoUV:
        faces = torch.zeros(1, 3, dtype=torch.long)
        vt = None
        ft = None

    with pytest.raises(ValueError, match="no UV layout"):
        UVLayout.from_body(NoUV())
    _, faces, vt, ft = grid_mesh(4)

    class WithUV:
        pass

    body = WithUV()
    body.faces, body.vt, body.ft = (
        torch.from_numpy(faces),
        torch.from_numpy(vt),
        torch.from_numpy(ft),
    )
    body.face_part = None
    assert UVLayout.from_body(body).num_faces == len(faces)


def test_with_project_rasterizer():
    """Same conventions as the project's rasterizer (skipped until vmc.render.rasterizer exists)."""
    rz = pytest.importorskip("vmc.render.rasterizer")
    verts, faces, vt, ft = grid_mesh(6, half=0.7, mirror_uv=True)
    lay = UVLayout.from_arrays(faces, vt, ft)
    pts = torch.from_numpy(verts).float()[None]
    frag = rz.rasterize(pts, lay.faces, 24)
    fim, wim, f2 = raster(verts, faces, 24)
    assert (frag.fim[0] == fim).float().mean() > 0.9  # edge-tie rules may differ
    t = bc_transform(frag.f2pts, frag.fim, frag.wim)[0]
    body = frag.fim[0] >= 0
    assert torch.allclose(t[body], pixel_centres(24)[body], atol=1e-4)
    uv = rz.rasterize(lay.uv_points(), lay.enc_ft, 32)
    assert (uv.fim >= 0).float().mean() > 0.3  # enc winding survives culling in UV space
    assert torch.allclose(uv.f2pts[0], lay.f_img2uvs, atol=1e-6)


@pytest.mark.parametrize("ks", [7, 11, 51])
def test_binary_box_filters_match_2d_conv(ks):
    g = torch.Generator().manual_seed(ks)
    m = (torch.rand(2, 1, 70, 60, generator=g) > 0.3).float()
    p = ks // 2
    k2 = torch.ones(1, 1, ks, ks)
    ref_e = (
        torch.nn.functional.conv2d(torch.nn.functional.pad(m, [p] * 4, value=1.0), k2) == ks * ks
    )
    ref_d = torch.nn.functional.conv2d(torch.nn.functional.pad(m, [p] * 4, value=0.0), k2) >= 1
    assert torch.equal(erode(m, ks), ref_e.float())
    assert torch.equal(dilate(m, ks), ref_d.float())
