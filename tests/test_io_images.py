"""Robust image reading/writing (vmc.io.images) and atomic writes (vmc.io.atomic)."""

from __future__ import annotations

import os
import stat
import warnings

import numpy as np
import pytest
from PIL import Image

from vmc.io.atomic import atomic_path, atomic_write_bytes
from vmc.io.images import (
    check_rgb_image,
    image_to_tensor,
    read_image,
    read_image_with_alpha,
    tensor_to_image,
    write_image,
)


def _asymmetric_rgb(h: int = 12, w: int = 20) -> np.ndarray:
    """An image whose 8 EXIF orientations are all distinguishable (no symmetry)."""
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


# PIL transposes that turn the upright image into what a camera stores for each orientation
# value; EXIF orientation n means "apply the inverse of this to display".
_STORED_FROM_UPRIGHT = {
    1: [],
    2: [Image.Transpose.FLIP_LEFT_RIGHT],
    3: [Image.Transpose.ROTATE_180],
    4: [Image.Transpose.FLIP_TOP_BOTTOM],
    5: [Image.Transpose.TRANSPOSE],
    6: [Image.Transpose.ROTATE_90],  # stored rotated 90° CCW; display rotates 90° CW
    7: [Image.Transpose.TRANSVERSE],
    8: [Image.Transpose.ROTATE_270],
}


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_exif_orientation_all_eight(tmp_path, orientation, suffix):
    upright = _asymmetric_rgb()
    stored = Image.fromarray(upright)
    for op in _STORED_FROM_UPRIGHT[orientation]:
        stored = stored.transpose(op)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}{suffix}"
    stored.save(path, exif=exif)
    out = read_image(path)
    assert out.shape == upright.shape
    np.testing.assert_array_equal(out, upright)


def test_exif_orientation_jpeg_portrait(tmp_path):
    # A phone portrait: stored landscape with orientation 6; displayed upright (taller than wide).
    upright = np.zeros((40, 24, 3), np.uint8)
    upright[:10] = (255, 0, 0)  # red band at the top of the upright image
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "portrait.jpg"
    stored.save(path, exif=exif, quality=95)
    out = read_image(path)
    assert out.shape == (40, 24, 3)
    assert out[:8, :, 0].mean() > 200 and out[:8, :, 1].mean() < 50
    assert out[-8:].mean() < 30


def test_grayscale_palette_and_bilevel(tmp_path):
    gray = np.tile(np.arange(0, 256, 16, dtype=np.uint8), (4, 1))
    Image.fromarray(gray).save(tmp_path / "g.png")
    out = read_image(tmp_path / "g.png")
    assert out.shape == (4, 16, 3)
    np.testing.assert_array_equal(out[..., 0], gray)
    np.testing.assert_array_equal(out[..., 2], gray)

    rgb = _asymmetric_rgb(8, 8)
    pal = Image.fromarray(rgb).quantize(colors=16)
    pal.save(tmp_path / "p.png")
    expected = np.asarray(pal.convert("RGB"))
    np.testing.assert_array_equal(read_image(tmp_path / "p.png"), expected)

    Image.fromarray(gray > 100).save(tmp_path / "b.png")
    b = read_image(tmp_path / "b.png")
    assert set(np.unique(b)) == {0, 255}


def test_rgba_composited_over_white_and_alpha_kept(tmp_path):
    rgba = np.zeros((6, 6, 4), np.uint8)
    rgba[..., 0] = 200  # red everywhere ...
    rgba[:3, :, 3] = 255  # ... opaque in the top half, transparent below
    Image.fromarray(rgba).save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png")
    np.testing.assert_array_equal(out[:3], np.broadcast_to([200, 0, 0], (3, 6, 3)))
    np.testing.assert_array_equal(out[3:], np.full((3, 6, 3), 255))
    black = read_image(tmp_path / "a.png", background=(0, 0, 0))
    np.testing.assert_array_equal(black[3:], np.zeros((3, 6, 3)))

    rgb, alpha = read_image_with_alpha(tmp_path / "a.png")
    assert alpha is not None and alpha.dtype == np.uint8 and alpha.shape == (6, 6)
    np.testing.assert_array_equal(alpha, rgba[..., 3])
    np.testing.assert_array_equal(rgb[..., 0], rgba[..., 0])  # straight colour, not composited

    # Fully opaque alpha is reported as no alpha.
    rgba[..., 3] = 255
    Image.fromarray(rgba).save(tmp_path / "opaque.png")
    assert read_image_with_alpha(tmp_path / "opaque.png")[1] is None


def test_palette_with_transparency(tmp_path):
    img = Image.new("P", (4, 4), 1)
    img.putpalette([0, 0, 0, 10, 200, 30] + [0] * (256 * 3 - 6))
    img.putpixel((0, 0), 0)
    img.info["transparency"] = 0
    img.save(tmp_path / "pt.png", transparency=0)
    out = read_image(tmp_path / "pt.png")
    np.testing.assert_array_equal(out[0, 0], [255, 255, 255])  # transparent index → white
    np.testing.assert_array_equal(out[1, 1], [10, 200, 30])


def test_16bit_gray_png_and_tiff_scaled_not_wrapped(tmp_path):
    values = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    for suffix in (".png", ".tif"):
        Image.fromarray(values).save(tmp_path / f"g16{suffix}")
        out = read_image(tmp_path / f"g16{suffix}")
        np.testing.assert_array_equal(out[0, :, 0], [0, 1, 128, 255])


def test_16bit_rgb_png_and_tiff(tmp_path):
    cv2 = pytest.importorskip("cv2")
    rgb16 = np.zeros((4, 5, 3), np.uint16)
    rgb16[..., 0] = 65535
    rgb16[..., 1] = 32896  # 128 * 257
    rgb16[..., 2] = 1000
    for suffix in (".png", ".tif"):
        assert cv2.imwrite(str(tmp_path / f"c16{suffix}"), rgb16[..., ::-1])  # cv2 wants BGR
        out = read_image(tmp_path / f"c16{suffix}")
        assert out.dtype == np.uint8 and out.shape == (4, 5, 3)
        np.testing.assert_allclose(out[0, 0].astype(int), [255, 128, 4], atol=1)


def test_float_tiff(tmp_path):
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32)).save(tmp_path / "f.tif")
    np.testing.assert_array_equal(read_image(tmp_path / "f.tif")[0, :, 1], [0, 128, 255])


def test_cmyk_jpeg_and_tiff(tmp_path):
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[:, :4] = (220, 30, 30)
    rgb[:, 4:] = (30, 30, 220)
    cmyk = Image.fromarray(rgb).convert("CMYK")
    for name in ("c.jpg", "c.tif"):
        cmyk.save(tmp_path / name)
        out = read_image(tmp_path / name).astype(int)
        assert out.shape == (8, 8, 3)
        assert np.abs(out[2, 1] - [220, 30, 30]).max() < 25
        assert np.abs(out[2, 6] - [30, 30, 220]).max() < 25


def test_icc_profile_to_srgb(tmp_path):
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    rgb = _asymmetric_rgb()
    Image.fromarray(rgb).save(tmp_path / "icc.png", icc_profile=srgb)
    out = read_image(tmp_path / "icc.png").astype(int)
    assert np.abs(out - rgb).max() <= 2  # sRGB → sRGB is (nearly) the identity


def test_huge_image_downscaled_with_warning(tmp_path):
    img = np.zeros((300, 1000, 3), np.uint8)
    img[:, :500] = 255
    for name in ("big.png", "big.jpg"):
        Image.fromarray(img).save(tmp_path / name)
        with pytest.warns(UserWarning, match=r"big\.(png|jpg).*1000x300.*max_side=200.*200x60"):
            out = read_image(tmp_path / name, max_side=200)
        assert out.shape == (60, 200, 3)
        assert out[:, :90].mean() > 240 and out[:, 110:].mean() < 15
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_image(tmp_path / "big.png", max_side=None).shape == (300, 1000, 3)
        assert read_image(tmp_path / "big.png").shape == (300, 1000, 3)  # default 4096


def test_missing_and_unreadable_files_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.png"):
        read_image(tmp_path / "nope.png")
    bad = tmp_path / "garbage.jpg"
    bad.write_bytes(b"this is not an image")
    with pytest.raises(ValueError, match="garbage.jpg"):
        read_image(bad)
    # A truncated PNG is a ValueError too, not an OSError from deep inside Pillow.
    Image.fromarray(_asymmetric_rgb(64, 64)).save(tmp_path / "t.png")
    data = (tmp_path / "t.png").read_bytes()
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="trunc.png"):
        read_image(tmp_path / "trunc.png")
    with pytest.raises(ValueError, match="directory"):
        read_image(tmp_path)
    with pytest.raises(ValueError, match="max_side"):
        read_image(tmp_path / "t.png", max_side=0)


def test_write_image_round_trip_and_validation(tmp_path):
    rgb = _asymmetric_rgb()
    p = write_image(tmp_path / "sub" / "x.png", rgb)
    np.testing.assert_array_equal(read_image(p), rgb)
    gray = rgb[..., 0]
    np.testing.assert_array_equal(read_image(write_image(tmp_path / "g.png", gray))[..., 1], gray)
    with pytest.raises(ValueError, match="uint8"):
        write_image(tmp_path / "f.png", rgb.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        write_image(tmp_path / "s.png", np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ValueError, match="alpha"):
        write_image(tmp_path / "a.jpg", np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="x.unknownext"):
        write_image(tmp_path / "x.unknownext", rgb)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["g.png", "sub"]  # no temp files left


def test_tensor_round_trip():
    torch = pytest.importorskip("torch")
    rgb = _asymmetric_rgb(5, 7)
    t = image_to_tensor(rgb)
    assert t.shape == (3, 5, 7) and t.dtype == torch.float32
    assert float(t.min()) >= -1 and float(t.max()) <= 1
    assert t[0, 2, 3] == pytest.approx(rgb[2, 3, 0] / 127.5 - 1)
    np.testing.assert_array_equal(tensor_to_image(t), rgb)
    batch = image_to_tensor(np.stack([rgb, rgb[::-1]]))
    assert batch.shape == (2, 3, 5, 7)
    np.testing.assert_array_equal(tensor_to_image(batch)[1], rgb[::-1])
    np.testing.assert_array_equal(tensor_to_image(torch.full((3, 1, 1), 5.0))[0, 0], [255] * 3)
    with pytest.raises(ValueError, match="uint8"):
        image_to_tensor(rgb.astype(np.float32))
    with pytest.raises(ValueError, match=r"\[3,H,W\]"):
        tensor_to_image(torch.zeros(4, 2, 2))


# ---- atomic writes -------------------------------------------------------------------------


def test_atomic_path_success_keeps_suffix_and_permissions(tmp_path):
    target = tmp_path / "a" / "b" / "out.mp4"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".mp4" and tmp != target
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    mode = stat.S_IMODE(os.stat(target).st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask
    assert [f.name for f in target.parent.iterdir()] == ["out.mp4"]


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_atomic_path_failure_leaves_old_content_and_no_temp(tmp_path, exc):
    target = tmp_path / "out.bin"
    atomic_write_bytes(target, b"old")
    with pytest.raises(exc), atomic_path(target) as tmp:
        tmp.write_bytes(b"half-writ")
        raise exc()
    assert target.read_bytes() == b"old"
    assert [f.name for f in tmp_path.iterdir()] == ["out.bin"]
    fresh = tmp_path / "fresh.bin"
    with pytest.raises(exc), atomic_path(fresh) as tmp:
        raise exc()
    assert not fresh.exists()
    assert [f.name for f in tmp_path.iterdir()] == ["out.bin"]


def test_atomic_path_refuses_directory(tmp_path):
    with pytest.raises(IsADirectoryError, match=str(tmp_path.name)), atomic_path(tmp_path):
        pass


def test_check_rgb_image_names_what_is_wrong() -> None:
    img = np.zeros((4, 5, 3), np.uint8)
    assert np.array_equal(check_rgb_image(img), img)
    with pytest.raises(ValueError, match=r"photo 2 must be uint8 \[H, W, 3\] RGB"):
        check_rgb_image(np.zeros((4, 5), np.uint8), "photo 2")
    with pytest.raises(ValueError, match="float32"):
        check_rgb_image(np.zeros((4, 5, 3), np.float32))
