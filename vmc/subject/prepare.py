"""From a person's photos to a prepared :class:`Subject`: fit, cut-out, background, texture.

Steps for ``N`` photos of one person (each a separate, tested unit of ``vmc.subject``):

1. detect the person (mediapipe landmarks + mask; :func:`vmc.subject.detect.detect_person`);
2. cut a square crop around them (:func:`vmc.subject.crop.crop_person`);
3. fit the body: shared betas, per-photo pose and camera (:func:`vmc.subject.fit.fit_body`),
   from the SPIN regressor's estimate when one is given (paper mode, :mod:`vmc.subject.regress`),
   else from the fit's own camera and yaw search;
4. soft person alpha from the mask, guided by the fitted silhouette (:mod:`vmc.subject.cutout`);
5. background plate: the user's clean photo, else the photo with the person inpainted
   (:mod:`vmc.subject.background`), for photo 0, in the crop and in the photo's own frame;
6. UV texture of the body from every photo, unseen texels filled (:mod:`vmc.subject.texture`).

A :class:`Subject` is what the video pipeline animates and what a subject folder stores
(``vmc.subject.folder``). No file is read or written here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vmc.io.images import check_rgb_image, read_image
from vmc.lwg.spin import SPINRegressor
from vmc.render.body_render import render_smpl_params
from vmc.render.shading import face_normals
from vmc.subject.background import background_plate
from vmc.subject.crop import CropBox, crop_person, crop_to_photo
from vmc.subject.cutout import person_alpha
from vmc.subject.detect import PersonDetection, PoseDetector, detect_person
from vmc.subject.fit import FitConfig, PhotoReport, fit_body
from vmc.subject.regress import spin_init
from vmc.subject.texture import SubjectTexture, TextureAtlas, texture_from_photos
from vmc.utils.timing import StepTimer

__all__ = ["MIN_PHOTO_SIDE", "Subject", "check_photo", "fitted_overlay", "prepare_subject"]

#: Photos smaller than this (shorter side, pixels) carry too little of a person to fit.
MIN_PHOTO_SIDE = 64


@dataclass
class Subject:
    """A prepared person (all arrays in memory).

    Attributes:
        name: the subject's name.
        body_kind: the body model the parameters belong to (``"embedded"``, ``"smpl"``).
        photos: the original photos, ``uint8 [H_i, W_i, 3]`` each.
        crops: ``uint8 [N, S, S, 3]`` square person crops (``S = image_size``).
        alphas: ``float32 [N, S, S]`` soft person alpha of each crop (1 = person).
        boxes: where each crop lies in its photo.
        betas: ``float32 [nb]`` the shared shape.
        poses: ``float32 [N, 72]`` axis-angle, root in the HMR image frame (x right, y down,
            camera along +z).
        cams: ``float32 [N, 3]`` weak-perspective ``(s, tx, ty)`` in each crop's NDC.
        background: ``uint8 [S, S, 3]`` clean plate behind photo 0's crop.
        background_photo: ``uint8 [H_0, W_0, 3]`` clean plate of photo 0 in its own frame.
        texture: the body's UV texture (:class:`~vmc.subject.texture.SubjectTexture`).
        reports: one fit report per photo (landmarks, losses, warnings).
        timings: seconds per preparation step.
        settings: how it was prepared (plain JSON values: ``fit`` method, ``fit_config``,
            ``background`` = ``"clean photo"`` or ``"inpainted"``, ``texture_size``, the photos'
            ``photo_files`` names when they were given as paths).
    """

    name: str
    body_kind: str
    photos: list[np.ndarray]
    crops: np.ndarray
    alphas: np.ndarray
    boxes: list[CropBox]
    betas: np.ndarray
    poses: np.ndarray
    cams: np.ndarray
    background: np.ndarray
    background_photo: np.ndarray
    texture: SubjectTexture
    reports: list[PhotoReport] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def image_size(self) -> int:
        """Side ``S`` of the square crops."""
        return int(self.crops.shape[1])

    @property
    def num_photos(self) -> int:
        return int(self.crops.shape[0])

    @property
    def warnings(self) -> list[str]:
        """Every fit warning, prefixed with the photo it concerns."""
        return [f"photo {i}: {w}" for i, r in enumerate(self.reports) for w in r.warnings]

    def preview(self, body: torch.nn.Module) -> np.ndarray:
        """Each crop beside the fitted body shaded over it: ``uint8 [N*S, 2*S, 3]``."""
        rows = [
            np.concatenate([crop, fitted_overlay(body, self.betas, pose, cam, crop)], axis=1)
            for crop, pose, cam in zip(self.crops, self.poses, self.cams, strict=True)
        ]
        return np.concatenate(rows, axis=0)


def fitted_overlay(
    body: torch.nn.Module, betas: np.ndarray, pose: np.ndarray, cam: np.ndarray, crop: np.ndarray
) -> np.ndarray:
    """The fitted body (``pose [72]``, ``cam [3]``) shaded over ``crop uint8 [S, S, 3]``."""
    size = crop.shape[0]
    points, frags = render_smpl_params(
        body,
        torch.as_tensor(betas).float().reshape(1, -1),
        torch.as_tensor(pose).float().reshape(1, 72),
        torch.as_tensor(cam).float().reshape(1, 3),
        size,
    )
    # Lambert towards the camera (-z): a face turned away is dark, so a body fitted facing
    # away from the photo shows at once.
    light = (-face_normals(points, body.faces)[0][:, 2]).clamp(0, 1) * 0.7 + 0.3
    fim = frags.fim[0]
    covered = (fim >= 0).numpy()
    colour = np.array([0.55, 0.7, 1.0]) * light[fim.clamp(min=0)].numpy()[..., None]
    img = crop.astype(np.float32) / 255
    out = img.copy()
    out[covered] = 0.3 * img[covered] + 0.7 * colour[covered]
    return (out * 255 + 0.5).clip(0, 255).astype(np.uint8)


def check_photo(photo: np.ndarray, label: str = "photo") -> np.ndarray:
    """``photo`` if it is an RGB ``uint8 [H, W, 3]`` of at least :data:`MIN_PHOTO_SIDE` pixels.

    Raises:
        ValueError: naming ``label`` (a file name or ``"photo i"``) and the minimum size.
    """
    photo = check_rgb_image(photo, label)
    if min(photo.shape[:2]) < MIN_PHOTO_SIDE:
        raise ValueError(
            f"{label} is {photo.shape[1]}x{photo.shape[0]} pixels: a person needs at least "
            f"{MIN_PHOTO_SIDE} pixels on the shorter side"
        )
    return photo


def _label(photo: object, index: int) -> str:
    """How messages name a photo: its file name when it came from a file."""
    return f"photo {index} ({photo})" if isinstance(photo, str | os.PathLike) else f"photo {index}"


def _print_step(label: str, seconds: float) -> None:
    print(f"  {label}: {seconds:.1f} s", flush=True)


def prepare_subject(
    photos: Sequence[np.ndarray | str | os.PathLike[str]],
    body: torch.nn.Module,
    *,
    name: str = "subject",
    body_kind: str = "embedded",
    image_size: int = 512,
    background: np.ndarray | str | os.PathLike[str] | None = None,
    fit_config: FitConfig | None = None,
    texture_size: int = 512,
    atlas: TextureAtlas | None = None,
    progress: bool = False,
    spin: SPINRegressor | None = None,
) -> Subject:
    """Prepare one person from ``N`` photos (module docstring for the steps).

    Args:
        photos: RGB ``uint8 [H, W, 3]`` arrays or image paths (read with EXIF orientation).
        body: the ``BodyModel`` to fit (the embedded body, or SMPL with its UV layout).
        name, body_kind: recorded in the result.
        image_size: side of the square crops (and of the fit's camera NDC).
        background: a clean background photo (array or path) to use instead of inpainting.
        fit_config: :class:`~vmc.subject.fit.FitConfig` (defaults when None).
        texture_size: side of the UV texture.
        atlas: a precomputed :class:`TextureAtlas` of ``body`` at ``texture_size``.
        progress: print each step.
        spin: the SPIN regressor (:func:`vmc.lwg.spin.load_spin`; SMPL ``body``): its estimate
            starts the fit (``settings["fit"] == "spin"``); None: the keypoint fit alone.

    Raises:
        NoPersonError: a photo without a person (the message names the photo, and its file
            when it was given as a path).
        ValueError: a photo too small or not RGB; no photo.
    """
    if not photos:
        raise ValueError("prepare_subject needs at least one photo of the person")
    timer = StepTimer(_print_step if progress else None)

    labels = [_label(p, i) for i, p in enumerate(photos)]
    images = [
        check_photo(read_image(p) if isinstance(p, str | os.PathLike) else np.asarray(p), label)
        for p, label in zip(photos, labels, strict=True)
    ]
    # 1-2. detection and crops
    crops, detections = [], []
    with PoseDetector() as detector:
        for label, img in zip(labels, images, strict=True):
            try:
                detection = detect_person(img, detector)
            except ValueError as err:
                raise type(err)(f"{label}: {err}") from err
            detections.append(detection)
            crops.append(crop_person(img, detection, size=image_size))
    timer.lap("detect")
    # 3. body fit (from SPIN's estimate in paper mode)
    init = None
    if spin is not None:
        init = spin_init(spin, images, detections, crops, int(body.num_betas))
        timer.lap("spin")
    fit = fit_body(body, crops, fit_config, init=init)
    timer.lap("fit")
    # 4. cut-out, guided by the fitted silhouettes
    _, frags = render_smpl_params(
        body,
        torch.as_tensor(fit.betas).float().reshape(1, -1).expand(len(crops), -1),
        torch.as_tensor(fit.poses).float(),
        torch.as_tensor(fit.cams).float(),
        image_size,
    )
    silhouettes = (frags.fim >= 0).numpy().astype(np.float32)
    alphas = np.stack(
        [person_alpha(c.mask, silhouette=s) for c, s in zip(crops, silhouettes, strict=True)]
    )
    timer.lap("cut-out")
    # 5. background of photo 0, in the crop and in the photo's frame
    clean = read_image(background) if isinstance(background, str | os.PathLike) else background
    box0 = crops[0].box
    alpha_photo = crop_to_photo(alphas[0].astype(np.float32), box0, images[0].shape[:2])
    plate_photo = background_plate(images[0], alpha_photo, clean)
    plate_crop = crop_person(plate_photo, _dummy_detection(plate_photo), box=box0).image
    timer.lap("background")
    # 6. texture
    texture = texture_from_photos(
        body,
        [c.image for c in crops],
        torch.as_tensor(fit.betas).float(),
        torch.as_tensor(fit.poses).float(),
        torch.as_tensor(fit.cams).float(),
        alphas=list(alphas),
        atlas=atlas,
        size=texture_size,
    )
    timer.lap("texture")
    return Subject(
        name=name,
        body_kind=body_kind,
        photos=images,
        crops=np.stack([c.image for c in crops]),
        alphas=alphas.astype(np.float32),
        boxes=[c.box for c in crops],
        betas=np.asarray(fit.betas, np.float32),
        poses=np.asarray(fit.poses, np.float32),
        cams=np.asarray(fit.cams, np.float32),
        background=plate_crop,
        background_photo=plate_photo,
        texture=texture,
        reports=list(fit.reports),
        timings=timer.timings,
        settings=_settings(
            photos,
            fit_config,
            background is not None,
            texture_size,
            "keypoints" if init is None else "spin",
        ),
    )


def _settings(
    photos: Sequence[object],
    config: FitConfig | None,
    clean: bool,
    texture_size: int,
    fit: str = "keypoints",
) -> dict[str, Any]:
    """:attr:`Subject.settings` as plain JSON values."""
    out: dict[str, Any] = {
        "fit": fit,
        "fit_config": {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in asdict(config or FitConfig()).items()
        },
        "background": "clean photo" if clean else "inpainted",
        "texture_size": int(texture_size),
    }
    if all(isinstance(p, str | os.PathLike) for p in photos):
        out["photo_files"] = [Path(p).name for p in photos]  # type: ignore[arg-type]
    return out


def _dummy_detection(photo: np.ndarray) -> PersonDetection:
    """A detection with no landmarks, to reuse :func:`crop_person` for a known box."""
    h, w = photo.shape[:2]
    return PersonDetection(
        keypoints=np.zeros((33, 3), np.float32),
        mask=np.zeros((h, w), np.float32),
        image_size=(h, w),
    )
