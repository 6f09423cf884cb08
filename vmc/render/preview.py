"""Preview renders of a motion that people can look at: shaded mesh, stick figure, frame grid.

Input motions are in body-model space: metres, **Y up**, the body facing **+Z** at rest (SMPL's
and MotionCLIP's canonical frame after the root is made upright). The views use an orthographic
camera (a weak-perspective camera without per-frame scale) built by :func:`fit_motion_camera`:

* ``azimuth_deg`` turns the camera around the vertical axis (0 = in front of the body, looking
  at its face; 90 = looking at the body's left side from its left);
* ``elevation_deg`` raises the camera so it looks down at the floor (0 = horizontal view);
* the camera is fixed over the whole motion and frames the whole motion (``camera="fixed"``:
  the body travels across the image), or follows the body's horizontal centre, keeping the scale
  (``camera="follow"``: the floor scrolls instead).

The image frame is the rasterizer's (``vmc.render.rasterizer``): NDC x right, y down, both in
[-1, 1], z depth with nearer = smaller. Body space maps to it with a proper rotation, the
``R_x(pi)`` of the HMR convention, so face winding (and back-face culling) is preserved.

Outputs are ``np.uint8 [T, S, S, 3]`` RGB frames; :func:`write_preview` writes them as an H.264
``.mp4`` plus a ``.png`` contact sheet of evenly spaced frames.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from tqdm.auto import tqdm

from vmc.io.images import write_image
from vmc.io.video import write_video
from vmc.render.rasterizer import rasterize
from vmc.render.shading import DEFAULT_LIGHT_DIR, shade_fragments

__all__ = [
    "MotionCamera",
    "fit_motion_camera",
    "frame_grid",
    "render_mesh_frames",
    "render_skeleton_frames",
    "view_rotation",
    "write_preview",
]

CameraMode = Literal["fixed", "follow"]

# Colours (RGB in [0, 1]); chosen for contrast against each other and for a calm look.
BODY_COLOR = (0.60, 0.68, 0.84)
FLOOR_COLORS = ((0.80, 0.80, 0.78), (0.70, 0.70, 0.68))
BACKGROUND_TOP = (0.95, 0.95, 0.96)
BACKGROUND_BOTTOM = (0.80, 0.81, 0.84)
# Stick figures: body's left side warm, right side cool, centre dark.
LEFT_COLOR = (214, 76, 58)
RIGHT_COLOR = (48, 110, 214)
CENTER_COLOR = (60, 60, 66)


# ---- camera ------------------------------------------------------------------------------------


def view_rotation(azimuth_deg: float = 0.0, elevation_deg: float = 0.0) -> np.ndarray:
    """Rotation ``[3,3]`` from body space (Y up, facing +Z) to the camera frame (x right, y down,
    z into the screen).

    ``R = diag(1,-1,-1) @ R_x(elevation) @ R_y(-azimuth)``; ``diag(1,-1,-1)`` is ``R_x(pi)``.
    """
    a = math.radians(azimuth_deg)
    e = math.radians(elevation_deg)
    ry = np.array([[math.cos(a), 0, -math.sin(a)], [0, 1, 0], [math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(e), -math.sin(e)], [0, math.sin(e), math.cos(e)]])
    return np.diag([1.0, -1.0, -1.0]) @ rx @ ry


@dataclass(frozen=True)
class MotionCamera:
    """Orthographic camera for a whole motion (see module docstring).

    ``camera = (R @ (p - offsets[t]) - center) * scale`` gives NDC x, y; the depth is remapped
    separately to ``(z_cam - z_center) / z_half * 0.9`` so it stays inside any rasterizer's
    clipping range (an affine depth map keeps the visibility order of an orthographic view).
    """

    rotation: np.ndarray  # [3,3] body -> camera
    offsets: np.ndarray  # [T,3] body-space translation removed per frame (zeros when fixed)
    center: np.ndarray  # [3] camera-space point at the image centre (z: depth centre)
    scale: float  # NDC units per metre
    z_half: float  # camera-space depth half-range mapped to +-0.9

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """Body-space ``[T,N,3]`` → metric camera coordinates ``[T,N,3]`` (centred, unscaled)."""
        p = np.asarray(points, dtype=np.float64) - self.offsets[:, None, :]
        return p @ self.rotation.T - self.center

    def project(self, points: np.ndarray) -> np.ndarray:
        """Body-space ``[T,N,3]`` → ``[T,N,3]``: NDC x, y (y down) and normalised depth."""
        c = self.to_camera(points)
        return np.concatenate([c[..., :2] * self.scale, c[..., 2:] / self.z_half * 0.9], axis=-1)


def fit_motion_camera(
    points: np.ndarray,
    *,
    azimuth_deg: float = 0.0,
    elevation_deg: float = 10.0,
    margin: float = 0.08,
    camera: CameraMode = "fixed",
    extra_depth_points: np.ndarray | None = None,
) -> MotionCamera:
    """Choose an orthographic camera that frames ``points [T,N,3]`` (body space) in every frame.

    Args:
        points: what must be visible, e.g. all vertices or joints of every frame.
        azimuth_deg, elevation_deg: view direction (module docstring).
        margin: fraction of the image left free on each side.
        camera: ``"fixed"`` (frames the whole motion) or ``"follow"`` (tracks the horizontal
            centre of each frame's bounding box; scale fixed over the motion).
        extra_depth_points: ``[T,M,3]`` points (e.g. the floor) whose depth must also fit into the
            depth range, without influencing the framing.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 3 or pts.shape[-1] != 3 or pts.shape[0] < 1 or pts.shape[1] < 1:
        raise ValueError(f"points must have shape [T,N,3] with T,N >= 1, got {pts.shape}")
    if not np.isfinite(pts).all():
        raise ValueError("points contain NaN or infinite values")
    if camera not in ("fixed", "follow"):
        raise ValueError(f"camera must be 'fixed' or 'follow', got {camera!r}")
    if not 0 <= margin < 0.5:
        raise ValueError(f"margin must be in [0, 0.5), got {margin!r}")
    rot = view_rotation(azimuth_deg, elevation_deg)
    offsets = np.zeros((pts.shape[0], 3))
    if camera == "follow":
        mid = (pts.min(axis=1) + pts.max(axis=1)) / 2  # [T,3]
        offsets[:, [0, 2]] = mid[:, [0, 2]]
    cam = (pts - offsets[:, None]) @ rot.T
    lo = cam.reshape(-1, 3).min(axis=0)
    hi = cam.reshape(-1, 3).max(axis=0)
    extent = max(float((hi - lo)[:2].max()), 1e-6)
    center = (lo + hi) / 2
    if extra_depth_points is not None:
        extra = (np.asarray(extra_depth_points, np.float64) - offsets[:, None]) @ rot.T
        lo[2] = min(lo[2], float(extra[..., 2].min()))
        hi[2] = max(hi[2], float(extra[..., 2].max()))
        center[2] = (lo[2] + hi[2]) / 2
    z_half = max(float(hi[2] - lo[2]) / 2, 1e-6)
    return MotionCamera(rot, offsets, center, 2.0 * (1.0 - 2.0 * margin) / extent, z_half)


# ---- floor -------------------------------------------------------------------------------------


def _floor_grid(
    points: np.ndarray,
    tile: float = 0.5,
    max_tiles: int = 40,
    *,
    reach: float = 0.0,
    view_dir: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """A checkerboard quad grid under the motion.

    The grid covers the motion's horizontal extent plus a pad; ``reach`` (metres) extends it
    further on every side (so it fills the bottom of an elevated view), except that tiles beyond
    the motion's far side along the horizontal viewing direction ``view_dir`` ([2], XZ, pointing
    away from the camera) are dropped: an orthographic view has no horizon, and a floor reaching
    far behind the body would fill the whole background.

    Returns ``(vertices [M,3], faces [2K,3], tile_parity [2K] bool, floor_y)``; faces are wound
    counter-clockwise seen from above, so their normal is +Y and they face an elevated camera.
    """
    flat = points.reshape(-1, 3)
    floor_y = float(flat[:, 1].min()) - 1e-3  # a millimetre below the lowest point: no z-fight
    xz = flat[:, [0, 2]]
    height = float(flat[:, 1].max() - flat[:, 1].min())
    pad = max(0.6 * height, 0.5)
    lo, hi = xz.min(axis=0) - pad - reach, xz.max(axis=0) + pad + reach
    tile = max(tile, float((hi - lo).max()) / max_tiles)
    # Snap to the tile lattice so the checker stays put in body space.
    i0, j0 = np.floor(lo / tile).astype(int)
    i1, j1 = np.ceil(hi / tile).astype(int)
    xs = np.arange(i0, i1 + 1) * tile
    zs = np.arange(j0, j1 + 1) * tile
    nx, nz = len(xs), len(zs)
    gx, gz = np.meshgrid(xs, zs, indexing="ij")
    verts = np.stack([gx, np.full_like(gx, floor_y), gz], axis=-1).reshape(-1, 3)
    ii, jj = np.meshgrid(np.arange(nx - 1), np.arange(nz - 1), indexing="ij")
    v00 = (ii * nz + jj).ravel()
    v10, v01, v11 = v00 + nz, v00 + 1, v00 + nz + 1
    parity = ((ii + i0 + jj + j0) % 2 == 0).ravel()
    if view_dir is not None:
        centres = (verts[v00][:, [0, 2]] + verts[v11][:, [0, 2]]) / 2
        keep = centres @ view_dir <= float((xz @ view_dir).max()) + pad
        v00, v10, v01, v11, parity = (a[keep] for a in (v00, v10, v01, v11, parity))
    # (v01 - v00) x (v10 - v00) = (+Z) x (+X) = +Y: counter-clockwise from above.
    faces = np.concatenate([np.stack([v00, v01, v10], 1), np.stack([v10, v01, v11], 1)])
    return verts, faces, np.concatenate([parity, parity]), floor_y


# ---- input handling ----------------------------------------------------------------------------


def _as_motion(array: object, name: str, last: int | None = 3) -> np.ndarray:
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    arr = np.asarray(array, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or (last is not None and arr.shape[-1] != last) or 0 in arr.shape:
        raise ValueError(
            f"{name} must have shape [T,N,3] (or [N,3]) with T,N >= 1, got {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_size(image_size: int, supersample: int) -> None:
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 8:
        raise ValueError(f"image_size must be an int >= 8, got {image_size!r}")
    if isinstance(supersample, bool) or not isinstance(supersample, int) or supersample < 1:
        raise ValueError(f"supersample must be an int >= 1, got {supersample!r}")


def _progress(iterable, total: int, desc: str, enabled: bool, unit: str = "frame"):
    if not enabled:
        return iterable

    return tqdm(iterable, total=total, desc=desc, unit=unit)


def _background(size: int, top=BACKGROUND_TOP, bottom=BACKGROUND_BOTTOM) -> torch.Tensor:
    t = torch.linspace(0, 1, size)[:, None, None]
    img = torch.tensor(top) * (1 - t) + torch.tensor(bottom) * t  # [S,1,3]
    return img.expand(size, size, 3)


# ---- mesh renders ------------------------------------------------------------------------------


def render_mesh_frames(
    vertices: np.ndarray | torch.Tensor,
    faces: np.ndarray | torch.Tensor,
    image_size: int = 512,
    *,
    camera: CameraMode = "fixed",
    azimuth_deg: float = 0.0,
    elevation_deg: float = 10.0,
    margin: float = 0.08,
    smooth: bool = True,
    color: Sequence[float] = BODY_COLOR,
    floor: bool = True,
    light_dir: Sequence[float] = DEFAULT_LIGHT_DIR,
    supersample: int = 1,
    batch_size: int = 4,
    backend: str = "torch",
    device: str | torch.device | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Render a mesh motion as shaded frames: ``np.uint8 [T, S, S, 3]`` RGB.

    Args:
        vertices: ``[T,V,3]`` (or ``[V,3]``) body-space vertices, metres, Y up, facing +Z.
        faces: ``[F,3]`` vertex indices, wound counter-clockwise seen from outside (SMPL's).
        image_size: output side ``S`` in pixels (square).
        camera, azimuth_deg, elevation_deg, margin: see :func:`fit_motion_camera`.
        smooth: interpolated vertex normals (``True``) or flat per-face shading.
        color: body RGB in [0,1].
        floor: draw a checkerboard floor under the lowest point of the motion.
        light_dir: direction towards the light in camera coordinates (y down, z away).
        supersample: render at ``S * supersample`` and average down (anti-aliasing; costs
            ``supersample**2`` times as much).
        batch_size: frames rasterized together (memory grows with it).
        backend: rasterizer backend (``"torch"`` or ``"gl"``, see ``vmc.render.rasterizer``).
        device: torch device for rasterizing and shading (default: CPU).
        progress: show a progress bar.
    """
    _check_size(image_size, supersample)
    verts = _as_motion(vertices, "vertices")
    faces_np = np.asarray(
        faces.detach().cpu().numpy() if isinstance(faces, torch.Tensor) else faces
    )
    if faces_np.ndim != 2 or faces_np.shape[1] != 3 or len(faces_np) == 0:
        raise ValueError(f"faces must have shape [F,3] with F >= 1, got {faces_np.shape}")
    faces_np = faces_np.astype(np.int64)
    if faces_np.min() < 0 or faces_np.max() >= verts.shape[1]:
        raise ValueError(
            f"faces index vertices outside [0, {verts.shape[1]}): min {faces_np.min()}, "
            f"max {faces_np.max()}"
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    num_frames, num_verts = verts.shape[:2]
    dev = torch.device(device) if device is not None else torch.device("cpu")

    all_faces = faces_np
    face_colors = np.tile(np.asarray(color, np.float64), (len(faces_np), 1))
    smooth_mask = np.full(len(faces_np), bool(smooth))
    view = dict(azimuth_deg=azimuth_deg, elevation_deg=elevation_deg, margin=margin)
    cam = fit_motion_camera(verts, camera=camera, **view)
    if floor:
        # Reach far enough towards the camera for the floor to fill the bottom of the frame.
        half_view = 1.0 / cam.scale
        reach = half_view * (1.0 + 1.0 / max(math.sin(math.radians(abs(elevation_deg))), 0.15))
        forward = cam.rotation.T @ np.array([0.0, 0.0, 1.0])  # away from the camera
        horizontal = forward[[0, 2]]
        norm = float(np.linalg.norm(horizontal))
        floor_verts, floor_faces, parity, _ = _floor_grid(
            verts, reach=reach, view_dir=horizontal / norm if norm > 1e-6 else None
        )
        all_faces = np.concatenate([faces_np, floor_faces + num_verts])
        floor_cols = np.where(parity[:, None], FLOOR_COLORS[0], FLOOR_COLORS[1])
        face_colors = np.concatenate([face_colors, floor_cols])
        smooth_mask = np.concatenate([smooth_mask, np.zeros(len(floor_faces), bool)])
        # Same framing; the depth range now includes the floor.
        floor_all = np.broadcast_to(floor_verts, (num_frames, *floor_verts.shape))
        cam = fit_motion_camera(verts, camera=camera, extra_depth_points=floor_all, **view)
    else:
        floor_verts = None

    size = image_size * supersample
    faces_t = torch.from_numpy(all_faces).to(dev)
    colors_t = torch.from_numpy(face_colors).float().to(dev)
    smooth_t = torch.from_numpy(smooth_mask).to(dev)
    bg = _background(size).to(dev)
    out = np.empty((num_frames, image_size, image_size, 3), np.uint8)
    starts = range(0, num_frames, batch_size)
    for start in _progress(starts, len(starts), "render mesh", progress, unit="batch"):
        chunk = verts[start : start + batch_size]
        if floor_verts is not None:
            chunk = np.concatenate(
                [chunk, np.broadcast_to(floor_verts, (len(chunk), *floor_verts.shape))], axis=1
            )
        offsets = cam.offsets[start : start + batch_size]
        sub = MotionCamera(cam.rotation, offsets, cam.center, cam.scale, cam.z_half)
        ndc = torch.from_numpy(sub.project(chunk)).float().to(dev)
        metric = torch.from_numpy(sub.to_camera(chunk)).float().to(dev)
        frags = rasterize(ndc, faces_t, size, cull_backfaces=True, backend=backend)
        img = shade_fragments(
            frags.fim.to(dev),
            frags.wim.to(dev).float(),
            faces_t,
            metric,
            colors_t,
            bg,
            smooth=smooth_t,
            light_dir=light_dir,
        )  # [B,size,size,3]
        if supersample > 1:
            img = torch.nn.functional.avg_pool2d(img.permute(0, 3, 1, 2), supersample)
            img = img.permute(0, 2, 3, 1)
        out[start : start + len(chunk)] = (img * 255).round().clamp(0, 255).byte().cpu().numpy()
    return out


# ---- stick figures -----------------------------------------------------------------------------

# Side of each SMPL joint ("L", "R", "C"), in SMPL_JOINT_NAMES order.
_SMPL_SIDES = "CLRCLRCLRCLRCLRCLRLRLRLR"
_SMPL_HEAD = 15


def _rgb(color: Sequence[float]) -> tuple[int, int, int]:
    return tuple(int(round(c * 255)) if isinstance(c, float) else int(c) for c in color)  # type: ignore[return-value]


def render_skeleton_frames(
    joints: np.ndarray | torch.Tensor,
    parents: Sequence[int],
    image_size: int = 512,
    *,
    camera: CameraMode = "fixed",
    azimuth_deg: float = 0.0,
    elevation_deg: float = 10.0,
    margin: float = 0.08,
    sides: str | None = None,
    head_index: int | None = None,
    line_width: float | None = None,
    floor: bool = True,
    supersample: int = 3,
    progress: bool = False,
) -> np.ndarray:
    """Render a joint motion as a stick figure: ``np.uint8 [T, S, S, 3]`` RGB.

    Bones are drawn back to front, the body's left side warm (red), its right side cool (blue),
    the spine dark; a larger disc marks the head. The floor (a projected grid at the lowest joint
    height; a line in a horizontal view) shows travel. Lines are anti-aliased by drawing at
    ``supersample`` times the size and downsampling.

    Args:
        joints: ``[T,J,3]`` (or ``[J,3]``) body-space joint positions, metres, Y up.
        parents: ``[J]`` parent index per joint, -1 for roots (e.g. ``SMPL_PARENTS``).
        image_size: output side ``S`` in pixels.
        camera, azimuth_deg, elevation_deg, margin: see :func:`fit_motion_camera`.
        sides: one character per joint, ``"L"``, ``"R"`` or ``"C"``; defaults to SMPL's sides
            for 24 joints and all-centre otherwise.
        head_index: joint drawn as a head disc; defaults to SMPL's head (15) for 24 joints.
        line_width: bone width in output pixels (default ``S / 80``).
        floor: draw the floor grid.
        supersample: anti-aliasing factor (1 = off).
        progress: show a progress bar.
    """
    _check_size(image_size, supersample)
    pts = _as_motion(joints, "joints")
    num_frames, num_joints = pts.shape[:2]
    parents = [int(p) for p in parents]
    if len(parents) != num_joints:
        raise ValueError(f"parents has {len(parents)} entries but joints has {num_joints}")
    if any(p < -1 or p >= num_joints or p == i for i, p in enumerate(parents)):
        raise ValueError(f"parents must be in [-1, {num_joints}) and not self: {parents}")
    if sides is None:
        sides = _SMPL_SIDES if num_joints == 24 else "C" * num_joints
    if len(sides) != num_joints or set(sides) - set("LRC"):
        raise ValueError(f"sides must have one of 'L','R','C' per joint ({num_joints}): {sides!r}")
    if head_index is None and num_joints == 24:
        head_index = _SMPL_HEAD

    cam = fit_motion_camera(
        pts, azimuth_deg=azimuth_deg, elevation_deg=elevation_deg, margin=margin, camera=camera
    )
    size = image_size * supersample
    to_px = lambda ndc: (ndc + 1.0) * 0.5 * size  # NDC [-1,1] → PIL pixel coordinates
    proj = cam.project(pts)  # [T,J,3]
    width = (line_width if line_width is not None else image_size / 80) * supersample
    side_color = {"L": LEFT_COLOR, "R": RIGHT_COLOR, "C": CENTER_COLOR}
    bones = [(p, c) for c, p in enumerate(parents) if p >= 0]

    floor_lines: np.ndarray | None = None
    if floor:
        fv, _, _, floor_y = _floor_grid(pts, max_tiles=24)
        xs, zs = np.unique(fv[:, 0]), np.unique(fv[:, 2])
        segs = [((x, zs[0]), (x, zs[-1])) for x in xs] + [((xs[0], z), (xs[-1], z)) for z in zs]
        ends = np.array([[[a[0], floor_y, a[1]], [b[0], floor_y, b[1]]] for a, b in segs])
        floor_lines = ends.reshape(1, -1, 3)  # [1,2L,3], projected per frame below

    bg = (_background(size).numpy() * 255).round().astype(np.uint8)
    out = np.empty((num_frames, image_size, image_size, 3), np.uint8)
    for t in _progress(range(num_frames), num_frames, "render skeleton", progress):
        canvas = Image.fromarray(bg.copy())
        draw = ImageDraw.Draw(canvas)
        if floor_lines is not None:
            sub = MotionCamera(cam.rotation, cam.offsets[t : t + 1], cam.center, cam.scale, 1.0)
            fl = to_px(sub.project(floor_lines)[0, :, :2]).reshape(-1, 2, 2)
            for a, b in fl:
                draw.line([tuple(a), tuple(b)], fill=(170, 170, 168), width=max(1, supersample))
        xy = to_px(proj[t, :, :2])
        depth = proj[t, :, 2]
        # Far bones first so near limbs are drawn over them.
        for p, c in sorted(bones, key=lambda b: -(depth[b[0]] + depth[b[1]])):
            color = side_color[sides[c]]
            draw.line([tuple(xy[p]), tuple(xy[c])], fill=color, width=max(1, round(width)))
            r = width * 0.5
            for j in (p, c):  # round joints so thick lines join smoothly
                draw.ellipse([xy[j][0] - r, xy[j][1] - r, xy[j][0] + r, xy[j][1] + r], fill=color)
        if head_index is not None:
            r = width * 2.2
            hx, hy = xy[head_index]
            draw.ellipse([hx - r, hy - r, hx + r, hy + r], fill=CENTER_COLOR)
        if supersample > 1:
            canvas = canvas.resize((image_size, image_size), Image.Resampling.BOX)
        out[t] = np.asarray(canvas)
    return out


# ---- grids and files ---------------------------------------------------------------------------


def frame_grid(
    frames: np.ndarray,
    cols: int | None = None,
    labels: Sequence[str] | None = None,
    *,
    pad: int = 4,
    background: int = 255,
) -> np.ndarray:
    """Tile frames into a contact sheet: ``np.uint8 [rows*(H+L+pad)+pad, cols*(W+pad)+pad, 3]``.

    Args:
        frames: ``np.uint8 [N,H,W,3]``.
        cols: columns (default ``ceil(sqrt(N))``); rows follow.
        labels: optional ``N`` strings, drawn under each frame in a strip of height ``L``
            (``L = 0`` without labels).
        pad: gap between tiles and around the sheet, in pixels.
        background: grey level of the gaps.
    """
    arr = np.asarray(frames)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] != 3 or arr.shape[0] < 1:
        raise ValueError(f"frames must be uint8 [N,H,W,3] with N >= 1, got {arr.dtype} {arr.shape}")
    n, h, w, _ = arr.shape
    if cols is None:
        cols = math.ceil(math.sqrt(n))
    if isinstance(cols, bool) or not isinstance(cols, int) or cols < 1:
        raise ValueError(f"cols must be an int >= 1, got {cols!r}")
    cols = min(cols, n)
    rows = math.ceil(n / cols)
    if labels is not None and len(labels) != n:
        raise ValueError(f"labels has {len(labels)} entries but there are {n} frames")
    font_size = max(10, min(32, w // 14))
    label_h = 0 if labels is None else font_size + 6
    cell_h, cell_w = h + label_h + pad, w + pad
    sheet = np.full((rows * cell_h + pad, cols * cell_w + pad, 3), background, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = pad + r * cell_h, pad + c * cell_w
        sheet[y : y + h, x : x + w] = arr[i]
    if labels is not None:
        img = Image.fromarray(sheet)
        draw = ImageDraw.Draw(img)
        font = ImageFont.load_default(size=font_size)
        for i, text in enumerate(labels):
            r, c = divmod(i, cols)
            y, x = pad + r * cell_h + h + 3, pad + c * cell_w
            draw.text((x + w / 2, y), str(text), fill=(30, 30, 30), font=font, anchor="ma")
        sheet = np.asarray(img).copy()
    return sheet


def write_preview(
    path_stem: str | os.PathLike[str],
    frames: np.ndarray,
    fps: float,
    *,
    num_grid: int = 8,
    cols: int = 4,
    labels: bool = True,
    crf: float = 18,
) -> tuple[Path, Path]:
    """Write ``<stem>.mp4`` (H.264) and ``<stem>.png`` (grid of ``num_grid`` evenly spaced frames).

    Both files are written atomically. Labels give frame index and time in seconds.

    Returns:
        ``(mp4_path, png_path)``.
    """
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[0] < 1:
        raise ValueError(f"frames must be uint8 [T,H,W,3] with T >= 1, got {arr.shape}")
    if isinstance(num_grid, bool) or not isinstance(num_grid, int) or num_grid < 1:
        raise ValueError(f"num_grid must be an int >= 1, got {num_grid!r}")
    stem = Path(path_stem)
    mp4 = write_video(stem.with_name(stem.name + ".mp4"), arr, fps, crf=crf)
    idx = np.unique(np.linspace(0, len(arr) - 1, min(num_grid, len(arr))).round().astype(int))
    texts = [f"#{i}  {i / float(fps):.2f}s" for i in idx] if labels else None
    png = write_image(stem.with_name(stem.name + ".png"), frame_grid(arr[idx], cols, texts))
    return mp4, png
