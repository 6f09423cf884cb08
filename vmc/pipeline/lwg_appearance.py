"""The Liquid Warping GAN as the person's appearance: the generator re-renders the subject.

What depends only on the subject is computed once (:class:`LWGRenderer` construction): the
source renders, the merged UV texture, the generator's source encodings
(``G.encode_sources``) and BGNet's background (``G.forward_bg``, put back into the photo by
:meth:`LWGRenderer.background_photo`). Each batch of target frames then costs the target
renders, their ``I_syn``/correspondence inputs, the flows and ``G.forward_transfer``. Sources
and targets share the output frame's pixel size; the sources keep their own crop's camera (the
flows map target pixels into each source's own frame, so the boxes may differ).

Conventions: ``docs/conventions.md#lwg-generator-inputs`` (images in [-1, 1], masks 1 =
background).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from vmc.lwg.generator import AttentionLWBGenerator
from vmc.lwg.inputs import prepare_sources, prepare_targets
from vmc.render.body_render import render_smpl_params
from vmc.render.correspondence import UVLayout
from vmc.render.flow import source_to_target_flows
from vmc.render.texture import uv_render
from vmc.subject.background import hole_mask
from vmc.subject.crop import crop_to_photo
from vmc.subject.prepare import Subject

__all__ = ["LWGRenderer"]


class LWGRenderer:
    """Renders a subject with a Liquid Warping GAN generator (the ``render`` of
    :class:`vmc.subject.warp.SubjectRenderer`, so the pipeline can use either).

    Args:
        generator: an :class:`~vmc.lwg.generator.AttentionLWBGenerator` (official weights, a run
            of ``train.py experiment=lwg_pretrain``, or a subject's fine-tuned one), trained
            with this body's UV layout.
        body: the subject's ``BodyModel``.
        subject: the prepared subject (its photos are the sources).
        size: the square side the generator works at (the output frame's).
    """

    def __init__(
        self, generator: AttentionLWBGenerator, body: torch.nn.Module, subject: Subject, size: int
    ) -> None:
        multiple = generator.config.size_multiple
        if size % multiple:
            raise ValueError(
                f"the generator needs sides that are multiples of {multiple}; got {size}: "
                f"choose image_size={size - size % multiple or multiple}"
            )
        self.generator = generator.eval()
        self.body = body
        self.size = int(size)
        self.layout = UVLayout.from_body(body)
        self.uv = uv_render(self.layout, self.size)
        n = subject.num_photos
        self.betas = torch.as_tensor(subject.betas).float().reshape(1, -1)
        crops = torch.from_numpy(subject.crops).permute(0, 3, 1, 2).float() / 127.5 - 1
        crops = F.interpolate(crops, size=(size, size), mode="area")
        alphas = torch.from_numpy(subject.alphas)[:, None].float()
        alphas = F.interpolate(alphas, size=(size, size), mode="area")
        _, frags = render_smpl_params(
            body,
            self.betas.expand(n, -1),
            torch.as_tensor(subject.poses).float(),
            torch.as_tensor(subject.cams).float(),
            size,
        )
        self.src_f2pts = frags.f2pts.float()[None]  # [1, ns, F, 3, 2]
        with torch.no_grad():
            self.sources = prepare_sources(
                crops[None],
                frags.fim[None],
                self.src_f2pts,
                self.layout,
                self.uv.fim,
                self.uv.wim,
                (1 - alphas)[None],  # background masks: 1 = background
            )
            self.features = self.generator.encode_sources(self.sources.src_inputs)
            self.bg = self.generator.forward_bg(self.sources.bg_inputs)  # [1, 1, 3, S, S]

    def background_photo(self, subject: Subject) -> np.ndarray:
        """Photo 0 with the person replaced by BGNet's background: ``uint8 [H_0, W_0, 3]``.

        The reference's way: BGNet inpaints photo 0's crop with the person masked out (the
        ``bg_inputs`` ``[I * M, M]``, ``M`` the eroded background mask; run once, above). Its
        output goes back into the photo's frame over the person region that classical
        inpainting would fill (:func:`vmc.subject.background.hole_mask` of the photo's alpha);
        elsewhere the photo's own pixels stay (iPERCore's ``bg_replace``), and hole pixels
        outside the crop keep the subject's plate. Deterministic (eval mode, no noise).

        Args:
            subject: the subject this renderer was built for.
        """
        photo = subject.photos[0]
        hw = photo.shape[:2]
        box = subject.boxes[0]
        bg = ((self.bg[0, 0].permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255)
        bg_photo = crop_to_photo(bg.to(torch.uint8).numpy(), box, hw)
        inside = crop_to_photo(np.ones((self.size, self.size), np.float32), box, hw) > 0.999
        alpha = crop_to_photo(subject.alphas[0].astype(np.float32), box, hw)
        hole = hole_mask(alpha) & inside
        out = subject.background_photo.copy()
        out[hole] = bg_photo[hole]
        return out

    def render(
        self,
        poses: np.ndarray | torch.Tensor,
        cams: np.ndarray | torch.Tensor,
        size: int,
        **_: object,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames of the subject in ``poses [N, 72]`` with ``cams [N, 3]`` (the output NDC).

        Returns:
            ``rgb float32 [N, S, S, 3]`` in [0, 1] and the person's ``alpha float32 [N, S, S]``
            (1 - the generator's background mask).
        """
        if size != self.size:
            raise ValueError(f"this renderer works at {self.size} pixels, asked for {size}")
        poses = torch.as_tensor(np.asarray(poses)).float().reshape(-1, 72)
        cams = torch.as_tensor(np.asarray(cams)).float().reshape(-1, 3)
        nt = len(poses)
        _, frags = render_smpl_params(self.body, self.betas.expand(nt, -1), poses, cams, size)
        fim, wim = frags.fim[None], frags.wim.float()[None]
        with torch.no_grad():
            tsf = prepare_targets(self.sources.uv_texture, fim, wim, self.layout)
            tst = source_to_target_flows(self.src_f2pts, fim, wim)
            img, mask = self.generator.forward_transfer(tsf, tst, self.features)
        rgb = ((img[0] + 1) / 2).clamp(0, 1).permute(0, 2, 3, 1)
        return rgb, (1 - mask[0, :, 0]).clamp(0, 1)
