"""Mesh normals and simple shading (ambient + Lambert + a little Blinn-Phong) of rasterized maps.

All functions work in the rasterizer's camera frame: x right, y down, z into the screen (the
camera looks along +z, so a surface facing the camera has a normal with negative z). Normals are
right-handed face normals ``(v1 - v0) x (v2 - v0)``, which point outwards for SMPL's winding.
Colours are float RGB in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F  # noqa: N812

__all__ = [
    "DEFAULT_LIGHT_DIR",
    "face_normals",
    "interpolate_face_attributes",
    "shade_fragments",
    "shading_intensity",
    "vertex_normals",
]

#: Direction *towards* the light in camera coordinates: from the camera, a little above
#: (y is down, so "above" is -y) and to the left, so that shapes read without flat frontal light.
DEFAULT_LIGHT_DIR = (-0.25, -0.45, -1.0)


def _check_faces(faces: torch.Tensor, num_vertices: int) -> torch.Tensor:
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"faces must have shape [F,3], got {tuple(faces.shape)}")
    faces = faces.long()
    if faces.numel() and (int(faces.min()) < 0 or int(faces.max()) >= num_vertices):
        raise ValueError(f"faces index outside [0, {num_vertices}) vertices")
    return faces


def _raw_face_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    v0, v1, v2 = (vertices[..., faces[:, k], :] for k in range(3))
    return torch.linalg.cross(v1 - v0, v2 - v0, dim=-1)


def face_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Unit face normals ``[..., F, 3]`` of ``vertices [..., V, 3]`` with ``faces [F, 3]``.

    Degenerate (zero-area) faces get a zero normal.
    """
    faces = _check_faces(faces, vertices.shape[-2])
    return F.normalize(_raw_face_normals(vertices, faces), dim=-1, eps=1e-12)


def vertex_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Unit vertex normals ``[..., V, 3]``: area-weighted average of adjacent face normals.

    Vertices used by no face get a zero normal.
    """
    faces = _check_faces(faces, vertices.shape[-2])
    fn = _raw_face_normals(vertices, faces)  # length = 2 x area: the area weighting for free
    vn = torch.zeros_like(vertices)
    for k in range(3):
        vn.index_add_(-2, faces[:, k], fn)
    return F.normalize(vn, dim=-1, eps=1e-12)


def interpolate_face_attributes(
    fim: torch.Tensor, wim: torch.Tensor, face_attrs: torch.Tensor
) -> torch.Tensor:
    """Barycentric interpolation of per-face-corner attributes at every pixel.

    Args:
        fim: ``[B,H,W]`` long face index per pixel, -1 where empty.
        wim: ``[B,H,W,3]`` barycentric weights of the face's corners.
        face_attrs: ``[B,F,3,C]`` attribute of each face corner (e.g. ``vn[:, faces]``).

    Returns:
        ``[B,H,W,C]``; zero where ``fim == -1``.
    """
    b, h, w = fim.shape
    idx = fim.clamp(min=0).reshape(b, h * w)
    corners = torch.gather(
        face_attrs, 1, idx[:, :, None, None].expand(-1, -1, 3, face_attrs.shape[-1])
    )  # [B,HW,3,C]
    out = (wim.reshape(b, h * w, 3, 1) * corners).sum(dim=2)
    return out.reshape(b, h, w, -1) * (fim >= 0)[..., None]


def shading_intensity(
    normals: torch.Tensor,
    light_dir: Sequence[float] = DEFAULT_LIGHT_DIR,
    ambient: float = 0.35,
    diffuse: float = 0.65,
    specular: float = 0.12,
    shininess: float = 24.0,
    two_sided: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Light intensities for unit ``normals [..., 3]`` in camera coordinates.

    ``diffuse_term = ambient + diffuse * max(0, n . l)`` multiplies the surface colour;
    ``specular_term = specular * max(0, n . h) ** shininess`` (Blinn-Phong, ``h`` halfway between
    the light and the view direction ``(0, 0, -1)``) is added on top, untinted.
    With ``two_sided``, normals pointing away from the camera (``n_z > 0``: back faces seen
    through holes, or a mesh wound the other way) are flipped so they are lit, not black.

    Returns:
        ``(diffuse_term [...], specular_term [...])``.
    """
    light = F.normalize(
        torch.as_tensor(light_dir, dtype=normals.dtype, device=normals.device), dim=0
    )
    view = torch.tensor([0.0, 0.0, -1.0], dtype=normals.dtype, device=normals.device)
    n = normals
    if two_sided:
        n = torch.where(n[..., 2:3] > 0, -n, n)
    ndotl = (n * light).sum(-1).clamp(min=0)
    half = F.normalize(light + view, dim=0)
    ndoth = (n * half).sum(-1).clamp(min=0)
    return ambient + diffuse * ndotl, specular * ndoth.pow(shininess) * (ndotl > 0)


def shade_fragments(
    fim: torch.Tensor,
    wim: torch.Tensor,
    faces: torch.Tensor,
    cam_vertices: torch.Tensor,
    face_colors: torch.Tensor,
    background: torch.Tensor,
    *,
    smooth: bool | torch.Tensor = True,
    light_dir: Sequence[float] = DEFAULT_LIGHT_DIR,
    ambient: float = 0.35,
    diffuse: float = 0.65,
    specular: float = 0.12,
) -> torch.Tensor:
    """Shade rasterized fragments into an RGB image.

    Args:
        fim: ``[B,H,W]`` long face index (-1 = empty), ``wim``: ``[B,H,W,3]`` barycentrics, as
            returned by :func:`vmc.render.rasterizer.rasterize`.
        faces: ``[F,3]`` long.
        cam_vertices: ``[B,V,3]`` vertices in *metric* camera coordinates (x right, y down,
            z away from the camera; any uniform scale), used for the normals.
        face_colors: ``[F,3]`` or ``[B,F,3]`` float RGB in [0,1].
        background: ``[3]``, ``[H,W,3]`` or ``[B,H,W,3]`` float RGB shown where ``fim == -1``.
        smooth: interpolate vertex normals (smooth look) instead of flat per-face normals; a
            bool ``[F]`` tensor chooses per face (e.g. smooth body, flat floor).
        light_dir, ambient, diffuse, specular: see :func:`shading_intensity`.

    Returns:
        ``[B,H,W,3]`` float RGB in [0,1].
    """
    b, h, w = fim.shape
    faces = _check_faces(faces, cam_vertices.shape[-2])
    bg = background.to(cam_vertices.dtype).to(cam_vertices.device)
    out = bg.expand(b, h, w, 3).clone()
    # Shade covered pixels only: the background is often most of the image.
    bi, yi, xi = torch.nonzero(fim >= 0, as_tuple=True)
    if bi.numel() == 0:
        return out
    f = fim[bi, yi, xi]  # [P]
    n = face_normals(cam_vertices, faces)[bi, f]  # [P,3]
    use_smooth = smooth if isinstance(smooth, torch.Tensor) else torch.tensor(bool(smooth))
    if bool(use_smooth.any()):
        vn = vertex_normals(cam_vertices, faces)
        corner_normals = vn[bi[:, None], faces[f]]  # [P,3,3]
        weights = wim[bi, yi, xi].to(vn.dtype)[..., None]  # [P,3,1]
        n_smooth = F.normalize((weights * corner_normals).sum(dim=1), dim=-1, eps=1e-12)
        if use_smooth.ndim == 0:
            n = n_smooth
        else:
            n = torch.where(use_smooth.to(f.device)[f][:, None], n_smooth, n)
    diff, spec = shading_intensity(
        n, light_dir=light_dir, ambient=ambient, diffuse=diffuse, specular=specular
    )
    colors = face_colors.to(cam_vertices.dtype).to(cam_vertices.device)
    albedo = colors[f] if colors.ndim == 2 else colors[bi, f]  # [P,3]
    out[bi, yi, xi] = (albedo * diff[:, None] + spec[:, None]).clamp(0, 1)
    return out
