"""Face-index / barycentric rasterizer with iPERCore's conventions.

Conventions: ``docs/conventions.md#rasterizer`` (and ``#hmr-image-frame-and-camera``).

iPERCore feeds its generator three maps produced by a CUDA-only neural_renderer fork. This module
reproduces them for already projected points (weak-perspective HMR camera, see
``vmc.geometry.camera.project_weak_perspective``):

* ``fim [B,H,W]`` long: index of the nearest face covering the pixel centre, -1 where none;
* ``wim [B,H,W,3]``: screen-space barycentric weights of that face's vertex slots (k = 0, 1, 2 in
  the face's vertex order), clamped to [0, 1] and renormalised to sum 1; 0 where ``fim == -1``;
* ``f2pts [B,F,3,2]``: the projected (x, y) of every face's three corners, same slot order;
* ``zbuf [B,H,W]``: depth (in the units of the input z) of the visible surface, +inf where empty.

Conventions (the kernel's, after iPERCore's y-flips; all exact unless noted):

* points are NDC ``x`` right, ``y`` down, in [-1, 1]; ``z`` is depth, nearer = smaller;
* the pixel at row ``r``, column ``c`` samples the centre ``((2c+1)/W - 1, (2r+1)/H - 1)``; no
  anti-aliasing; a centre on an edge or vertex counts as inside (inclusive edges);
* back-face culling keeps a face only if its signed image area
  ``(x1-x0)(y2-y0) - (y1-y0)(x2-x0)`` is ``<= 0`` (counter-clockwise as seen on screen with y down;
  camera-facing for SMPL's winding under the HMR orientation); zero-area faces are never drawn;
* depth test: smallest harmonic depth ``1 / sum_k(w_k / (z_k + 2.732))`` (the kernel's look-at shift
  ``1/tan(30°) + 1``), kept only strictly inside the kernel's ``(near, far) = (0.1, 100)``; equal
  depths go to the lower face index;
* faces with a non-finite (NaN or inf) corner are not drawn.

Two backends give the same maps: ``"torch"`` (pure PyTorch, CPU or CUDA, batched; the reference)
and ``"gl"`` (OpenGL through moderngl with a headless EGL context, optional extra ``vmc[gl]``).
They differ only on pixels whose centre lies within rounding distance of an edge (GL snaps
vertices to sub-pixel precision), well under 0.1% of pixels on a body mesh.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from vmc.render._raster_gl import GLUnavailableError, rasterize_gl
from vmc.render._raster_gl import gl_available as _gl_available
from vmc.render._raster_torch import rasterize_torch

__all__ = [
    "EYE_SHIFT",
    "FAR",
    "NEAR",
    "Fragments",
    "GLUnavailableError",
    "gl_available",
    "rasterize",
]

#: z shift of the kernel's look-at camera (eye at (0, 0, -(1/tan(30°) + 1))).
EYE_SHIFT: float = 1.0 / math.tan(math.radians(30.0)) + 1.0
#: The kernel's clipping range for the shifted depth ``z + EYE_SHIFT`` (exclusive).
NEAR: float = 0.1
FAR: float = 100.0

_MAX_IMAGE_SIZE = 8192
_GL_MAX_FACES = 1 << 24  # face ids travel through a float32 texture


@dataclass(frozen=True)
class Fragments:
    """Rasterizer output (see the module docstring for the exact conventions).

    Attributes:
        fim: ``[B,H,W]`` long, face index per pixel, -1 where no face covers the pixel centre.
        wim: ``[B,H,W,3]`` float (dtype of the points), barycentric weights of the face's vertex
            slots, summing to 1 on covered pixels, 0 elsewhere.
        f2pts: ``[B,F,3,2]`` float, projected (x, y) of each face's corners (slot order of ``wim``).
        zbuf: ``[B,H,W]`` float, depth (input z units) of the visible surface, +inf where empty.
    """

    fim: torch.Tensor
    wim: torch.Tensor
    f2pts: torch.Tensor
    zbuf: torch.Tensor


def gl_available() -> bool:
    """True if ``backend="gl"`` can run here (moderngl installed and an EGL context opens)."""
    return _gl_available()


def _check_inputs(
    points: torch.Tensor, faces: torch.Tensor, image_size: int, backend: str
) -> tuple[torch.Tensor, torch.Tensor, int]:
    if not isinstance(points, torch.Tensor):
        raise ValueError(f"rasterize: points must be a torch.Tensor [B,V,3], got {type(points)}")
    if points.dim() != 3 or points.shape[-1] != 3:
        raise ValueError(
            f"rasterize: points must have shape [B,V,3] (batch, vertices, xyz), got "
            f"{tuple(points.shape)}; add a batch dimension with points[None] for one mesh"
        )
    if not points.is_floating_point():
        raise ValueError(f"rasterize: points must be a float tensor, got dtype {points.dtype}")
    if points.dtype not in (torch.float32, torch.float64):
        points = points.float()
    if not isinstance(faces, torch.Tensor):
        try:
            faces = torch.as_tensor(faces)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise ValueError(f"rasterize: faces must be an integer array [F,3] ({exc})") from exc
    if faces.dim() != 2 or faces.shape[-1] != 3:
        raise ValueError(f"rasterize: faces must have shape [F,3], got {tuple(faces.shape)}")
    if faces.is_floating_point() or faces.is_complex() or faces.dtype == torch.bool:
        raise ValueError(f"rasterize: faces must be an integer tensor, got dtype {faces.dtype}")
    faces = faces.to(device=points.device, dtype=torch.long)
    nv = points.shape[1]
    if faces.numel() > 0:
        lo, hi = int(faces.min()), int(faces.max())
        if lo < 0 or hi >= nv:
            raise ValueError(
                f"rasterize: face indices must lie in [0, {nv}) for {nv} vertices, "
                f"got values in [{lo}, {hi}]"
            )
    if isinstance(image_size, bool) or not isinstance(image_size, int):
        raise ValueError(f"rasterize: image_size must be an int, got {image_size!r}")
    if not 1 <= image_size <= _MAX_IMAGE_SIZE:
        raise ValueError(
            f"rasterize: image_size must be in [1, {_MAX_IMAGE_SIZE}], got {image_size}"
        )
    if backend not in ("torch", "gl"):
        raise ValueError(f"rasterize: backend must be 'torch' or 'gl', got {backend!r}")
    if backend == "gl" and faces.shape[0] >= _GL_MAX_FACES:
        raise ValueError(
            f"rasterize: backend='gl' supports fewer than {_GL_MAX_FACES} faces, "
            f"got {faces.shape[0]}; use backend='torch'"
        )
    return points, faces, image_size


@torch.no_grad()
def _maps(
    points: torch.Tensor, faces: torch.Tensor, image_size: int, cull: bool, backend: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    bsz, n = points.shape[0], image_size
    if bsz == 0 or faces.shape[0] == 0:
        fim = torch.full((bsz, n, n), -1, dtype=torch.long, device=points.device)
        wim = torch.zeros((bsz, n, n, 3), dtype=points.dtype, device=points.device)
        zp = torch.full((bsz, n, n), torch.inf, dtype=points.dtype, device=points.device)
        return fim, wim, zp
    pts = points.detach().contiguous()
    if backend == "gl":
        fim, wim, zp = rasterize_gl(pts, faces, n, cull, EYE_SHIFT, NEAR, FAR)
        fim = fim.to(points.device)
        wim = wim.to(device=points.device, dtype=points.dtype)
        zp = zp.to(device=points.device, dtype=points.dtype)
        zp = torch.where(fim >= 0, zp, torch.inf)
        return fim, wim, zp
    return rasterize_torch(pts, faces, n, cull, EYE_SHIFT, NEAR, FAR)


def rasterize(
    points: torch.Tensor,
    faces: torch.Tensor,
    image_size: int,
    *,
    cull_backfaces: bool = True,
    backend: Literal["torch", "gl"] = "torch",
) -> Fragments:
    """Rasterize projected meshes into face-index, barycentric and depth maps.

    Args:
        points: ``[B,V,3]`` float, projected vertices: NDC x right, y down (in [-1, 1] on
            screen), z depth (nearer = smaller), e.g. from ``project_weak_perspective``.
        faces: ``[F,3]`` integer vertex indices shared by the batch (any device; moved to the
            points' device).
        image_size: side ``N`` of the square output maps (``H = W = N``).
        cull_backfaces: drop faces whose signed image area is > 0 (iPERCore always culls).
        backend: ``"torch"`` (pure PyTorch on the points' device) or ``"gl"`` (moderngl/EGL;
            results are copied back to the points' device).

    Returns:
        :class:`Fragments` with ``fim [B,N,N]``, ``wim [B,N,N,3]``, ``f2pts [B,F,3,2]``,
        ``zbuf [B,N,N]``. ``f2pts`` keeps autograd history; the maps are not differentiable.

    Raises:
        ValueError: bad shapes or dtypes, face indices out of range, bad ``image_size`` or
            ``backend``.
        GLUnavailableError: ``backend="gl"`` without moderngl or a working EGL context.
    """
    points, faces, image_size = _check_inputs(points, faces, image_size, backend)
    fim, wim, zp = _maps(points, faces, image_size, bool(cull_backfaces), backend)
    f2pts = points[:, faces, :2]
    return Fragments(fim=fim, wim=wim, f2pts=f2pts, zbuf=zp - EYE_SHIFT)
