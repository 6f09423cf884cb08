"""H.264/GIF writing (atomic, validated) and video/frame-folder reading (vmc.io.video)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vmc.io.images import write_image
from vmc.io.video import probe_video, read_frames, read_video, write_gif, write_video


def _moving_square(t: int = 12, h: int = 48, w: int = 64) -> np.ndarray:
    """Frames with a bright square moving right on a gradient: smooth enough to compress well."""
    frames = np.zeros((t, h, w, 3), np.uint8)
    frames[..., 2] = np.linspace(40, 200, w, dtype=np.uint8)[None, None, :]
    frames[..., 1] = np.linspace(20, 120, h, dtype=np.uint8)[None, :, None]
    for i in range(t):
        x = 4 + 3 * i
        frames[i, 12:28, x : x + 16] = (250, 220, 30)
    return frames


def _dir_names(path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


def test_mp4_round_trip(tmp_path):
    frames = _moving_square()
    out = write_video(tmp_path / "v.mp4", frames, fps=25)
    info = probe_video(out)
    assert info.codec == "h264" and info.pix_fmt == "yuv420p"
    assert (info.width, info.height) == (64, 48)
    assert info.num_frames == len(frames) and info.fps == pytest.approx(25.0)
    decoded, fps = read_video(out)
    assert fps == pytest.approx(25.0)
    assert decoded.shape == frames.shape and decoded.dtype == np.uint8
    err = np.abs(decoded.astype(int) - frames.astype(int))
    assert err.mean() < 3.0, err.mean()
    # The moving square really moves in the decoded video (frames are not all the same).
    assert decoded[5, 20, 19:35, 0].mean() > 200 and decoded[0, 20, 30:40, 0].mean() < 100
    assert _dir_names(tmp_path) == ["v.mp4"]


def test_crf_controls_quality(tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    good = write_video(tmp_path / "good.mp4", frames, 10, crf=5, preset="ultrafast")
    bad = write_video(tmp_path / "bad.mp4", frames, 10, crf=45, preset="ultrafast")
    assert good.stat().st_size > 2 * bad.stat().st_size
    err_good = np.abs(read_video(good)[0].astype(int) - frames).mean()
    err_bad = np.abs(read_video(bad)[0].astype(int) - frames).mean()
    assert err_good < err_bad


def test_fractional_fps_and_generator_input(tmp_path):
    frames = _moving_square(t=7)
    out = write_video(tmp_path / "g.mp4", (f for f in frames), fps=30000 / 1001)
    decoded, fps = read_video(out)
    assert len(decoded) == 7
    assert fps == pytest.approx(29.97, abs=1e-3)
    assert read_video(out, max_frames=3)[0].shape[0] == 3


def test_odd_size_padded_to_even(tmp_path):
    frames = _moving_square(t=3, h=33, w=45)
    out = write_video(tmp_path / "odd.mp4", frames, 12)
    info = probe_video(out)
    assert (info.width, info.height) == (46, 34)
    decoded, _ = read_video(out)
    assert np.abs(decoded[:, :33, :45].astype(int) - frames).mean() < 6.0
    # The padding repeats the edge instead of adding a black border.
    assert np.abs(decoded[:, 33, :45].astype(int) - frames[:, 32]).mean() < 6.0


class _Boom(RuntimeError):
    pass


@pytest.mark.parametrize("exc", [_Boom, KeyboardInterrupt])
def test_crash_mid_write_leaves_nothing(tmp_path, exc):
    frames = _moving_square(t=6)

    def gen():
        yield from frames[:4]
        raise exc("stop")

    with pytest.raises(exc):
        write_video(tmp_path / "crash.mp4", gen(), fps=10)
    assert _dir_names(tmp_path) == []
    with pytest.raises(exc):
        write_gif(tmp_path / "crash.gif", gen(), fps=10)
    assert _dir_names(tmp_path) == []


def test_crash_keeps_previous_video(tmp_path):
    target = write_video(tmp_path / "keep.mp4", _moving_square(t=2), fps=5)
    before = target.read_bytes()

    def gen():
        yield _moving_square(t=1)[0]
        raise _Boom()

    with pytest.raises(_Boom):
        write_video(target, gen(), fps=5)
    assert target.read_bytes() == before
    assert _dir_names(tmp_path) == ["keep.mp4"]


@pytest.mark.parametrize("fps", [0, -5, float("nan"), float("inf"), 241, "30", True, None])
def test_bad_fps_rejected(tmp_path, fps):
    with pytest.raises(ValueError, match="fps"):
        write_video(tmp_path / "x.mp4", _moving_square(t=2), fps=fps)
    with pytest.raises(ValueError, match="fps"):
        write_gif(tmp_path / "x.gif", _moving_square(t=2), fps=fps)
    assert _dir_names(tmp_path) == []


def test_bad_frames_rejected(tmp_path):
    ok = _moving_square(t=2)
    cases = [
        (ok.astype(np.float32), "uint8"),
        (ok[..., :2], r"\[T,H,W,3\]"),
        (ok[0], r"\[T,H,W,3\]"),
        (ok[:0], "at least one frame"),
        ([], "at least one frame"),
        ([ok[0], ok[1, :20]], "frame 1 has shape"),
        ([ok[0], ok[1].astype(np.int64)], "frame 1 must be uint8"),
    ]
    for frames, msg in cases:
        with pytest.raises(ValueError, match=msg):
            write_video(tmp_path / "x.mp4", frames, fps=10)
    with pytest.raises(ValueError, match="crf"):
        write_video(tmp_path / "x.mp4", ok, fps=10, crf=60)
    with pytest.raises(ValueError, match="preset"):
        write_video(tmp_path / "x.mp4", ok, fps=10, preset="warp")
    assert _dir_names(tmp_path) == []


def test_gif_round_trip(tmp_path):
    frames = _moving_square(t=5)
    out = write_gif(tmp_path / "a.gif", list(frames), fps=10)
    with Image.open(out) as im:
        assert im.n_frames == 5
        assert im.info["duration"] == 100
        assert im.info.get("loop") == 0
    decoded, fps = read_video(out)
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(int) - frames).mean() < 8  # 256-colour palette
    assert _dir_names(tmp_path) == ["a.gif"]
    with pytest.raises(ValueError, match="fps"):
        write_gif(tmp_path / "fast.gif", frames, fps=60)


def test_read_video_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        read_video(tmp_path / "missing.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="junk.mp4"):
        read_video(tmp_path / "junk.mp4")


def test_read_frames_natural_order(tmp_path):
    frames = _moving_square(t=11, h=8, w=40)
    for i, f in enumerate(frames):
        write_image(tmp_path / f"frame_{i}.png", f)  # frame_10 must come after frame_9
    (tmp_path / "notes.txt").write_text("ignored")
    np.testing.assert_array_equal(read_frames(tmp_path), frames)
    write_image(tmp_path / "frame_99.png", frames[0][:4])
    with pytest.raises(ValueError, match="frame_99.png"):
        read_frames(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no image files"):
        read_frames(empty)
    with pytest.raises(FileNotFoundError):
        read_frames(tmp_path / "nope")
