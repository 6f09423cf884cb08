"""Pure-PyTorch backend of :func:`vmc.render.rasterizer.rasterize` (CPU and CUDA, batched).

Design: a vectorised scanline rasterizer whose cost grows with the pixels the faces cover (plus
the rows they span), never with faces x pixels. All faces of all batch items are handled at once
(``g = b * F + f``); there is no Python loop over faces, rows or pixels. Per-face data is kept
"planar" (``[k, G]`` rows, contiguous), which is what makes the gathers and element-wise passes
fast on the CPU.

1. **Faces.** Signed area, culling, and a split of each triangle at its middle vertex (in y) into
   a top and a bottom half. In each half every pixel row is bounded by exactly two edges, a left
   one and a right one.
2. **Half rows.** For every (half, row) pair the left/right edge functions
   ``d = ex (py - ya) - ey (px - xa)`` (iPERCore's CUDA kernel's formula, inclusive ``d >= 0``)
   give the x-interval of covered pixel centres. The interval is padded by a tiny epsilon and only
   its first and last pixel are re-tested with the exact formula: pixels strictly inside cannot
   flip under rounding, so the kernel's inclusive-edge rule is kept without testing every pixel.
3. **Pixels.** Every pixel of every interval is a covered (face, pixel) pair; its inverse depth is
   ``u + step * j`` (the face's plane of ``1/depth`` along the row). The depth test is one
   ``scatter_reduce_(..., "amin")`` on a packed int64 key
   ``((0x7F800000 - float_bits(1/depth)) << s) | g``: for positive floats the IEEE bit pattern is
   monotone, so the smallest key is the nearest face, ties going to the lower face index (as in
   the kernel, whose face loop keeps the first face on equal depth).
4. **Winners.** The pair whose key is its pixel's minimum wins; barycentrics (clamped to [0,1],
   renormalised) are computed only for winners, and their depth is decoded from the key.

Work is chunked over faces so that at most ``max_pairs`` bounding-box pixels are in flight.
"""

from __future__ import annotations

import torch

# Upper bound on bounding-box pixels per chunk (the real number of pairs is several times smaller).
DEFAULT_MAX_PAIRS = 1 << 22

_INT64_MAX = torch.iinfo(torch.int64).max
_FLOAT32_INF_BITS = 0x7F800000

# Rows of the per-half table [13, 2G]: left/right edge start point, sign-adjusted direction, and
# the plane of inverse depth, 1/depth = PC + PA (px - X0) + PB (py - Y0).
_H_XA = slice(0, 2)
_H_YA = slice(2, 4)
_H_EX = slice(4, 6)
_H_EY = slice(6, 8)
_H_PA, _H_PB, _H_PC, _H_X0, _H_Y0 = 8, 9, 10, 11, 12


def _pixel_centres(n: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``[n]`` pixel centres ``(2i+1)/n - 1``, rounded once from float64 (as the kernel does)."""
    i = torch.arange(n, device=device, dtype=torch.float64)
    return ((2.0 * i + 1.0 - n) / n).to(dtype)


def _face_corners(
    points: torch.Tensor, faces: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Corner coordinates ``x, y, z``, each ``[3, G]`` (row = corner slot, column g = b*F + f)."""
    bsz, nv, _ = points.shape
    nf = faces.shape[0]
    per_coord = points.permute(2, 0, 1).reshape(3, bsz * nv)  # [3(xyz), B*V], contiguous rows
    offs = torch.arange(bsz, device=faces.device)[:, None] * nv
    idx = (faces.t()[:, None, :] + offs).reshape(-1)  # [3(corner) * B * F]
    # One 1-D gather per coordinate (1-D index_select is the fast path on the CPU).
    x, y, z = (per_coord[c].contiguous().index_select(0, idx).view(3, bsz * nf) for c in range(3))
    return x, y, z


def _first_at_or_above(v: torch.Tensor, centres: torch.Tensor, n: int) -> torch.Tensor:
    """Index of the first pixel centre ``>= v`` (``n`` if none), exact against ``centres``."""
    v = torch.nan_to_num(v, nan=4.0)  # NaN bounds (faces never drawn): an empty range
    i = torch.ceil((v.clamp(-2.0, 2.0) + 1.0) * (n / 2.0) - 0.5).clamp_(0, n).long()
    # One correction step each way: the float estimate can be off by one at exact ties.
    prev = centres.index_select(0, (i - 1).clamp(min=0))
    i = torch.where((i > 0) & (prev >= v), i - 1, i)
    cur = centres.index_select(0, i.clamp(max=n - 1))
    return torch.where((i < n) & (cur < v), i + 1, i)


def _edges(x: torch.Tensor, y: torch.Tensor, area: torch.Tensor) -> torch.Tensor:
    """Edge table ``[4, 3, G]``: start x, start y, direction x, direction y of edge k.

    Edge k is the one opposite corner k, running from corner (k+1)%3 to corner (k+2)%3. Its edge
    function at pixel (px, py) is ``d_k = ex_k (py - ya_k) - ey_k (px - xa_k)``; directions are
    multiplied by ``sign(area)`` so that "inside" is always "all d_k >= 0" (negation is exact, so
    the tests stay bit-identical to the kernel's comparisons).
    """
    sgn = torch.where(area > 0, 1.0, -1.0).to(x.dtype)
    r1 = torch.tensor([1, 2, 0], device=x.device)
    r2 = torch.tensor([2, 0, 1], device=x.device)
    xa, ya = x.index_select(0, r1), y.index_select(0, r1)
    ex = (x.index_select(0, r2) - xa) * sgn
    ey = (y.index_select(0, r2) - ya) * sgn
    return torch.stack([xa, ya, ex, ey], dim=0)


def _affine_tables(
    x: torch.Tensor, y: torch.Tensor, edges: torch.Tensor, area: torch.Tensor, zc: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Barycentric and inverse-depth planes in coordinates local to corner 0.

    Local coordinates keep the per-pixel evaluation accurate for tiny faces, whose plane slopes
    are huge. Returns ``bary [8, G]``: rows ``x0, y0, A_k (3), B_k (3)`` with
    ``w_k = [k == 0] + A_k (px - x0) + B_k (py - y0)``; and ``plane [3, G]``: ``(a, b, c)`` with
    ``1/depth = sum_k w_k / z_k = c + a (px - x0) + b (py - y0)``.
    """
    ex, ey = edges[2], edges[3]
    ia = (1.0 / area).abs()
    a = -ey * ia
    b = ex * ia
    zi = 1.0 / zc
    # sum_k A_k = sum_k B_k = 0, so the slopes only see depth differences (no cancellation).
    dzi = zi[1:] - zi[:1]
    plane = torch.stack(
        [a[1] * dzi[0] + a[2] * dzi[1], b[1] * dzi[0] + b[2] * dzi[1], zi[0]], dim=0
    )
    bary = torch.cat([x[:1], y[:1], a, b], dim=0)
    return bary, plane


def _half_table(
    edges: torch.Tensor,
    plane: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    centres: torch.Tensor,
    n: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split faces at their middle vertex into halves ``h = g + G * {0: top, 1: bottom}``.

    Returns ``(half_table [13, 2G], row_lo [2G], height [2G])``: top half rows are the centres in
    ``[ymin, ymid)``, bottom half rows those in ``[ymid, ymax]``; each half's rows are bounded by
    a left and a right edge (rows of the table: ``_H_*``).
    """
    g_total = y.shape[1]
    y0, y1, y2 = y[0], y[1], y[2]
    # First minimum / first maximum corner (element-wise; reductions over 3 are slow on the CPU).
    top = torch.where(y1 < y0, 1, 0)
    top = torch.where(y2 < torch.minimum(y0, y1), 2, top)
    bot = torch.where(y1 > y0, 1, 0)
    bot = torch.where(y2 > torch.maximum(y0, y1), 2, bot)
    # All three y equal (degenerate face, never drawn): keep the three indices distinct anyway.
    bot = torch.where(bot == top, (top + 1) % 3, bot)
    mid = 3 - top - bot
    ys = torch.gather(y, 0, torch.stack([top, mid, bot], dim=0))  # [3,G] ascending
    # Edge k is opposite corner k: long edge (top-bot) = mid, top short edge (top-mid) = bot,
    # bottom short edge (mid-bot) = top.
    ey = edges[3]  # [3,G]
    ey_long = torch.gather(ey, 0, mid[None])[0]
    ey_s2 = torch.gather(ey, 0, top[None])[0]
    # Bottom half: the short edge mid-bot, unless it is horizontal (then its only row is y = ymax,
    # where the top short edge still bounds the span through the middle vertex).
    k_s2 = torch.where(ey_s2 == 0, bot, top)
    # The left edge is the one with ey < 0 (inside means px >= its bound).
    long_left = ey_long < 0
    # Edge id of each (side, half) slot, ordered so that a flat gather writes the table rows
    # (block, side) with columns (half, g) directly: left-top, left-bottom, right-top, right-bottom.
    slots = torch.stack(
        [
            torch.where(long_left, mid, bot),
            torch.where(long_left, mid, k_s2),
            torch.where(long_left, bot, mid),
            torch.where(long_left, k_s2, mid),
        ],
        dim=0,
    )  # [4,G]
    flat = (slots * g_total + torch.arange(g_total, device=y.device)).view(-1)
    half = torch.empty((13, 2 * g_total), dtype=edges.dtype, device=edges.device)
    for blk in range(4):  # XA, YA, EX, EY
        torch.index_select(edges[blk].view(-1), 0, flat, out=half[2 * blk : 2 * blk + 2].view(-1))
    extra = half[8:].view(5, 2, g_total)  # plane (a, b, c) and its origin (x0, y0), both halves
    extra[:3] = plane[:, None]
    extra[3] = x[0]
    extra[4] = y[0]
    # First centre >= ymin, >= ymid, > ymax (so bottom rows end at the last centre <= ymax).
    after_max = torch.nextafter(ys[2], torch.full_like(ys[2], 4.0))
    bounds = torch.cat([ys[0], ys[1], after_max], dim=0)
    i_min, i_mid, i_end = _first_at_or_above(bounds, centres, n).view(3, g_total)
    row_lo = torch.cat([i_min, i_mid], dim=0)
    height = torch.cat([i_mid - i_min, i_end - i_mid], dim=0).clamp_(min=0)
    return half, row_lo, height


def rasterize_torch(
    points: torch.Tensor,
    faces: torch.Tensor,
    image_size: int,
    cull_backfaces: bool,
    eye_shift: float,
    near: float,
    far: float,
    max_pairs: int = DEFAULT_MAX_PAIRS,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rasterize face ids, barycentrics and depth. Inputs are validated by the caller.

    Args:
        points: ``[B,V,3]`` float32/float64, NDC x, y (y down), depth z.
        faces: ``[F,3]`` long on the same device, indices in ``[0, V)``.
        image_size: output side ``N``.
        cull_backfaces: drop faces whose signed image area is > 0.
        eye_shift, near, far: the kernel's depth is ``z + eye_shift``; a pixel is drawn only where
            the interpolated depth lies strictly inside ``(near, far)``.
        max_pairs: bounding-box pixels per chunk, bounding temporary memory.

    Returns:
        ``fim [B,N,N] long`` (-1 empty), ``wim [B,N,N,3]`` (points' dtype, 0 where empty),
        ``zp [B,N,N]`` (harmonic depth ``z + eye_shift``; +inf where empty).
    """
    device, dtype = points.device, points.dtype
    bsz = points.shape[0]
    nf = faces.shape[0]
    n = int(image_size)
    hw = n * n
    g_total = bsz * nf

    x, y, z = _face_corners(points, faces)  # [3,G] each
    area = (x[1] - x[0]) * (y[2] - y[0]) - (y[1] - y[0]) * (x[2] - x[0])
    # NaN areas compare False and are dropped; zero-area faces never win in the kernel (0/0).
    keep = area < 0 if cull_backfaces else (area != 0) & ~torch.isnan(area)
    centres = _pixel_centres(n, device, dtype)
    xmin = torch.minimum(torch.minimum(x[0], x[1]), x[2])
    xmax = torch.maximum(torch.maximum(x[0], x[1]), x[2])
    keep &= (xmax >= centres[0]) & (xmin <= centres[-1])
    # Faces with a non-finite corner are never drawn (NaN or inf in x, y or z shows up in these).
    keep &= torch.isfinite(area) & torch.isfinite(xmin) & torch.isfinite(xmax)
    keep &= torch.isfinite(z[0] + z[1] + z[2])
    zc = z + eye_shift
    # The interpolated depth lies between the corners' depths: test near/far per pixel only if
    # some kept corner is outside the open range.
    check_depth = bool((keep & ((zc <= near) | (zc >= far) | zc.isnan())).any())

    edges = _edges(x, y, area)  # [4,3,G]
    bary, plane = _affine_tables(x, y, edges, area, zc)
    half, row_lo, height = _half_table(edges, plane, x, y, centres, n)
    keep2 = keep.repeat(2)
    height = torch.where(keep2, height, 0)
    width = ((xmax - xmin).clamp(0.0, 4.0) * (n / 2.0) + 2.0).long().repeat(2)
    bbox_px = torch.where(keep2, height * width, 0)
    face_id = torch.arange(g_total, device=device)
    half_gid = face_id.repeat(2)
    boff = torch.div(face_id, nf, rounding_mode="floor")
    fid = face_id - boff * nf
    boff *= hw

    key_buf = torch.full((bsz * hw,), _INT64_MAX, dtype=torch.long, device=device)
    shift = max(1, int(g_total - 1).bit_length())
    live = torch.nonzero(height > 0).squeeze(1)
    chunks = _chunks(live, bbox_px.index_select(0, live), max_pairs)
    last = None
    for sel in chunks:
        last = _draw_halves(
            sel,
            half,
            half_gid,
            row_lo,
            height,
            boff,
            centres,
            n,
            near,
            far,
            check_depth,
            shift,
            key_buf,
        )

    fim = torch.full((bsz * hw,), -1, dtype=torch.long, device=device)
    wim = torch.zeros((bsz * hw, 3), dtype=dtype, device=device)
    zp = torch.full((bsz * hw,), torch.inf, dtype=dtype, device=device)
    if len(chunks) == 1 and last is not None:
        # Single chunk: find the winners among the pairs (cheaper than scanning the image).
        pix, key, rep2, j, c_lo, row = last
        won = key_buf.index_select(0, pix) == key
        if check_depth:
            won &= key != _INT64_MAX
        win = torch.nonzero(won).squeeze(1)
        p, win_key = pix.index_select(0, win), key.index_select(0, win)
        g = win_key & ((1 << shift) - 1)
        r = rep2.index_select(0, win)
        col = c_lo.index_select(0, r) + j.index_select(0, win)
        row = row.index_select(0, r)
    elif len(chunks) > 1:
        # Several chunks (pairs not kept, to bound memory): decode the winners from the keys.
        p = torch.nonzero(key_buf != _INT64_MAX).squeeze(1)
        win_key = key_buf.index_select(0, p)
        g = win_key & ((1 << shift) - 1)
        rem = p - boff.index_select(0, g)
        row = torch.div(rem, n, rounding_mode="floor")
        col = rem - row * n
    else:
        p = None
    if p is not None and p.numel() > 0:
        fim.index_copy_(0, p, fid.index_select(0, g))
        t = bary.index_select(1, g)  # [8,Q]
        dx = centres.index_select(0, col) - t[0]
        dy = centres.index_select(0, row) - t[1]
        w = torch.addcmul(t[2:5] * dx, t[5:8], dy)
        w[0] += 1.0
        w = w.clamp_(0.0, 1.0)
        w = w / (w[0] + w[1] + w[2])
        wim.index_copy_(0, p, w.t())
        # Depth from the winning key: 1/depth was packed as float32 bits.
        inv_bits = _FLOAT32_INF_BITS - (win_key >> shift)
        zp.index_copy_(0, p, 1.0 / inv_bits.int().view(torch.float32).to(dtype))
    return fim.view(bsz, n, n), wim.view(bsz, n, n, 3), zp.view(bsz, n, n)


def _chunks(live: torch.Tensor, cost: torch.Tensor, budget: int) -> list[torch.Tensor]:
    """Split ``live`` ids into consecutive groups of total ``cost`` about <= ``budget``."""
    if live.numel() == 0:
        return []
    ends = torch.cumsum(cost, 0)
    total = int(ends[-1])
    if total <= budget:
        return [live]
    cuts = torch.arange(budget, total, budget, device=ends.device)
    idx = torch.searchsorted(ends, cuts, right=True).tolist()
    bounds = sorted({0, *[min(i, live.numel()) for i in idx], live.numel()})
    return [live[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=False) if b > a]


def _draw_halves(
    hid: torch.Tensor,
    half: torch.Tensor,
    half_gid: torch.Tensor,
    row_lo: torch.Tensor,
    height: torch.Tensor,
    boff: torch.Tensor,
    centres: torch.Tensor,
    n: int,
    near: float,
    far: float,
    check_depth: bool,
    shift: int,
    key_buf: torch.Tensor,
):
    """Depth-test all covered pixels of the half faces ``hid [K]`` into ``key_buf`` (in place).

    Returns ``(pix, key, rep2, j)`` per covered pair and ``(c_lo, row)`` per interval (for the
    winner pass), or None if nothing is covered.
    """
    device, dtype = half.device, half.dtype
    # --- (half, row) pairs --------------------------------------------------------------------
    h = height.index_select(0, hid)
    n_rows = int(h.sum())
    rep = torch.repeat_interleave(h, output_size=n_rows)  # [L] index into hid
    # Row of each (half, row) pair: first row of its half + running index - start of its half.
    row_base = row_lo.index_select(0, hid) - (torch.cumsum(h, 0) - h)
    row = row_base.index_select(0, rep) + torch.arange(n_rows, device=device)
    hrow = hid.index_select(0, rep)  # half id of each row
    py = centres.index_select(0, row)  # [L]
    t = half.index_select(1, hrow)  # [13,L]
    xa, ya, ex, ey = t[_H_XA], t[_H_YA], t[_H_EX], t[_H_EY]  # [2,L] each (left, right)
    alpha = ex * (py - ya)  # d(px) = alpha - ey (px - xa)
    # Interval ends in pixel units, padded by far less than a pixel: rounding can then only add
    # (never drop) the interval's first or last pixel, which are re-tested exactly below.
    eps = min(1e-5, 0.25 / n)
    half_n = n / 2.0
    pad = torch.tensor([[half_n - 0.5 - eps * half_n], [half_n - 0.5 + eps * half_n]], dtype=dtype)
    ends = torch.addcdiv(xa, alpha, ey).clamp_(-2.0, 2.0).mul_(half_n).add_(pad.to(device))
    # First / last candidate column, clipped to the image (an interval off-screen ends up with
    # first > last, i.e. empty). A clipped end pixel is tested exactly like any other.
    ends[0].ceil_().clamp_(min=0.0)
    ends[1].floor_().clamp_(max=n - 1.0)
    ends_i = ends.long()  # [2,L]
    pe = centres.index_select(0, ends_i.clamp(0, n - 1).view(-1)).view(2, -1)
    # Exact end-pixel test: the kernel's comparison of two rounded products (never fused, so that
    # it stays bit-identical; an FMA here opens holes along shared edges).
    bad = (alpha < ey * (pe - xa)).long()
    c_lo = ends_i[0] + bad[0]
    count = (ends_i[1] - bad[1] - c_lo + 1).clamp_(min=0)
    n_pix = int(count.sum())
    if n_pix == 0:
        return None
    c_lo.clamp_(0, n - 1)
    gid = half_gid.index_select(0, hrow)
    # Inverse depth at the interval's first pixel and its step per pixel.
    u = torch.addcmul(t[_H_PC], t[_H_PB], py - t[_H_Y0])
    u = torch.addcmul(u, t[_H_PA], centres.index_select(0, c_lo) - t[_H_X0])
    step = t[_H_PA] * (2.0 / n)
    rowcol = boff.index_select(0, gid) + row * n + c_lo  # flat pixel of the first pixel
    # Key without the depth part: (inf_bits << shift) | g, so key = key_base - (bits << shift).
    key_base = gid + (_FLOAT32_INF_BITS << shift)

    # --- covered pixels -----------------------------------------------------------------------
    rep2 = torch.repeat_interleave(count, output_size=n_pix)  # [P] index into rows
    j = torch.arange(n_pix, device=device) - (torch.cumsum(count, 0) - count).index_select(0, rep2)
    pix = rowcol.index_select(0, rep2) + j
    inv = torch.addcmul(u.index_select(0, rep2), step.index_select(0, rep2), j.to(dtype))
    bits = inv.float().view(torch.int32).long() << shift
    key = key_base.index_select(0, rep2) - bits
    if check_depth:
        valid = (inv > 1.0 / far) & (inv < 1.0 / near)
        key = torch.where(valid, key, _INT64_MAX)
    key_buf.scatter_reduce_(0, pix, key, reduce="amin")
    return pix, key, rep2, j, c_lo, row
