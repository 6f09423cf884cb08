"""Tests of vmc.render.rasterizer against docs/conventions.md#rasterizer."""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch

from vmc.render import Fragments, gl_available, rasterize
from vmc.render._raster_torch import rasterize_torch
from vmc.render._synthetic_mesh import make_body_like_mesh
from vmc.render.rasterizer import EYE_SHIFT, FAR, NEAR

# Float arithmetic compared against references: CI reruns these under a second CPU kernel set
# (ATEN_CPU_CAPABILITY=default) so every tolerance holds on any x86-64 CPU.
pytestmark = pytest.mark.numerics


def _centres(n: int) -> torch.Tensor:
    return (2 * torch.arange(n, dtype=torch.float64) + 1) / n - 1


def _brute_force(points: torch.Tensor, faces: torch.Tensor, n: int, cull: bool = True):
    """Literal O(F x pixels) reading of the spec in float64: returns fim, wim, depth (z units)."""
    pts = points.double()
    c = _centres(n)
    py, px = torch.meshgrid(c, c, indexing="ij")
    fim = torch.full((n, n), -1, dtype=torch.long)
    wim = torch.zeros(n, n, 3, dtype=torch.float64)
    best = torch.full((n, n), torch.inf, dtype=torch.float64)
    for f, (i, j, k) in enumerate(faces.tolist()):
        (x0, y0, z0), (x1, y1, z1), (x2, y2, z2) = pts[i].tolist(), pts[j].tolist(), pts[k].tolist()
        area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
        if area == 0 or (cull and area > 0):
            continue
        w0 = ((x2 - x1) * (py - y1) - (y2 - y1) * (px - x1)) / area
        w1 = ((x0 - x2) * (py - y2) - (y0 - y2) * (px - x2)) / area
        w2 = ((x1 - x0) * (py - y0) - (y1 - y0) * (px - x0)) / area
        inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0)
        zp = 1.0 / (w0 / (z0 + EYE_SHIFT) + w1 / (z1 + EYE_SHIFT) + w2 / (z2 + EYE_SHIFT))
        upd = inside & (zp < best) & (zp > NEAR) & (zp < FAR)
        best = torch.where(upd, zp, best)
        fim[upd] = f
        wim[upd] = torch.stack([w0, w1, w2], dim=-1)[upd]
    return fim, wim, best - EYE_SHIFT


def _tri(*xyz) -> torch.Tensor:
    return torch.tensor([xyz], dtype=torch.float32).view(1, -1, 3)


# A triangle that is counter-clockwise on screen (y down): signed area < 0, so it is kept.
_CCW = [(-0.75, -0.75, 0.0), (-0.75, 0.75, 0.0), (0.75, 0.75, 0.0)]


def test_fragments_shapes_dtypes_and_f2pts() -> None:
    pts, faces = make_body_like_mesh(n_lat=9, n_lon=8)
    pts = pts[None].repeat(2, 1, 1)
    pts[1, :, 0] += 0.1
    frag = rasterize(pts, faces, 20)
    assert isinstance(frag, Fragments)
    assert frag.fim.shape == (2, 20, 20) and frag.fim.dtype == torch.long
    assert frag.wim.shape == (2, 20, 20, 3) and frag.wim.dtype == torch.float32
    assert frag.zbuf.shape == (2, 20, 20)
    assert frag.f2pts.shape == (2, faces.shape[0], 3, 2)
    # f2pts[b, f, k] is the projected (x, y) of corner k of face f.
    b, f, k = 1, 5, 2
    assert torch.equal(frag.f2pts[b, f, k], pts[b, faces[f, k], :2])
    assert torch.equal(frag.f2pts, pts[:, faces][..., :2])


def test_analytic_triangle_exact_coverage_and_weights() -> None:
    """Exact rational reference at every pixel centre, including centres on edges and vertices."""
    n = 8
    # Vertices on pixel centres ((2i+1)/8 - 1 = -0.875, -0.625, ...): many centres lie exactly on
    # the edges, and all arithmetic is exact in float32, so inclusive edges must be honoured.
    verts = [(-0.875, -0.625), (-0.875, 0.875), (0.625, 0.875)]
    pts = torch.tensor([[(x, y, 0.0) for x, y in verts]], dtype=torch.float32)
    frag = rasterize(pts, torch.tensor([[0, 1, 2]]), n)
    fv = [(Fraction(x), Fraction(y)) for x, y in verts]
    (x0, y0), (x1, y1), (x2, y2) = fv
    area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
    assert area < 0
    n_inside = n_edge = 0
    for r in range(n):
        for c in range(n):
            px, py = Fraction(2 * c + 1, n) - 1, Fraction(2 * r + 1, n) - 1
            w = [
                ((x2 - x1) * (py - y1) - (y2 - y1) * (px - x1)) / area,
                ((x0 - x2) * (py - y2) - (y0 - y2) * (px - x2)) / area,
                ((x1 - x0) * (py - y0) - (y1 - y0) * (px - x0)) / area,
            ]
            inside = all(v >= 0 for v in w)
            n_inside += inside
            n_edge += inside and any(v == 0 for v in w)
            assert int(frag.fim[0, r, c]) == (0 if inside else -1), (r, c)
            expect = [float(v) for v in w] if inside else [0.0, 0.0, 0.0]
            torch.testing.assert_close(frag.wim[0, r, c], torch.tensor(expect), atol=1e-6, rtol=0)
    assert n_inside == 28 and n_edge >= 10  # the test does exercise the edge rule


def test_pixel_centre_rule_half_open_cases() -> None:
    """A square of two triangles whose edges fall between centres covers exactly its centres."""
    n = 10
    # x in [-0.5, 0.3]: centres -0.5 (col 2, on the edge) ... 0.3 (col 6, on the edge).
    pts = _tri((-0.5, -0.5, 0.0), (-0.5, 0.3, 0.0), (0.3, 0.3, 0.0), (0.3, -0.5, 0.0))
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    frag = rasterize(pts, faces, n)
    covered = frag.fim[0] >= 0
    expect = torch.zeros(n, n, dtype=torch.bool)
    expect[2:7, 2:7] = True
    assert torch.equal(covered, expect)
    # The diagonal shared by both faces has equal depth there: the lower face index wins.
    diag = torch.arange(2, 7)
    assert torch.all(frag.fim[0, diag, diag] == 0)


def test_nearer_triangle_wins_regardless_of_order() -> None:
    a = [(-0.9, -0.9, 0.2), (-0.9, 0.5, 0.2), (0.5, 0.5, 0.2)]
    b = [(-0.5, -0.6, -0.3), (-0.5, 0.9, -0.3), (0.9, 0.9, -0.3)]
    for order in ([a, b], [b, a]):
        pts = torch.tensor([order[0] + order[1]], dtype=torch.float32)
        frag = rasterize(pts, torch.tensor([[0, 1, 2], [3, 4, 5]]), 32)
        near_id = 1 if order[0] is a else 0
        centre_px = frag.fim[0, 20, 18]  # inside both triangles
        assert int(centre_px) == near_id
        assert float(frag.zbuf[0, 20, 18]) == pytest.approx(-0.3, abs=1e-5)
    # Swapping the depths flips the winner.
    pts = torch.tensor([a + b], dtype=torch.float32)
    pts[0, :3, 2], pts[0, 3:, 2] = -0.5, 0.4
    frag = rasterize(pts, torch.tensor([[0, 1, 2], [3, 4, 5]]), 32)
    assert int(frag.fim[0, 20, 18]) == 0


def test_depth_test_uses_interpolated_depth() -> None:
    """Two crossing (intersecting) triangles: each wins where it is nearer."""
    t0 = [(-0.9, -0.9, -0.5), (-0.9, 0.9, -0.5), (0.9, 0.9, 0.5)]  # depth grows with x
    t1 = [(-0.9, -0.9, 0.0), (-0.9, 0.9, 0.0), (0.9, 0.9, 0.0)]  # flat at 0
    pts = torch.tensor([t0 + t1], dtype=torch.float32)
    faces = torch.tensor([[0, 1, 2], [3, 4, 5]])
    frag = rasterize(pts, faces, 40)
    ref_fim, _, _ = _brute_force(pts[0], faces, 40)
    assert torch.equal(frag.fim[0], ref_fim)
    assert (frag.fim[0] == 0).any() and (frag.fim[0] == 1).any()


def test_backface_culling_convention() -> None:
    ccw = torch.tensor([_CCW], dtype=torch.float32)
    cw = ccw[:, [0, 2, 1]]  # same triangle, reversed winding: signed area > 0
    faces = torch.tensor([[0, 1, 2]])
    kept = rasterize(ccw, faces, 16)
    culled = rasterize(cw, faces, 16)
    assert (kept.fim >= 0).sum() > 50
    assert (culled.fim == -1).all() and (culled.wim == 0).all()
    assert torch.isinf(culled.zbuf).all()
    both = rasterize(cw, faces, 16, cull_backfaces=False)
    assert torch.equal(both.fim, kept.fim)
    # Weights follow the face's own slot order: slots 1 and 2 are swapped.
    torch.testing.assert_close(both.wim, kept.wim[..., [0, 2, 1]])


def test_closed_mesh_culling_matches_plain_zbuffer() -> None:
    pts, faces = make_body_like_mesh(n_lat=25, n_lon=24)
    a = rasterize(pts[None], faces, 64)
    b = rasterize(pts[None], faces, 64, cull_backfaces=False)
    assert (a.fim == b.fim).float().mean() > 0.995
    # The camera-facing side (smaller z) is the one drawn.
    assert (a.zbuf[a.fim >= 0] <= 0.01).all()


def test_random_triangles_match_brute_force() -> None:
    gen = torch.Generator().manual_seed(0)
    nf = 60
    centre = torch.rand(nf, 1, 2, generator=gen) * 2.2 - 1.1
    size = torch.rand(nf, 1, 1, generator=gen) * 0.9 + 0.02
    xy = centre + (torch.rand(nf, 3, 2, generator=gen) - 0.5) * size * 2
    z = torch.rand(nf, 3, 1, generator=gen) * 2 - 1
    pts = torch.cat([xy, z], dim=-1).reshape(1, nf * 3, 3).float()
    faces = torch.arange(nf * 3).view(nf, 3)
    for cull in (True, False):
        frag = rasterize(pts, faces, 48, cull_backfaces=cull)
        ref_fim, ref_wim, ref_z = _brute_force(pts[0], faces, 48, cull)
        same = frag.fim[0] == ref_fim
        assert same.float().mean() > 0.998
        assert (ref_fim >= 0).sum() > 400
        m = same & (ref_fim >= 0)
        torch.testing.assert_close(frag.wim[0][m].double(), ref_wim[m], atol=2e-5, rtol=0)
        torch.testing.assert_close(frag.zbuf[0][m].double(), ref_z[m], atol=2e-5, rtol=0)


def test_wim_interpolates_pixel_centres_on_a_body_mesh() -> None:
    pts, faces = make_body_like_mesh(n_lat=41, n_lon=42)
    n = 96
    frag = rasterize(pts[None], faces, n)
    m = frag.fim[0] >= 0
    assert 0.2 < m.float().mean() < 0.5
    corners = frag.f2pts[0][frag.fim[0][m]]  # [P,3,2]
    xy = (frag.wim[0][m][..., None] * corners).sum(dim=1)
    rows, cols = torch.nonzero(m, as_tuple=True)
    c = _centres(n).float()
    expect = torch.stack([c[cols], c[rows]], dim=-1)
    torch.testing.assert_close(xy, expect, atol=2e-5, rtol=0)
    w = frag.wim[0][m]
    assert (w >= 0).all() and (w <= 1).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(len(w)), atol=1e-6, rtol=0)
    assert (frag.wim[0][~m] == 0).all()


def test_batched_equals_per_item_and_chunking_is_invisible() -> None:
    pts, faces = make_body_like_mesh(n_lat=21, n_lon=20)
    angles = torch.tensor([0.0, 0.4, -0.8])
    cos, sin = angles.cos()[:, None], angles.sin()[:, None]
    batch = pts[None].repeat(3, 1, 1)
    batch[..., 0] = cos * pts[:, 0] - sin * pts[:, 2]
    batch[..., 2] = sin * pts[:, 0] + cos * pts[:, 2]
    batch[1, :, :2] *= 0.6
    full = rasterize(batch, faces, 40)
    for b in range(3):
        one = rasterize(batch[b : b + 1], faces, 40)
        assert torch.equal(full.fim[b], one.fim[0])
        assert torch.equal(full.wim[b], one.wim[0])
    # Small chunks (many passes over the key buffer) give identical maps.
    fim, wim, zp = rasterize_torch(batch, faces, 40, True, EYE_SHIFT, NEAR, FAR, max_pairs=300)
    assert torch.equal(fim, full.fim)
    torch.testing.assert_close(wim, full.wim, atol=1e-6, rtol=0)
    torch.testing.assert_close(zp - EYE_SHIFT, full.zbuf)


def test_empty_images() -> None:
    pts, faces = make_body_like_mesh(n_lat=9, n_lon=8)
    off = pts.clone()
    off[:, 0] += 5.0  # entirely off-screen
    for p, f in ((off[None], faces), (pts[None], faces[:0])):
        frag = rasterize(p, f, 12)
        assert (frag.fim == -1).all() and (frag.wim == 0).all() and torch.isinf(frag.zbuf).all()
    # Faces behind the near plane (z + 2.732 <= 0.1) are clipped like in the kernel.
    behind = pts.clone()
    behind[:, 2] -= 3.0
    assert (rasterize(behind[None], faces, 12).fim == -1).all()


def test_non_finite_vertices_only_drop_their_faces() -> None:
    pts, faces = make_body_like_mesh(n_lat=13, n_lon=12)
    ref = rasterize(pts[None], faces, 24)
    bad = pts.clone()
    bad[0] = torch.tensor([float("nan"), 0.0, 0.0])  # north pole: its fan of faces disappears
    bad[-1, 2] = float("inf")  # south pole depth
    bad[5, 1] = float("-inf")
    frag = rasterize(bad[None], faces, 24)
    touched = (faces == 0).any(1) | (faces == bad.shape[0] - 1).any(1) | (faces == 5).any(1)
    assert not torch.isin(frag.fim, torch.nonzero(touched).squeeze(1)).any()
    keep = ~torch.isin(ref.fim, torch.nonzero(touched).squeeze(1)) & (ref.fim >= 0)
    assert torch.equal(frag.fim[keep], ref.fim[keep])


def test_float64_points() -> None:
    pts, faces = make_body_like_mesh(n_lat=13, n_lon=12)
    a = rasterize(pts[None].double(), faces, 24)
    b = rasterize(pts[None], faces, 24)
    assert a.wim.dtype == torch.float64
    assert (a.fim == b.fim).float().mean() > 0.99


@pytest.mark.parametrize(
    ("points", "faces", "size", "backend", "match"),
    [
        (torch.zeros(4, 3), torch.tensor([[0, 1, 2]]), 8, "torch", "shape"),
        (torch.zeros(1, 4, 2), torch.tensor([[0, 1, 2]]), 8, "torch", "shape"),
        (torch.zeros(1, 4, 3, dtype=torch.long), torch.tensor([[0, 1, 2]]), 8, "torch", "float"),
        (torch.zeros(1, 4, 3), torch.tensor([0, 1, 2]), 8, "torch", r"\[F,3\]"),
        (torch.zeros(1, 4, 3), torch.tensor([[0.0, 1.0, 2.0]]), 8, "torch", "integer"),
        (torch.zeros(1, 4, 3), torch.tensor([[0, 1, 4]]), 8, "torch", r"\[0, 4\)"),
        (torch.zeros(1, 4, 3), torch.tensor([[-1, 1, 2]]), 8, "torch", "indices"),
        (torch.zeros(1, 4, 3), torch.tensor([[0, 1, 2]]), 0, "torch", "image_size"),
        (torch.zeros(1, 4, 3), torch.tensor([[0, 1, 2]]), 8.0, "torch", "image_size"),
        (torch.zeros(1, 4, 3), torch.tensor([[0, 1, 2]]), 8, "vulkan", "backend"),
    ],
)
def test_bad_inputs_raise_value_error(points, faces, size, backend, match) -> None:
    with pytest.raises(ValueError, match=match):
        rasterize(points, faces, size, backend=backend)


_HAS_GL = gl_available()


@pytest.mark.skipif(not _HAS_GL, reason="no moderngl or no EGL OpenGL 4.3 context on this machine")
def test_gl_backend_agrees_with_torch_on_a_body_size_mesh() -> None:
    pts, faces = make_body_like_mesh()  # 6,890 vertices, 13,776 faces (SMPL size)
    assert faces.shape == (13776, 3) and pts.shape == (6890, 3)
    batch = torch.stack([pts, pts * torch.tensor([0.7, 0.7, 1.0]) + 0.1])
    a = rasterize(batch, faces, 256, backend="torch")
    b = rasterize(batch, faces, 256, backend="gl")
    same = a.fim == b.fim
    assert same.float().mean() >= 0.999
    m = same & (a.fim >= 0)
    assert m.sum() > 20000
    torch.testing.assert_close(a.wim[m], b.wim[m], atol=1e-4, rtol=0)
    torch.testing.assert_close(a.zbuf[m], b.zbuf[m], atol=1e-4, rtol=0)
    assert torch.equal(a.f2pts, b.f2pts)


@pytest.mark.skipif(not _HAS_GL, reason="no moderngl or no EGL OpenGL 4.3 context on this machine")
def test_gl_backend_culling_and_analytic_triangle() -> None:
    ccw = torch.tensor([_CCW], dtype=torch.float32)
    faces = torch.tensor([[0, 1, 2]])
    a = rasterize(ccw, faces, 16, backend="gl")
    b = rasterize(ccw, faces, 16, backend="torch")
    # Edge pixels may differ (GL's top-left rule); interior pixels must not.
    assert (a.fim == b.fim).float().mean() > 0.9
    assert (rasterize(ccw[:, [0, 2, 1]], faces, 16, backend="gl").fim == -1).all()
    both = rasterize(ccw[:, [0, 2, 1]], faces, 16, backend="gl", cull_backfaces=False)
    assert torch.equal(both.fim, a.fim)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    pts, faces = make_body_like_mesh()
    batch = torch.stack([pts, pts * 0.5])
    cpu = rasterize(batch, faces, 256)
    gpu = rasterize(batch.cuda(), faces.cuda(), 256)
    assert gpu.fim.is_cuda
    assert (gpu.fim.cpu() == cpu.fim).float().mean() > 0.9995
    m = (gpu.fim.cpu() == cpu.fim) & (cpu.fim >= 0)
    torch.testing.assert_close(gpu.wim.cpu()[m], cpu.wim[m], atol=1e-5, rtol=0)
