"""Rendering a posed SMPL-format body the way LWG sees it, from per-frame parameters.

Conventions (docs/conventions.md, "HMR image frame and camera" and "Rasterizer"):

* Per-frame SMPL parameters are ``betas [nb]``, ``poses [T, 72]`` axis-angle with the root **in
  the HMR image frame** (x right, y down; upright facing the camera ~ ``R_x(pi)``), and a
  weak-perspective camera ``cams [T, 3] = (s, tx, ty)``. A frame is reproduced exactly by
  ``project_weak_perspective(body(betas, pose).vertices, cam)`` then ``rasterize``
  (:func:`render_smpl_params`).
* :func:`motion_to_image_frame` brings a Y-up world motion into that frame: the root translation
  moves into the camera (``tx, ty``); depth travel is dropped (a weak-perspective camera cannot
  show it).
* :func:`render_textured` composites a UV-textured body over a background (images in [-1, 1]).

No Lightning/Hydra imports; nothing from ``vmc.data`` or the procedural motion library.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from vmc.body.shape import fit_betas
from vmc.geometry.camera import project_weak_perspective
from vmc.geometry.frames import convert_frame
from vmc.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from vmc.render.correspondence import UVLayout
from vmc.render.rasterizer import Fragments, rasterize
from vmc.render.shading import shading_intensity, vertex_normals
from vmc.render.texture import synthesize_target

__all__ = ["motion_to_image_frame", "render_smpl_params", "render_textured"]


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


def motion_to_image_frame(
    poses: np.ndarray | torch.Tensor, trans: np.ndarray | torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Re-express a Y-up world motion in the HMR image frame (:mod:`vmc.geometry.frames`).

    Args:
        poses: ``[T, 24, 3]`` or ``[T, 72]`` axis-angle, root in a Y-up world (person facing +Z),
            posed on a body whose rest pelvis is at the origin (the procedural library's).
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
    root, tr_img = convert_frame(axis_angle_to_matrix(p[:, :3]), tr, "y_up", "image")
    p[:, :3] = matrix_to_axis_angle(root)
    return p, (tr_img - tr_img[:1])[:, :2].contiguous()


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
