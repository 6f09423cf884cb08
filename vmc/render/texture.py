"""UV renders, UV textures from source images, multi-source merge, the synthesized target image.

The reference's ``make_uv_img`` and ``make_tsf_inputs`` (iPERCore), with the box-filter
morphology they use (its ``morph``: erosion keeps a pixel when its whole box sums to ``ks^2``,
dilation when the box sum reaches 1; see :func:`erode`, :func:`dilate`). Conventions:
docs/conventions.md, "UV layout, UV renders and textures" and "Flows".

Shapes: images are float ``[B, ns, 3, H, W]`` in [-1, 1]; the UV image has its own size
``[Hu, Wu]`` (the reference uses the image size); UV renders ``uv_fim [Hu, Wu]`` or
``[N, Hu, Wu]`` and ``uv_wim [..., Hu, Wu, 3]`` come from rasterizing ``UVLayout.uv_points()``
with ``UVLayout.enc_ft`` (:func:`uv_render`). Any body topology. No Lightning/Hydra imports.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vmc.render.correspondence import UVLayout
from vmc.render.flow import bc_transform, warp
from vmc.render.rasterizer import rasterize

__all__ = [
    "UVRender",
    "dilate",
    "erode",
    "make_uv_texture",
    "merge_uv_textures",
    "source_uv_textures",
    "synthesize_target",
    "uv_render",
    "uv_visibility",
]


def _box_sum(mask: torch.Tensor, ks: int, pad_value: float) -> torch.Tensor:
    if mask.dim() != 4 or mask.shape[1] != 1:
        raise ValueError(f"mask must be [N, 1, H, W], got {tuple(mask.shape)}")
    if ks < 1 or ks % 2 == 0:
        raise ValueError(f"kernel size must be a positive odd integer, got {ks}")
    p = ks // 2
    padded = F.pad(mask, [p, p, p, p], value=pad_value)
    if ks > 5 and bool(((mask == 0) | (mask == 1)).all()):
        # 0/1 input: window sums are small integers, exact in any order, so two 1-D passes give
        # bit-identical results to the 2-D conv at a fraction of the cost (51x51 at deploy).
        ones = torch.ones(1, 1, 1, ks, dtype=mask.dtype, device=mask.device)
        return F.conv2d(F.conv2d(padded, ones), ones.transpose(-1, -2))
    # Soft input: keep the reference's single 2-D conv (its rounding decides ">= 1" ties).
    kernel = torch.ones(1, 1, ks, ks, dtype=mask.dtype, device=mask.device)
    return F.conv2d(padded, kernel)


def erode(mask: torch.Tensor, ks: int) -> torch.Tensor:
    """Box erosion: ``[ks x ks box-sum == ks^2]`` with padding 1 (float 0/1 out).

    For 0/1 masks this is "all neighbours are exactly 1"; the border counts as 1.
    ``mask [N, 1, H, W]`` float -> same shape.
    """
    return (_box_sum(mask, ks, 1.0) == ks * ks).to(mask.dtype)


def dilate(mask: torch.Tensor, ks: int) -> torch.Tensor:
    """Box dilation: ``[ks x ks box-sum >= 1]`` with padding 0 (float 0/1 out).

    Note the test is on the *sum*, not "any value > 0": soft inputs (e.g. bilinear-sampled
    visibility) dilate only where the window's mass reaches 1, as in the reference.
    """
    return (_box_sum(mask, ks, 0.0) >= 1).to(mask.dtype)


def _uv_maps(uv_fim: torch.Tensor, uv_wim: torch.Tensor, n: int) -> tuple[torch.Tensor, ...]:
    """Broadcast a single UV render ``[Hu, Wu]`` (or ``[1, ...]``) to ``n`` items."""
    if uv_fim.dim() == 2:
        uv_fim, uv_wim = uv_fim[None], uv_wim[None]
    if uv_fim.dim() != 3 or uv_wim.dim() != 4:
        raise ValueError(
            f"uv_fim must be [Hu, Wu] or [N, Hu, Wu] and uv_wim [..., Hu, Wu, 3], got "
            f"{tuple(uv_fim.shape)} and {tuple(uv_wim.shape)}"
        )
    if uv_fim.shape[0] not in (1, n):
        raise ValueError(f"uv_fim has {uv_fim.shape[0]} maps, expected 1 or {n}")
    return uv_fim, uv_wim


def source_uv_textures(
    src_img: torch.Tensor, obj_f2pts: torch.Tensor, uv_fim: torch.Tensor, uv_wim: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Unwrap every source into UV space (all faces, occluded ones included).

    Args:
        src_img: ``[B, ns, 3, H, W]`` (the morph images in the pipeline).
        obj_f2pts: ``[B, ns, F, 3, 2]`` projected face corners in the *enc* winding
            (``UVLayout.to_enc_order(f2pts)``), grid coords.
        uv_fim / uv_wim: the UV render, ``[Hu, Wu]`` / ``[Hu, Wu, 3]`` or per item
            ``[B * ns, Hu, Wu]`` / ``[B * ns, Hu, Wu, 3]``.

    Returns:
        ``U [B, ns, 3, Hu, Wu]`` and the flows ``Ts2uv [B * ns, Hu, Wu, 2]``.
    """
    if src_img.dim() != 5 or obj_f2pts.dim() != 5 or src_img.shape[:2] != obj_f2pts.shape[:2]:
        raise ValueError(
            f"src_img must be [B, ns, 3, H, W] and obj_f2pts [B, ns, F, 3, 2] with the same "
            f"B, ns; got {tuple(src_img.shape)} and {tuple(obj_f2pts.shape)}"
        )
    b, ns, c, h, w = src_img.shape
    fim, wim = _uv_maps(uv_fim, uv_wim, b * ns)
    ts2uv = bc_transform(obj_f2pts.reshape(b * ns, *obj_f2pts.shape[2:]), fim, wim)
    u = warp(src_img.reshape(b * ns, c, h, w), ts2uv)
    return u.view(b, ns, c, *u.shape[-2:]), ts2uv


def uv_visibility(
    only_vis_obj_f2pts: torch.Tensor,
    uv_fim: torch.Tensor,
    uv_wim: torch.Tensor,
    dilate_ks: int = 13,
    src_size: tuple[int, int] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-source UV visibility: ``dilate(grid_sample(ones, Ts2uv_visible), 13)``.

    Args:
        only_vis_obj_f2pts: ``[B, ns, F, 3, 2]`` enc-winding corners with invisible faces at -2
            (``visible_face_f2pts``).
        uv_fim / uv_wim: as in :func:`source_uv_textures`.
        dilate_ks: box size of the dilation (13 in the reference).
        src_size: ``(H, W)`` of the source images (only the sampling of the all-ones image depends
            on it, at the image border); defaults to the UV size, as in the reference.

    Returns:
        ``V [B, ns, 1, Hu, Wu]`` in {0, 1} and the flows ``[B * ns, Hu, Wu, 2]``.
    """
    if only_vis_obj_f2pts.dim() != 5:
        raise ValueError(
            f"only_vis_obj_f2pts must be [B, ns, F, 3, 2], got {tuple(only_vis_obj_f2pts.shape)}"
        )
    b, ns = only_vis_obj_f2pts.shape[:2]
    fim, wim = _uv_maps(uv_fim, uv_wim, b * ns)
    t = bc_transform(only_vis_obj_f2pts.reshape(b * ns, *only_vis_obj_f2pts.shape[2:]), fim, wim)
    hs, ws = src_size if src_size is not None else t.shape[1:3]
    ones = torch.ones(b * ns, 1, hs, ws, dtype=t.dtype, device=t.device)
    v = dilate(warp(ones, t), dilate_ks)
    return v.view(b, ns, 1, *v.shape[-2:]), t


def merge_uv_textures(u: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """Merge per-source UV textures; source 0 is primary, the others fill where it is not visible.

    ``avg = sum_{n>=1} U_n V_n / (sum_{n>=1} V_n + 1e-5)``,
    ``fill = (1 - V_0) [sum_{n>=1} V_n >= 1]``, ``U = U_0 (1 - fill) + avg * fill``.
    With one source this returns ``U_0`` (what the reference's duplication achieves).

    Args:
        u: ``[B, ns, 3, Hu, Wu]``; vis: ``[B, ns, 1, Hu, Wu]``.

    Returns:
        ``[B, 3, Hu, Wu]``.
    """
    if u.dim() != 5 or vis.dim() != 5 or u.shape[:2] != vis.shape[:2]:
        raise ValueError(
            f"u must be [B, ns, 3, Hu, Wu] and vis [B, ns, 1, Hu, Wu], got {tuple(u.shape)} "
            f"and {tuple(vis.shape)}"
        )
    if u.shape[1] == 1:
        return u[:, 0]
    vis_sum = vis[:, 1:].sum(dim=1)
    avg = (u[:, 1:] * vis[:, 1:]).sum(dim=1) / (vis_sum + 1e-5)
    fill = (1 - vis[:, 0]) * (vis_sum >= 1).to(u.dtype)
    return u[:, 0] * (1 - fill) + avg * fill


def make_uv_texture(
    src_img: torch.Tensor,
    obj_f2pts: torch.Tensor,
    only_vis_obj_f2pts: torch.Tensor,
    uv_fim: torch.Tensor,
    uv_wim: torch.Tensor,
    dilate_ks: int = 13,
) -> torch.Tensor:
    """The merged UV texture of all sources (the reference's ``make_uv_img``).

    Args:
        src_img: ``[B, ns, 3, H, W]`` source (morph) images.
        obj_f2pts / only_vis_obj_f2pts: ``[B, ns, F, 3, 2]`` enc-winding corners, all faces /
            visible faces only.
        uv_fim / uv_wim: UV render (see :func:`source_uv_textures`).

    Returns:
        ``[B, 3, Hu, Wu]``.
    """
    u, _ = source_uv_textures(src_img, obj_f2pts, uv_fim, uv_wim)
    vis, _ = uv_visibility(
        only_vis_obj_f2pts, uv_fim, uv_wim, dilate_ks, src_size=tuple(src_img.shape[-2:])
    )
    return merge_uv_textures(u, vis)


def synthesize_target(
    uv_texture: torch.Tensor, f_uvs2img: torch.Tensor, tgt_fim: torch.Tensor, tgt_wim: torch.Tensor
) -> torch.Tensor:
    """Re-render the UV texture in each target pose: ``I_syn``, 0 outside the body.

    Args:
        uv_texture: ``[B, 3, Hu, Wu]``.
        f_uvs2img: ``[F, 3, 2]`` UV corners (grid coords) in the mesh winding
            (``UVLayout.f_uvs2img``), the winding the targets were rasterized with.
        tgt_fim: ``[B, nt, H, W]``; tgt_wim: ``[B, nt, H, W, 3]``.

    Returns:
        ``[B, nt, 3, H, W]``.
    """
    if uv_texture.dim() != 4 or tgt_fim.dim() != 4 or tgt_fim.shape[0] != uv_texture.shape[0]:
        raise ValueError(
            f"uv_texture must be [B, 3, Hu, Wu] and tgt_fim [B, nt, H, W] with the same B, got "
            f"{tuple(uv_texture.shape)} and {tuple(tgt_fim.shape)}"
        )
    b, nt, h, w = tgt_fim.shape
    t = bc_transform(
        f_uvs2img.to(uv_texture), tgt_fim.reshape(b * nt, h, w), tgt_wim.reshape(b * nt, h, w, 3)
    )
    src = (
        uv_texture[:, None]
        .expand(b, nt, *uv_texture.shape[1:])
        .reshape(b * nt, *uv_texture.shape[1:])
    )
    return warp(src, t).view(b, nt, uv_texture.shape[1], h, w)


@dataclass(frozen=True)
class UVRender:
    """The body's UV layout rasterized into a ``size x size`` UV image (enc winding).

    Attributes:
        fim: ``[size, size]`` long, face per texel (-1 = no face).
        wim: ``[size, size, 3]`` barycentrics in the enc winding's corner order.
    """

    fim: torch.Tensor
    wim: torch.Tensor

    @property
    def size(self) -> int:
        """Side of the square UV image."""
        return int(self.fim.shape[-1])


def uv_render(layout: UVLayout, size: int) -> UVRender:
    """Rasterize ``layout``'s UV triangles (enc winding) into a ``size x size`` UV image.

    Returns:
        :class:`UVRender` with ``fim [size, size]`` and ``wim [size, size, 3]`` (the reference's
        ``uv_fim``/``uv_wim``).
    """
    frag = rasterize(layout.uv_points(), layout.enc_ft, int(size))
    return UVRender(fim=frag.fim[0], wim=frag.wim[0])
