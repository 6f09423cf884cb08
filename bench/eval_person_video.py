"""The person video measured by a pose detector, per example photo and library motion.

    python bench/eval_person_video.py [--size 256] [--motion library|text]

``--motion library`` (default) drives the person with the procedural library's clips;
``--motion text`` with what the embedded text → motion model makes of "a person raises both
arms", "a person squats" and "a person walks forward" (the walk with ``root_motion=follow``,
the travel then measured in the photo's own frame, ``framing=full``).

For each example photo: raise_arms (fraction of frames with both wrists above the shoulders,
mediapipe, and whether frame 0 has them down), squat (hip drop as a fraction of the person's
height; full-body photos), walk_circle with root_motion=follow (travel of the person's centre as
a fraction of the frame width), identity (worst per-frame L1 between the person's normalised
16-bin histograms of luminance and R, G, B and the photo's, averaged over the four; photo
against itself = 0, an untextured grey body ~1.7) and background stillness (max change of the
corner pixels over the clip).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from vmc.body.embedded import load_embedded_body
from vmc.io.stages import StageRequest
from vmc.motion.procedural import generate_motion
from vmc.motion.stage import select_motion_stage
from vmc.pipeline.video import VideoMotionCLIP
from vmc.subject.detect import PoseDetector, detect_person
from vmc.subject.prepare import prepare_subject

ROOT = Path(__file__).resolve().parents[1]
L_SHOULDER, R_SHOULDER, L_WRIST, R_WRIST, L_HIP, R_HIP = 11, 12, 15, 16, 23, 24


def landmarks(frames: np.ndarray, every: int = 3) -> list[np.ndarray | None]:
    out = []
    with PoseDetector() as det:
        for frame in frames[::every]:
            try:
                found = detect_person(np.ascontiguousarray(frame), det, warn=False,
                                      extra_passes=False)  # fmt: skip
                out.append(found.keypoints)
            except ValueError:
                out.append(None)
    return out


def histograms(pixels: np.ndarray) -> np.ndarray:
    lum = pixels @ np.array([0.299, 0.587, 0.114])
    parts = [np.histogram(c, bins=16, range=(0, 256))[0] for c in (lum, *pixels.T)]
    return np.stack([p / max(p.sum(), 1) for p in parts])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--motion", choices=("library", "text"), default="library")
    args = parser.parse_args()
    body = load_embedded_body()
    text = args.motion == "text"
    stage = select_motion_stage(StageRequest(motion="embedded")) if text else None
    pipe = VideoMotionCLIP(stage, body)
    # library action -> the prompt that asks for it (text mode)
    prompts = {
        "raise_arms": "a person raises both arms",
        "squat": "a person squats",
        "walk_forward": "a person walks forward",
        "wave": "a person waves",
    }
    header = ("photo", "arms up", "frame 0 down", "hip drop", "travel", "identity", "bg change")
    print(" | ".join(header))
    for name in ("person", "astronaut", "person2"):
        path = ROOT / "examples" / f"{name}.jpg"
        if not path.is_file():
            continue
        subject = prepare_subject([path], body, image_size=256, texture_size=256)

        def video(action: str, subject=subject, **kw):
            if text:
                asked = [prompts[action]]
                return pipe(subject, asked, num_frames=60, image_size=args.size, **kw)
            motion = generate_motion(action, 60, 30.0, 0).motion
            return pipe(subject, motion=motion, num_frames=60, image_size=args.size, **kw)

        arms = landmarks(video("raise_arms").frames)

        def up(k: np.ndarray | None) -> bool:
            if k is None:
                return False
            shoulders = min(k[L_SHOULDER, 1], k[R_SHOULDER, 1])
            return bool(k[L_WRIST, 1] < shoulders and k[R_WRIST, 1] < shoulders)

        ups = [up(k) for k in arms]
        squat = video("squat")
        marks = [k for k in landmarks(squat.frames) if k is not None]
        hips = np.array([(k[L_HIP, 1] + k[R_HIP, 1]) / 2 for k in marks])
        height = squat.alphas[0].any(1).sum()
        drop = (hips.max() - hips[0]) / height if len(hips) else float("nan")
        if text:  # walking forward: measured in the photo's own frame, which stays still
            walk = video("walk_forward", root_motion="follow", framing="full")
        else:
            walk = video("walk_circle", root_motion="follow")
        xs = [np.nonzero(a.any(0))[0].mean() for a in walk.alphas if a.any()]
        travel = (max(xs) - min(xs)) / walk.frames.shape[2]
        wave = video("wave")
        reference = histograms(subject.crops[0][subject.alphas[0] > 0.5].astype(float))
        identity = max(
            float(np.abs(histograms(f[a > 0.5].astype(float)) - reference).sum(1).mean())
            for f, a in zip(wave.frames, wave.alphas, strict=True)
        )
        corners = wave.frames[:, [0, 0, -1, -1], [0, -1, 0, -1]].astype(int)
        still = int(np.abs(corners - corners[0]).max())
        print(f"{name} | {np.mean(ups):.2f} | {not ups[0]} | {drop:.3f} | {travel:.2f} | "
              f"{identity:.3f} | {still}")  # fmt: skip


if __name__ == "__main__":
    main()
