"""The square person crop: the processed image of a subject and its map back to the photo.

A :class:`CropBox` is a square in photo pixels (it may reach past the photo; the outside is
padded) resampled to ``size x size``. Continuous pixel coordinates (pixel ``c`` covers
``[c, c+1)``) map as ``u_crop = (u_photo - x0) * size / side``. Cameras fitted in the crop's
NDC (``vmc.geometry.camera``) map back to the photo with :meth:`CropBox.cam_to_photo_pixels`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from vmc.subject.detect import VISIBLE, PersonDetection

__all__ = ["CropBox", "SubjectCrop", "crop_person", "crop_to_photo", "person_box"]


@dataclass(frozen=True)
class CropBox:
    """A square crop of a photo.

    Attributes:
        x0, y0: top-left corner in photo pixels (may be negative: padded).
        side: side of the square in photo pixels.
        size: side of the resampled crop in pixels.
    """

    x0: float
    y0: float
    side: float
    size: int

    @property
    def scale(self) -> float:
        """Crop pixels per photo pixel."""
        return self.size / self.side

    def photo_to_crop(self, uv: np.ndarray) -> np.ndarray:
        """Photo pixels ``[..., 2]`` -> crop pixels ``[..., 2]``."""
        return (np.asarray(uv, dtype=np.float64) - [self.x0, self.y0]) * self.scale

    def crop_to_photo(self, uv: np.ndarray) -> np.ndarray:
        """Crop pixels ``[..., 2]`` -> photo pixels ``[..., 2]``."""
        return np.asarray(uv, dtype=np.float64) / self.scale + [self.x0, self.y0]

    def cam_to_photo_pixels(self, cam: torch.Tensor) -> torch.Tensor:
        """Crop NDC camera ``[N, 3]`` -> photo pixel camera ``[N, 3]``.

        With the result ``(s_p, tx_p, ty_p)``, a body point ``(X, Y)`` lands at photo pixel
        ``u = s_p (X + tx_p)``, ``v = s_p (Y + ty_p)``. Derivation: ``u_crop = (x + 1) size/2``
        with ``x = s (X + tx)``, and ``u = x0 + u_crop side/size``; so ``s_p = s side/2`` and
        ``t_p = t + c / s_p`` where ``c`` is the box centre in photo pixels.
        """
        s_p = cam[:, :1] * (0.5 * self.side)
        centre = torch.tensor(
            [self.x0 + 0.5 * self.side, self.y0 + 0.5 * self.side],
            dtype=cam.dtype,
            device=cam.device,
        )
        return torch.cat([s_p, cam[:, 1:] + centre / s_p], dim=1)

    def as_array(self) -> np.ndarray:
        """``float64 [4]``: ``(x0, y0, side, size)`` (for saving next to the fit)."""
        return np.array([self.x0, self.y0, self.side, self.size], dtype=np.float64)


@dataclass
class SubjectCrop:
    """One photo prepared for the fit: the square crop and the detection in its pixels.

    Attributes:
        image: ``uint8 [S, S, 3]`` the crop (outside the photo: edge-replicated).
        mask: ``float32 [S, S]`` person probability (0 outside the photo).
        keypoints: ``float32 [33, 3]`` crop pixel x, y and visibility (landmarks outside the
            crop keep their coordinates; their visibility is zeroed).
        box: where the crop lies in the photo.
        warnings, flags: from the detection.
        valid: ``float32 [S, S]``, 1 where the crop shows the photo, 0 on the padding (where
            the person may continue unseen); None = all valid.
        candidates: ``float32 [K, 33, 3]`` the detection's landmark sets in crop pixels (row 0
            = ``keypoints``); None = only ``keypoints``.
        face_score: the detection's ``face_score`` (a face seen on the head: it faces the
            camera); None = not looked for.
    """

    image: np.ndarray
    mask: np.ndarray
    keypoints: np.ndarray
    box: CropBox
    warnings: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    valid: np.ndarray | None = None
    candidates: np.ndarray | None = None
    face_score: float | None = None

    @property
    def size(self) -> int:
        return int(self.image.shape[0])


def person_box(detection: PersonDetection, size: int = 512, margin: float = 0.1) -> CropBox:
    """The square around the person: mask and seen landmarks, plus ``margin`` on each side.

    Args:
        detection: from :func:`vmc.subject.detect.detect_person`.
        size: side of the crop in pixels.
        margin: extra room on every side as a fraction of the person's larger extent.
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    ys, xs = np.nonzero(detection.mask > 0.5)
    pts = [np.stack([xs, ys], 1).astype(np.float64) + 0.5] if xs.size else []
    seen = detection.visible
    if seen.any():
        pts.append(detection.keypoints[seen, :2].astype(np.float64))
    if not pts:
        raise ValueError("the detection has neither a mask nor a visible landmark")
    allp = np.concatenate(pts)
    lo, hi = allp.min(0), allp.max(0)
    side = float((hi - lo).max()) * (1.0 + 2.0 * margin)
    side = max(side, 8.0)
    centre = 0.5 * (lo + hi)
    return CropBox(
        x0=float(centre[0] - side / 2), y0=float(centre[1] - side / 2), side=side, size=size
    )


def _warp(
    img: np.ndarray, box: CropBox, interp: int, border: int, value: float = 0.0
) -> np.ndarray:
    m = np.array([[box.scale, 0.0, -box.x0 * box.scale], [0.0, box.scale, -box.y0 * box.scale]])
    # Area-averaging matters when shrinking a large photo; warpAffine samples point-wise.
    if box.scale < 0.5:
        f = box.scale * 2
        small = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        m = np.array(
            [[box.scale / f, 0.0, -box.x0 * box.scale], [0.0, box.scale / f, -box.y0 * box.scale]]
        )
        # Pixel centres: u_small + 0.5 = f (u + 0.5); the half-pixel shift is below a crop pixel.
        img = small
    return cv2.warpAffine(
        img, m, (box.size, box.size), flags=interp, borderMode=border, borderValue=value
    )


def crop_to_photo(
    image: np.ndarray, box: CropBox, photo_hw: tuple[int, int], interp: int = cv2.INTER_LINEAR
) -> np.ndarray:
    """A crop resampled back into its photo's frame (the inverse of :func:`crop_person`).

    Args:
        image: ``[S, S]`` or ``[S, S, C]`` in the crop's pixels; ``S`` may differ from
            ``box.size`` (the crop at another resolution: same square, same NDC).
        box: where the crop lies in the photo.
        photo_hw: ``(H, W)`` of the photo.

    Returns:
        ``[H, W]`` or ``[H, W, C]`` of ``image``'s dtype; 0 where the photo lies outside the box.
    """
    size = image.shape[0]
    s = size / box.side  # crop pixels per photo pixel
    # photo pixel -> crop pixel: u_c = (u - x0) * s (inverse map of the warp)
    matrix = np.array([[s, 0, -box.x0 * s], [0, s, -box.y0 * s]], np.float64)
    h, w = int(photo_hw[0]), int(photo_hw[1])
    return cv2.warpAffine(
        np.ascontiguousarray(image), matrix, (w, h), flags=interp | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT, borderValue=0,
    )  # fmt: skip


def crop_person(
    image: np.ndarray, detection: PersonDetection, box: CropBox | None = None, **box_kw: object
) -> SubjectCrop:
    """Cut the square person crop out of a photo and move the detection into it.

    Args:
        image: RGB ``uint8 [H, W, 3]``, the photo the detection was made on.
        detection: its :class:`PersonDetection`.
        box: the crop (default :func:`person_box` with ``**box_kw``: ``size``, ``margin``).

    Returns:
        :class:`SubjectCrop`.
    """
    box = person_box(detection, **box_kw) if box is None else box  # type: ignore[arg-type]
    crop = _warp(np.ascontiguousarray(image), box, cv2.INTER_LINEAR, cv2.BORDER_REPLICATE)
    mask = _warp(detection.mask.astype(np.float32), box, cv2.INTER_LINEAR, cv2.BORDER_CONSTANT)
    ones = np.ones(detection.mask.shape, np.float32)
    valid = _warp(ones, box, cv2.INTER_LINEAR, cv2.BORDER_CONSTANT)
    h, w = detection.image_size

    def to_crop(k: np.ndarray) -> np.ndarray:
        k = k.astype(np.float32).copy()
        x, y = k[:, 0], k[:, 1]
        outside = (x < 0) | (x >= w) | (y < 0) | (y >= h)
        k[:, :2] = box.photo_to_crop(k[:, :2])
        k[outside | (k[:, 2] < VISIBLE), 2] = 0.0  # unseen: no say in the fit
        return k

    kp = to_crop(detection.keypoints)
    cands = detection.candidates
    cands = None if cands is None else np.stack([to_crop(c) for c in cands])
    return SubjectCrop(
        image=crop,
        mask=np.clip(mask, 0.0, 1.0).astype(np.float32),
        keypoints=kp,
        box=box,
        warnings=list(detection.warnings),
        flags=set(detection.flags),
        valid=valid,
        candidates=cands,
        face_score=detection.face_score,
    )
