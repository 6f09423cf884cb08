"""The SPIN regressor as the person fit's starting point (paper mode: ``--fit spin``).

iPERCore estimates SMPL with SPIN, then refines it with SMPLify against the keypoints
(``docs/spin.md``). Here the regressor gives each photo's pose, camera and shape
(:func:`vmc.lwg.spin.fit_person`: its 224 crop around the person, the camera re-expressed in the
subject's square crop), and :func:`vmc.subject.fit.fit_body` refines them with the same
keypoint, silhouette and prior terms as the embedded default (``BodyInit``), instead of its own
camera and yaw search.

Conventions: poses ``[N, 72]`` axis-angle in SMPL joint order with the root in the HMR image
frame (x right, y down, camera along +z); cameras ``(s, tx, ty)`` in each crop's NDC; the shape
is SPIN's 10 SMPL betas averaged over the photos (one person), padded with zeros or cut to the
body's count. No Lightning/Hydra imports.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from vmc.lwg.spin import SPINRegressor, fit_person
from vmc.subject.crop import SubjectCrop
from vmc.subject.detect import VISIBLE, PersonDetection
from vmc.subject.fit import BodyInit

__all__ = ["person_bbox", "spin_init"]


def person_bbox(detection: PersonDetection) -> tuple[float, float, float, float]:
    """The person's box ``(x0, y0, x1, y1)`` in photo pixels: the mask's extent (mask > 0.5),
    else the visible landmarks' (what SPIN's crop is centred on and scaled to).

    Raises:
        ValueError: neither a mask pixel nor a visible landmark.
    """
    ys, xs = np.nonzero(detection.mask > 0.5)
    if len(xs):
        return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)
    kp = detection.keypoints
    seen = kp[kp[:, 2] >= VISIBLE, :2]
    if not len(seen):
        raise ValueError("no person mask and no visible landmark to put SPIN's crop around")
    (x0, y0), (x1, y1) = seen.min(0), seen.max(0)
    return float(x0), float(y0), float(x1), float(y1)


@torch.no_grad()
def spin_init(
    model: SPINRegressor,
    photos: Sequence[np.ndarray],
    detections: Sequence[PersonDetection],
    crops: Sequence[SubjectCrop],
    num_betas: int,
) -> BodyInit:
    """SPIN's estimate for every photo, in the fit's conventions.

    Args:
        model: the regressor (:func:`vmc.lwg.spin.load_spin`), used in eval mode.
        photos: ``uint8 [H, W, 3]`` RGB photos; detections: their person detections;
            crops: their square crops (the cameras come out in these crops' NDC).
        num_betas: the body's shape coefficients (SPIN's 10 are padded or cut to it).

    Returns:
        :class:`~vmc.subject.fit.BodyInit` with ``poses [N, 72]``, ``cams [N, 3]``,
        ``betas [num_betas]``.
    """
    model.eval()
    poses, cams, betas = [], [], []
    for photo, detection, crop in zip(photos, detections, crops, strict=True):
        box = crop.box
        fit = fit_person(model, photo, person_bbox(detection), (box.x0, box.y0, box.side))
        poses.append(fit.pose.numpy())
        cams.append(fit.cam.numpy())
        betas.append(fit.betas.numpy())
    mean = np.mean(betas, axis=0)
    shape = np.zeros(num_betas, np.float32)
    k = min(num_betas, len(mean))
    shape[:k] = mean[:k]
    return BodyInit(
        poses=np.stack(poses).astype(np.float32),
        cams=np.stack(cams).astype(np.float32),
        betas=shape,
        source="spin",
    )
