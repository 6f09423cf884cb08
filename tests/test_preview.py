"""Preview renders (vmc.render.preview, vmc.render.showcase) and shading (vmc.render.shading)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vmc.body.joints import SMPL_PARENTS
from vmc.body.model import BodyModel
from vmc.body.procedural import make_tiny_body
from vmc.render.preview import (
    LEFT_COLOR,
    RIGHT_COLOR,
    fit_motion_camera,
    frame_grid,
    render_mesh_frames,
    render_skeleton_frames,
    view_rotation,
    write_preview,
)
from vmc.render.shading import face_normals, shading_intensity, vertex_normals
from vmc.render.showcase import SHOWCASE_POSES, render_body_grid


def _box(center, half) -> tuple[np.ndarray, np.ndarray]:
    """A box mesh ``(vertices [8,3], faces [12,3])`` with outward (counter-clockwise) winding."""
    c, h = np.asarray(center, float), np.asarray(half, float)
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
    v = c + corners * h
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    faces = np.array([t for a, b, cc, d in quads for t in ((a, b, cc), (a, cc, d))])
    for i, (a, b, cc) in enumerate(faces):
        if np.dot(np.cross(v[b] - v[a], v[cc] - v[a]), (v[a] + v[b] + v[cc]) / 3 - c) < 0:
            faces[i] = (a, cc, b)
    return v, faces


def _merge(parts):
    verts, faces, off = [], [], 0
    for v, f in parts:
        verts.append(v)
        faces.append(f + off)
        off += len(v)
    return np.concatenate(verts), np.concatenate(faces)


def _box_person(x: float = 0.0, arm_up: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A blocky person, feet at y=0, head at the top (y up), its left arm (+x) optionally up."""
    parts = [
        _box((x - 0.1, 0.42, 0), (0.07, 0.42, 0.07)),  # legs
        _box((x + 0.1, 0.42, 0), (0.07, 0.42, 0.07)),
        _box((x, 1.15, 0), (0.2, 0.3, 0.1)),  # torso (wide)
        _box((x, 1.62, 0), (0.08, 0.1, 0.08)),  # head (narrow)
        _box((x - 0.27, 1.15, 0), (0.05, 0.28, 0.05)),  # right arm, down
        _box((x + 0.27, 1.75, 0), (0.05, 0.28, 0.05))  # left arm, up
        if arm_up
        else _box((x + 0.27, 1.15, 0), (0.05, 0.28, 0.05)),
    ]
    return _merge(parts)


def _run_length(row: np.ndarray, col: int) -> int:
    """Length of the run of True values in ``row`` that contains ``col`` (0 if row[col] is off)."""
    if not row[col]:
        return 0
    lo = col
    while lo > 0 and row[lo - 1]:
        lo -= 1
    hi = col
    while hi + 1 < len(row) and row[hi + 1]:
        hi += 1
    return hi - lo + 1


def _body_mask(frames: np.ndarray) -> np.ndarray:
    """Pixels of the (blue) body: background and floor are grey, so blue minus red is small."""
    return (frames[..., 2].astype(int) - frames[..., 0].astype(int)) > 25


# ---- shading -----------------------------------------------------------------------------------


def test_face_and_vertex_normals_point_outwards():
    v, f = _box((0.5, -1.0, 2.0), (1.0, 2.0, 0.5))
    vt = torch.from_numpy(v)
    ft = torch.from_numpy(f)
    fn = face_normals(vt, ft)
    centroids = vt[ft].mean(dim=1)
    assert ((fn * (centroids - vt.mean(0))).sum(-1) > 0).all()
    assert torch.allclose(fn.norm(dim=-1), torch.ones(len(f), dtype=fn.dtype))
    vn = vertex_normals(vt[None].expand(2, -1, -1), ft)  # batched
    assert vn.shape == (2, 8, 3)
    assert ((vn[0] * (vt - vt.mean(0))).sum(-1) > 0).all()
    # A triangle counter-clockwise in the xy-plane has normal +z.
    tri = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]])
    assert torch.allclose(
        face_normals(tri, torch.tensor([[0, 1, 2]]))[0], torch.tensor([0.0, 0, 1])
    )
    with pytest.raises(ValueError, match="faces"):
        face_normals(tri, torch.tensor([[0, 1, 5]]))


def test_shading_intensity():
    toward = torch.tensor([[0.0, 0.0, -1.0]])  # facing the camera (z away from it)
    away = -toward
    lit, spec = shading_intensity(toward, light_dir=(0, 0, -1), ambient=0.3, diffuse=0.6)
    assert lit.item() == pytest.approx(0.9) and spec.item() > 0
    dark, _ = shading_intensity(
        away, light_dir=(0, 0, -1), ambient=0.3, diffuse=0.6, two_sided=False
    )
    assert dark.item() == pytest.approx(0.3)
    flipped, _ = shading_intensity(away, light_dir=(0, 0, -1), ambient=0.3, diffuse=0.6)
    assert flipped.item() == pytest.approx(0.9)
    grazing, _ = shading_intensity(
        torch.tensor([[1.0, 0.0, 0.0]]), light_dir=(0, 0, -1), ambient=0.3, diffuse=0.6
    )
    assert grazing.item() == pytest.approx(0.3)


# ---- camera ------------------------------------------------------------------------------------


def test_view_rotation_is_proper_and_maps_up_to_image_up():
    for az, el in [(0, 0), (35, 20), (-90, 5)]:
        r = view_rotation(az, el)
        assert np.allclose(r @ r.T, np.eye(3)) and np.linalg.det(r) == pytest.approx(1.0)
    r = view_rotation(0, 0)
    assert np.allclose(r @ [0, 1, 0], [0, -1, 0])  # body up = image up (y down)
    assert np.allclose(r @ [1, 0, 0], [1, 0, 0])  # body's left (+x) on the image's right
    assert np.allclose(r @ [0, 0, 1], [0, 0, -1])  # the body faces the camera (nearer = -z)


def test_fixed_camera_frames_whole_motion_and_follow_recentres():
    pts = np.zeros((3, 2, 3))
    pts[:, 1, 1] = 1.8  # a 1.8 m vertical stick ...
    pts[:, :, 0] += np.array([0.0, 1.0, 2.0])[:, None]  # ... walking 2 m to its left (+x)
    fixed = fit_motion_camera(pts, elevation_deg=0, margin=0.1).project(pts)
    assert np.abs(fixed[..., :2]).max() == pytest.approx(0.8)  # fits with the margin
    assert fixed[0, 0, 0] < fixed[1, 0, 0] < fixed[2, 0, 0]  # travels right in the image
    follow = fit_motion_camera(pts, elevation_deg=0, camera="follow").project(pts)
    assert np.allclose(follow[:, :, 0], follow[0, 0, 0])
    assert follow[0, 1, 1] < follow[0, 0, 1]  # the top of the stick is higher (smaller y)
    with pytest.raises(ValueError, match="camera"):
        fit_motion_camera(pts, camera="orbit")
    with pytest.raises(ValueError, match="NaN"):
        fit_motion_camera(np.full((1, 2, 3), np.nan))


# ---- mesh renders --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rasterizer():
    return pytest.importorskip("vmc.render.rasterizer")


def test_mesh_render_head_up_left_right_and_shaded(rasterizer):
    v, f = _box_person(arm_up=True)
    frames = render_mesh_frames(v, f, 96, elevation_deg=0)
    assert frames.shape == (1, 96, 96, 3) and frames.dtype == np.uint8
    mask = _body_mask(frames)[0]
    rows = np.nonzero(mask.any(axis=1))[0]
    assert 0.1 * 96 < mask.sum() < 0.5 * 96 * 96
    # The raised left arm is the highest thing and it is on the image's right (the person
    # faces the camera); below it, the head is narrower than the torso.
    top = np.nonzero(mask[rows[0] + 1])[0]
    assert top.mean() > 48 + 5
    head_row = rows[0] + int(0.2 * (rows[-1] - rows[0]))  # through the head
    torso_row = rows[0] + int(0.45 * (rows[-1] - rows[0]))  # through the torso
    assert _run_length(mask[torso_row], 48) > 2 * _run_length(mask[head_row], 48) > 0
    # Shaded, not a flat silhouette: body pixels take several grey levels.
    assert len(np.unique(frames[0][mask][:, 2])) > 3
    # Upside down, the render is upside down (catches a missing y flip).
    flipped = render_mesh_frames(v * [1, -1, 1], f[:, ::-1].copy(), 96, elevation_deg=0)
    frows = np.nonzero(_body_mask(flipped)[0].any(axis=1))[0]
    assert _body_mask(flipped)[0][frows[-1] - 1].nonzero()[0].mean() > 48 + 5


def test_mesh_frames_differ_with_pose_and_travel_with_fixed_camera(rasterizer):
    (v0, f), (v1, _) = _box_person(0.0), _box_person(0.6, arm_up=True)
    verts = np.stack([v0, v1])
    frames = render_mesh_frames(torch.from_numpy(verts), torch.from_numpy(f), 64, batch_size=1)
    masks = _body_mask(frames)
    assert masks[0].sum() > 50 and masks[1].sum() > 50
    assert (masks[0] != masks[1]).sum() > 30
    cx = [np.nonzero(m)[1].mean() for m in masks]
    assert cx[1] - cx[0] > 8  # moved right by 0.6 m
    follow = _body_mask(render_mesh_frames(verts, f, 64, camera="follow", floor=False))
    fx = [np.nonzero(m)[1].mean() for m in follow]
    assert abs(fx[1] - fx[0]) < 4  # recentred (the raised arm shifts it a little)


def test_mesh_render_floor_supersample_and_errors(rasterizer):
    v, f = _box_person()
    with_floor = render_mesh_frames(v, f, 64, elevation_deg=20)
    no_floor = render_mesh_frames(v, f, 64, elevation_deg=20, floor=False)
    floor_px = (np.abs(with_floor.astype(int) - no_floor).sum(-1) > 20)[0]
    assert floor_px[-1].all()  # the floor fills the bottom of an elevated view ...
    assert not floor_px[:8].any()  # ... but does not climb behind the body to the top
    aa = render_mesh_frames(v, f, 64, supersample=2, floor=False)
    assert aa.shape == (1, 64, 64, 3)
    # Anti-aliased edges blend body and background colours.
    assert len(np.unique(aa.reshape(-1, 3), axis=0)) > len(
        np.unique(no_floor.reshape(-1, 3), axis=0)
    )
    with pytest.raises(ValueError, match="vertices"):
        render_mesh_frames(np.zeros((2, 5)), f, 64)
    with pytest.raises(ValueError, match="faces"):
        render_mesh_frames(v, f + 100, 64)
    with pytest.raises(ValueError, match="image_size"):
        render_mesh_frames(v, f, 0)


def test_mesh_render_tiny_body(rasterizer):
    procedural = pytest.importorskip("vmc.body.procedural")
    body = procedural.make_tiny_body()
    v = body["v_template"]
    frames = render_mesh_frames(v, body["f"], 64, elevation_deg=0, floor=False)
    mask = _body_mask(frames)[0]
    rows = np.nonzero(mask.any(axis=1))[0]
    # T-pose: the arms make the widest row in the upper half, the head is above them.
    widest = int(np.argmax(mask.sum(axis=1)))
    assert rows[0] < widest < (rows[0] + rows[-1]) / 2
    assert mask.sum(axis=1)[rows[0] + 1] < 0.3 * mask.sum(axis=1)[widest]


# ---- skeletons ---------------------------------------------------------------------------------


def _t_pose_joints() -> np.ndarray:
    procedural = pytest.importorskip("vmc.body.procedural")
    return np.asarray(procedural.TINY_REST_JOINTS, float)


def _color_mask(frames: np.ndarray, color) -> np.ndarray:
    return np.abs(frames.astype(int) - np.asarray(color)).sum(-1) < 40


def test_skeleton_render_sides_head_and_motion():
    j0 = _t_pose_joints()
    j1 = j0.copy()
    j1[[18, 20, 22], 1] += 0.4  # raise the left forearm and hand
    frames = render_skeleton_frames(np.stack([j0, j1]), SMPL_PARENTS, 96, elevation_deg=0)
    assert frames.shape == (2, 96, 96, 3) and frames.dtype == np.uint8
    left, right = _color_mask(frames[0], LEFT_COLOR), _color_mask(frames[0], RIGHT_COLOR)
    assert left.sum() > 20 and right.sum() > 20
    assert np.nonzero(left)[1].mean() > 48 > np.nonzero(right)[1].mean()  # person faces us
    dark = frames[0].astype(int).sum(-1) < 250  # spine and the head disc
    head_row = np.nonzero(dark.any(axis=1))[0][0]
    arm_row = np.nonzero(right.any(axis=1))[0][0]
    assert head_row < arm_row  # the head is on top
    assert (np.abs(frames[0].astype(int) - frames[1]).sum(-1) > 60).sum() > 20
    # The raised forearm moved the red pixels up.
    assert np.nonzero(_color_mask(frames[1], LEFT_COLOR))[0].min() < np.nonzero(left)[0].min()


def test_skeleton_errors():
    j = np.zeros((2, 3, 3))
    with pytest.raises(ValueError, match="parents"):
        render_skeleton_frames(j, [-1, 0], 64)
    with pytest.raises(ValueError, match="parents"):
        render_skeleton_frames(j, [-1, 0, 2], 64)
    with pytest.raises(ValueError, match="sides"):
        render_skeleton_frames(j, [-1, 0, 1], 64, sides="LRX")


# ---- grids and files ---------------------------------------------------------------------------


def test_frame_grid_layout_and_labels():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (5, 20, 30, 3), dtype=np.uint8)
    grid = frame_grid(frames, cols=3, pad=2)
    assert grid.shape == (2 * (20 + 2) + 2, 3 * (30 + 2) + 2, 3) and grid.dtype == np.uint8
    np.testing.assert_array_equal(grid[2:22, 2:32], frames[0])
    np.testing.assert_array_equal(grid[24:44, 34:64], frames[4])  # row 1, column 1
    assert (grid[24:44, 66:96] == 255).all()  # empty sixth cell
    labelled = frame_grid(frames, cols=3, labels=[f"f{i}" for i in range(5)], pad=2)
    assert labelled.shape[0] > grid.shape[0] and labelled.shape[1] == grid.shape[1]
    strip = labelled[22 : 22 + labelled.shape[0] // 2 - 24, 2:32]
    assert (strip < 128).any()  # dark text under the first tile
    with pytest.raises(ValueError, match="labels"):
        frame_grid(frames, labels=["a"])
    with pytest.raises(ValueError, match="uint8"):
        frame_grid(frames.astype(float))


def test_write_preview(tmp_path):
    from vmc.io.video import probe_video

    j = np.stack([_t_pose_joints() + [0.05 * t, 0, 0] for t in range(10)])
    frames = render_skeleton_frames(j, SMPL_PARENTS, 64, supersample=2)
    mp4, png = write_preview(tmp_path / "out" / "walk", frames, fps=10, num_grid=4, cols=2)
    assert mp4.name == "walk.mp4" and png.name == "walk.png"
    info = probe_video(mp4)
    assert info.codec == "h264" and info.num_frames == 10 and info.fps == pytest.approx(10)
    from vmc.io.images import read_image

    sheet = read_image(png)
    assert sheet.shape[1] == 2 * (64 + 4) + 4 and sheet.shape[0] > 2 * (64 + 4)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["walk.mp4", "walk.png"]


def test_showcase_grid_renders_a_body():
    tiny = BodyModel.from_arrays(**make_tiny_body())
    poses = {k: SHOWCASE_POSES[k] for k in ("T-pose", "squat")}
    shapes = [("mean", torch.zeros(1, 10)), ("b0", torch.full((1, 10), 1.0))]
    img = render_body_grid(tiny, poses=poses, shapes=shapes, image_size=64, use_rasterizer=False)
    assert img.dtype == np.uint8 and img.ndim == 3
    assert img.shape[1] > 2 * 64 and img.shape[0] > 2 * 64
    tile = img[4 : 4 + 64, 4 : 4 + 64].astype(int)
    assert (np.abs(tile - tile[0, 0]).sum(-1) > 30).mean() > 0.05  # a body is drawn
