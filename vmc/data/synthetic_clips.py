"""Synthetic LWG training clips: a posed body with procedural clothes over a background.

A clip is the body model (any topology with a UV layout) driven by a procedural motion
(``vmc.motion.procedural``), dressed in a random outfit (:func:`sample_outfit`, painted by
``vmc.render.clothing``), rendered with the LWG rasterizer over a background from
``vmc.data.backgrounds``. Everything LWG's data needs is known exactly: frames, person masks,
per-frame SMPL parameters and the body's fragments.

Conventions (docs/conventions.md; rendering in ``vmc.render.body_render``):

* Per-frame SMPL parameters are ``betas [nb]`` (shared by the clip), ``poses [T, 72]`` axis-angle
  with the root in the HMR image frame, and weak-perspective ``cams [T, 3] = (s, tx, ty)``; one
  scale frames the whole motion, the root's travel lives in ``(tx, ty)``.
* Frames are ``uint8 [T, S, S, 3]`` RGB; masks are ``bool [T, S, S]`` with True = person
  (exactly the pixels the body covers: no anti-aliasing, like the rasterizer).
* Textures are float ``[3, Hu, Wu]`` in [-1, 1] in the body's UV image.

No Lightning/Hydra imports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from vmc.data.backgrounds import BackgroundSource, random_colour
from vmc.motion.procedural import generate_motion, list_actions
from vmc.render.body_render import motion_to_image_frame, render_smpl_params, render_textured
from vmc.render.clothing import PATTERNS, Outfit, make_clothing_texture
from vmc.render.correspondence import UVLayout
from vmc.render.rasterizer import Fragments
from vmc.render.texture import UVRender, uv_render

__all__ = ["SyntheticClip", "render_synthetic_clip", "sample_outfit"]

_SKIN_TONES = (
    (0.98, 0.84, 0.72),
    (0.93, 0.76, 0.62),
    (0.84, 0.64, 0.50),
    (0.72, 0.52, 0.38),
    (0.55, 0.38, 0.26),
    (0.40, 0.27, 0.18),
)

_HAIR_COLOURS = (
    (0.08, 0.06, 0.05),
    (0.25, 0.15, 0.08),
    (0.45, 0.30, 0.15),
    (0.75, 0.60, 0.35),
    (0.55, 0.20, 0.08),
    (0.70, 0.70, 0.70),
)


def sample_outfit(rng: np.random.Generator) -> Outfit:
    """A random :class:`Outfit` (deterministic for a seeded ``rng``)."""
    return Outfit(
        skin=_SKIN_TONES[int(rng.integers(len(_SKIN_TONES)))],
        hair=_HAIR_COLOURS[int(rng.integers(len(_HAIR_COLOURS)))],
        shirt=random_colour(rng),
        shirt2=random_colour(rng),
        trousers=random_colour(rng),
        trousers2=random_colour(rng),
        shoes=random_colour(rng, 0.02, 0.6),
        shirt_pattern=PATTERNS[int(rng.integers(len(PATTERNS)))],
        trousers_pattern=PATTERNS[int(rng.choice(len(PATTERNS), p=[0.5, 0.15, 0.15, 0.05, 0.15]))],
        pattern_period=float(rng.uniform(0.05, 0.14)),
        sleeve=float(rng.choice([0.0, rng.uniform(0.2, 0.45), rng.uniform(0.8, 1.0)])),
        trouser_length=float(rng.choice([rng.uniform(0.3, 0.5), rng.uniform(0.85, 1.0)])),
        hair_line=float(rng.uniform(0.0, 0.08)),
        noise=float(rng.uniform(0.04, 0.12)),
    )


def _fit_clip_camera(
    points_xy: torch.Tensor, offset: torch.Tensor, rng: np.random.Generator, fill: tuple
) -> torch.Tensor:
    """One scale for the whole clip so every frame's body fits the image; returns ``[T, 3]``."""
    xy = points_xy + offset[:, None]  # camera-frame metres, root travel included
    lo = xy.reshape(-1, 2).amin(0)
    hi = xy.reshape(-1, 2).amax(0)
    extent = float((hi - lo).max().clamp(min=1e-6))
    fill_frac = float(rng.uniform(*fill))
    s = 2.0 * fill_frac / extent
    centre = 0.5 * (lo + hi)
    # Random placement inside the remaining margin (in NDC), then back to camera units.
    room = (1.0 - (hi - lo) * s / 2).clamp(min=0.0)
    shift = torch.from_numpy(rng.uniform(-1, 1, size=2)).float() * room * 0.8
    t = -centre + shift / s
    cams = torch.empty(offset.shape[0], 3)
    cams[:, 0] = s
    cams[:, 1:] = t + offset
    return cams


@dataclass
class SyntheticClip:
    """A rendered synthetic clip (conventions in the module docstring).

    Attributes:
        frames: ``uint8 [T, S, S, 3]``.
        masks: ``bool [T, S, S]`` (True = person).
        betas: ``float32 [nb]``; poses: ``float32 [T, 72]`` (image-frame root);
        cams: ``float32 [T, 3]``.
        points: ``[T, V, 3]`` projected vertices (NDC x, y; depth z).
        fragments: :class:`Fragments` of every frame (``fim [T,S,S]``, ``wim``, ``f2pts``).
        background: ``uint8 [S, S, 3]`` (the clean plate).
        texture: ``[3, Hu, Wu]`` in [-1, 1].
        outfit, action, fps: provenance.
    """

    frames: np.ndarray
    masks: np.ndarray
    betas: np.ndarray
    poses: np.ndarray
    cams: np.ndarray
    points: torch.Tensor
    fragments: Fragments
    background: np.ndarray
    texture: torch.Tensor
    outfit: Outfit
    action: str
    fps: float

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    def frames_float(self) -> torch.Tensor:
        """Frames as ``float32 [T, 3, S, S]`` in [-1, 1]."""
        return torch.from_numpy(self.frames).float().permute(0, 3, 1, 2) / 127.5 - 1


def render_synthetic_clip(
    body: torch.nn.Module,
    *,
    num_frames: int = 30,
    image_size: int = 256,
    seed: int | np.random.Generator = 0,
    layout: UVLayout | None = None,
    uv: UVRender | None = None,
    action: str | None = None,
    backgrounds: BackgroundSource | None = None,
    betas_std: float = 0.8,
    fill: tuple[float, float] = (0.7, 0.92),
    shading: float = 0.3,
    fps: float = 30.0,
    texture_size: int | None = None,
    frame_ids: Sequence[int] | None = None,
) -> SyntheticClip:
    """Render one synthetic clip of ``body`` performing a procedural motion.

    Args:
        body: ``BodyModel`` with a UV layout (``vt``/``ft``).
        num_frames: ``T >= 2``.
        image_size: output side ``S``.
        seed: int or ``numpy.random.Generator``; everything (motion, betas, outfit, camera,
            background) is drawn from it.
        layout / uv: precomputed :class:`UVLayout` and :func:`uv_render` (cache them when
            rendering many clips).
        action: a ``vmc.motion.procedural`` action name (random when None).
        backgrounds: background source (procedural when None).
        betas_std: standard deviation of the random betas (first 10 components, clipped to ±2.5).
        fill: range of the fraction of the image the motion's bounding box spans.
        shading: Lambert shading strength.
        fps: motion frame rate.
        texture_size: side of the UV texture (default ``uv.size`` or ``clip(2 S, 128, 1024)``).
        frame_ids: render only these frames of the ``num_frames``-frame motion (the camera still
            frames the whole motion); the clip then holds ``len(frame_ids)`` frames.
    """
    if num_frames < 2:
        raise ValueError(f"num_frames must be >= 2, got {num_frames}")
    if image_size < 8:
        raise ValueError(f"image_size must be >= 8, got {image_size}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    layout = UVLayout.from_body(body) if layout is None else layout
    if uv is None:
        size = texture_size or int(np.clip(2 * image_size, 128, 1024))
        uv = uv_render(layout, size)
    backgrounds = BackgroundSource() if backgrounds is None else backgrounds
    actions = list_actions()
    action = actions[int(rng.integers(len(actions)))] if action is None else action
    motion = generate_motion(action, int(num_frames), float(fps), rng).motion
    poses, offset = motion_to_image_frame(motion.poses, motion.trans)

    nb = int(body.num_betas)
    betas = torch.zeros(nb)
    k = min(nb, 10)
    betas[:k] = torch.from_numpy(np.clip(rng.normal(0, betas_std, k), -2.5, 2.5)).float()

    dtype = body.v_template.dtype
    with torch.no_grad():
        out = body(betas=betas[None].to(dtype), pose_axis_angle=poses.to(dtype))
    cams = _fit_clip_camera(out.vertices[..., :2].float(), offset, rng, fill)
    if frame_ids is not None:
        ids = torch.as_tensor(list(frame_ids), dtype=torch.long)
        if ids.numel() == 0 or int(ids.min()) < 0 or int(ids.max()) >= num_frames:
            raise ValueError(f"frame_ids must be non-empty and within [0, {num_frames})")
        poses, cams = poses[ids], cams[ids]
    n = poses.shape[0]
    points, frags = render_smpl_params(body, betas[None].expand(n, -1), poses, cams, image_size)
    outfit = sample_outfit(rng)
    texture = make_clothing_texture(body, layout, outfit, uv, rng)
    bg = backgrounds.sample(int(image_size), rng)
    bg_t = torch.from_numpy(bg).float().permute(2, 0, 1) / 127.5 - 1
    frames = render_textured(texture, layout, points.float(), frags, bg_t, shading)
    frames_u8 = ((frames + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return SyntheticClip(
        frames=frames_u8.permute(0, 2, 3, 1).contiguous().numpy(),
        masks=(frags.fim >= 0).numpy(),
        betas=betas.numpy(),
        poses=poses.numpy(),
        cams=cams.numpy(),
        points=points,
        fragments=frags,
        background=bg,
        texture=texture,
        outfit=outfit,
        action=action,
        fps=float(fps),
    )
