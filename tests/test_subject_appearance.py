"""The subject's appearance: cut-out, background plate, UV texture (texture warping), warp render.

Synthetic subjects come from the embedded body rendered with known parameters
(``vmc.render.body_render``), so every check compares with a ground truth.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from vmc.body.embedded import load_embedded_body
from vmc.geometry.camera import cam_from_bbox
from vmc.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from vmc.render.body_render import render_smpl_params, render_textured
from vmc.render.correspondence import UVLayout
from vmc.subject.background import (
    align_background,
    background_plate,
    hole_mask,
    inpaint_background,
)
from vmc.subject.cutout import person_alpha
from vmc.subject.texture import SOURCE_NAMES, TextureAtlas, texture_from_photos
from vmc.subject.warp import SubjectRenderer, composite, render_subject, source_view

SIZE = 128  # photo side
UV = 256  # texture side
SEEN, MIRROR, OPPOSITE, DIFFUSED = (SOURCE_NAMES.index(n) for n in SOURCE_NAMES[1:])


# ------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def body():
    return load_embedded_body()


@pytest.fixture(scope="module")
def layout(body):
    return UVLayout.from_body(body)


@pytest.fixture(scope="module")
def atlas(body, layout):
    return TextureAtlas.from_body(body, UV, layout=layout)


def standing_pose(yaw: float = 0.0) -> torch.Tensor:
    """Arms ~60 degrees down from T, turned by ``yaw``; root in the HMR image frame."""
    p = torch.zeros(72)
    r = axis_angle_to_matrix(torch.tensor([0.0, yaw, 0.0])) @ axis_angle_to_matrix(
        torch.tensor([math.pi, 0.0, 0.0])
    )
    p[:3] = matrix_to_axis_angle(r)
    p[16 * 3 + 2], p[17 * 3 + 2] = -1.1, 1.1
    return p


def photograph(body, layout, texture: torch.Tensor, yaws: list[float], betas: torch.Tensor):
    """Flat-shaded photos ``uint8 [P, S, S, 3]`` of ``texture`` ([3, UV, UV] in [-1, 1]) over a
    grey background, their masks, poses and cameras."""
    poses = torch.stack([standing_pose(y) for y in yaws])
    b = betas[None].expand(len(yaws), -1)
    with torch.no_grad():
        verts = body(betas=b, pose_axis_angle=poses).vertices
    cams = cam_from_bbox(verts, torch.tensor([[-1.0, -1.0, 1.0, 1.0]]).expand(len(yaws), -1), 0.9)
    pts, frags = render_smpl_params(body, b, poses, cams, SIZE)
    bg = torch.zeros(3, SIZE, SIZE)
    img = render_textured(texture, layout, pts.float(), frags, bg, shading=0.0)
    photos = ((img + 1) * 127.5).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
    return photos, (frags.fim >= 0).numpy(), poses, cams


def part_texture(atlas: TextureAtlas, body, colours: dict[str, tuple[float, float, float]]):
    """A UV texture ``[3, UV, UV]`` in [-1, 1]: grey, with the named parts in given colours."""
    col = torch.full((atlas.num_texels, 3), 0.5)
    for name, rgb in colours.items():
        col[atlas.texel_part == body.part_names.index(name)] = torch.tensor(rgb)
    return atlas.to_image(col).permute(2, 0, 1) * 2 - 1


def patterned_texture(atlas: TextureAtlas) -> torch.Tensor:
    """A colour field of ~10-20 cm waves over the rest-pose surface, ``[3, UV, UV]`` in [-1, 1].

    Wavelengths of ~7-15 px in the 128 px photos: fine enough that a half-pixel offset in the
    photo <-> UV mapping costs several dB, smooth enough that two bilinear resamplings do not.
    """
    p = atlas.rest_points
    col = 0.5 + 0.35 * torch.stack(
        [
            torch.sin(16 * p[:, 1]),
            torch.cos(12 * p[:, 1] + 10 * p[:, 2]),
            torch.sin(14 * p[:, 0] + 4 * p[:, 1]),
        ],
        dim=1,
    )
    return atlas.to_image(col).permute(2, 0, 1) * 2 - 1


# ------------------------------------------------------------------------------------ cut-out
def test_person_alpha_keeps_one_component_with_soft_edge() -> None:
    yy, xx = np.mgrid[:96, :96]
    person = np.hypot(yy - 48, xx - 40) < 22
    blob = np.hypot(yy - 10, xx - 85) < 5  # a second "person" (poster, passer-by)
    prob = np.where(person, 0.95, 0.02) + np.where(blob, 0.9, 0.0)
    prob[45:48, 38:41] = 0.1  # a small dropout inside the person
    alpha = person_alpha(prob.astype(np.float32))
    assert alpha.dtype == np.float32 and alpha.shape == prob.shape
    assert alpha.min() >= 0 and alpha.max() <= 1
    n, _ = cv2.connectedComponents((alpha > 0).astype(np.uint8))
    assert n == 2  # background + one person
    assert alpha[blob].max() == 0
    assert alpha[46, 39] == 1.0  # the dropout is filled
    edge = (alpha > 0.02) & (alpha < 0.98)
    assert edge.sum() > 2 * np.pi * 22  # a soft band all around the contour
    ring = np.abs(np.hypot(yy - 48, xx - 40) - 22) < 1.0
    assert np.median(alpha[ring]) == pytest.approx(0.5, abs=0.3)


def test_person_alpha_silhouette_picks_the_fitted_person() -> None:
    prob = np.zeros((64, 64), np.float32)
    prob[5:60, 2:20] = 0.9  # larger component
    prob[20:50, 40:55] = 0.9  # the person the body was fitted to
    sil = np.zeros_like(prob)
    sil[22:48, 42:53] = 1
    alpha = person_alpha(prob, silhouette=sil)
    assert alpha[30, 45] == 1 and alpha[:, :25].max() == 0
    assert person_alpha(prob)[30, 10] == 1  # without it: the largest


def test_person_alpha_empty() -> None:
    assert person_alpha(np.zeros((8, 8), np.float32)).max() == 0


# ------------------------------------------------------------------------------------ background
def _scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[:96, :96].astype(np.float32)
    bg = np.stack([60 + xx, 80 + yy, 150 - 0.5 * xx], -1).clip(0, 255).astype(np.uint8)
    alpha = np.zeros((96, 96), np.float32)
    alpha[25:75, 35:60] = 1
    img = bg.copy()
    img[alpha > 0] = (250, 10, 10)
    return img, alpha, bg


@pytest.mark.parametrize("method", ["telea", "ns", "fsr_fast"])
def test_inpainting_fills_the_hole_and_leaves_the_rest(method: str) -> None:
    img, alpha, bg = _scene()
    out = inpaint_background(img, alpha, method)
    hole = hole_mask(alpha)
    assert hole[alpha > 0].all() and hole.sum() > (alpha > 0).sum()  # dilated
    assert np.array_equal(out[~hole], img[~hole])  # untouched outside, bit for bit
    err = np.abs(out[hole].astype(np.float32) - bg[hole].astype(np.float32))
    # A linear gradient is what every method reconstructs well; the red person must be gone.
    assert err.mean() < 12, err.mean()
    assert (out[hole][:, 0] > 200).mean() < 0.01


def test_clean_background_is_aligned_and_used_as_is() -> None:
    img, alpha, _ = _scene()
    clean = np.zeros((50, 200, 3), np.uint8)
    clean[:, 100:] = 200  # right half bright: the centre crop must keep both halves
    out = background_plate(img, alpha, clean=clean)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert out[:, :40].max() < 20 and out[:, -40:].min() > 180
    assert align_background(clean, (96, 96)).shape == (96, 96, 3)


def test_inpainting_rejects_bad_input() -> None:
    img, alpha, _ = _scene()
    with pytest.raises(ValueError, match="method"):
        inpaint_background(img, alpha, "magic")
    with pytest.raises(ValueError, match="whole image"):
        inpaint_background(img, np.ones_like(alpha), "telea")


# ------------------------------------------------------------------------------------ texture
@pytest.fixture(scope="module")
def front_subject(body, layout, atlas):
    gt = patterned_texture(atlas)
    betas = torch.zeros(body.num_betas)
    betas[:2] = torch.tensor([0.8, -0.5])
    photos, masks, poses, cams = photograph(body, layout, gt, [0.0], betas)
    tex = texture_from_photos(
        body, list(photos), betas, poses, cams, alphas=list(masks.astype(np.float32)), atlas=atlas
    )
    return {"gt": gt, "betas": betas, "photos": photos, "masks": masks, "poses": poses,
            "cams": cams, "tex": tex}  # fmt: skip


def test_texture_reproduces_the_photo_in_the_same_pose(body, layout, front_subject) -> None:
    s = front_subject
    rgb, alpha = render_subject(
        body, s["betas"], s["poses"], s["cams"], s["tex"], SIZE, layout=layout, supersample=1
    )
    m = s["masks"][0]
    assert np.array_equal(alpha[0].numpy() > 0, m)  # same rasterizer, same silhouette
    err = rgb[0].numpy()[m] - s["photos"][0][m] / 255
    psnr = -10 * math.log10(float((err**2).mean()))
    # Photo -> UV (256) -> photo is two bilinear resamplings of a ~10 px wave pattern plus 8-bit
    # rounding: measured 30.4 dB. Shifting the photo lookup by one pixel gives 23.8 dB, so 27 dB
    # catches a wrong pixel-centre/winding convention or occluded colours leaking onto visible
    # surfaces, with room for float32 differences across machines (far below 0.1 dB).
    assert psnr > 27, psnr


def test_no_unfilled_texel_and_confidence(atlas, front_subject) -> None:
    tex = front_subject["tex"]
    cov = atlas.covered
    src = tex.source
    assert tex.texture.shape == (UV, UV, 3) and tex.confidence.shape == (UV, UV)
    assert bool((src[cov] > 0).all())  # every body texel was seen or filled
    assert bool((src[~cov] == 0).all())
    assert torch.isfinite(tex.texture).all() and tex.texture.min() >= 0 and tex.texture.max() <= 1
    conf = tex.confidence
    filled = cov & (src >= MIRROR)
    assert filled.sum() > 0.2 * cov.sum()  # one frontal photo: the back is filled
    assert float(conf[filled].max()) < 1.0
    assert float(conf[cov & (src == DIFFUSED)].max()) == 0.0
    seen = cov & (src == SEEN)
    assert float((conf[seen] == 1).float().mean()) > 0.5  # most of the front is seen squarely
    assert float(conf.min()) >= 0 and float(conf.max()) <= 1


def test_off_island_texels_bleed_the_island_colour(atlas, front_subject) -> None:
    tex = front_subject["tex"].texture
    cov = atlas.covered
    # Off-island texels next to an island equal one of their body-texel neighbours' colour.
    near = torch.from_numpy(cv2.dilate(cov.numpy().astype(np.uint8), np.ones((3, 3))) > 0) & ~cov
    r, c = torch.nonzero(near, as_tuple=True)
    flat = atlas.bleed_index.view(UV, UV)[r, c]
    assert bool(cov.view(-1)[flat].all())
    assert torch.equal(tex.view(-1, 3)[flat], tex[r, c])
    assert float(tex[r, c].sum(-1).min()) > 0  # no black texels at the seams


def test_symmetry_fill_puts_left_arm_colour_on_unseen_right_arm(body, layout, atlas) -> None:
    red = (0.9, 0.1, 0.1)
    gt = part_texture(atlas, body, {"left_arm": red, "right_arm": red})
    betas = torch.zeros(body.num_betas)
    photos, masks, poses, cams = photograph(body, layout, gt, [0.0], betas)
    # The cut-out says the right arm's pixels are background (as if hidden behind a prop) and
    # they are painted blue: the texture must not use them, and must mirror the left arm.
    pts, frags = render_smpl_params(body, betas[None], poses, cams, SIZE)
    right = body.part_names.index("right_arm")
    on_right = body.face_part[frags.fim[0].clamp(min=0)].numpy() == right
    on_right &= masks[0]
    photo = photos[0].copy()
    photo[on_right] = (20, 20, 230)
    alpha = masks[0].astype(np.float32)
    alpha[cv2.dilate(on_right.astype(np.uint8), np.ones((3, 3))) > 0] = 0
    tex = texture_from_photos(body, [photo], betas, poses, cams, alphas=[alpha], atlas=atlas)
    t = tex.texture.view(-1, 3)[atlas.texel_index]
    src = tex.source.view(-1)[atlas.texel_index]
    arm = atlas.texel_part == right
    assert float((src[arm] == SEEN).float().mean()) < 0.02
    # Its front takes the left arm's front (mirror); its back the copy of that (opposite).
    front = arm & (atlas.rest_normals[:, 2] > 0.3)
    # (At 128 px the left arm is ~4 px wide: ~76% of its front passes the visibility test.)
    assert float((src[front] == MIRROR).float().mean()) > 0.6
    mean = t[arm].mean(0)
    assert mean[0] > 0.7 and mean[2] < 0.3, mean  # red, not blue and not the grey body
    # Without the mirror the arm is diffused from its seen neighbours (grey torso and hand).
    plain = texture_from_photos(
        body, [photo], betas, poses, cams, alphas=[alpha], atlas=atlas, mirror=0.0
    )
    mean_plain = plain.texture.view(-1, 3)[atlas.texel_index][arm].mean(0)
    assert mean_plain[0] < 0.6, mean_plain


def test_multi_photo_blend_prefers_the_square_view(body, layout, atlas) -> None:
    betas = torch.zeros(body.num_betas)
    red = part_texture(atlas, body, {n: (0.9, 0.1, 0.1) for n in body.part_names})
    blue = part_texture(atlas, body, {n: (0.1, 0.1, 0.9) for n in body.part_names})
    yaw = math.radians(70)
    p_front, m_front, pose_f, cam_f = photograph(body, layout, red, [0.0], betas)
    p_side, m_side, pose_s, cam_s = photograph(body, layout, blue, [yaw], betas)
    tex = texture_from_photos(
        body,
        [p_front[0], p_side[0]],
        betas,
        torch.cat([pose_f, pose_s]),
        torch.cat([cam_f, cam_s]),
        alphas=[m_front[0].astype(np.float32), m_side[0].astype(np.float32)],
        atlas=atlas,
    )
    t = tex.texture.view(-1, 3)[atlas.texel_index]
    src = tex.source.view(-1)[atlas.texel_index]
    n = atlas.rest_normals
    torso = atlas.texel_part == body.part_names.index("torso")
    # Facing the front camera (rest normal +z): seen at cos 1 in red, cos 0.34 in blue.
    front = torso & (n[:, 2] > 0.95) & (src == SEEN)
    # Facing the side camera (normal at the side photo's yaw): square there, ~0.34 in front.
    # The rest pose faces +z; turning the body by +yaw about the image-frame y (down) axis turns
    # it about the rest y (up) axis by -yaw, so the surface that faces the side camera has the
    # rest normal R_y(yaw) (0, 0, 1) = (sin yaw, 0, cos yaw).
    d = torch.tensor([math.sin(yaw), 0.0, math.cos(yaw)])
    d2 = torch.tensor([-math.sin(yaw), 0.0, math.cos(yaw)])
    side_a, side_b = torso & (n @ d > 0.95) & (src == SEEN), torso & (n @ d2 > 0.95) & (src == SEEN)
    side = side_a if side_a.sum() > side_b.sum() else side_b
    assert front.sum() > 50 and side.sum() > 50
    red_share = lambda m: float((t[m, 0] / (t[m, 0] + t[m, 2])).mean())  # noqa: E731
    assert red_share(front) > 0.85  # weights 1 : 0.34^4 -> ~99% red, minus edge blending
    assert red_share(side) < 0.15


# ------------------------------------------------------------------------------------ warp render
def test_colours_seen_in_the_photo_come_from_the_photo(body, layout, front_subject) -> None:
    s = front_subject
    view = source_view(
        body, s["betas"], s["poses"][0], s["cams"][0], s["photos"][0],
        s["masks"][0].astype(np.float32),
    )  # fmt: skip
    direct = SubjectRenderer(body, s["betas"], s["tex"], layout=layout, supersample=1, source=view)
    textured = SubjectRenderer(body, s["betas"], s["tex"], layout=layout, supersample=1)
    rgb, _ = direct.render(s["poses"], s["cams"], SIZE)
    m = s["masks"][0]
    err = rgb[0].numpy()[m] - s["photos"][0][m] / 255
    psnr = -10 * math.log10(max(float((err**2).mean()), 1e-12))
    # In the photo's own pose every surface point lands on its own pixel: the photo comes back
    # exactly (the texture alone gives 30.4 dB, test above).
    assert psnr > 45, psnr
    # Turned away, the photo saw none of it: the colours are the texture's (all but a rim of
    # side surfaces within the depth test's 2 cm of what the photo shows; measured 2.7%).
    back = standing_pose(math.pi)[None]
    a, alpha = direct.render(back, s["cams"], SIZE)
    b, _ = textured.render(back, s["cams"], SIZE)
    differs = (a - b).abs().amax(-1) > 1e-4
    assert float(differs.sum()) < 0.05 * float((alpha > 0).sum())
    # Half turned: part of it from the photo (measured 88% of the body), the rest the texture.
    half = standing_pose(0.8)[None]
    a, alpha = direct.render(half, s["cams"], SIZE)
    b, _ = textured.render(half, s["cams"], SIZE)
    share = float(((a - b).abs().amax(-1) > 1e-4).sum()) / float((alpha > 0).sum())
    assert 0.2 < share < 0.95, share


def test_render_subject_soft_edges_batching_and_composite(body, layout, front_subject) -> None:
    s = front_subject
    poses = torch.stack([standing_pose(0.0), standing_pose(1.0), standing_pose(-2.0)])
    cams = s["cams"].expand(3, -1)
    r = SubjectRenderer(body, s["betas"], s["tex"], layout=layout)
    rgb, alpha = r.render(poses, cams, SIZE, batch_size=2)
    assert rgb.shape == (3, SIZE, SIZE, 3) and alpha.shape == (3, SIZE, SIZE)
    assert rgb.dtype == torch.float32 and alpha.dtype == torch.float32
    assert float(alpha.min()) >= 0 and float(alpha.max()) <= 1
    soft = ((alpha > 0) & (alpha < 1)).sum((1, 2))
    assert bool((soft > 50).all())  # anti-aliased silhouettes
    assert float(rgb[alpha == 0].abs().max()) == 0
    # Batching does not change frames.
    rgb1, alpha1 = r.render(poses[1:2], cams[1:2], SIZE)
    torch.testing.assert_close(rgb1[0], rgb[1])
    torch.testing.assert_close(alpha1[0], alpha[1])
    bg = np.full((SIZE, SIZE, 3), 255, np.uint8)
    out = composite(rgb, alpha, bg)
    torch.testing.assert_close(out[alpha == 0], torch.ones_like(out[alpha == 0]))
    inside = alpha == 1
    torch.testing.assert_close(out[inside], rgb[inside])
