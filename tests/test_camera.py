"""Weak-perspective camera (HMR convention) and its helpers."""

from __future__ import annotations

import pytest
import torch

from vmc.geometry.camera import (
    cam_crop_to_image,
    cam_fit_points,
    cam_from_bbox,
    cam_ndc_to_pixels,
    cam_pixels_to_ndc,
    ndc_to_pixels,
    pixels_to_ndc,
    project_weak_perspective,
)

# Float arithmetic compared against references: CI reruns these under a second CPU kernel set
# (ATEN_CPU_CAPABILITY=default) so every tolerance holds on any x86-64 CPU.
pytestmark = pytest.mark.numerics


def _points(b: int = 2, v: int = 50) -> torch.Tensor:
    return torch.randn(b, v, 3, dtype=torch.float64) * torch.tensor([0.3, 0.8, 0.2])


def _cams(b: int = 2) -> torch.Tensor:
    return torch.stack(
        [torch.rand(b) * 0.5 + 0.7, torch.randn(b) * 0.1, torch.randn(b) * 0.1], 1
    ).double()


def test_project_formula():
    pts, cam = _points(), _cams()
    out = project_weak_perspective(pts, cam)
    assert out.shape == pts.shape
    for b in range(2):
        s, tx, ty = cam[b]
        assert torch.allclose(out[b, :, 0], s * (pts[b, :, 0] + tx))
        assert torch.allclose(out[b, :, 1], s * (pts[b, :, 1] + ty))
        assert torch.equal(out[b, :, 2], pts[b, :, 2])


def test_project_differentiable():
    pts = _points().requires_grad_(True)
    cam = _cams().requires_grad_(True)
    assert torch.autograd.gradcheck(project_weak_perspective, (pts[:, :5], cam))


@pytest.mark.parametrize(
    ("verts", "cam"),
    [
        (torch.zeros(2, 5, 2), torch.zeros(2, 3)),
        (torch.zeros(5, 3), torch.zeros(1, 3)),
        (torch.zeros(2, 5, 3), torch.zeros(2, 4)),
        (torch.zeros(2, 5, 3), torch.zeros(3, 3)),
    ],
)
def test_project_bad_shapes(verts, cam):
    with pytest.raises(ValueError, match="vertices|cam"):
        project_weak_perspective(verts, cam)


def test_pixel_convention():
    n = 8
    centres = torch.arange(n, dtype=torch.float64) + 0.5
    xy = pixels_to_ndc(torch.stack([centres, centres], -1), n)
    expected = (2 * torch.arange(n, dtype=torch.float64) + 1) / n - 1
    assert torch.allclose(xy[:, 0], expected)
    assert torch.allclose(ndc_to_pixels(xy, n), torch.stack([centres, centres], -1))
    assert ndc_to_pixels(torch.tensor([-1.0, 1.0]), n).tolist() == [0.0, float(n)]


def test_pixel_camera_round_trip_and_meaning():
    pts, cam = _points(), _cams()
    n = 224
    cam_px = cam_ndc_to_pixels(cam, n)
    assert torch.allclose(cam_pixels_to_ndc(cam_px, n), cam)
    uv = cam_px[:, None, :1] * (pts[..., :2] + cam_px[:, None, 1:])
    assert torch.allclose(uv, ndc_to_pixels(project_weak_perspective(pts, cam)[..., :2], n))


def _iper_cam_init2orig_norm(cam, scale, start_pt, n_crop, n_img):
    """The formulas (docs/spin.md#camera) for iPERCore's cam_init2orig followed by cam_norm."""
    s_c = n_crop * cam[:, :1] / 2
    t_c = cam[:, 1:] + 1 / cam[:, :1]
    s_o = s_c / scale
    t_o = t_c + (start_pt - n_crop) / s_c
    return torch.cat([2 * s_o / n_img, t_o - n_img / (2 * s_o)], 1)


def test_cam_crop_to_image_geometry_and_iper_formula():
    pts, cam = _points(), _cams()
    n_crop, n_img = 224, 512
    scale = torch.tensor([0.6, 0.45], dtype=torch.float64)
    offset = torch.tensor([[40.0, 12.0], [-30.0, 55.0]], dtype=torch.float64)
    full = cam_crop_to_image(cam, offset, scale, n_crop, n_img)
    # geometry: image pixel = (crop pixel + offset) / scale
    crop_px = ndc_to_pixels(project_weak_perspective(pts, cam)[..., :2], n_crop)
    img_px = (crop_px + offset[:, None]) / scale[:, None, None]
    ours = ndc_to_pixels(project_weak_perspective(pts, full)[..., :2], n_img)
    assert torch.allclose(ours, img_px, atol=1e-9)
    # iPERCore pads by the crop size before cropping: offset = start_pt - crop size
    start_pt = offset + n_crop
    ref = _iper_cam_init2orig_norm(cam, scale[:, None], start_pt, n_crop, n_img)
    assert torch.allclose(full, ref, atol=1e-9)


def test_cam_from_bbox_fits_and_centres():
    pts = _points()
    bbox = torch.tensor([[-0.5, -0.9, 0.5, 0.9], [0.0, -0.2, 0.6, 0.8]], dtype=torch.float64)
    cam = cam_from_bbox(pts, bbox, fill=0.9)
    xy = project_weak_perspective(pts, cam)[..., :2]
    lo, hi = xy.amin(1), xy.amax(1)
    assert torch.allclose((lo + hi) / 2, (bbox[:, :2] + bbox[:, 2:]) / 2, atol=1e-9)
    span, box = hi - lo, bbox[:, 2:] - bbox[:, :2]
    assert (span <= 0.9 * box + 1e-9).all()
    assert torch.allclose((span / box).amax(1), torch.full((2,), 0.9, dtype=torch.float64))
    with pytest.raises(ValueError, match="x1 > x0"):
        cam_from_bbox(pts, bbox.flip(1))


def test_cam_fit_points_recovers_camera_and_respects_weights():
    pts, cam = _points(v=30), _cams()
    target = project_weak_perspective(pts, cam)[..., :2]
    assert torch.allclose(cam_fit_points(pts, target), cam, atol=1e-9)
    corrupted = target.clone()
    corrupted[:, :5] += 3.0
    w = torch.ones(2, 30, dtype=torch.float64)
    assert not torch.allclose(cam_fit_points(pts, corrupted, w), cam, atol=1e-3)
    w[:, :5] = 0
    assert torch.allclose(cam_fit_points(pts, corrupted, w), cam, atol=1e-9)
    with pytest.raises(ValueError, match="weights"):
        cam_fit_points(pts, target, torch.ones(2, 29))
