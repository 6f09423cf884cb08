"""The person pipeline, measured: a pose detector sees the motion, identity and background hold.

Library clips (``vmc.motion.procedural``) drive the pipeline, so these checks do not depend on
the text → motion model. mediapipe (the embedded default's detector) reads the output frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vmc.body.embedded import load_embedded_body
from vmc.io.images import read_image
from vmc.motion.procedural import generate_motion
from vmc.pipeline.video import VideoMotionCLIP
from vmc.subject.detect import PoseDetector, detect_person
from vmc.subject.prepare import prepare_subject

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SIZE = 256
# mediapipe landmark indices
L_SHOULDER, R_SHOULDER, L_WRIST, R_WRIST, L_HIP, R_HIP = 11, 12, 15, 16, 23, 24


@pytest.fixture(scope="module")
def body():
    return load_embedded_body()


@pytest.fixture(scope="module")
def subjects(body):
    return {
        name: prepare_subject([EXAMPLES / f"{name}.jpg"], body, image_size=SIZE, texture_size=256)
        for name in ("person", "astronaut")
    }


def _video(body, subject, action, **kw):
    motion = generate_motion(action, 60, 30.0, 0).motion
    pipe = VideoMotionCLIP(None, body)
    return pipe(subject, motion=motion, num_frames=60, fps=30.0, image_size=SIZE, **kw)


def _landmarks(frames: np.ndarray, every: int = 5) -> list[np.ndarray | None]:
    out = []
    with PoseDetector() as det:
        for frame in frames[::every]:
            try:
                out.append(
                    detect_person(
                        np.ascontiguousarray(frame), det, warn=False, extra_passes=False
                    ).keypoints
                )
            except ValueError:
                out.append(None)
    return out


def _arms_up(kp: np.ndarray | None) -> bool:
    if kp is None:
        return False
    shoulders = min(kp[L_SHOULDER, 1], kp[R_SHOULDER, 1])
    return bool(kp[L_WRIST, 1] < shoulders and kp[R_WRIST, 1] < shoulders)


@pytest.mark.parametrize("name", ["person", "astronaut"])
def test_raised_arms_are_seen_by_a_pose_detector(body, subjects, name):
    video = _video(body, subjects[name], "raise_arms")
    marks = _landmarks(video.frames)
    up = [_arms_up(k) for k in marks]
    assert not up[0], "arms must start down"
    assert np.mean(up) >= 0.3, up


def test_squat_drops_the_hips(body, subjects):
    video = _video(body, subjects["person"], "squat")
    marks = [k for k in _landmarks(video.frames, every=3) if k is not None]
    hips = np.array([(k[L_HIP, 1] + k[R_HIP, 1]) / 2 for k in marks])
    height = video.alphas[0].any(1).sum()  # the person's height in pixels at frame 0
    assert (hips.max() - hips[0]) / height >= 0.10


def test_background_is_still_and_is_the_photo(body, subjects):
    subject = subjects["person"]
    video = _video(body, subject, "jumping_jacks", framing="full")
    corners = video.frames[:, [0, 0, -1, -1], [0, -1, 0, -1]].astype(int)  # [T, 4, 3]
    assert (corners == corners[0]).all()  # the same pixels in every frame
    photo = np.asarray(
        Image.fromarray(subject.photos[0]).resize((SIZE, SIZE), Image.Resampling.BOX)
    ).astype(int)
    own = photo[[0, 0, -1, -1], [0, -1, 0, -1]]
    assert np.abs(corners[0] - own).max() <= 3  # full framing: the photo's own corners


def _hist(pixels: np.ndarray) -> np.ndarray:
    """Normalised 16-bin histograms of luminance and each colour channel: ``[4, 16]``."""
    lum = pixels @ np.array([0.299, 0.587, 0.114])
    parts = [np.histogram(c, bins=16, range=(0, 256))[0] for c in (lum, *pixels.T)]
    return np.stack([p / max(p.sum(), 1) for p in parts])


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """L1 between normalised histograms (in [0, 2]), averaged over luminance and R, G, B."""
    return float(np.abs(a - b).sum(1).mean())


def test_identity_holds_in_every_frame(body, subjects):
    subject = subjects["person"]
    video = _video(body, subject, "wave")
    photo_mask = subject.alphas[0] > 0.5
    reference = _hist(subject.crops[0][photo_mask].astype(float))
    distances = []
    for frame, alpha in zip(video.frames[::6], video.alphas[::6], strict=True):
        distances.append(_distance(_hist(frame[alpha > 0.5].astype(float)), reference))
    assert max(distances) <= 0.5, distances
    grey = np.full((1000, 3), 128.0)  # an untextured grey body scores far worse
    assert _distance(_hist(grey), reference) > 1.0


def test_crop_framing_keeps_raised_hands_in_view(body, subjects):
    video = _video(body, subjects["person"], "raise_arms", framing="crop")
    assert video.frames.shape[1:3] == (SIZE, SIZE)
    # no person pixel touches the top edge: the frame was widened over the whole motion
    assert video.alphas[:, 0, :].max() < 0.5


def test_no_person_photo_is_a_clear_error(body):
    sky = np.zeros((200, 200, 3), np.uint8)
    sky[:] = np.linspace(60, 200, 200)[:, None, None]
    with pytest.raises(ValueError, match="photo 0"):
        prepare_subject([sky], body, image_size=128, texture_size=128)


def test_tiny_photo_says_the_minimum(body, tmp_path):
    with pytest.raises(ValueError, match="at least 64 pixels"):
        prepare_subject([np.zeros((10, 10, 3), np.uint8)], body)


def test_read_photo_fixture_exists():
    assert read_image(EXAMPLES / "astronaut.jpg").shape[2] == 3


def test_residual_pixels_follow_their_vertex():
    """A residual pixel attached to a vertex moves by that vertex's displacement."""
    from vmc.pipeline.residual import Residual, render_residual
    from vmc.subject.crop import CropBox

    residual = Residual(
        photo_xy=np.array([[10.5, 20.5]], np.float32),
        colour=np.array([[250, 10, 10]], np.uint8),
        alpha=np.ones(1, np.float32),
        vertex=np.array([1]),
        vertex_photo_xy=np.array([[0, 0], [12, 22]], np.float32),
        pixel_size=1.0,
    )
    moved = np.array([[[0, 0], [12, 22]], [[0, 0], [17, 25]]], np.float32)  # +5, +3 at frame 1
    rgb, alpha = render_residual(residual, moved, CropBox(0, 0, 64, 64))
    assert alpha[0, 20, 10] == 1 and alpha[1, 23, 15] == 1 and alpha[1, 20, 10] == 0
    assert tuple(rgb[1, 23, 15]) == (250, 10, 10)


def test_hair_is_kept_not_erased(body, subjects):
    """The astronaut's hair and suit beyond the naked body are carried along (the residual)."""
    from vmc.pipeline.residual import residual_of

    residual = residual_of(subjects["astronaut"], body)
    assert residual.num_pixels > 500
    video = _video(body, subjects["astronaut"], "raise_arms")
    without = VideoMotionCLIP(None, body, keep_residual=False)(
        subjects["astronaut"], motion=generate_motion("raise_arms", 60, 30.0, 0).motion,
        num_frames=60, fps=30.0, image_size=SIZE,
    )  # fmt: skip
    assert (video.alphas[0] > 0.5).sum() > 1.1 * (without.alphas[0] > 0.5).sum()


@pytest.mark.gpu
def test_rendering_on_cuda_matches_the_cpu(body, subjects):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    motion = generate_motion("wave", 8, 30.0, 0).motion
    kw = {"motion": motion, "num_frames": 8, "fps": 30.0, "image_size": 128}
    cpu = VideoMotionCLIP(None, body)(subjects["person"], **kw)
    gpu = VideoMotionCLIP(None, body, device="cuda")(subjects["person"], **kw)
    # rasterization ties may fall differently on another device: compare the bulk of pixels
    assert (np.abs(cpu.frames.astype(int) - gpu.frames.astype(int)) > 8).mean() < 0.01


def test_blend_in_starts_from_the_photo(body, subjects):
    """With blend_in, frame 0 is the photo's pose and the motion takes over after it."""
    from vmc.pipeline.retarget import retarget

    subject = subjects["person"]
    motion = generate_motion("raise_arms", 30, 30.0, 0).motion
    args = (motion, body, subject.betas, subject.poses[0], subject.cams[0])
    plain = retarget(*args)
    blended = retarget(*args, blend_in=10)
    np.testing.assert_allclose(blended.poses[0], subject.poses[0], atol=1e-4)
    np.testing.assert_allclose(blended.poses[10:], plain.poses[10:], atol=1e-5)
    assert np.abs(blended.poses[5] - plain.poses[5]).max() > 1e-3  # in between: a blend


def test_a_generator_renders_the_person(body, subjects):
    """appearance=lwg: the generator (tiny, random weights here) re-renders the subject; the
    pipeline's plumbing (sources encoded once, targets in batches, composite) is what is tested."""
    import torch

    from vmc.lwg.generator import AttentionLWBGenerator

    torch.manual_seed(0)
    generator = AttentionLWBGenerator(
        bg_filters=(4, 8, 8, 16), src_filters=(4, 8, 16), tsf_filters=(4, 8, 16), spade_hidden=8
    ).eval()
    pipe = VideoMotionCLIP(None, body, generator=generator)
    motion = generate_motion("wave", 10, 30.0, 0).motion
    out = pipe(subjects["person"], motion=motion, num_frames=10, fps=30.0, image_size=96)
    assert out.frames.shape == (10, 96, 96, 3)
    corners = out.frames[:, [0, 0, -1, -1], [0, -1, 0, -1]].astype(int)
    # The background plate is still composited under. The random generator's receptive field
    # spans the 96 px frame and its attention is ~0.5 everywhere, so the body's motion moves
    # a corner by up to a rounding step: one level, not the person.
    assert np.abs(corners - corners[0]).max() <= 2
    with pytest.raises(ValueError, match="multiples of"):
        pipe(subjects["person"], motion=motion, num_frames=10, fps=30.0, image_size=90)


def test_bgnet_background_is_deterministic_and_the_same_in_every_frame(body, subjects):
    """``background="bgnet"``: the generator's BGNet fills the person region of the photo (tiny,
    random weights). Its attention is set to "background everywhere" so that the frames show
    the plate alone: the same pixels in every frame, the same in two runs, BGNet's pixels (not
    the inpainted ones) where the person stood, and the photo's own pixels elsewhere."""
    import torch

    from vmc.lwg.generator import AttentionLWBGenerator

    class AllBackground(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.ones_like(x)

    torch.manual_seed(0)
    generator = AttentionLWBGenerator(
        bg_filters=(4, 8, 8, 16), src_filters=(4, 8, 16), tsf_filters=(4, 8, 16), spade_hidden=8
    ).eval()
    generator.tsf_att_reg[1] = AllBackground()  # mask 1 = background: no person drawn
    subject = subjects["person"]
    motion = generate_motion("wave", 6, 30.0, 0).motion
    kw = dict(motion=motion, num_frames=6, fps=30.0, image_size=96, framing="full")

    def video(background: str) -> np.ndarray:
        pipe = VideoMotionCLIP(
            None, body, generator=generator, background=background, keep_residual=False
        )
        return pipe(subject, **kw).frames

    bgnet = video("bgnet")
    np.testing.assert_array_equal(bgnet, video("bgnet"))  # deterministic
    assert (bgnet == bgnet[0]).all()  # the same background pixels in every frame
    inpainted = video("plate")
    differ = np.abs(bgnet[0].astype(int) - inpainted[0].astype(int)).max(-1) > 0
    assert differ.mean() > 0.02  # BGNet's pixels where the person stood
    ys, xs = np.nonzero(differ)
    h, w = differ.shape
    assert ys.min() > 0.05 * h and xs.min() > 0.05 * w and xs.max() < 0.95 * w  # only there
    with pytest.raises(ValueError, match="needs a generator"):
        VideoMotionCLIP(None, body, background="bgnet")


def test_subject_parts_are_built_once_per_subject(body, subjects, monkeypatch):
    """Two videos of one subject: the residual layer and the renderer are built once."""
    import vmc.pipeline.video as video_module

    calls = []
    real = video_module.residual_of
    monkeypatch.setattr(video_module, "residual_of", lambda *a: calls.append(1) or real(*a))
    pipe = VideoMotionCLIP(None, body)
    motion = generate_motion("wave", 6, 30.0, 0).motion
    for _ in range(2):
        pipe(subjects["person"], motion=motion, num_frames=6, fps=30.0, image_size=64)
    assert len(calls) == 1
    pipe(subjects["astronaut"], motion=motion, num_frames=6, fps=30.0, image_size=64)
    assert len(calls) == 2
    # A long-lived pipeline keeps a bounded number of subjects (least recently used dropped).
    monkeypatch.setattr(video_module, "SUBJECTS_KEPT", 1)
    pipe = VideoMotionCLIP(None, body)
    for name in ("person", "astronaut", "person"):
        pipe(subjects[name], motion=motion, num_frames=6, fps=30.0, image_size=64)
    assert len(calls) == 5 and len(pipe._per_subject) == 1  # the person's parts were dropped
