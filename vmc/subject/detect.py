"""Person detection: mediapipe's BlazePose landmarks and person segmentation on one photo.

mediapipe==0.10.14 ships the pose landmark model (complexity 1) and the segmentation head inside
its wheel, so nothing is downloaded. It is imported lazily in :class:`PoseDetector`: it is a
heavy optional dependency (TFLite runtime, protobuf) that only this step needs, and importing it
at module top would slow down every ``import vmc.subject``.

Frames: keypoints are continuous pixel coordinates of the photo (x right, y down; pixel ``c``
covers ``[c, c+1)``), mediapipe's normalised ``(x, y)`` times ``(W, H)``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from vmc.io.images import check_rgb_image
from vmc.subject.keypoint_map import LANDMARK_FLIP, MEDIAPIPE_LANDMARK_NAMES, NUM_LANDMARKS

__all__ = [
    "LEG_LANDMARKS",
    "NoPersonError",
    "PersonDetection",
    "PoseDetector",
    "SubjectWarning",
    "detect_person",
    "detection_warnings",
    "face_score",
    "head_box",
]

VISIBLE = 0.5
"""A landmark counts as seen when mediapipe's visibility is at least this."""

LEG_LANDMARKS = tuple(
    MEDIAPIPE_LANDMARK_NAMES.index(n)
    for n in ("left_knee", "right_knee", "left_ankle", "right_ankle")
)
"""Landmarks whose absence makes a photo "upper body only"."""

_FACE = tuple(range(11))
_SHOULDERS = (11, 12)
_EXTREMITIES = tuple(
    MEDIAPIPE_LANDMARK_NAMES.index(n)
    for n in ("nose", "left_wrist", "right_wrist", "left_ankle", "right_ankle")
)


class NoPersonError(ValueError):
    """No person was found in a photo."""


class SubjectWarning(UserWarning):
    """A photo is usable but not ideal (person cut by the border, upper body only, back view)."""


@dataclass
class PersonDetection:
    """One person found in a photo.

    Attributes:
        keypoints: ``float32 [33, 3]``: pixel ``x``, pixel ``y`` (photo frame, y down) and
            mediapipe's visibility in [0, 1], in :data:`MEDIAPIPE_LANDMARK_NAMES` order.
        mask: ``float32 [H, W]`` person probability in [0, 1].
        image_size: ``(H, W)`` of the photo.
        warnings: human-readable notes (also emitted as :class:`SubjectWarning`).
        flags: machine-readable versions of the warnings: subset of
            ``{"cut_by_border", "upper_body", "back_view"}``.
        candidates: ``float32 [K, 33, 3]`` landmark sets from the detector's other passes
            (row 0 = ``keypoints``; then the mirrored photo, then a re-detection on the
            person's square crop), same frame and order. mediapipe sometimes collapses or
            mislabels limbs on one view of a person and not on another; the fit tries every
            set and keeps the one the body explains best.
        face_score: mediapipe's face detector (BlazeFace) on a square around the head: the
            best score of a face found there, 0 when none (a view from behind, a covered face;
            a profile may or may not be found); None when not run. A face seen means the head
            faces the camera or shows its profile, whatever the landmarks' left/right labels
            say: mediapipe sometimes labels a person who faces the camera as seen from behind
            (all sides exchanged), a depth mirror that landmarks and silhouette cannot tell
            apart (:mod:`vmc.subject.fit`).
    """

    keypoints: np.ndarray
    mask: np.ndarray
    image_size: tuple[int, int]
    warnings: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    candidates: np.ndarray | None = None
    face_score: float | None = None

    @property
    def visible(self) -> np.ndarray:
        """``bool [33]``: visibility >= 0.5 and inside the photo."""
        h, w = self.image_size
        x, y, vis = self.keypoints.T
        return (vis >= VISIBLE) & (x >= 0) & (x < w) & (y >= 0) & (y < h)


class PoseDetector:
    """A reusable mediapipe Pose (static images, model complexity 1, with segmentation) and,
    created on first use, mediapipe's short-range face detector (also inside the wheel).

    Creating the graph takes ~0.1 s; reuse one detector for many photos. Not thread-safe.
    """

    def __init__(self, min_detection_confidence: float = 0.5) -> None:
        try:
            import mediapipe as mp  # heavy optional dependency: imported only when detecting
        except ImportError as e:  # pragma: no cover - mediapipe is a declared dependency
            raise ImportError(
                "person detection needs mediapipe==0.10.14 (pip install mediapipe==0.10.14)"
            ) from e
        # Complexity 1 is the only landmark model inside the 0.10.14 wheel (2 would download).
        self._pose: Any = mp.solutions.pose.Pose(
            static_image_mode=True,
            model_complexity=1,
            enable_segmentation=True,
            min_detection_confidence=float(min_detection_confidence),
        )
        self._mp = mp
        self._face: Any = None

    def __call__(self, image: np.ndarray) -> Any:
        """mediapipe's raw result for an RGB ``uint8 [H, W, 3]`` image."""
        return self._pose.process(np.ascontiguousarray(image))

    def face_scores(self, image: np.ndarray) -> list[tuple[float, float, float]]:
        """Faces found by the short-range face detector in an RGB ``uint8`` image:
        ``(score, x, y)`` per face, ``(x, y)`` the box centre in [0, 1] of the image."""
        if self._face is None:
            self._face = self._mp.solutions.face_detection.FaceDetection(
                model_selection=0, min_detection_confidence=0.3
            )
        res = self._face.process(np.ascontiguousarray(image))
        out = []
        for d in res.detections or []:
            b = d.location_data.relative_bounding_box
            out.append((float(d.score[0]), b.xmin + 0.5 * b.width, b.ymin + 0.5 * b.height))
        return out

    def close(self) -> None:
        self._pose.close()
        if self._face is not None:
            self._face.close()

    def __enter__(self) -> PoseDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def detection_warnings(
    keypoints: np.ndarray, mask: np.ndarray, border_px: int = 2
) -> tuple[list[str], set[str]]:
    """Warnings about a detection: person cut by the border, upper body only, back view.

    Args:
        keypoints: ``[33, 3]`` pixel x, y and visibility.
        mask: ``[H, W]`` person probability.
        border_px: width of the border band checked for mask pixels.

    Returns:
        ``(messages, flags)``.
    """
    h, w = mask.shape
    x, y, vis = keypoints.T
    inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    seen = (vis >= VISIBLE) & inside
    messages: list[str] = []
    flags: set[str] = set()

    person = mask > 0.5
    band = np.zeros_like(person)
    b = max(int(border_px), 1)
    band[:b], band[-b:], band[:, :b], band[:, -b:] = True, True, True, True
    # A few stray border pixels are segmentation noise; a real cut leaves a run of them.
    touching = int((person & band).sum()) > 4 * b
    lost = [MEDIAPIPE_LANDMARK_NAMES[i] for i in _EXTREMITIES if not inside[i]]
    if touching or lost:
        flags.add("cut_by_border")
        extra = f" (outside: {', '.join(lost)})" if lost else ""
        messages.append(f"the person is cut by the image border{extra}")
    if not seen[list(LEG_LANDMARKS)].any():
        flags.add("upper_body")
        messages.append("only the upper body is visible: the legs are kept in a standing pose")
    # Back view: shoulders clearly seen but the face not. (mediapipe always names sides as if
    # the person faced the camera, so the shoulders' left/right order alone cannot tell.)
    if vis[list(_SHOULDERS)].min() >= 0.8 and vis[list(_FACE)].mean() < 0.5:
        flags.add("back_view")
        messages.append("the face is not visible: this may be a view from behind")
    return messages, flags


def _landmarks(result: Any, w: int, h: int) -> np.ndarray | None:
    """mediapipe's landmarks as ``[33, 3]`` pixel x, y, visibility (None: no person)."""
    if result.pose_landmarks is None:
        return None
    lm = result.pose_landmarks.landmark
    if len(lm) != NUM_LANDMARKS:  # pragma: no cover - mediapipe's fixed topology
        raise RuntimeError(f"expected {NUM_LANDMARKS} landmarks, got {len(lm)}")
    return np.array([[p.x * w, p.y * h, p.visibility] for p in lm], dtype=np.float32)


def _extra_passes(img: np.ndarray, kp: np.ndarray, mask: np.ndarray, det: PoseDetector) -> list:
    """Landmark sets from the mirrored photo and from a square crop around the person."""
    h, w = img.shape[:2]
    out = []
    mirrored = _landmarks(det(np.ascontiguousarray(img[:, ::-1])), w, h)
    if mirrored is not None:
        # Undo the mirror: x -> W - x, and the person's left is the mirror image's right.
        mirrored = mirrored[list(LANDMARK_FLIP)]
        mirrored[:, 0] = w - mirrored[:, 0]
    out.append(mirrored)
    ys, xs = np.nonzero(mask > 0.5)
    lo, hi = np.array([xs.min(), ys.min()], float), np.array([xs.max(), ys.max()], float) + 1
    side = float((hi - lo).max()) * 1.5  # generous margin: mediapipe likes context
    x0, y0 = 0.5 * (lo + hi) - side / 2
    size = 384
    k = size / side
    m = np.array([[k, 0.0, -x0 * k], [0.0, k, -y0 * k]])
    crop = cv2.warpAffine(
        img, m, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )
    cropped = _landmarks(det(crop), size, size)
    if cropped is not None:
        cropped[:, :2] = cropped[:, :2] / k + [x0, y0]
    out.append(cropped)
    return [kp if c is None else c for c in out]


def head_box(keypoints: np.ndarray) -> tuple[float, float, float]:
    """``(x0, y0, side)``: a square around the head from the landmarks (photo pixels), about
    2.5 head widths wide, for the face detector (trained on faces filling much of a frame).

    The head's size comes from the ears' distance, the shoulders' width and the nose's
    distance to the shoulders' midpoint (the largest: one of them shrinks in a side view).
    """
    k = np.asarray(keypoints, np.float64)
    centre = k[list(_FACE), :2].mean(0)
    shoulders = k[list(_SHOULDERS), :2]
    size = max(
        2.5 * float(np.linalg.norm(k[7, :2] - k[8, :2])),
        1.2 * float(np.linalg.norm(shoulders[0] - shoulders[1])),
        2.0 * float(np.linalg.norm(k[0, :2] - shoulders.mean(0))),
        32.0,
    )
    return float(centre[0] - size / 2), float(centre[1] - size / 2), size


def face_score(image: np.ndarray, keypoints: np.ndarray, detector: PoseDetector) -> float:
    """The best score of a face found around the landmarks' head (0: none).

    The head square (:func:`head_box`) is resampled to 192 px; a face counts only when its box
    centre lies in the square's middle half (the head, not a face printed on a shirt).
    """
    x0, y0, side = head_box(keypoints)
    n = 192
    k = n / side
    m = np.array([[k, 0.0, -x0 * k], [0.0, k, -y0 * k]])
    head = cv2.warpAffine(image, m, (n, n), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    scores = [
        s for s, x, y in detector.face_scores(head) if abs(x - 0.5) < 0.25 and abs(y - 0.5) < 0.25
    ]
    return max(scores, default=0.0)


def detect_person(
    image: np.ndarray,
    detector: PoseDetector | None = None,
    *,
    warn: bool = True,
    extra_passes: bool = True,
    face: bool = True,
) -> PersonDetection:
    """Find the person in a photo: 33 landmarks and a soft person mask.

    Args:
        image: RGB ``uint8 [H, W, 3]`` (e.g. from :func:`vmc.io.images.read_image`).
        detector: a reusable :class:`PoseDetector` (one is created and closed when None).
        warn: also emit the detection's warnings as :class:`SubjectWarning`.
        extra_passes: also detect on the mirrored photo and on the person's crop
            (``candidates``; ~0.1 s each).
        face: also look for a face around the head (``face_score``; a few ms).

    Returns:
        :class:`PersonDetection` (keypoints in photo pixels).

    Raises:
        NoPersonError: no person found.
        ValueError: not an RGB uint8 image.
    """
    img = check_rgb_image(image)
    h, w = img.shape[:2]
    own = detector is None
    det = PoseDetector() if own else detector
    try:
        result = det(img)
        kp = _landmarks(result, w, h)
        if kp is None:
            raise NoPersonError(f"no person found in the {w}x{h} image")
        if result.segmentation_mask is not None:
            mask = np.clip(np.asarray(result.segmentation_mask, dtype=np.float32), 0.0, 1.0)
        else:  # pragma: no cover - segmentation is enabled above
            mask = np.zeros((h, w), np.float32)
        if float((mask > 0.5).sum()) < 16:
            raise NoPersonError(f"no person found in the {w}x{h} image (empty person mask)")
        extra = _extra_passes(img, kp, mask, det) if extra_passes else []
        seen_face = face_score(img, kp, det) if face else None
    finally:
        if own:
            det.close()
    messages, flags = detection_warnings(kp, mask)
    if warn:
        for m in messages:
            warnings.warn(m, SubjectWarning, stacklevel=2)
    return PersonDetection(
        keypoints=kp,
        mask=mask,
        image_size=(h, w),
        warnings=messages,
        flags=flags,
        candidates=np.stack([kp, *extra]).astype(np.float32),
        face_score=seen_face,
    )
