"""Transformation flows between rendered bodies (``docs/conventions.md#flows``).

``T(p) = sum_k wim_t(p)[k] * f2pts_s[fim_t(p), k]`` where the target pixel p is covered by a face,
``(-2, -2)`` (the "no correspondence" sentinel) elsewhere. ``T`` is in ``grid_sample`` coordinates
(x right, y down, pixel centres at ``(2i + 1) / N - 1``; ``align_corners=False``), so
``warp(I_s, T)`` is the source image moved into the target pose, 0 where the sentinel is.

The vertex slot order of ``f2pts`` must be the one ``wim`` was rasterized with (mesh winding for
``fim/wim/f2pts``, enc winding for the UV render; see ``vmc.render.correspondence``).

Pure functions over tensors; any body topology. No Lightning/Hydra imports.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "SENTINEL",
    "bc_transform",
    "source_to_target_flows",
    "visible_face_f2pts",
    "warp",
]

#: Flow value meaning "no correspondence"; sampling there with zeros padding gives 0.
SENTINEL: float = -2.0


def bc_transform(f2pts: torch.Tensor, fim: torch.Tensor, wim: torch.Tensor) -> torch.Tensor:
    """Barycentric transfer of per-face corner positions to the pixels of a face-index map.

    This is the reference's ``cal_bc_transform`` with leading dims broadcast (and H, W taken from
    ``fim``, not from a renderer's fixed size).

    Args:
        f2pts: ``[..., F, 3, C]`` float; per-face corner values in the source (C = 2 for image
            positions in grid coords, any C works, e.g. UV corners for ``I_syn``).
        fim: ``[..., H, W]`` integer face-index map of the target, ``-1`` = no face.
        wim: ``[..., H, W, 3]`` float barycentric weights of the target (0 where ``fim = -1``).
            Leading dims of the three inputs must broadcast.

    Returns:
        ``[*lead, H, W, C]`` float (dtype of ``f2pts``): interpolated values, ``-2`` where
        ``fim == -1``.
    """
    if f2pts.dim() < 3 or f2pts.shape[-2] != 3:
        raise ValueError(f"f2pts must be [..., F, 3, C], got {tuple(f2pts.shape)}")
    if fim.dim() < 2:
        raise ValueError(f"fim must be [..., H, W], got {tuple(fim.shape)}")
    h, w = fim.shape[-2:]
    if wim.shape[-3:] != (h, w, 3):
        raise ValueError(f"wim must be [..., {h}, {w}, 3] to match fim, got {tuple(wim.shape)}")
    nf, c = f2pts.shape[-3], f2pts.shape[-1]
    try:
        lead = torch.broadcast_shapes(f2pts.shape[:-3], fim.shape[:-2], wim.shape[:-3])
    except RuntimeError as e:
        raise ValueError(
            f"leading dims do not broadcast: f2pts {tuple(f2pts.shape)}, fim {tuple(fim.shape)}, "
            f"wim {tuple(wim.shape)}"
        ) from e
    fim_l = fim.long()
    if fim_l.numel() and (fim_l.min() < -1 or fim_l.max() >= nf):
        raise ValueError(f"fim holds face ids outside [-1, {nf - 1}] (f2pts has F={nf})")
    n = 1
    for s in lead:
        n *= s
    pts = f2pts.expand(*lead, nf, 3, c).reshape(n * nf, 3, c)
    ids = fim_l.expand(*lead, h, w).reshape(-1)
    wts = wim.to(f2pts.dtype).expand(*lead, h, w, 3).reshape(-1, 3)
    # Only covered pixels are computed (a body covers a fraction of the image): their row in the
    # flattened [n * F] corner table, then sum_k w_k * corner_k as the reference does.
    pix = (ids >= 0).nonzero().squeeze(1)
    rows = ids.index_select(0, pix) + torch.div(pix, h * w, rounding_mode="floor") * nf
    vals = (pts.index_select(0, rows) * wts.index_select(0, pix)[..., None]).sum(dim=-2)
    t = torch.full((n * h * w, c), SENTINEL, dtype=f2pts.dtype, device=f2pts.device)
    t.index_copy_(0, pix, vals)
    return t.view(*lead, h, w, c)


def source_to_target_flows(
    src_f2pts: torch.Tensor, tgt_fim: torch.Tensor, tgt_wim: torch.Tensor
) -> torch.Tensor:
    """All source->target flows ``Tst`` in the generator's layout.

    Args:
        src_f2pts: ``[B, ns, F, 3, 2]`` projected face corners of each source (mesh winding).
        tgt_fim: ``[B, nt, H, W]``; tgt_wim: ``[B, nt, H, W, 3]`` of each target.

    Returns:
        ``Tst [B, nt, ns, H, W, 2]``.
    """
    if src_f2pts.dim() != 5:
        raise ValueError(f"src_f2pts must be [B, ns, F, 3, 2], got {tuple(src_f2pts.shape)}")
    if tgt_fim.dim() != 4 or tgt_wim.dim() != 5:
        raise ValueError(
            f"tgt_fim must be [B, nt, H, W] and tgt_wim [B, nt, H, W, 3], got "
            f"{tuple(tgt_fim.shape)} and {tuple(tgt_wim.shape)}"
        )
    return bc_transform(src_f2pts[:, None], tgt_fim[:, :, None], tgt_wim[:, :, None])


def visible_face_f2pts(
    f2pts: torch.Tensor, fim: torch.Tensor, face_k_nearest: torch.Tensor
) -> torch.Tensor:
    """Keep the corners of faces seen in ``fim`` (and their UV neighbours), set the rest to -2.

    The reference's ``get_vis_f2pts``: visible = unique ids of ``fim`` expanded through
    ``face_k_nearest`` (texture merge, ``docs/conventions.md#lwg-generator-inputs``). (The reference
    drops the first unique id assuming it is -1, which loses face 0 when the body covers the whole
    image; here only -1 is dropped.)

    Args:
        f2pts: ``[B, F, 3, C]``; fim: ``[B, H, W]``; face_k_nearest: ``[F, k]`` int.

    Returns:
        ``[B, F, 3, C]`` with invisible faces' corners = -2.
    """
    if f2pts.dim() != 4 or fim.dim() != 3 or f2pts.shape[0] != fim.shape[0]:
        raise ValueError(
            f"f2pts must be [B, F, 3, C] and fim [B, H, W] with the same B, got "
            f"{tuple(f2pts.shape)} and {tuple(fim.shape)}"
        )
    b, nf = f2pts.shape[:2]
    if face_k_nearest.dim() != 2 or face_k_nearest.shape[0] != nf:
        raise ValueError(f"face_k_nearest must be [F={nf}, k], got {tuple(face_k_nearest.shape)}")
    knn = face_k_nearest.to(fim.device).long()
    vis = torch.zeros(b, nf + 1, dtype=torch.bool, device=fim.device)
    # Scatter "seen" flags; -1 goes to the spare slot nf and is discarded.
    ids = fim.long().reshape(b, -1)
    vis.scatter_(1, torch.where(ids < 0, torch.full_like(ids, nf), ids), True)
    seen = vis[:, :nf]
    expanded = torch.zeros(b, nf, dtype=torch.bool, device=fim.device)
    for i in range(b):  # small loop over the batch; F x k scatter each
        expanded[i, knn[seen[i]].reshape(-1)] = True
    keep = expanded.to(f2pts.device)[:, :, None, None]
    return torch.where(keep, f2pts, torch.full_like(f2pts, SENTINEL))


def warp(img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``grid_sample`` with the reference's settings (bilinear, zeros, ``align_corners=False``).

    Args:
        img: ``[N, C, Hs, Ws]``; flow: ``[N, H, W, 2]`` grid coords (sentinel -2 -> 0).

    Returns:
        ``[N, C, H, W]``.
    """
    if img.dim() != 4 or flow.dim() != 4 or flow.shape[-1] != 2 or img.shape[0] != flow.shape[0]:
        raise ValueError(
            f"img must be [N, C, H, W] and flow [N, H, W, 2] with the same N, got "
            f"{tuple(img.shape)} and {tuple(flow.shape)}"
        )
    return F.grid_sample(
        img, flow.to(img.dtype), mode="bilinear", padding_mode="zeros", align_corners=False
    )
