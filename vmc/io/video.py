"""Writing browser-playable videos (H.264 .mp4, GIF) atomically, and reading videos back.

Frames at this boundary are ``np.uint8`` RGB ``[T, H, W, 3]`` (or an iterable of ``[H, W, 3]``
frames, consumed one at a time so long renders need not fit in memory).

H.264 in ``yuv420p`` (the pixel format every browser plays) subsamples chroma 2x2 and therefore
needs an even width and height: frames with an odd side are padded by one pixel on the right
and/or bottom, repeating the edge pixels, so nothing is cropped. The written video is then one
pixel larger than the input on that side.

Writes go through :func:`vmc.io.atomic.atomic_path`: if encoding fails, the frame source raises,
or the user presses Ctrl-C, neither a half-written target nor a temporary file is left behind.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from vmc.io.atomic import atomic_path
from vmc.io.images import IMAGE_SUFFIXES, read_image

__all__ = [
    "MAX_FPS",
    "X264_PRESETS",
    "VideoInfo",
    "probe_video",
    "read_frames",
    "read_video",
    "write_gif",
    "write_video",
]

#: Highest frame rate accepted by the writers.
MAX_FPS = 240.0

#: Valid ``preset`` values of libx264 (slower = smaller file at the same quality).
X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
)


def _check_fps(fps: float, max_fps: float = MAX_FPS) -> float:
    if isinstance(fps, bool) or not isinstance(fps, numbers.Real):
        raise ValueError(f"fps must be a number, got {fps!r}")
    value = float(fps)
    if not math.isfinite(value) or value <= 0 or value > max_fps:
        raise ValueError(f"fps must be finite and in (0, {max_fps:g}], got {fps!r}")
    return value


def _check_frame(frame: object, index: int) -> np.ndarray:
    try:
        arr = np.asarray(frame)
    except Exception as err:
        raise ValueError(f"frame {index} cannot be converted to an array: {err}") from err
    if arr.dtype != np.uint8:
        raise ValueError(
            f"frame {index} must be uint8 RGB [H,W,3], got dtype {arr.dtype}; convert floats "
            "with np.clip(x * 255, 0, 255).round().astype(np.uint8) (or tensor_to_image)"
        )
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"frame {index} must have shape [H,W,3] with H,W >= 1, got {arr.shape}")
    return arr


def _iter_frames(frames: np.ndarray | Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Yield validated ``[H,W,3]`` uint8 frames, all of the first frame's size."""
    if isinstance(frames, np.ndarray) or hasattr(frames, "__array__"):
        arr = np.asarray(frames)
        if arr.ndim != 4 or arr.shape[-1] != 3:
            raise ValueError(f"frames must have shape [T,H,W,3], got {arr.shape}")
        if arr.shape[0] < 1:
            raise ValueError("frames is empty: need at least one frame (T >= 1)")
        source: Iterable[object] = arr
    else:
        source = frames
    first_shape: tuple[int, ...] | None = None
    count = 0
    for i, frame in enumerate(source):
        arr = _check_frame(frame, i)
        if first_shape is None:
            first_shape = arr.shape
        elif arr.shape != first_shape:
            raise ValueError(
                f"frame {i} has shape {arr.shape} but frame 0 has {first_shape}; "
                "all frames of a video must have the same size"
            )
        count += 1
        yield arr
    if count == 0:
        raise ValueError("no frames to write: need at least one frame (T >= 1)")


def _pad_even(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def _frame_count_hint(frames: object) -> int | None:
    try:
        return len(frames)  # type: ignore[arg-type]
    except TypeError:
        return None


def _progress(it: Iterable[np.ndarray], total: int | None, desc: str, enabled: bool):
    if not enabled:
        return it

    return tqdm(it, total=total, desc=desc, unit="frame")


def write_video(
    path: str | os.PathLike[str],
    frames: np.ndarray | Iterable[np.ndarray],
    fps: float,
    crf: float = 18,
    preset: str = "medium",
    *,
    progress: bool = False,
) -> Path:
    """Write an H.264 (libx264, ``yuv420p``) ``.mp4`` that plays in browsers, atomically.

    Args:
        path: target file (``.mp4`` recommended; the container follows the suffix).
        frames: ``np.uint8 [T,H,W,3]`` RGB, or an iterable/generator of ``[H,W,3]`` uint8 frames
            (streamed: the first frame fixes the size; a later frame of another size is an
            error). Odd sizes are edge-padded to even (see module docstring).
        fps: frames per second, finite, in (0, 240]. Non-integer rates (29.97) are kept as an
            exact fraction.
        crf: libx264 constant rate factor, 0 (lossless) to 51 (worst); 18 looks lossless.
        preset: libx264 speed/size trade-off, one of :data:`X264_PRESETS`.
        progress: show a tqdm progress bar.

    Returns:
        The path written.

    Raises:
        ValueError: invalid fps/crf/preset, no frames, wrong dtype/shape, or size changes.
    """
    fps_value = _check_fps(fps)
    if isinstance(crf, bool) or not isinstance(crf, numbers.Real) or not 0 <= crf <= 51:
        raise ValueError(f"crf must be a number in [0, 51], got {crf!r}")
    if preset not in X264_PRESETS:
        raise ValueError(f"preset must be one of {X264_PRESETS}, got {preset!r}")
    rate = Fraction(fps_value).limit_denominator(1001)
    total = _frame_count_hint(frames)
    target = Path(path)
    frame_iter = _iter_frames(frames)
    with atomic_path(target) as tmp:
        # +faststart puts the index first so browsers can start playing before the download ends.
        container = av.open(str(tmp), mode="w", options={"movflags": "+faststart"})
        try:
            stream = None
            for i, frame in enumerate(_progress(frame_iter, total, target.name, progress)):
                frame = _pad_even(frame)
                if stream is None:
                    stream = container.add_stream(
                        "libx264", rate=rate, options={"crf": f"{crf:g}", "preset": preset}
                    )
                    stream.height, stream.width = frame.shape[:2]
                    stream.pix_fmt = "yuv420p"
                video_frame = av.VideoFrame.from_ndarray(
                    np.ascontiguousarray(frame), format="rgb24"
                )
                video_frame.pts = i
                for packet in stream.encode(video_frame):
                    container.mux(packet)
            assert stream is not None  # _iter_frames raises on zero frames
            for packet in stream.encode():  # flush delayed frames
                container.mux(packet)
        except BaseException:
            # Closing may fail too (e.g. no stream yet); the original error is the one to see.
            with contextlib.suppress(Exception):
                container.close()
            raise
        container.close()
    return target


def write_gif(
    path: str | os.PathLike[str],
    frames: np.ndarray | Iterable[np.ndarray],
    fps: float,
    *,
    loop: int = 0,
    progress: bool = False,
) -> Path:
    """Write an animated GIF atomically (Pillow; an adaptive 256-colour palette per frame).

    GIF stores frame delays in hundredths of a second, so the delay is ``round(100 / fps)``
    centiseconds (at least 2: most browsers slow down faster GIFs to 10 fps). fps must be in
    (0, 50].

    Args:
        path: target ``.gif`` file.
        frames: ``np.uint8 [T,H,W,3]`` or an iterable of ``[H,W,3]`` uint8 frames (same size).
        fps: frames per second.
        loop: number of repeats, 0 = forever.
        progress: show a tqdm progress bar.

    Returns:
        The path written.
    """
    fps_value = _check_fps(fps, max_fps=50.0)
    if isinstance(loop, bool) or not isinstance(loop, int) or loop < 0:
        raise ValueError(f"loop must be an int >= 0, got {loop!r}")
    delay_ms = 10 * max(2, round(100.0 / fps_value))
    target = Path(path)
    frame_iter = iter(
        _progress(_iter_frames(frames), _frame_count_hint(frames), target.name, progress)
    )
    first = Image.fromarray(next(frame_iter))
    rest = (Image.fromarray(f) for f in frame_iter)
    with atomic_path(target) as tmp:
        first.save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=rest,
            duration=delay_ms,
            loop=loop,
            disposal=1,
        )
    return target


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` reports about a video file's first video stream."""

    codec: str  # decoder name, e.g. "h264"
    pix_fmt: str  # e.g. "yuv420p"
    width: int
    height: int
    fps: float
    num_frames: int  # frames counted by decoding headers (container count when available)


def _open_input(path: str | os.PathLike[str]):
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"video file not found: {str(p)!r}")
    try:
        container = av.open(str(p), mode="r")
    except (av.error.FFmpegError, OSError) as err:
        raise ValueError(f"cannot read video {str(p)!r}: {err}") from err
    if not container.streams.video:
        container.close()
        raise ValueError(f"{str(p)!r} has no video stream")
    return container, container.streams.video[0]


def _stream_fps(stream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Codec, pixel format, size, fps and frame count of a video's first video stream."""
    container, stream = _open_input(path)
    with container:
        ctx = stream.codec_context
        n = stream.frames or sum(1 for pkt in container.demux(stream) if pkt.size > 0)
        return VideoInfo(
            codec=ctx.name,
            pix_fmt=str(ctx.pix_fmt),
            width=int(ctx.width),
            height=int(ctx.height),
            fps=_stream_fps(stream),
            num_frames=int(n),
        )


def read_video(
    path: str | os.PathLike[str], max_frames: int | None = None
) -> tuple[np.ndarray, float]:
    """Decode a video into ``(frames np.uint8 [T,H,W,3] RGB, fps)`` with PyAV.

    Args:
        path: any video FFmpeg decodes (mp4, webm, gif, avi ...).
        max_frames: stop after this many frames (``None`` = all).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: not a decodable video, no video stream, or no frames.
    """
    container, stream = _open_input(path)
    frames: list[np.ndarray] = []
    with container:
        try:
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))
                if max_frames is not None and len(frames) >= max_frames:
                    break
        except av.error.FFmpegError as err:
            raise ValueError(f"cannot decode video {str(path)!r}: {err}") from err
        fps = _stream_fps(stream)
    if not frames:
        raise ValueError(f"video {str(path)!r} contains no frames")
    return np.stack(frames), fps


def _natural_key(name: str) -> list[object]:
    # "frame_2.png" sorts before "frame_10.png".
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", name)]


def read_frames(directory: str | os.PathLike[str], max_side: int | None = 4096) -> np.ndarray:
    """Read every image in a folder, in natural name order, as ``np.uint8 [T,H,W,3]``.

    Files whose suffix is not an image suffix (:data:`vmc.io.images.IMAGE_SUFFIXES`) and hidden
    files are ignored.

    Raises:
        FileNotFoundError: the folder does not exist.
        ValueError: not a folder, no images in it, or images of different sizes (naming both).
    """
    d = Path(directory)
    if not d.exists():
        raise FileNotFoundError(f"frame folder not found: {str(d)!r}")
    if not d.is_dir():
        raise ValueError(f"expected a folder of frames, got the file {str(d)!r}")
    files = sorted(
        (
            f
            for f in d.iterdir()
            if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in IMAGE_SUFFIXES
        ),
        key=lambda f: _natural_key(f.name),
    )
    if not files:
        raise ValueError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in {str(d)!r}")
    frames = [read_image(f, max_side=max_side) for f in files]
    for f, frame in zip(files[1:], frames[1:], strict=True):
        if frame.shape != frames[0].shape:
            raise ValueError(
                f"{str(f)!r} is {frame.shape[1]}x{frame.shape[0]} but {str(files[0])!r} is "
                f"{frames[0].shape[1]}x{frames[0].shape[0]}; all frames must have the same size"
            )
    return np.stack(frames)
