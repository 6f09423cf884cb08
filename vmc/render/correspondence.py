"""Per-face correspondence code ("uv_seg") and the body's UV layout.

Conventions: ``docs/conventions.md#uv-layout-uv-renders-and-textures`` (UV layout, windings) and
``docs/conventions.md#lwg-generator-inputs`` (the uv_seg code, the visibility expansion).

Everything here works for any body topology: SMPL with its iPERCore UV files
(``mapper_fim_enc.txt`` / ``mapper_uv.txt``) or the embedded body with its own ``vt``/``ft``.

Conventions
-----------
* ``vt [Nvt, 2]`` are UV coordinates ``(u, v)`` in ``[0, 1]`` with ``v`` pointing up.
* Grid coordinates (what ``F.grid_sample`` and the rasterizer use): ``x = 2u - 1``,
  ``y = 1 - 2v`` (y down). Computed in float32 in the reference's order (``v' = 1 - v`` first,
  then ``2 * . - 1``) so the tables match the original to the last bit or two.
* Two face windings are kept, as iPERCore does:
  - the *mesh* winding (``faces``, ``ft``): the body's own, used for image-space renders and for
    ``f_uvs2img`` (the target-pose texture lookup);
  - the *enc* winding (``enc_faces``, ``enc_ft``): the same triangles, re-ordered so that every
    UV triangle is counter-clockwise in UV space (v up). It survives back-face culling when the UV
    layout is rasterized, and the uv_seg code is taken from it.
  ``enc_perm [F, 3]`` gives ``enc_faces[i, k] = faces[i, enc_perm[i, k]]``, so the enc-ordered
  projected corners are ``f2pts.gather`` of the mesh-ordered ones: no second render is needed.

This module imports neither Lightning nor Hydra.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree

__all__ = [
    "UVLayout",
    "ObjUV",
    "load_uv_obj",
    "load_part_info",
    "uv_to_grid",
    "face_uv_corners",
    "face_barycenters",
    "uv_seg_table",
    "encode_uv_seg",
    "orient_uv_faces",
    "face_k_nearest",
    "BG_CODE",
]

#: Code of the background row of the uv_seg table (last row, selected by ``fim == -1``).
BG_CODE: tuple[float, float, float] = (0.0, 0.0, 1.0)


# --------------------------------------------------------------------------------------------
# File readers (SMPL UV layout as iPERCore ships it; the files themselves are user-supplied)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjUV:
    """Faces and UV indices of a Wavefront OBJ with ``f v/vt[/vn]`` lines (0-based int64).

    ``faces [F, 3]`` index ``v``; ``ft [F, 3]`` index ``vt [Nvt, 2]`` (float32, v up);
    ``num_vertices`` counts the ``v`` lines.
    """

    faces: np.ndarray
    ft: np.ndarray
    vt: np.ndarray
    num_vertices: int


def load_uv_obj(path: str | Path) -> ObjUV:
    """Read an OBJ's triangle faces and UV layout (e.g. iPERCore's ``mapper_fim_enc.txt``).

    Only ``v``, ``vt`` and ``f`` lines matter; faces must be triangles with a ``vt`` index.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: no faces, a face without UV indices, a non-triangle, or indices out of range.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"UV layout OBJ not found: {path}")
    vts: list[tuple[float, float]] = []
    faces: list[list[int]] = []
    fts: list[list[int]] = []
    nv = 0
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.split()
            if not parts:
                continue
            tag = parts[0]
            if tag == "v":
                nv += 1
            elif tag == "vt":
                if len(parts) < 3:
                    raise ValueError(f"{path}:{lineno}: 'vt' needs two numbers, got {line!r}")
                vts.append((float(parts[1]), float(parts[2])))
            elif tag == "f":
                corners = parts[1:]
                if len(corners) != 3:
                    raise ValueError(
                        f"{path}:{lineno}: only triangles are supported, got {len(corners)} corners"
                    )
                f, t = [], []
                for c in corners:
                    idx = c.split("/")
                    if len(idx) < 2 or not idx[1]:
                        raise ValueError(f"{path}:{lineno}: face corner {c!r} has no vt index")
                    f.append(int(idx[0]) - 1)
                    t.append(int(idx[1]) - 1)
                faces.append(f)
                fts.append(t)
    if not faces:
        raise ValueError(f"{path}: no 'f' lines found; is this a UV layout OBJ?")
    faces_a = np.asarray(faces, dtype=np.int64)
    ft_a = np.asarray(fts, dtype=np.int64)
    vt_a = np.asarray(vts, dtype=np.float32).reshape(-1, 2)
    if faces_a.min() < 0 or faces_a.max() >= nv:
        raise ValueError(f"{path}: vertex index out of range [1, {nv}]")
    if ft_a.min() < 0 or ft_a.max() >= len(vt_a):
        raise ValueError(f"{path}: vt index out of range [1, {len(vt_a)}]")
    return ObjUV(faces=faces_a, ft=ft_a, vt=vt_a, num_vertices=nv)


def load_part_info(path: str | Path, num_faces: int) -> tuple[np.ndarray, list[str]]:
    """Read iPERCore's ``smpl_part_info.json`` into per-face part labels.

    The file maps part name -> ``{"face": [ids], ...}``. Parts are numbered in sorted-name order
    (as the reference's ``get_part_ids`` does).

    Returns:
        ``face_part [num_faces]`` int64 and ``part_names`` (sorted).

    Raises:
        FileNotFoundError: missing file. ValueError: faces uncovered, repeated or out of range.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"part info JSON not found: {path}")
    data = json.loads(path.read_text(encoding="utf-8"))
    names = sorted(data.keys())
    face_part = np.full(num_faces, -1, dtype=np.int64)
    for i, name in enumerate(names):
        ids = np.asarray(data[name]["face"], dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= num_faces):
            raise ValueError(f"{path}: part {name!r} has face ids outside [0, {num_faces})")
        if np.any(face_part[ids] != -1):
            raise ValueError(f"{path}: part {name!r} repeats faces of another part")
        face_part[ids] = i
    if np.any(face_part < 0):
        raise ValueError(f"{path}: {(face_part < 0).sum()} of {num_faces} faces belong to no part")
    return face_part, names


# --------------------------------------------------------------------------------------------
# UV geometry
# --------------------------------------------------------------------------------------------


def _as_np(x: np.ndarray | torch.Tensor, dtype: type) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def uv_to_grid(vt: np.ndarray | torch.Tensor) -> np.ndarray:
    """UV ``[N, 2]`` (v up, [0,1]) -> grid coords ``[N, 2]`` float32 ``(2u - 1, 1 - 2v)``."""
    g = _as_np(vt, np.float32).copy()
    if g.ndim != 2 or g.shape[1] != 2:
        raise ValueError(f"vt must have shape [N, 2], got {tuple(g.shape)}")
    # Same float32 op order as the reference (v -> 1 - v, then * 2 - 1).
    g[:, 1] = np.float32(1) - g[:, 1]
    return g * np.float32(2) - np.float32(1)


def face_uv_corners(vt: np.ndarray | torch.Tensor, ft: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Per-face UV corners in grid coordinates, ``[F, 3, 2]`` float32, in ``ft``'s corner order.

    With the mesh-winding ``ft`` this is the reference's ``f_uvs2img`` (used for ``I_syn``); with
    the enc winding it is ``f_img2uvs[..., :2]`` (the points to rasterize the UV image with).
    """
    ft_a = _as_np(ft, np.int64)
    g = uv_to_grid(vt)
    if ft_a.ndim != 2 or ft_a.shape[1] != 3:
        raise ValueError(f"ft must have shape [F, 3], got {tuple(ft_a.shape)}")
    if ft_a.size and (ft_a.min() < 0 or ft_a.max() >= len(g)):
        raise ValueError(f"ft indexes vt out of range [0, {len(g)})")
    return torch.from_numpy(np.ascontiguousarray(g[ft_a]))


def face_barycenters(corners: torch.Tensor) -> torch.Tensor:
    """The reference's ``compute_barycenter``: ``v2 + 0.5 (v0 - v2) + 0.5 (v1 - v2)``.

    Despite the name this is the midpoint of edge 0-1 (weights 0.5, 0.5, 0). ``corners [..., 3, C]``
    -> ``[..., C]``. The op order is kept so float32 results match the original bit for bit.
    """
    v2 = corners[..., 2, :]
    return v2 + 0.5 * (corners[..., 0, :] - v2) + 0.5 * (corners[..., 1, :] - v2)


def uv_seg_table(vt: np.ndarray | torch.Tensor, enc_ft: np.ndarray | torch.Tensor) -> torch.Tensor:
    """The uv_seg lookup table ``[F + 1, 3]`` float32.

    Row f = ``(0.5 t0 + 0.5 t1, 0)`` with ``t`` the face's UV corners in grid coords, taken in the
    enc winding's corner order; the last row is the background code ``(0, 0, 1)``.
    """
    corners = face_uv_corners(vt, enc_ft)
    nf = corners.shape[0]
    # The reference appends z = 0 before taking the "barycentre"; the third channel stays 0.
    c3 = torch.cat([corners, torch.zeros(nf, 3, 1, dtype=torch.float32)], dim=-1)
    table = face_barycenters(c3)
    bg = torch.tensor([BG_CODE], dtype=torch.float32)
    return torch.cat([table, bg], dim=0)


def encode_uv_seg(fim: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Correspondence map ``C = table[fim]`` as ``[B, 3, H, W]`` (fim ``-1`` -> background row).

    Args:
        fim: ``[B, H, W]`` integer face-index map, ``-1`` = no face.
        table: ``[F + 1, 3]`` from :func:`uv_seg_table`.
    """
    if fim.dim() != 3:
        raise ValueError(f"fim must be [B, H, W], got {tuple(fim.shape)}")
    if table.dim() != 2 or table.shape[1] != 3:
        raise ValueError(f"uv_seg table must be [F + 1, 3], got {tuple(table.shape)}")
    idx = fim.long()
    if idx.numel() and (idx.min() < -1 or idx.max() >= table.shape[0] - 1):
        raise ValueError(
            f"fim holds face ids outside [-1, {table.shape[0] - 2}]; table and mesh disagree"
        )
    # -1 indexes the last (background) row, exactly like the reference's map_fn[fim].
    return table.to(fim.device)[idx].permute(0, 3, 1, 2).contiguous()


def _signed_uv_area(vt_grid: np.ndarray, ft: np.ndarray) -> np.ndarray:
    """Signed area of each UV triangle in (u, v-up) space (positive = counter-clockwise)."""
    p = vt_grid[ft].astype(np.float64)
    # grid y is flipped v, so negate to get the v-up orientation.
    e1 = p[:, 1] - p[:, 0]
    e2 = p[:, 2] - p[:, 0]
    return -(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])


def orient_uv_faces(
    faces: np.ndarray | torch.Tensor, vt: np.ndarray | torch.Tensor, ft: np.ndarray | torch.Tensor
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Build the enc winding: reverse faces whose UV triangle is clockwise (v up).

    Reversal is ``(a, b, c) -> (c, b, a)`` (the reference's ``faces[:, ::-1]``), applied to
    vertex and UV indices together. Degenerate (zero-area) UV triangles are left as they are.

    Returns:
        ``enc_faces [F, 3]``, ``enc_ft [F, 3]`` (int64) and ``enc_perm [F, 3]`` with
        ``enc_faces[i, k] = faces[i, enc_perm[i, k]]``.
    """
    faces_a = _as_np(faces, np.int64)
    ft_a = _as_np(ft, np.int64)
    if faces_a.shape != ft_a.shape or faces_a.ndim != 2 or faces_a.shape[1] != 3:
        raise ValueError(
            f"faces and ft must both be [F, 3]; got {tuple(faces_a.shape)} and {tuple(ft_a.shape)}"
        )
    area = _signed_uv_area(uv_to_grid(vt), ft_a)
    flip = area < 0
    perm = np.tile(np.arange(3, dtype=np.int64), (len(faces_a), 1))
    perm[flip] = perm[flip, ::-1]
    rows = np.arange(len(faces_a))[:, None]
    return faces_a[rows, perm], ft_a[rows, perm], perm


def _winding_perm(faces: np.ndarray, enc_faces: np.ndarray) -> np.ndarray:
    """``perm [F, 3]`` with ``enc_faces[i, k] = faces[i, perm[i, k]]`` (ValueError if none)."""
    eq = enc_faces[:, :, None] == faces[:, None, :]  # [F, 3(enc slot), 3(mesh slot)]
    ok = eq.sum(-1) == 1
    if not np.all(ok):
        bad = np.nonzero(~ok.all(-1))[0][:5]
        raise ValueError(
            f"enc faces are not re-orderings of the mesh faces (first bad face ids: {bad.tolist()})"
        )
    return eq.argmax(-1).astype(np.int64)


def face_k_nearest(
    vt: np.ndarray | torch.Tensor,
    enc_ft: np.ndarray | torch.Tensor,
    face_part: np.ndarray | torch.Tensor | None = None,
    k: int = 3,
) -> torch.Tensor:
    """For each face, the ``k`` faces (itself included) nearest in UV space within its part.

    Distance between faces = distance of their uv_seg "barycentres" (edge-0-1 midpoints);
    ``top_k = 3`` in the reference. Parts with fewer than ``k`` faces repeat their nearest.
    At exact distance ties the choice may differ from the reference's (unstable) argsort.

    Returns:
        ``[F, k]`` int64 face ids.
    """
    fbc = face_barycenters(face_uv_corners(vt, enc_ft)).double().numpy()
    nf = fbc.shape[0]
    parts = np.zeros(nf, dtype=np.int64) if face_part is None else _as_np(face_part, np.int64)
    if parts.shape != (nf,):
        raise ValueError(f"face_part must be [F={nf}], got {tuple(parts.shape)}")
    out = np.empty((nf, k), dtype=np.int64)
    for p in np.unique(parts):
        ids = np.nonzero(parts == p)[0]
        kk = min(k, len(ids))
        # A k-d tree keeps this O(F log F) in time and O(F) in memory (a dense F x F distance
        # matrix would need gigabytes for a body without part labels).
        _, order = cKDTree(fbc[ids]).query(fbc[ids], k=kk)
        order = np.asarray(order, dtype=np.int64).reshape(len(ids), kk)
        if kk < k:  # tiny part: pad with the nearest (itself)
            order = np.concatenate([order, np.repeat(order[:, :1], k - kk, 1)], 1)
        out[ids] = ids[order]
    return torch.from_numpy(out)


# --------------------------------------------------------------------------------------------
# The layout object the pipeline passes around
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UVLayout:
    """A body's UV layout and the tables derived from it (torch tensors, CPU).

    Attributes:
        faces: ``[F, 3]`` int64 mesh faces (body winding; what image-space renders use).
        vt: ``[Nvt, 2]`` float32 UV coordinates (v up).
        ft: ``[F, 3]`` int64 UV indices, mesh winding.
        enc_faces / enc_ft: ``[F, 3]`` the same triangles, CCW in UV space.
        enc_perm: ``[F, 3]`` with ``enc_faces[i, k] = faces[i, enc_perm[i, k]]``.
        uv_seg: ``[F + 1, 3]`` the correspondence code table (last row background).
        f_uvs2img: ``[F, 3, 2]`` UV corners (grid coords), mesh winding: for ``I_syn``.
        f_img2uvs: ``[F, 3, 2]`` UV corners (grid coords), enc winding: what the UV rasterization
            produces as ``f2pts``.
        face_k_nearest: ``[F, k]`` visibility expansion table.
        face_part: ``[F]`` int64 part labels or None.
    """

    faces: torch.Tensor
    vt: torch.Tensor
    ft: torch.Tensor
    enc_faces: torch.Tensor
    enc_ft: torch.Tensor
    enc_perm: torch.Tensor
    uv_seg: torch.Tensor
    f_uvs2img: torch.Tensor
    f_img2uvs: torch.Tensor
    face_k_nearest: torch.Tensor
    face_part: torch.Tensor | None = None

    @property
    def num_faces(self) -> int:
        return int(self.faces.shape[0])

    @classmethod
    def from_arrays(
        cls,
        faces: np.ndarray | torch.Tensor,
        vt: np.ndarray | torch.Tensor,
        ft: np.ndarray | torch.Tensor,
        *,
        enc_faces: np.ndarray | torch.Tensor | None = None,
        enc_ft: np.ndarray | torch.Tensor | None = None,
        face_part: np.ndarray | torch.Tensor | None = None,
        top_k: int = 3,
    ) -> UVLayout:
        """Build from a body's ``faces``/``vt``/``ft`` (e.g. ``BodyModel.faces/vt/ft``).

        ``enc_faces``/``enc_ft`` are derived with :func:`orient_uv_faces` unless given (SMPL's
        ``mapper_fim_enc.txt`` gives them, so that the official weights see their exact codes).
        """
        faces_a = _as_np(faces, np.int64)
        ft_a = _as_np(ft, np.int64)
        vt_a = _as_np(vt, np.float32)
        if faces_a.ndim != 2 or faces_a.shape[1] != 3:
            raise ValueError(f"faces must be [F, 3], got {tuple(faces_a.shape)}")
        if ft_a.shape != faces_a.shape:
            raise ValueError(
                f"ft must match faces' shape {tuple(faces_a.shape)}, got {tuple(ft_a.shape)}"
            )
        if vt_a.ndim != 2 or vt_a.shape[1] != 2:
            raise ValueError(f"vt must be [Nvt, 2], got {tuple(vt_a.shape)}")
        if (enc_faces is None) != (enc_ft is None):
            raise ValueError("give both enc_faces and enc_ft, or neither")
        if enc_faces is None:
            ef, eft, perm = orient_uv_faces(faces_a, vt_a, ft_a)
        else:
            ef = _as_np(enc_faces, np.int64)
            eft = _as_np(enc_ft, np.int64)
            if ef.shape != faces_a.shape or eft.shape != faces_a.shape:
                raise ValueError("enc_faces/enc_ft must have the same shape as faces")
            perm = _winding_perm(faces_a, ef)
            rows = np.arange(len(faces_a))[:, None]
            if not np.array_equal(ft_a[rows, perm], eft):
                raise ValueError("enc_ft is not re-ordered like enc_faces relative to ft")
        fp = None if face_part is None else torch.from_numpy(_as_np(face_part, np.int64))
        return cls(
            faces=torch.from_numpy(faces_a),
            vt=torch.from_numpy(vt_a),
            ft=torch.from_numpy(ft_a),
            enc_faces=torch.from_numpy(ef),
            enc_ft=torch.from_numpy(eft),
            enc_perm=torch.from_numpy(perm),
            uv_seg=uv_seg_table(vt_a, eft),
            f_uvs2img=face_uv_corners(vt_a, ft_a),
            f_img2uvs=face_uv_corners(vt_a, eft),
            face_k_nearest=face_k_nearest(vt_a, eft, fp, k=top_k),
            face_part=fp,
        )

    @classmethod
    def from_body(cls, body: object, *, top_k: int = 3) -> UVLayout:
        """Build from a ``vmc.body.BodyModel`` (or anything with ``faces``, ``vt``, ``ft`` and
        optionally ``face_part``), e.g. the embedded body with its own UV layout.

        Raises:
            ValueError: the body has no UV layout (``vt``/``ft`` are None).
        """
        vt, ft = getattr(body, "vt", None), getattr(body, "ft", None)
        if vt is None or ft is None:
            raise ValueError(
                "this body model has no UV layout (vt/ft); SMPL needs iPERCore's mapper_uv.txt "
                "and mapper_fim_enc.txt (UVLayout.from_smpl_files), the embedded body ships its own"
            )
        return cls.from_arrays(
            body.faces, vt, ft, face_part=getattr(body, "face_part", None), top_k=top_k
        )

    @classmethod
    def from_smpl_files(
        cls,
        fim_enc_path: str | Path,
        uv_path: str | Path,
        part_info_path: str | Path | None = None,
        *,
        faces: np.ndarray | torch.Tensor | None = None,
        top_k: int = 3,
    ) -> UVLayout:
        """Build SMPL's layout from iPERCore's ``mapper_fim_enc.txt`` and ``mapper_uv.txt``.

        ``faces`` (the body model's ``f``) is checked against ``mapper_uv.txt`` when given.
        """
        enc = load_uv_obj(fim_enc_path)
        uv = load_uv_obj(uv_path)
        if enc.faces.shape != uv.faces.shape:
            raise ValueError(
                f"{fim_enc_path} has {len(enc.faces)} faces but {uv_path} has {len(uv.faces)}"
            )
        if not np.allclose(enc.vt, uv.vt):
            raise ValueError(f"{fim_enc_path} and {uv_path} have different vt lists")
        if faces is not None and not np.array_equal(_as_np(faces, np.int64), uv.faces):
            raise ValueError(f"the body model's faces differ from those in {uv_path}")
        face_part = None
        if part_info_path is not None:
            face_part, _ = load_part_info(part_info_path, len(uv.faces))
        return cls.from_arrays(
            uv.faces,
            uv.vt,
            uv.ft,
            enc_faces=enc.faces,
            enc_ft=enc.ft,
            face_part=face_part,
            top_k=top_k,
        )

    def uv_points(self) -> torch.Tensor:
        """``[1, Nvt, 3]`` rasterizer input for the UV image: ``(2u-1, 1-2v, 1)``.

        Rasterize with ``faces = enc_ft`` (culling on): the result's ``fim``/``wim`` are
        ``uv_fim``/``uv_wim`` and its ``f2pts`` equal :attr:`f_img2uvs`.
        """
        g = torch.from_numpy(uv_to_grid(self.vt))
        return torch.cat([g, torch.ones(g.shape[0], 1)], dim=-1)[None]

    def to_enc_order(self, f2pts: torch.Tensor) -> torch.Tensor:
        """Re-order mesh-winding corners ``[..., F, 3, C]`` into the enc winding (``obj_f2pts``)."""
        if f2pts.shape[-3] != self.num_faces or f2pts.shape[-2] != 3:
            raise ValueError(
                f"f2pts must be [..., F={self.num_faces}, 3, C], got {tuple(f2pts.shape)}"
            )
        perm = self.enc_perm.to(f2pts.device)
        idx = perm.view(*([1] * (f2pts.dim() - 3)), self.num_faces, 3, 1)
        idx = idx.expand(*f2pts.shape[:-3], self.num_faces, 3, f2pts.shape[-1])
        return torch.gather(f2pts, -2, idx)
