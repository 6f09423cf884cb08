"""Texture warping: render a textured subject in new poses (the embedded default's generator).

The body with the subject's ``betas`` is posed (root in the HMR image frame), projected with the
weak-perspective camera and rasterized (``vmc.render.rasterizer``); every covered pixel's UV
coordinate is the barycentric blend of its face's UV corners (``UVLayout.f_uvs2img``, mesh winding:
``I_syn`` in ``docs/conventions.md#lwg-generator-inputs``) and the UV texture is sampled there
bilinearly. Edges are anti-aliased by supersampling: the frame is rasterized at ``supersample``
times the size and box-filtered, which gives the soft coverage ``alpha`` and colours free of
background bleed (colours are averaged premultiplied and divided by the coverage).

Where a rendered surface point was seen in the photo (:class:`SourceView`: it is the surface the
photo's fitted body shows at the point's place, by a depth test, inside the person's cut-out), its
colour is read from the photo itself rather than from the UV texture: the texture
holds the face in a small island (about 80 texels for a face at 512²), so going through it blurs
the face and draws thin lines along the island seams. Everything else comes from the texture.

Arrays: ``rgb float32 [N, H, W, 3]`` in [0, 1] (straight colour, 0 where ``alpha`` is 0),
``alpha float32 [N, H, W]`` in [0, 1] (1 = person); backgrounds ``uint8`` or float
``[H, W, 3]``. No Lightning/Hydra imports.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from vmc.render.body_render import render_smpl_params
from vmc.render.correspondence import UVLayout
from vmc.render.flow import bc_transform
from vmc.subject.texture import SubjectTexture

__all__ = ["SourceView", "SubjectRenderer", "composite", "render_subject", "source_view"]


#: A surface point counts as seen in the photo when it lies at most this far (metres) behind the
#: surface the photo shows at its place (the photo's depth map, a shadow-map test).
SEEN_DEPTH_M = 0.02


@dataclass
class SourceView:
    """The photo a subject was fitted to, for reading colours straight from it.

    Attributes:
        photo: ``float32 [1, 3, S, S]`` the square crop in [0, 1].
        alpha: ``float32 [1, 1, S, S]`` its person cut-out (1 = person).
        corners: ``float32 [F, 3, 3]`` each face's corners under the fitted pose: x, y in the
            crop (``grid_sample`` coordinates, x right and y down in [-1, 1]) and depth (m).
        depth: ``float32 [1, 1, S, S]`` the fitted body's depth at each crop pixel (m; a large
            value where no body).
    """

    photo: torch.Tensor
    alpha: torch.Tensor
    corners: torch.Tensor
    depth: torch.Tensor

    def to(self, device: torch.device) -> SourceView:
        """The same view with every tensor on ``device``."""
        return SourceView(*(getattr(self, f.name).to(device) for f in fields(self)))


def source_view(
    body: torch.nn.Module,
    betas: torch.Tensor | np.ndarray,
    pose: torch.Tensor | np.ndarray,
    cam: torch.Tensor | np.ndarray,
    photo: np.ndarray,
    alpha: np.ndarray,
) -> SourceView:
    """The :class:`SourceView` of one fitted photo.

    Args:
        body: ``BodyModel``; betas: ``[nb]``; pose: ``[72]`` and cam: ``[3]`` the photo's fit.
        photo: ``uint8 [S, S, 3]`` the crop the fit's camera refers to; alpha: ``[S, S]`` its
            cut-out.
    """
    size = int(np.shape(photo)[0])
    if np.shape(photo) != (size, size, 3) or np.shape(alpha) != (size, size):
        raise ValueError(f"photo [S, S, 3] and alpha [S, S], got {photo.shape}, {np.shape(alpha)}")
    device = body.v_template.device
    tensor = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32).to(device)  # noqa: E731
    points, frags = render_smpl_params(
        body, tensor(betas).reshape(1, -1), tensor(pose).reshape(1, 72), tensor(cam).reshape(1, 3),
        size,
    )  # fmt: skip
    depth = frags.zbuf[0].float()
    depth = torch.where(torch.isfinite(depth), depth, torch.full_like(depth, 1e6))
    return SourceView(
        photo=torch.as_tensor(np.asarray(photo)).float().div(255).permute(2, 0, 1)[None].to(device),
        alpha=tensor(alpha)[None, None],
        corners=points[0].float()[body.faces.long().to(device)],
        depth=depth[None, None],
    )


def _seen_in_source(source: SourceView, at: torch.Tensor, covered: torch.Tensor) -> torch.Tensor:
    """``float [n, 1, h, w]``: 1 where the surface point at ``at [n, h, w, 3]`` (its place in the
    photo and its depth there) is the surface the photo shows, times the cut-out's alpha there;
    0 where ``covered [n, h, w]`` is False."""
    n = len(at)
    grid = at[..., :2]
    shown = F.grid_sample(source.depth.expand(n, -1, -1, -1), grid, mode="nearest",
                          align_corners=False)  # fmt: skip
    seen = (at[..., 2][:, None] <= shown + SEEN_DEPTH_M) & covered[:, None]
    cutout = F.grid_sample(
        source.alpha.expand(n, -1, -1, -1), grid, mode="bilinear", align_corners=False
    )
    return seen.float() * cutout


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
        source: the fitted photo (:func:`source_view`): colours seen in it are read from it
            (module docstring); None: the texture alone.
    """

    def __init__(
        self,
        body: torch.nn.Module,
        betas: torch.Tensor | np.ndarray,
        texture: SubjectTexture | np.ndarray | torch.Tensor,
        *,
        layout: UVLayout | None = None,
        supersample: int = 2,
        source: SourceView | None = None,
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
        self.source = None if source is None else source.to(device)

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
            if self.source is not None:
                at = bc_transform(self.source.corners, frags.fim, frags.wim.float())
                seen = _seen_in_source(self.source, at, frags.fim >= 0)  # [n, 1, h, w]
                photo = F.grid_sample(
                    self.source.photo.expand(n, -1, -1, -1), at[..., :2], mode="bilinear",
                    padding_mode="border", align_corners=False,
                )  # fmt: skip
                col = seen * photo + (1 - seen) * col
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
