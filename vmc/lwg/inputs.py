"""The LWG generator's inputs: BG, SID and TSF tensors.

Conventions: ``docs/conventions.md#lwg-generator-inputs``.

* ``bg_inputs [B, 1, 4, H, W] = [I_s * M', M']`` with ``M'`` the source background mask
  (1 = background) eroded with an 11x11 box.
* ``src_inputs [B, ns, 6, H, W] = [I_s^morph, C_s]``: the "morph" foreground and the
  uv_seg correspondence map of the source render.
* ``tsf_inputs [B, nt, 6, H, W] = [I_syn, C_t]``: the merged UV texture re-rendered in the target
  pose and the target's uv_seg map.
* ``Tst [B, nt, ns, H, W, 2]``: ``vmc.render.flow.source_to_target_flows``.

Everything is a pure function of tensors: rasterization (``fim``/``wim``/``f2pts`` of sources,
targets and the UV layout) is done by the caller with ``vmc.render.rasterizer``. Images are float
RGB in [-1, 1]; masks fed to the generator are background = 1. Any body topology (the layout comes
in as a ``UVLayout``). No Lightning/Hydra imports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial import cKDTree

from vmc.render.correspondence import UVLayout, encode_uv_seg
from vmc.render.flow import visible_face_f2pts
from vmc.render.texture import dilate, erode, make_uv_texture, synthesize_target

__all__ = [
    "CannyOutput",
    "canny",
    "directional_kernels",
    "morph_masks",
    "morph_image",
    "make_bg_inputs",
    "make_src_inputs",
    "make_tsf_inputs",
    "SourceInputs",
    "prepare_sources",
    "prepare_targets",
]


# --------------------------------------------------------------------------------------------
# Canny boundary of the confident mask (the reference's CannyFilter; docs/conventions.md)
# --------------------------------------------------------------------------------------------


def _gaussian_kernel(k: int = 3, sigma: float = 1.0) -> torch.Tensor:
    # Sample positions span [-1, 1] whatever k is (the reference's choice), normalised to sum 1.
    r = np.linspace(-1, 1, k)
    x, y = np.meshgrid(r, r)
    g = np.exp(-(((x**2 + y**2) ** 0.5) ** 2) / (2 * sigma**2)) / (2 * np.pi * sigma**2)
    return torch.from_numpy(g / g.sum()).float()


def _sobel_kernel(k: int = 3) -> torch.Tensor:
    r = np.linspace(-(k // 2), k // 2, k)
    x, y = np.meshgrid(r, r)
    den = x**2 + y**2
    den[:, k // 2] = 1  # centre column: numerator is 0 there
    return torch.from_numpy(x / den).float()


def directional_kernels() -> torch.Tensor:
    """The 8 NMS kernels ``[8, 3, 3]``: centre (+1) minus one neighbour (-1).

    Order: right, up-right, up, up-left, left, down-left, down, down-right (0°, 45°, ... 315°,
    y down), as the reference builds them by rotating the 0° kernel.
    """
    offsets = [(0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1), (1, 0), (1, 1)]
    k = torch.zeros(8, 3, 3)
    for i, (dr, dc) in enumerate(offsets):
        k[i, 1, 1] = 1.0
        k[i, 1 + dr, 1 + dc] = -1.0
    return k


@dataclass(frozen=True)
class CannyOutput:
    """Intermediate maps of :func:`canny`, all ``[N, 1, H, W]`` float32.

    ``orientation`` is in degrees, doubled-angle (``atan(gy/gx) * 360/pi + 180``) and rounded to
    multiples of 45; NaN where ``gx = gy = 0`` (never suppressed). ``thin_edges`` is 0/1.
    """

    blurred: torch.Tensor
    grad_x: torch.Tensor
    grad_y: torch.Tensor
    magnitude: torch.Tensor
    orientation: torch.Tensor
    thin_edges: torch.Tensor


def canny(
    img: torch.Tensor, low: float = 0.1, high: float = 0.9, hysteresis: bool = True
) -> CannyOutput:
    """Canny edges with the reference's exact conv sequence (3x3 Gaussian σ=1, 3x3 Sobel).

    The float32 op order is kept on purpose: non-maximum suppression compares magnitudes that are
    equal up to rounding, so a different order flips edge pixels
    (``docs/conventions.md#lwg-generator-inputs``).

    Args:
        img: ``[N, C, H, W]`` float32 (a 0/1 mask in the pipeline, C = 1).
    """
    if img.dim() != 4:
        raise ValueError(f"canny expects [N, C, H, W], got {tuple(img.shape)}")
    img = img.float()
    n, c, h, w = img.shape
    dev = img.device
    g = _gaussian_kernel().to(dev)[None, None]
    sx = _sobel_kernel().to(dev)[None, None]
    sy = sx.transpose(-1, -2).contiguous()
    blurred = torch.zeros(n, c, h, w, device=dev)
    grad_x = torch.zeros(n, 1, h, w, device=dev)
    grad_y = torch.zeros(n, 1, h, w, device=dev)
    for ch in range(c):
        blurred[:, ch : ch + 1] = F.conv2d(img[:, ch : ch + 1], g, padding=1)
        # "zeros + conv" (not just conv): turns -0.0 into +0.0, which decides atan's sign below.
        grad_x = grad_x + F.conv2d(blurred[:, ch : ch + 1], sx, padding=1)
        grad_y = grad_y + F.conv2d(blurred[:, ch : ch + 1], sy, padding=1)
    grad_x, grad_y = grad_x / c, grad_y / c
    magnitude = (grad_x**2 + grad_y**2) ** 0.5
    orientation = torch.atan(grad_y / grad_x) * (360 / math.pi) + 180
    orientation = torch.round(orientation / 45) * 45

    directional = F.conv2d(magnitude, directional_kernels().to(dev)[:, None], padding=1)
    pos_idx = (orientation / 45) % 8
    thin = magnitude.clone()
    for pos_i in range(4):
        neg_i = pos_i + 4
        oriented = (pos_idx == pos_i) | (pos_idx == neg_i)
        is_max = torch.minimum(directional[:, pos_i], directional[:, neg_i]) > 0.0
        thin[(~is_max[:, None]) & oriented] = 0.0

    lo = thin > low
    hi = thin > high
    levels = lo.float() * 0.5 + hi.float() * 0.5
    if hysteresis:
        weak = levels == 0.5
        hk = torch.full((1, 1, 3, 3), 1.25, device=dev)
        weak_is_high = (F.conv2d(levels, hk, padding=1) > 1) & weak
        edges = (hi | weak_is_high).float()
    else:
        edges = levels
    return CannyOutput(blurred, grad_x, grad_y, magnitude, orientation, edges)


# --------------------------------------------------------------------------------------------
# Morph image
# --------------------------------------------------------------------------------------------


def morph_masks(
    person: torch.Tensor,
    smpl_sil: torch.Tensor,
    conf_erode_ks: int = 3,
    out_dilate_ks: int = 51,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Confident and out-padded person masks for the morph image.

    ``confident = erode(person, conf_erode_ks)``;
    ``outpad = dilate([person + smpl_sil > 0], out_dilate_ks)`` (51 at deploy, 9 in training).

    Args:
        person: ``[N, 1, H, W]`` person matte (1 = person; ``1 - bg_mask``), may be soft.
        smpl_sil: ``[N, 1, H, W]`` rendered body silhouette (``1 - C[:, 2]``).
    """
    if person.shape != smpl_sil.shape or person.dim() != 4 or person.shape[1] != 1:
        raise ValueError(
            f"person and smpl_sil must both be [N, 1, H, W], got {tuple(person.shape)} and "
            f"{tuple(smpl_sil.shape)}"
        )
    confident = erode(person, conf_erode_ks)
    outpad = dilate(((person + smpl_sil) > 0).to(person.dtype), out_dilate_ks)
    return confident, outpad


def _nearest_boundary(
    q: torch.Tensor, b: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """k nearest boundary pixels of each query pixel, with integer squared distances.

    A k-d tree replaces the reference's dense n1 x n2 distance matrix (memory and time grow with
    ``out_dilate_ks`` there). At exact distance ties the chosen subset is implementation-defined,
    as it is in the reference (``topk(sorted=False)``).
    Returns ``(dist [n1, k] int64, idx [n1, k] int64)``.
    """
    qn = q.cpu().numpy()
    bn = b.cpu().numpy()
    _, idx = cKDTree(bn).query(qn, k=k)
    idx = np.asarray(idx, dtype=np.int64).reshape(len(qn), k)
    d = ((qn[:, None, :] - bn[idx]) ** 2).sum(-1)
    return torch.from_numpy(d).to(q.device), torch.from_numpy(idx).to(q.device)


def morph_image(
    src_img: torch.Tensor,
    confident: torch.Tensor,
    outpad: torch.Tensor,
    boundary: torch.Tensor | None = None,
    top_k: int = 3,
) -> torch.Tensor:
    """The "morph" source foreground (the reference's ``make_morph_image``).

    ``I_s * confident``; each uncertain pixel (``outpad`` and not ``confident``) gets
    ``sum_i (d_i / sum_j d_j) I_s(b_i)`` over its ``top_k`` nearest boundary pixels ``b_i``
    (squared distances ``d_i``; weights grow with distance, as in the reference). 0 elsewhere.

    Args:
        src_img: ``[N, 3, H, W]``.
        confident / outpad: ``[N, 1, H, W]`` 0/1 masks (:func:`morph_masks`).
        boundary: ``[N, 1, H, W]`` 0/1 boundary pixels; default = :func:`canny` thin edges of
            ``confident`` (0.1 / 0.9, hysteresis).
        top_k: number of boundary pixels to blend (3).

    Returns:
        ``[N, 3, H, W]``. Where no boundary pixel exists (empty or full mask), uncertain pixels
        stay 0 (the reference would fail there).
    """
    if src_img.dim() != 4 or confident.shape != outpad.shape:
        raise ValueError(
            f"src_img must be [N, C, H, W] and confident/outpad equal-shaped [N, 1, H, W]; got "
            f"{tuple(src_img.shape)}, {tuple(confident.shape)}, {tuple(outpad.shape)}"
        )
    n, _, h, w = src_img.shape
    if confident.shape != (n, 1, h, w):
        raise ValueError(f"masks must be [{n}, 1, {h}, {w}], got {tuple(confident.shape)}")
    if boundary is None:
        boundary = canny(confident, 0.1, 0.9, True).thin_edges
    elif boundary.shape != confident.shape:
        raise ValueError(f"boundary must be {tuple(confident.shape)}, got {tuple(boundary.shape)}")
    uncertain = outpad * (1 - confident)
    out = src_img * confident
    for i in range(n):
        b_pts = boundary[i, 0].nonzero()
        q_pts = uncertain[i, 0].nonzero()
        if b_pts.shape[0] == 0 or q_pts.shape[0] == 0:
            continue
        k = min(top_k, b_pts.shape[0])
        d, idx = _nearest_boundary(q_pts, b_pts, k)
        val = d.float()
        tot = val.sum(dim=1, keepdim=True)
        weights = torch.where(tot > 0, val / tot.clamp(min=1e-12), torch.full_like(val, 1.0 / k))
        nn_pts = b_pts[idx].reshape(-1, 2)
        rgbs = src_img[i][:, nn_pts[:, 0], nn_pts[:, 1]].view(-1, q_pts.shape[0], k)
        colours = torch.matmul(rgbs.permute(1, 0, 2), weights[..., None])[..., 0]  # [n1, C]
        out[i][:, q_pts[:, 0], q_pts[:, 1]] = colours.t().to(out.dtype)
    return out


# --------------------------------------------------------------------------------------------
# Generator input tensors
# --------------------------------------------------------------------------------------------


def make_bg_inputs(src_img: torch.Tensor, bg_mask: torch.Tensor, bg_ks: int = 11) -> torch.Tensor:
    """BGNet input ``[N, 4, H, W] = [I * erode(M, bg_ks), erode(M, bg_ks)]``.

    Args:
        src_img: ``[N, 3, H, W]`` the original (not morph) source image.
        bg_mask: ``[N, 1, H, W]`` background mask, 1 = background.
    """
    if src_img.dim() != 4 or bg_mask.shape != (src_img.shape[0], 1, *src_img.shape[2:]):
        raise ValueError(
            f"src_img must be [N, 3, H, W] and bg_mask [N, 1, H, W]; got {tuple(src_img.shape)} "
            f"and {tuple(bg_mask.shape)}"
        )
    m = erode(bg_mask.to(src_img.dtype), bg_ks)
    return torch.cat([src_img * m, m], dim=1)


def make_src_inputs(morph_img: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
    """SIDNet input ``[..., 6, H, W] = [I_morph, C_s]`` (concatenated on the channel dim)."""
    if morph_img.shape[:-3] != cond.shape[:-3] or morph_img.shape[-2:] != cond.shape[-2:]:
        raise ValueError(
            f"morph image {tuple(morph_img.shape)} and uv_seg map {tuple(cond.shape)} differ"
        )
    return torch.cat([morph_img, cond.to(morph_img.dtype)], dim=-3)


def make_tsf_inputs(syn_img: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
    """TSFNet input ``[..., 6, H, W] = [I_syn, C_t]``."""
    if syn_img.shape[:-3] != cond.shape[:-3] or syn_img.shape[-2:] != cond.shape[-2:]:
        raise ValueError(f"I_syn {tuple(syn_img.shape)} and uv_seg map {tuple(cond.shape)} differ")
    return torch.cat([syn_img, cond.to(syn_img.dtype)], dim=-3)


@dataclass(frozen=True)
class SourceInputs:
    """Everything the generator needs from the sources.

    Attributes:
        bg_inputs: ``[B, 1, 4, H, W]`` (primary source only, ``share_bg``).
        src_inputs: ``[B, ns, 6, H, W]``.
        uv_texture: ``[B, 3, Hu, Wu]`` merged UV texture (for ``I_syn``).
        morph_img: ``[B, ns, 3, H, W]``.
        cond: ``[B, ns, 3, H, W]`` uv_seg maps of the sources.
        f2pts: ``[B, ns, F, 3, 2]`` mesh-winding corners (for ``Tst``).
    """

    bg_inputs: torch.Tensor
    src_inputs: torch.Tensor
    uv_texture: torch.Tensor
    morph_img: torch.Tensor
    cond: torch.Tensor
    f2pts: torch.Tensor


def prepare_sources(
    src_img: torch.Tensor,
    fim: torch.Tensor,
    f2pts: torch.Tensor,
    layout: UVLayout,
    uv_fim: torch.Tensor,
    uv_wim: torch.Tensor,
    bg_mask: torch.Tensor | None = None,
    *,
    visibility_fim: torch.Tensor | None = None,
    primary: int = 0,
    conf_erode_ks: int = 3,
    out_dilate_ks: int = 51,
    bg_ks: int = 11,
    uv_dilate_ks: int = 13,
) -> SourceInputs:
    """BG/SID inputs and the merged UV texture from rendered sources (the reference's
    ``add_rendered_f2verts_fim_wim`` + ``process_source``).

    Args:
        src_img: ``[B, ns, 3, H, W]`` in [-1, 1].
        fim: ``[B, ns, H, W]`` source renders (mesh winding); f2pts: ``[B, ns, F, 3, 2]``.
        layout: the body's UV layout.
        uv_fim / uv_wim: render of ``layout.uv_points()`` with ``layout.enc_ft``:
            ``[Hu, Wu]`` / ``[Hu, Wu, 3]``.
        bg_mask: ``[B, ns, 1, H, W]`` background masks (1 = background) from matting; when None
            the rendered body silhouette is used (as the reference does).
        visibility_fim: ``[B, ns, H, W]`` face map used for UV visibility; default ``fim``.
            (The reference uses the enc-winding render, whose culling hides the flipped faces'
            front side; pass that render here to reproduce it.)
        primary: index of the source that feeds BGNet.
        conf_erode_ks / out_dilate_ks / bg_ks / uv_dilate_ks: 3 / 51 (9 in training) / 11 / 13.
    """
    if src_img.dim() != 5 or fim.shape != (*src_img.shape[:2], *src_img.shape[-2:]):
        raise ValueError(
            f"src_img must be [B, ns, 3, H, W] and fim [B, ns, H, W] to match; got "
            f"{tuple(src_img.shape)} and {tuple(fim.shape)}"
        )
    b, ns, c, h, w = src_img.shape
    if f2pts.shape != (b, ns, layout.num_faces, 3, 2):
        raise ValueError(
            f"f2pts must be [{b}, {ns}, {layout.num_faces}, 3, 2], got {tuple(f2pts.shape)}"
        )
    if not 0 <= primary < ns:
        raise ValueError(f"primary must be in [0, {ns}), got {primary}")
    flat_img = src_img.reshape(b * ns, c, h, w)
    cond = encode_uv_seg(fim.reshape(b * ns, h, w), layout.uv_seg.to(src_img))
    smpl_sil = 1 - cond[:, 2:3]
    if bg_mask is not None:
        if bg_mask.shape != (b, ns, 1, h, w):
            raise ValueError(
                f"bg_mask must be [{b}, {ns}, 1, {h}, {w}], got {tuple(bg_mask.shape)}"
            )
        bg_flat = bg_mask.reshape(b * ns, 1, h, w).to(src_img.dtype)
    else:
        bg_flat = cond[:, 2:3]
    confident, outpad = morph_masks(1 - bg_flat, smpl_sil, conf_erode_ks, out_dilate_ks)
    morph = morph_image(flat_img, confident, outpad)

    obj_f2pts = layout.to_enc_order(f2pts.reshape(b * ns, layout.num_faces, 3, 2))
    vfim = fim if visibility_fim is None else visibility_fim
    only_vis = visible_face_f2pts(obj_f2pts, vfim.reshape(b * ns, h, w), layout.face_k_nearest)
    uv_tex = make_uv_texture(
        morph.view(b, ns, c, h, w),
        obj_f2pts.view(b, ns, layout.num_faces, 3, 2),
        only_vis.view(b, ns, layout.num_faces, 3, 2),
        uv_fim,
        uv_wim,
        dilate_ks=uv_dilate_ks,
    )
    bg_in = make_bg_inputs(flat_img, bg_flat, bg_ks).view(b, ns, 4, h, w)[:, primary : primary + 1]
    cond5 = cond.view(b, ns, 3, h, w)
    morph5 = morph.view(b, ns, c, h, w)
    return SourceInputs(
        bg_inputs=bg_in,
        src_inputs=make_src_inputs(morph5, cond5),
        uv_texture=uv_tex,
        morph_img=morph5,
        cond=cond5,
        f2pts=f2pts,
    )


def prepare_targets(
    uv_texture: torch.Tensor, tgt_fim: torch.Tensor, tgt_wim: torch.Tensor, layout: UVLayout
) -> torch.Tensor:
    """TSFNet inputs ``[B, nt, 6, H, W] = [I_syn, C_t]`` for rendered targets (mesh winding).

    Args:
        uv_texture: ``[B, 3, Hu, Wu]``; tgt_fim: ``[B, nt, H, W]``; tgt_wim: ``[B, nt, H, W, 3]``.
    """
    if tgt_fim.dim() != 4:
        raise ValueError(f"tgt_fim must be [B, nt, H, W], got {tuple(tgt_fim.shape)}")
    b, nt, h, w = tgt_fim.shape
    syn = synthesize_target(uv_texture, layout.f_uvs2img, tgt_fim, tgt_wim)
    cond = encode_uv_seg(tgt_fim.reshape(b * nt, h, w), layout.uv_seg.to(uv_texture))
    return make_tsf_inputs(syn, cond.view(b, nt, 3, h, w))
