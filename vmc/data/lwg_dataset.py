"""Torch datasets that turn processed videos (or fresh synthetic clips) into LWG training samples.

One sample follows iPERCore's pretraining (docs/lwg_data.md, "Samples"): ``ns`` source frames
and ``nt`` target frames of one video. Sources come from the video's frontal candidates with the
first candidate always first (``source_sampling="front"``, iPERCore's rule) or uniformly at random;
targets are ``nt`` distinct random frames, sorted. Each frame's own SMPL parameters are rendered
with the body model (weak-perspective camera, the LWG rasterizer), and the generator's inputs are
built with ``vmc.lwg.inputs`` (morph images with ``out_dilate_ks = 9`` as in the training config,
merged UV texture, ``I_syn``) and ``vmc.render.flow``.

Sample (a dict; no batch dimension; the default collate adds ``B`` in front):

==================  ========================  ==================================================
key                 shape, dtype              meaning
==================  ========================  ==================================================
``bg_inputs``       ``[1, 4, H, W]`` float    ``[I_s0 * M', M']``, primary source, ``M'`` = its
                                              background mask eroded 11x11
``src_inputs``      ``[ns, 6, H, W]``         ``[I_morph, C_s]``
``tsf_inputs``      ``[nt, 6, H, W]``         ``[I_syn, C_t]``
``Tst``             ``[nt, ns, H, W, 2]``     source->target flows (grid coords, -2 = none)
``src_img``         ``[ns, 3, H, W]``         source frames in [-1, 1]
``tgt_img``         ``[nt, 3, H, W]``         target frames (ground truth) in [-1, 1]
``src_mask``        ``[ns, 1, H, W]``         background masks (1 = background) from matting,
``tgt_mask``        ``[nt, 1, H, W]``         or the rendered silhouette when a video has none
``aug_bg``          ``[3, H, W]``             an augmented background image (the Places365 role)
``aug_bg_inputs``   ``[1, 4, H, W]``          ``[aug_bg * M', M']`` with the primary source's
                                              eroded background mask (BGNet's augmented input)
``bg_img``          ``[3, H, W]``             the video's clean background (zeros if unknown)
``has_bg``          ``[]`` bool               whether ``bg_img`` is real
``body_rects``      ``[nt, 4]`` long          target body boxes ``(min_x, max_x, min_y, max_y)``
``head_rects``      ``[nt, 4]`` long          target head boxes (same format; ends exclusive)
``src_cams`` ...    ``[ns, 3]``, ``[ns, 72]``,  SMPL parameters (``src_/tgt_`` ``cams``, ``poses``,
                    ``[ns, nb]``               ``betas``; betas fitted to the body's ``nb``)
``src_ids``         ``[ns]`` long             frame indices; ``tgt_ids`` ``[nt]``
``video_index``     ``[]`` long               index of the video (or synthetic item)
==================  ========================  ==================================================

Rendering happens here, in the (CPU) data workers. No Lightning/Hydra imports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from vmc.body.shape import fit_betas
from vmc.data.backgrounds import BackgroundSource
from vmc.data.lwg_layouts import VideoRecord, load_frames, load_masks
from vmc.data.synthetic_clips import render_synthetic_clip
from vmc.lwg.inputs import make_bg_inputs, prepare_sources, prepare_targets
from vmc.render.body_render import render_smpl_params
from vmc.render.clothing import ROLE_NAMES, face_roles
from vmc.render.correspondence import UVLayout
from vmc.render.flow import source_to_target_flows
from vmc.render.texture import uv_render

__all__ = ["LWGSampleBuilder", "LWGVideoDataset", "SyntheticLWGDataset", "pixel_rects"]


def pixel_rects(
    points: torch.Tensor,
    image_size: int,
    margin: float,
    vertex_ids: torch.Tensor | None = None,
    bottom_margin: bool = True,
) -> torch.Tensor:
    """Pixel boxes ``[N, 4] = (min_x, max_x, min_y, max_y)`` (ends exclusive) of projected points.

    Args:
        points: ``[N, V, 3]`` NDC points.
        margin: added on each side, as a fraction of the image side.
        vertex_ids: use only these vertices (e.g. the head's).
        bottom_margin: also extend the bottom (iPERCore's head box has no bottom margin).
    """
    xy = points[..., :2] if vertex_ids is None else points[:, vertex_ids, :2]
    px = (xy.float() + 1) * (image_size / 2)
    lo, hi = px.amin(1), px.amax(1)
    m = margin * image_size
    x0 = (lo[:, 0] - m).floor()
    x1 = (hi[:, 0] + m).ceil()
    y0 = (lo[:, 1] - m).floor()
    y1 = (hi[:, 1] + (m if bottom_margin else 0.0)).ceil()
    rect = torch.stack([x0, x1, y0, y1], dim=1).clamp(0, image_size).long()
    return rect


class LWGSampleBuilder:
    """Turns frames + SMPL parameters into the generator's inputs (see the module docstring).

    Args:
        body: ``BodyModel`` the parameters belong to.
        image_size: side ``S`` of the samples.
        layout: the body's :class:`UVLayout` (default ``UVLayout.from_body(body)``; SMPL needs
            ``UVLayout.from_smpl_files``).
        uv_size: side of the UV texture (default ``S``, as the reference).
        out_dilate_ks / conf_erode_ks / bg_ks / uv_dilate_ks: 9 / 3 / 11 / 13 (training config).
        head_margin / body_margin: box margins as fractions of ``S`` (head: none at the bottom).
    """

    def __init__(
        self,
        body: torch.nn.Module,
        image_size: int,
        layout: UVLayout | None = None,
        uv_size: int | None = None,
        *,
        out_dilate_ks: int = 9,
        conf_erode_ks: int = 3,
        bg_ks: int = 11,
        uv_dilate_ks: int = 13,
        head_margin: float = 0.05,
        body_margin: float = 0.05,
    ) -> None:
        if image_size < 8:
            raise ValueError(f"image_size must be >= 8, got {image_size}")
        self.body = body.eval()
        self.image_size = int(image_size)
        self.layout = UVLayout.from_body(body) if layout is None else layout
        if self.layout.num_faces != int(body.faces.shape[0]):
            raise ValueError(
                f"UV layout has {self.layout.num_faces} faces but the body has "
                f"{int(body.faces.shape[0])}"
            )
        self.uv = uv_render(self.layout, int(uv_size or image_size))
        self.kw = {
            "out_dilate_ks": out_dilate_ks,
            "conf_erode_ks": conf_erode_ks,
            "bg_ks": bg_ks,
            "uv_dilate_ks": uv_dilate_ks,
        }
        self.bg_ks = bg_ks
        self.head_margin, self.body_margin = head_margin, body_margin
        roles = face_roles(body)
        head_faces = body.faces[roles == ROLE_NAMES.index("head")]
        self.head_vertices = torch.unique(head_faces.reshape(-1)) if len(head_faces) else None

    @property
    def num_betas(self) -> int:
        return int(self.body.num_betas)

    def render(
        self, cams: torch.Tensor, poses: torch.Tensor, betas: torch.Tensor
    ) -> tuple[torch.Tensor, Any]:
        """``render_smpl_params`` at the builder's size: ``(points [n,V,3], Fragments)``."""
        return render_smpl_params(self.body, betas, poses, cams, self.image_size)

    def __call__(
        self,
        src_img: torch.Tensor,
        tgt_img: torch.Tensor,
        src_params: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        tgt_params: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        src_person: torch.Tensor | None = None,
        tgt_person: torch.Tensor | None = None,
        aug_bg: torch.Tensor | None = None,
        rendered: tuple[torch.Tensor, Any] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Build one sample.

        Args:
            src_img / tgt_img: ``[ns|nt, 3, S, S]`` in [-1, 1].
            src_params / tgt_params: ``(cams [n,3], poses [n,72], betas [n,k])``.
            src_person / tgt_person: ``[n, 1, S, S]`` person alpha (1 = person) or None (the
                rendered silhouette is used).
            aug_bg: ``[3, S, S]`` augmented background for BGNet (None: no ``aug_*`` keys).
            rendered: ``(points [ns+nt, V, 3], Fragments)`` of exactly these parameters at this
                size, when the caller has them already (skips the render).
        """
        s = self.image_size
        ns, nt = src_img.shape[0], tgt_img.shape[0]
        for name, img in (("src_img", src_img), ("tgt_img", tgt_img)):
            if img.dim() != 4 or img.shape[1:] != (3, s, s):
                raise ValueError(f"{name} must be [n, 3, {s}, {s}], got {tuple(img.shape)}")
        cams = torch.cat([src_params[0], tgt_params[0]]).float()
        poses = torch.cat([src_params[1], tgt_params[1]]).float()
        betas = fit_betas(torch.cat([src_params[2], tgt_params[2]]).float(), self.num_betas)
        points, frags = self.render(cams, poses, betas) if rendered is None else rendered
        if frags.fim.shape != (ns + nt, s, s):
            raise ValueError(f"rendered fragments must be [{ns + nt}, {s}, {s}]")
        fim, wim, f2pts = frags.fim, frags.wim.float(), frags.f2pts.float()
        sil = (fim >= 0).float()[:, None]
        src_bg = 1 - (sil[:ns] if src_person is None else src_person.float())
        tgt_bg = 1 - (sil[ns:] if tgt_person is None else tgt_person.float())

        with torch.no_grad():
            srcs = prepare_sources(
                src_img[None].float(),
                fim[None, :ns],
                f2pts[None, :ns],
                self.layout,
                self.uv.fim,
                self.uv.wim,
                src_bg[None],
                **self.kw,
            )
            tsf = prepare_targets(srcs.uv_texture, fim[None, ns:], wim[None, ns:], self.layout)
            tst = source_to_target_flows(f2pts[None, :ns], fim[None, ns:], wim[None, ns:])

        tgt_points = points[ns:]
        out = {
            "bg_inputs": srcs.bg_inputs[0],
            "src_inputs": srcs.src_inputs[0],
            "tsf_inputs": tsf[0],
            "Tst": tst[0],
            "src_img": src_img.float(),
            "tgt_img": tgt_img.float(),
            "src_mask": src_bg,
            "tgt_mask": tgt_bg,
            "body_rects": pixel_rects(tgt_points, s, self.body_margin),
            "head_rects": pixel_rects(
                tgt_points, s, self.head_margin, self.head_vertices, bottom_margin=False
            )
            if self.head_vertices is not None
            else torch.zeros(nt, 4, dtype=torch.long),
            "src_cams": cams[:ns],
            "src_poses": poses[:ns],
            "src_betas": betas[:ns],
            "tgt_cams": cams[ns:],
            "tgt_poses": poses[ns:],
            "tgt_betas": betas[ns:],
        }
        if aug_bg is not None:
            out["aug_bg"] = aug_bg.float()
            out["aug_bg_inputs"] = make_bg_inputs(aug_bg[None].float(), src_bg[:1], self.bg_ks)
        return out


def _u8_to_float(img: np.ndarray) -> torch.Tensor:
    """``uint8 [H, W, 3]`` -> ``[3, H, W]`` in [-1, 1]."""
    return torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1).float() / 127.5 - 1


class _SamplingMixin:
    """Shared randomness: per-item generators, deterministic for validation."""

    seed: int
    deterministic: bool

    def _rng(self, index: int) -> np.random.Generator:
        if self.deterministic:
            return np.random.default_rng([self.seed, index])
        # torch's RNG differs per worker and per epoch (DataLoader seeds it), so training
        # items vary while a seeded run stays reproducible.
        return np.random.default_rng([self.seed, index, int(torch.randint(0, 2**31 - 1, ()))])

    @staticmethod
    def _choose(
        rng: np.random.Generator,
        num_frames: int,
        ns: int,
        nt: int,
        front_ids: Sequence[int] | None,
    ) -> tuple[list[int], list[int]]:
        if front_ids:
            ft = list(front_ids)
            src = [int(i) for i in rng.choice(ft, ns, replace=ns >= len(ft))]
            src[0] = int(ft[0])  # iPERCore: the most frontal frame is always source 0
        else:
            src = [int(i) for i in rng.choice(num_frames, ns, replace=ns > num_frames)]
        tgt = sorted(int(i) for i in rng.choice(num_frames, nt, replace=nt > num_frames))
        return src, tgt


class LWGVideoDataset(_SamplingMixin, Dataset):
    """LWG samples from processed videos (any layout of ``vmc.data.lwg_layouts``).

    Args:
        videos: the videos.
        builder: :class:`LWGSampleBuilder` (body, size, kernel sizes).
        num_source / time_step: ``ns`` (4 in pretraining) and ``nt`` (2).
        length: items per epoch (default: total number of frames, as iPERCore); item ``i``
            uses video ``i % len(videos)``.
        backgrounds: source of augmented backgrounds (procedural when None; a Places365 folder
            for the paper's setup).
        source_sampling: ``"front"`` (iPERCore) or ``"random"``.
        deterministic: same sample for the same index every epoch (validation).
        seed: base seed.
    """

    def __init__(
        self,
        videos: Sequence[VideoRecord],
        builder: LWGSampleBuilder,
        num_source: int = 4,
        time_step: int = 2,
        length: int | None = None,
        backgrounds: BackgroundSource | None = None,
        source_sampling: str = "front",
        deterministic: bool = False,
        seed: int = 0,
    ) -> None:
        if not videos:
            raise ValueError("LWGVideoDataset needs at least one video")
        if num_source < 1 or time_step < 1:
            raise ValueError(
                f"num_source and time_step must be >= 1, got {num_source}, {time_step}"
            )
        if source_sampling not in ("front", "random"):
            raise ValueError(
                f"source_sampling must be 'front' or 'random', got {source_sampling!r}"
            )
        self.videos = list(videos)
        self.builder = builder
        self.ns, self.nt = int(num_source), int(time_step)
        self.length = int(length) if length else sum(v.num_frames for v in self.videos)
        self.backgrounds = BackgroundSource() if backgrounds is None else backgrounds
        self.source_sampling = source_sampling
        self.deterministic = deterministic
        self.seed = int(seed)

    def __len__(self) -> int:
        return self.length

    def _background(self, video: VideoRecord, size: int) -> torch.Tensor | None:
        if video.background_path is None:
            return None
        img = np.asarray(Image.open(video.background_path).convert("RGB"))
        if img.shape[:2] != (size, size):
            img = np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))
        return _u8_to_float(img)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range [0, {self.length})")
        rng = self._rng(index)
        vi = index % len(self.videos)
        video = self.videos[vi]
        front = video.front_ids if self.source_sampling == "front" else None
        src, tgt = self._choose(rng, video.num_frames, self.ns, self.nt, front)
        s = self.builder.image_size
        ids = src + tgt
        imgs = load_frames(video, ids, s)
        person = load_masks(video, ids, s) if video.mask_paths is not None else None

        def params(sel: list[int]) -> tuple[torch.Tensor, ...]:
            return tuple(torch.from_numpy(a[sel]) for a in (video.cams, video.poses, video.betas))

        aug = _u8_to_float(self.backgrounds.sample(s, rng))
        out: dict[str, Any] = self.builder(
            imgs[: self.ns],
            imgs[self.ns :],
            params(src),
            params(tgt),
            None if person is None else person[: self.ns],
            None if person is None else person[self.ns :],
            aug_bg=aug,
        )
        bg = self._background(video, s)
        out["bg_img"] = torch.zeros(3, s, s) if bg is None else bg
        out["has_bg"] = torch.tensor(bg is not None)
        out["src_ids"] = torch.tensor(src)
        out["tgt_ids"] = torch.tensor(tgt)
        out["video_index"] = torch.tensor(vi)
        return out


class SyntheticLWGDataset(_SamplingMixin, Dataset):
    """LWG samples from synthetic clips rendered on the fly (no files needed).

    Each item draws a motion of ``clip_frames`` frames, a body shape, an outfit, a camera and a
    background, then renders only the chosen source and target frames
    (``vmc.data.synthetic_clips.render_synthetic_clip``). Sources are random frames.

    Args:
        builder: :class:`LWGSampleBuilder` (its body is the one rendered).
        num_source / time_step: ``ns`` / ``nt``.
        length: items per epoch.
        clip_frames: length of the underlying motion.
        backgrounds: backgrounds of the clips and of the BGNet augmentation.
        deterministic / seed: see :class:`LWGVideoDataset`.
        shading: Lambert shading strength of the renders.
        texture_size: side of the clothing texture (default ``max(128, image_size)``).
    """

    def __init__(
        self,
        builder: LWGSampleBuilder,
        num_source: int = 4,
        time_step: int = 2,
        length: int = 1000,
        clip_frames: int = 30,
        backgrounds: BackgroundSource | None = None,
        deterministic: bool = False,
        seed: int = 0,
        shading: float = 0.3,
        texture_size: int | None = None,
    ) -> None:
        if num_source < 1 or time_step < 1 or length < 1 or clip_frames < 2:
            raise ValueError(
                f"need num_source, time_step, length >= 1 and clip_frames >= 2; got "
                f"{num_source}, {time_step}, {length}, {clip_frames}"
            )
        self.builder = builder
        self.ns, self.nt = int(num_source), int(time_step)
        self.length = int(length)
        self.clip_frames = int(clip_frames)
        self.backgrounds = BackgroundSource() if backgrounds is None else backgrounds
        self.deterministic = deterministic
        self.seed = int(seed)
        self.shading = float(shading)
        self.texture_size = int(texture_size or max(128, builder.image_size))
        self._tex_uv = None

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range [0, {self.length})")
        rng = self._rng(index)
        src, tgt = self._choose(rng, self.clip_frames, self.ns, self.nt, None)
        b = self.builder
        if self._tex_uv is None:  # lazily: built in the worker that uses it
            self._tex_uv = uv_render(b.layout, self.texture_size)
        clip = render_synthetic_clip(
            b.body,
            num_frames=self.clip_frames,
            image_size=b.image_size,
            seed=rng,
            layout=b.layout,
            uv=self._tex_uv,
            backgrounds=self.backgrounds,
            shading=self.shading,
            frame_ids=src + tgt,
        )
        imgs = clip.frames_float()
        person = torch.from_numpy(clip.masks).float()[:, None]
        t = lambda a: torch.from_numpy(np.asarray(a))  # noqa: E731
        n = self.ns
        betas = t(clip.betas)[None].expand(len(src) + len(tgt), -1)
        aug = _u8_to_float(self.backgrounds.sample(b.image_size, rng))
        out: dict[str, Any] = b(
            imgs[:n],
            imgs[n:],
            (t(clip.cams[:n]), t(clip.poses[:n]), betas[:n]),
            (t(clip.cams[n:]), t(clip.poses[n:]), betas[n:]),
            person[:n],
            person[n:],
            aug_bg=aug,
            rendered=(clip.points, clip.fragments),
        )
        out["bg_img"] = _u8_to_float(clip.background)
        out["has_bg"] = torch.tensor(True)
        out["src_ids"] = torch.tensor(src)
        out["tgt_ids"] = torch.tensor(tgt)
        out["video_index"] = torch.tensor(index)
        return out
