"""Texture warping: render a textured subject in new poses (the embedded default's generator).

The body with the subject's ``betas`` is posed (root in the HMR image frame), projected with the
weak-perspective camera and rasterized (``vmc.render.rasterizer``); every covered pixel's UV
coordinate is the barycentric blend of its face's UV corners (``UVLayout.f_uvs2img``, mesh winding:
``I_syn`` in ``docs/conventions.md#lwg-generator-inputs``) and the UV texture is sampled there
bilinearly. Edges are anti-aliased by supersampling: the frame is rasterized at ``supersample``
times the size and box-filtered, which gives the soft coverage ``alpha`` and colours free of
background bleed (colours are averaged premultiplied and divided by the coverage).

Arrays: ``rgb float32 [N, H, W, 3]`` in [0, 1] (straight colour, 0 where ``alpha`` is 0),
``alpha float32 [N, H, W]`` in [0, 1] (1 = person); backgrounds ``uint8`` or float
``[H, W, 3]``. No Lightning/Hydra imports.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from vmc.render.body_render import render_smpl_params
from vmc.render.correspondence import UVLayout
from vmc.render.flow import bc_transform
from vmc.subject.texture import SubjectTexture

__all__ = ["SubjectRenderer", "composite", "render_subject"]


def _texture_tensor(texture: SubjectTexture | np.ndarray | torch.Tensor) -> torch.Tensor:
    """``SubjectTexture`` / ``[S, S, 3]`` (uint8 or float [0, 1]) -> ``float32 [1, 3, S, S]``."""
    if isinstance(texture, SubjectTexture):
        t = texture.texture
    else:
        t = torch.as_tensor(
            np.asarray(texture) if not isinstance(texture, torch.Tensor) else texture
        )
    if t.dim() != 3 or t.shape[-1] != 3:
        raise ValueError(f"texture must be [S, S, 3], got {tuple(t.shape)}")
    t = t.float() / 255 if t.dtype == torch.uint8 else t.float()
    return t.permute(2, 0, 1)[None].contiguous()


class SubjectRenderer:
    """Renders one subject (body shape + UV texture) in any number of poses.

    What depends only on the subject (the shape, the texture tensor, the UV corner table) is
    prepared once; :meth:`render` batches frames.

    Args:
        body: ``BodyModel`` with a UV layout.
        betas: ``[nb]`` or ``[1, nb]`` the subject's shape.
        texture: :class:`SubjectTexture` or ``[S, S, 3]`` UV image (uint8 or float in [0, 1]).
        layout: the body's :class:`UVLayout` (built when None).
        supersample: rasterization factor for anti-aliased edges (1 = hard edges).
    """

    def __init__(
        self,
        body: torch.nn.Module,
        betas: torch.Tensor | np.ndarray,
        texture: SubjectTexture | np.ndarray | torch.Tensor,
        *,
        layout: UVLayout | None = None,
        supersample: int = 2,
    ) -> None:
        if supersample < 1:
            raise ValueError(f"supersample must be >= 1, got {supersample}")
        self.body = body
        device = body.v_template.device  # render where the body lives (CPU, CUDA, MPS)
        self.betas = torch.as_tensor(np.asarray(betas), dtype=torch.float32).reshape(1, -1)
        self.betas = self.betas.to(device)
        self.texture = _texture_tensor(texture).to(device)
        self.layout = UVLayout.from_body(body) if layout is None else layout
        self.f_uvs2img = self.layout.f_uvs2img.float().to(device)
        self.supersample = int(supersample)

    def render(
        self,
        poses: torch.Tensor | np.ndarray,
        cams: torch.Tensor | np.ndarray,
        size: int,
        *,
        batch_size: int = 8,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Render ``N`` frames.

        Args:
            poses: ``[N, 72]`` axis-angle, root in the HMR image frame.
            cams: ``[N, 3]`` weak-perspective ``(s, tx, ty)`` in the frame's NDC.
            size: side of the square output frames.
            batch_size: frames rasterized together (memory ~ batch x (size x supersample)^2).

        Returns:
            ``rgb float32 [N, size, size, 3]`` in [0, 1] and ``alpha float32 [N, size, size]``,
            on the CPU (rendered on the body's device).
        """
        device = self.betas.device
        poses = torch.as_tensor(np.asarray(poses), dtype=torch.float32).reshape(-1, 72).to(device)
        cams = torch.as_tensor(np.asarray(cams), dtype=torch.float32).reshape(-1, 3).to(device)
        if poses.shape[0] != cams.shape[0]:
            raise ValueError(f"poses {tuple(poses.shape)} and cams {tuple(cams.shape)} disagree")
        ss = self.supersample
        rgbs, alphas = [], []
        for i in range(0, poses.shape[0], batch_size):
            p, c = poses[i : i + batch_size], cams[i : i + batch_size]
            n = p.shape[0]
            _, frags = render_smpl_params(self.body, self.betas.expand(n, -1), p, c, size * ss)
            uv = bc_transform(self.f_uvs2img, frags.fim, frags.wim.float())  # [n, h, w, 2]
            # Off-body pixels hold the sentinel -2: zeros padding samples 0 there, so the colour
            # comes out premultiplied by coverage, ready for the box filter.
            tex = self.texture.expand(n, -1, -1, -1)
            col = F.grid_sample(tex, uv, mode="bilinear", padding_mode="zeros", align_corners=False)
            cov = (frags.fim >= 0).float()[:, None]
            if ss > 1:
                col = F.avg_pool2d(col, ss)
                cov = F.avg_pool2d(cov, ss)
            col = torch.where(cov > 0, col / cov.clamp(min=1e-6), torch.zeros_like(col))
            rgbs.append(col.clamp(0, 1).permute(0, 2, 3, 1))
            alphas.append(cov[:, 0])
        return torch.cat(rgbs).cpu(), torch.cat(alphas).cpu()


def render_subject(
    body: torch.nn.Module,
    betas: torch.Tensor | np.ndarray,
    poses: torch.Tensor | np.ndarray,
    cams: torch.Tensor | np.ndarray,
    texture: SubjectTexture | np.ndarray | torch.Tensor,
    size: int,
    *,
    layout: UVLayout | None = None,
    supersample: int = 2,
    batch_size: int = 8,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Texture warping in one call (see :class:`SubjectRenderer`; reuse one for many calls).

    Returns:
        ``rgb float32 [N, size, size, 3]`` in [0, 1] and ``alpha float32 [N, size, size]``.
    """
    renderer = SubjectRenderer(body, betas, texture, layout=layout, supersample=supersample)
    return renderer.render(poses, cams, size, batch_size=batch_size)


def composite(
    rgb: torch.Tensor, alpha: torch.Tensor, background: np.ndarray | torch.Tensor
) -> torch.Tensor:
    """``alpha * rgb + (1 - alpha) * background``.

    Args:
        rgb: ``[N, H, W, 3]`` float in [0, 1]; alpha: ``[N, H, W]``.
        background: ``[H, W, 3]`` uint8 or float in [0, 1] (or ``[N, H, W, 3]`` per frame).

    Returns:
        ``float32 [N, H, W, 3]`` in [0, 1].
    """
    bg = torch.as_tensor(
        np.asarray(background) if not isinstance(background, torch.Tensor) else background
    )
    bg = bg.float() / 255 if bg.dtype == torch.uint8 else bg.float()
    if bg.shape[-3:] != rgb.shape[-3:]:
        raise ValueError(f"background {tuple(bg.shape)} does not match frames {tuple(rgb.shape)}")
    a = alpha[..., None]
    return a * rgb + (1 - a) * bg
