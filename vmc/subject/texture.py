"""The subject's UV texture from photos (texture warping), with confidence and filling.

Every texel of the body's UV image that lies on a UV triangle (a *body texel*) is a point on the
body surface: face ``f`` and barycentrics ``w`` (the UV render of
``docs/conventions.md#uv-layout-uv-renders-and-textures``, enc winding). :class:`TextureAtlas`
precomputes, once per body and UV size, each body texel's surface point in the rest pose and two
texel-to-texel maps used to fill what no photo saw:

* ``mirror``: the texel at the point mirrored across the body's sagittal plane (``x -> -x`` in the
  rest pose, left parts matched to right parts);
* ``opposite``: the texel on the other side of the body along the rest pose's viewing axis
  (front <-> back at the same ``(x, y)``, same part; texels whose rest normal is nearly
  perpendicular to that axis have none). The head is the exception: the back of the skull takes
  the texel on the seen top-front band of the head at the same ``x`` (hair, in most photos),
  not the face.

Building a texture (:func:`build_texture`): each photo's body is posed with the fitted
``betas``/``pose``/``cam`` (pose root in the HMR image frame, weak-perspective camera in the
photo's NDC, ``vmc.geometry.camera``); every body texel is projected into the photo and kept where
it is the visible surface there (a depth test against the photo's own z-buffer over the 2x2 pixel
footprint of the bilinear sample). Photos are blended with weights ``alpha * cos^p``, ``cos`` being
how squarely the surface faces the camera (normal . view, the view is the +z axis for a
weak-perspective camera). The confidence of a seen texel is ``min(1, max_photo(alpha * cos) /
cos_full)``. Unseen (or poorly seen) texels then take, in order, the mirror texel's colour (at half
its confidence), the opposite texel's colour (a quarter), the mirror again (so a back copy can be
mirrored), and finally an inverse-distance blend of the nearest known texels in 3-D (confidence 0):
no body texel is left empty. A candidate replaces a texel only where its (discounted) confidence is
higher, so copies never overwrite good observations. Finally every texel off the UV islands takes
its nearest island texel's values ("bleed"), so that bilinear lookups at island borders do not mix
in a background colour (no dark lines at UV seams).

Arrays: textures are float32 ``[Ht, Wt, 3]`` RGB in [0, 1] with row 0 at UV ``v = 1`` (the grid
convention of ``vmc.render.correspondence``: texel ``(r, c)`` is grid ``((2c+1)/Wt - 1,
(2r+1)/Ht - 1)``); photos are ``uint8`` or float ``[H, W, 3]`` (square, the processed crops).
No Lightning/Hydra imports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from scipy import ndimage
from scipy.spatial import cKDTree

from vmc.render.body_render import render_smpl_params
from vmc.render.correspondence import UVLayout
from vmc.render.shading import vertex_normals
from vmc.render.texture import uv_render

__all__ = [
    "SOURCE_NAMES",
    "SubjectTexture",
    "TextureAtlas",
    "build_texture",
    "project_photo",
    "texture_from_photos",
]

#: Meaning of :attr:`SubjectTexture.source` codes.
SOURCE_NAMES = ("off_body", "seen", "mirror", "opposite", "diffused")
_OFF, _SEEN, _MIRROR, _OPPOSITE, _DIFFUSED = range(len(SOURCE_NAMES))


def _fold_to_top(points: np.ndarray, normals: np.ndarray, skull: float = 0.22) -> np.ndarray:
    """Counterparts for the back of a head: ``[n]`` indices into ``points`` (-1 = none).

    In head-centred coordinates (``c`` = centre of the top ``skull`` metres), a texel at
    elevation ``psi`` (0 = straight back, 90 degrees = top, y up, facing +z) on the back of the
    skull (normal z < -0.2, above ``c_y - 0.05``) maps to the point at the same ``x`` and radius
    at ``psi' = 110 + 10 t`` degrees (``t`` = 0 at the top, 1 at the bottom of the back): the band
    just in front of the crown, which a frontal photo sees and which is hair unless the person is
    bald (then skin, also right).
    """
    out = np.full(len(points), -1, dtype=np.int64)
    top = points[:, 1].max()
    sel = points[:, 1] > top - skull
    if not sel.any():
        return out
    c = 0.5 * (points[sel].min(0) + points[sel].max(0))
    d = points - c
    back = (normals[:, 2] < -0.2) & (d[:, 1] > -0.05)
    if not back.any():
        return out
    rho = np.hypot(d[back, 1], d[back, 2])
    psi = np.arctan2(d[back, 1], -d[back, 2])
    t = np.clip((np.pi / 2 - psi) / np.pi, 0.0, 1.0)
    psi2 = np.radians(110.0 + 10.0 * t)
    q = np.stack([d[back, 0], rho * np.sin(psi2), -rho * np.cos(psi2)], 1) + c
    out[back] = cKDTree(points).query(q)[1]
    return out


def _swap_side(name: str) -> str:
    """``left_arm`` <-> ``right_arm`` (parts without a side map to themselves)."""
    if "left" in name:
        return name.replace("left", "right")
    if "right" in name:
        return name.replace("right", "left")
    return name


@dataclass(frozen=True)
class TextureAtlas:
    """Per-body, per-UV-size geometry of the body texels (subject independent; build once).

    Attributes:
        size: side ``S`` of the square UV image.
        layout: the body's :class:`UVLayout`.
        covered: ``bool [S, S]``, True on body texels (inside a UV triangle).
        texel_index: ``long [N]`` flat index (``r * S + c``) of each body texel.
        texel_vertices: ``long [N, 3]`` vertex ids of the texel's face (enc winding).
        texel_bary: ``float32 [N, 3]`` barycentrics over ``texel_vertices``.
        texel_part: ``long [N]`` body-part label (0 everywhere without labels).
        rest_points: ``float32 [N, 3]`` surface point in the template's rest pose (Y up, facing
            +Z, metres).
        rest_normals: ``float32 [N, 3]`` unit outward normals there.
        mirror: ``long [N]`` body texel at the sagittal mirror point.
        opposite: ``long [N]`` front <-> back counterpart, -1 where there is none.
        bleed_index: ``long [S * S]`` flat index of the nearest body texel of every texel
            (itself on body texels).
    """

    size: int
    layout: UVLayout
    covered: torch.Tensor
    texel_index: torch.Tensor
    texel_vertices: torch.Tensor
    texel_bary: torch.Tensor
    texel_part: torch.Tensor
    rest_points: torch.Tensor
    rest_normals: torch.Tensor
    mirror: torch.Tensor
    opposite: torch.Tensor
    bleed_index: torch.Tensor

    @property
    def num_texels(self) -> int:
        return int(self.texel_index.shape[0])

    @classmethod
    def from_body(
        cls,
        body: torch.nn.Module,
        size: int = 512,
        *,
        layout: UVLayout | None = None,
        fold_to_top: Sequence[str] = ("head",),
        opposite_min_normal: float = 0.2,
    ) -> TextureAtlas:
        """Precompute the atlas of ``body`` (a ``BodyModel`` with a UV layout) at ``size``.

        Args:
            body: ``BodyModel`` with ``vt``/``ft`` (and optionally ``face_part``/``part_names``).
            size: UV image side.
            layout: the body's :class:`UVLayout` (built when None).
            fold_to_top: parts whose back is filled from the top instead of the front: the back
                of the head is hair far more often than a second face (see
                :func:`_fold_to_top`).
            opposite_min_normal: texels whose rest normal has ``|n_z|`` below this (side-facing)
                get no opposite texel: along the viewing axis their counterpart is themselves.
        """
        layout = UVLayout.from_body(body) if layout is None else layout
        uv = uv_render(layout, int(size))
        fim = uv.fim.cpu()
        covered = fim >= 0
        texel_index = torch.nonzero(covered.reshape(-1), as_tuple=True)[0]
        faces = fim.reshape(-1)[texel_index]
        bary = uv.wim.reshape(-1, 3)[texel_index].float()
        verts = layout.enc_faces[faces]  # [N, 3]: uv_wim is in the enc winding's corner order
        rest = body.v_template.detach().cpu().float()
        vn = vertex_normals(rest[None], layout.faces)[0]
        w = bary[..., None]
        points = (rest[verts] * w).sum(1)
        normals = F.normalize((vn[verts] * w).sum(1), dim=-1, eps=1e-12)
        fp = getattr(body, "face_part", None)
        names = list(getattr(body, "part_names", None) or [])
        part = fp.cpu().long()[faces] if fp is not None else torch.zeros_like(faces)

        p_np, n_np, part_np = points.double().numpy(), normals.numpy(), part.numpy()
        mirror = np.arange(len(p_np), dtype=np.int64)
        opposite = np.full(len(p_np), -1, dtype=np.int64)
        for pid in np.unique(part_np):
            ids = np.nonzero(part_np == pid)[0]
            name = names[pid] if pid < len(names) else ""
            twin = names.index(_swap_side(name)) if _swap_side(name) in names else pid
            tids = np.nonzero(part_np == twin)[0]
            if len(tids):
                q = p_np[ids] * np.array([-1.0, 1.0, 1.0])
                mirror[ids] = tids[cKDTree(p_np[tids]).query(q)[1]]
            if name in fold_to_top:
                local = _fold_to_top(p_np[ids], n_np[ids])
                opposite[ids[local >= 0]] = ids[local[local >= 0]]
                continue
            # Front <-> back along the rest pose's viewing axis (z): nearest in (x, y) among the
            # part's texels facing the other way. Photos are mostly frontal, so the hidden side
            # of a surface is its z-mirror, not its sagittal mirror.
            for sign in (1.0, -1.0):
                src = ids[n_np[ids, 2] * sign > opposite_min_normal]
                dst = ids[n_np[ids, 2] * sign < -opposite_min_normal]
                if len(src) and len(dst):
                    opposite[src] = dst[cKDTree(p_np[dst, :2]).query(p_np[src, :2])[1]]
        _, (ri, ci) = ndimage.distance_transform_edt(~covered.numpy(), return_indices=True)
        bleed = torch.from_numpy((ri * int(size) + ci).reshape(-1).astype(np.int64))
        return cls(
            size=int(size),
            layout=layout,
            covered=covered,
            texel_index=texel_index,
            texel_vertices=verts,
            texel_bary=bary,
            texel_part=part,
            rest_points=points,
            rest_normals=normals,
            mirror=torch.from_numpy(mirror),
            opposite=torch.from_numpy(opposite),
            bleed_index=bleed,
        )

    def to_image(self, values: torch.Tensor, bleed: bool = True) -> torch.Tensor:
        """Scatter per-texel ``values [N, ...]`` into the UV image ``[S, S, ...]``.

        With ``bleed`` every off-body texel takes its nearest body texel's value; otherwise they
        are 0.
        """
        flat = values.new_zeros(self.size * self.size, *values.shape[1:])
        flat[self.texel_index] = values
        if bleed:
            flat = flat[self.bleed_index]
        return flat.view(self.size, self.size, *values.shape[1:])


@dataclass(frozen=True)
class SubjectTexture:
    """A subject's UV texture.

    Attributes:
        texture: ``float32 [S, S, 3]`` RGB in [0, 1] (off-body texels bled from the islands).
        confidence: ``float32 [S, S]`` in [0, 1]: 1 = seen squarely, less = seen obliquely or
            copied (mirror at most 0.5, opposite at most 0.25), 0 = diffused (and bled like the
            texture off the islands).
        source: ``uint8 [S, S]`` codes into :data:`SOURCE_NAMES` (0 off the islands).
    """

    texture: torch.Tensor
    confidence: torch.Tensor
    source: torch.Tensor

    def to_uint8(self) -> np.ndarray:
        """The texture as ``uint8 [S, S, 3]``."""
        return (self.texture * 255 + 0.5).clamp(0, 255).to(torch.uint8).numpy()

    def as_grid_texture(self) -> torch.Tensor:
        """The texture as ``float32 [3, S, S]`` in [-1, 1] (what ``vmc.render.texture`` uses)."""
        return self.texture.permute(2, 0, 1) * 2 - 1


def _as_float_image(img: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``uint8`` or float ``[H, W, 3]`` -> float32 ``[3, H, W]`` in [0, 1]."""
    t = torch.as_tensor(np.asarray(img) if not isinstance(img, torch.Tensor) else img)
    if t.dim() != 3 or t.shape[-1] != 3:
        raise ValueError(f"photo must be [H, W, 3], got {tuple(t.shape)}")
    t = t.float() / 255 if t.dtype == torch.uint8 else t.float()
    return t.permute(2, 0, 1).contiguous()


def project_photo(
    atlas: TextureAtlas,
    photo: np.ndarray | torch.Tensor,
    points: torch.Tensor,
    zbuf: torch.Tensor,
    vertices: torch.Tensor,
    alpha: np.ndarray | torch.Tensor | None = None,
    depth_tol: float = 0.04,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Colour and visibility of every body texel in one photo.

    Args:
        atlas: the body's :class:`TextureAtlas`.
        photo: ``[H, W, 3]`` (``H == W``) uint8 or float in [0, 1].
        points: ``[V, 3]`` projected vertices (NDC x, y; depth z) of the photo's fitted body.
        zbuf: ``[H, W]`` the photo's rasterized depth (+inf off the body).
        vertices: ``[V, 3]`` the same body in the camera frame (for normals).
        alpha: ``[H, W]`` person alpha in [0, 1] (None = 1): texels that land on background
            pixels of the cut-out are not trusted.
        depth_tol: metres; a texel is visible where all 4 pixels of its bilinear footprint have
            a depth within this of its own (the footprint test keeps occluders' colours, e.g. an
            arm in front of the torso, out of the occluded surface).

    Returns:
        ``colour [N, 3]`` float32 in [0, 1] and ``score [N]`` = ``visible * alpha * cos`` in
        [0, 1] (``cos`` = normal . view of the surface, clamped at 0).
    """
    img = _as_float_image(photo)
    h, w = img.shape[1:]
    if h != w or tuple(zbuf.shape) != (h, w):
        raise ValueError(f"photo must be square and match zbuf; got {(h, w)} and {zbuf.shape}")
    idx, bw = atlas.texel_vertices, atlas.texel_bary[..., None]
    p = (points.float()[idx] * bw).sum(1)  # [N, 3]
    vn = vertex_normals(vertices.float()[None], atlas.layout.faces)[0]
    n = F.normalize((vn[idx] * bw).sum(1), dim=-1, eps=1e-12)
    # The camera looks along +z: a surface facing it has a normal with negative z.
    cos = (-n[:, 2]).clamp(min=0.0)

    # Depth test on the 2x2 footprint of the bilinear sample (pixel centres at (2c+1)/W - 1).
    px = (p[:, 0] + 1) * (0.5 * w) - 0.5
    py = (p[:, 1] + 1) * (0.5 * h) - 0.5
    x0, y0 = px.floor().long(), py.floor().long()
    visible = torch.ones_like(cos, dtype=torch.bool)
    zb = zbuf.float()
    for dy in (0, 1):
        for dx in (0, 1):
            xx, yy = x0 + dx, y0 + dy
            inside = (xx >= 0) & (xx < w) & (yy >= 0) & (yy < h)
            z = zb[yy.clamp(0, h - 1), xx.clamp(0, w - 1)]
            visible &= inside & ((z - p[:, 2]).abs() < depth_tol)
    grid = p[None, None, :, :2]
    colour = F.grid_sample(img[None], grid, mode="bilinear", align_corners=False)[0, :, 0].T
    score = cos * visible.float()
    if alpha is not None:
        a = torch.as_tensor(np.asarray(alpha) if not isinstance(alpha, torch.Tensor) else alpha)
        a = (a.float() / 255 if a.dtype == torch.uint8 else a.float())[None, None]
        score = score * F.grid_sample(a, grid, mode="bilinear", align_corners=False)[0, 0, 0]
    return colour.contiguous(), score


def _copy_fill(
    colour: torch.Tensor,
    conf: torch.Tensor,
    source: torch.Tensor,
    mapping: torch.Tensor,
    factor: float,
    code: int,
) -> None:
    """Texels whose mapped texel's confidence x ``factor`` beats their own take its colour."""
    valid = mapping >= 0
    cand = torch.zeros_like(conf)
    cand[valid] = factor * conf[mapping[valid]]
    take = torch.nonzero(cand > conf, as_tuple=True)[0]
    src = mapping[take]
    colour[take] = colour[src].clone()
    conf[take] = cand[take]
    source[take] = code


def _diffuse_fill(
    atlas: TextureAtlas, colour: torch.Tensor, source: torch.Tensor, k: int, power: float
) -> None:
    """Fill texels with ``source == off`` by inverse-distance weighting of the ``k`` nearest
    known texels in the rest pose (3-D distance: continuous across UV seams), within the part
    where the part has known texels."""
    known = source != _OFF
    if bool(known.all()):
        return
    if not bool(known.any()):
        raise ValueError("no texel was seen in any photo; check the fit and the cut-out")
    pts = atlas.rest_points.double().numpy()
    part = atlas.texel_part.numpy()
    kn = known.numpy()
    col = colour.double().numpy()
    out = col.copy()
    for pid in np.unique(part[~kn]):
        todo = np.nonzero((part == pid) & ~kn)[0]
        pool = np.nonzero((part == pid) & kn)[0]
        if len(pool) == 0:  # a part nobody saw: borrow from the whole body
            pool = np.nonzero(kn)[0]
        kk = min(k, len(pool))
        d, j = cKDTree(pts[pool]).query(pts[todo], k=kk)
        d, j = d.reshape(len(todo), kk), j.reshape(len(todo), kk)
        wgt = 1.0 / np.maximum(d, 1e-4) ** power
        out[todo] = (wgt[..., None] * col[pool[j]]).sum(1) / wgt.sum(1, keepdims=True)
    colour.copy_(torch.from_numpy(out).to(colour.dtype))
    source[~known] = _DIFFUSED


def build_texture(
    atlas: TextureAtlas,
    colours: Sequence[torch.Tensor],
    scores: Sequence[torch.Tensor],
    *,
    power: float = 4.0,
    min_cos: float = 0.1,
    cos_full: float = 0.5,
    mirror: float = 0.5,
    opposite: float = 0.25,
    diffuse_k: int = 16,
) -> SubjectTexture:
    """Blend per-photo texel colours and fill what no photo saw.

    Args:
        atlas: the body's :class:`TextureAtlas`.
        colours / scores: per photo, from :func:`project_photo` (``[N, 3]`` and ``[N]``).
        power: blend weight ``score^power`` (4: a texel seen at 60 degrees weighs 1/16 of one
            seen squarely, so the squarest view dominates without hard switches between photos).
        min_cos: scores below this count as unseen (grazing views smear one pixel over many
            texels).
        cos_full: a score at or above this gives confidence 1.
        mirror / opposite: confidence factor of the sagittal-mirror and front <-> back copies
            (0 disables): a copy replaces a texel only where ``factor * conf(source texel)``
            exceeds the texel's own confidence.
        diffuse_k: neighbours of the final inverse-distance fill.

    Returns:
        :class:`SubjectTexture`.
    """
    if len(colours) == 0 or len(colours) != len(scores):
        raise ValueError("give one colour and one score array per photo (at least one photo)")
    n = atlas.num_texels
    acc = torch.zeros(n, 3)
    wsum = torch.zeros(n)
    best = torch.zeros(n)
    for c, s in zip(colours, scores, strict=True):
        if c.shape != (n, 3) or s.shape != (n,):
            raise ValueError(f"expected colours [{n}, 3] and scores [{n}], got {c.shape} {s.shape}")
        s = torch.where(s >= min_cos, s, torch.zeros_like(s))
        wgt = s.pow(power)
        acc += wgt[:, None] * c
        wsum += wgt
        best = torch.maximum(best, s)
    seen = wsum > 0
    colour = torch.where(seen[:, None], acc / wsum.clamp(min=1e-12)[:, None], torch.zeros_like(acc))
    conf = (best / cos_full).clamp(max=1.0)
    source = torch.where(seen, _SEEN, _OFF).to(torch.uint8)
    if mirror > 0:
        _copy_fill(colour, conf, source, atlas.mirror, mirror, _MIRROR)
    if opposite > 0:
        _copy_fill(colour, conf, source, atlas.opposite, opposite, _OPPOSITE)
    if mirror > 0:  # a back copy may now be mirrored to the other side's back
        _copy_fill(colour, conf, source, atlas.mirror, mirror, _MIRROR)
    _diffuse_fill(atlas, colour, source, diffuse_k, 2.0)
    return SubjectTexture(
        texture=atlas.to_image(colour.clamp(0, 1)),
        confidence=atlas.to_image(conf),
        source=atlas.to_image(source.to(torch.uint8), bleed=False),
    )


def texture_from_photos(
    body: torch.nn.Module,
    photos: Sequence[np.ndarray | torch.Tensor],
    betas: torch.Tensor,
    poses: torch.Tensor,
    cams: torch.Tensor,
    *,
    alphas: Sequence[np.ndarray | torch.Tensor | None] | None = None,
    atlas: TextureAtlas | None = None,
    size: int = 512,
    depth_tol: float = 0.04,
    **blend: object,
) -> SubjectTexture:
    """The subject's UV texture from ``P`` photos and their fitted bodies.

    Args:
        body: ``BodyModel`` with a UV layout.
        photos: ``P`` square images ``[H, W, 3]`` (uint8 or float in [0, 1]); sizes may differ.
        betas: ``[nb]`` or ``[1, nb]`` shape shared by the photos.
        poses: ``[P, 72]`` axis-angle, root in the HMR image frame.
        cams: ``[P, 3]`` weak-perspective ``(s, tx, ty)`` in each photo's NDC.
        alphas: per photo ``[H, W]`` person alpha in [0, 1] or None.
        atlas: precomputed :class:`TextureAtlas` (built at ``size`` when None).
        depth_tol: see :func:`project_photo`.
        **blend: keyword arguments of :func:`build_texture`.

    Returns:
        :class:`SubjectTexture`.
    """
    num = len(photos)
    poses = torch.as_tensor(poses, dtype=torch.float32).reshape(-1, 72)
    cams = torch.as_tensor(cams, dtype=torch.float32).reshape(-1, 3)
    if poses.shape[0] != num or cams.shape[0] != num:
        raise ValueError(f"{num} photos need poses [{num}, 72] and cams [{num}, 3]")
    if alphas is not None and len(alphas) != num:
        raise ValueError(f"give one alpha per photo ({num}), got {len(alphas)}")
    atlas = TextureAtlas.from_body(body, size) if atlas is None else atlas
    b = torch.as_tensor(betas, dtype=torch.float32).reshape(1, -1)
    colours, scores = [], []
    for i in range(num):
        side = int(np.asarray(photos[i]).shape[0])
        points, frags = render_smpl_params(body, b, poses[i : i + 1], cams[i : i + 1], side)
        # Camera-frame vertices: undo the weak-perspective scale/shift (exact up to rounding).
        cam = cams[i].to(points.dtype)
        verts = torch.cat([points[0, :, :2] / cam[0] - cam[1:], points[0, :, 2:]], dim=-1)
        c, s = project_photo(
            atlas,
            photos[i],
            points[0],
            frags.zbuf[0],
            verts,
            alpha=None if alphas is None else alphas[i],
            depth_tol=depth_tol,
        )
        colours.append(c)
        scores.append(s)
    return build_texture(atlas, colours, scores, **blend)  # type: ignore[arg-type]
