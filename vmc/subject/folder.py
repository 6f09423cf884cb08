"""The subject folder: a prepared :class:`~vmc.subject.prepare.Subject` on disk.

A subject folder is a processed-video folder (``vmc-processed-video``, version 2;
:mod:`vmc.io.processed_video`) whose frames are the photo crops, plus what the video pipeline
needs to animate the person and what a person needs to check the preparation::

    subjects/alice/
        frames/000000.png ...   the square person crops, uint8 RGB S x S (the layout's frames)
        masks/000000.png ...    the person alphas, 8-bit grey (255 = person)
        smpls.npz               cams [N,3] (crop NDC), poses [N,72] (root in the HMR image frame),
                                betas [nb] (shared), front_ids [N] (float32 / int64)
        background.png          the clean plate behind photo 0's crop, S x S
        meta.json               format, version 2, "kind": "subject", name, body (the body model
                                the parameters belong to), body_vertices, image_size [S, S],
                                num_frames (= photos), num_betas, texture_size, uv_source_codes,
                                vmc_version, settings (fit method and FitConfig, background
                                source, photo file names), timings (seconds per step)
        source/000000.png ...   the original photos, lossless (as read: EXIF-rotated RGB)
        crop.json               per photo: its box (x0, y0, side in photo pixels; size = S) and
                                the photo's width and height; u_crop = (u_photo - x0) * size/side
        background_photo.png    the clean plate of photo 0 in the photo's own frame
        uv_texture.png          the body's UV texture, T x T RGB (row 0 = UV v = 1)
        uv_confidence.png       its confidence, 8-bit grey (255 = seen squarely)
        uv_source.png           where each texel came from: codes into
                                vmc.subject.texture.SOURCE_NAMES (0 off the UV islands, 1 seen,
                                2 mirror, 3 opposite, 4 diffused), stored as the raw code values
        fit_report.json         per photo: landmarks found, keypoint error, losses, silhouette
                                IoU, facing, warnings (``PhotoReport``)
        preview.png             each crop beside the fitted body shaded over it (<= 300 KB)

Reserved for later (not written yet, never used for anything else): ``generator.safetensors``
and ``generator.yaml``, a generator fine-tuned on this subject and its config. Preparing the
subject again with ``overwrite`` replaces the whole folder, a fine-tuned generator included (it
was trained on the old crops).

Arrays read back equal what was written, within 8-bit quantisation where a PNG stores floats
(alphas, texture, confidence) and exactly otherwise (crops, photos, plates, ``smpls.npz``, the
JSON files). Writes are all-or-nothing (:func:`vmc.io.atomic.atomic_folder`).

A version-1 folder (or a version-2 video that is not a subject) reads as a video
(:func:`vmc.data.lwg_layouts.read_processed_video`) but not as a subject: it has no photos, crop
boxes or texture. Pure NumPy/PIL/PyTorch: no Lightning or Hydra here.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from vmc import __version__
from vmc.io.atomic import atomic_folder
from vmc.io.processed_video import read_layout_meta, write_processed_files
from vmc.subject.crop import CropBox
from vmc.subject.fit import PhotoReport
from vmc.subject.prepare import Subject
from vmc.subject.texture import SOURCE_NAMES, SubjectTexture

__all__ = [
    "DEFAULT_SUBJECTS_DIR",
    "PREVIEW_MAX_BYTES",
    "RESERVED_NAMES",
    "SUBJECT_KIND",
    "read_subject_folder",
    "subject_folder",
    "subjects_dir_of",
    "write_subject_folder",
]

#: ``meta.json`` ``kind`` of a subject folder.
SUBJECT_KIND = "subject"
#: Where ``python -m vmc subject prepare NAME`` puts ``NAME`` (``paths.subjects_dir``).
DEFAULT_SUBJECTS_DIR = "subjects"
#: ``preview.png`` is downscaled until it is at most this large.
PREVIEW_MAX_BYTES = 300_000
#: Names kept free for a generator fine-tuned on the subject (weights, config).
RESERVED_NAMES = ("generator.safetensors", "generator.yaml")

_CROP_JSON = "crop.json"
_BACKGROUND_PHOTO = "background_photo.png"
_UV_TEXTURE = "uv_texture.png"
_UV_CONFIDENCE = "uv_confidence.png"
_UV_SOURCE = "uv_source.png"
_FIT_REPORT = "fit_report.json"
_PREVIEW = "preview.png"
# Subject files beside the video layout's, in the order the reader checks them.
_SUBJECT_FILES = (
    _CROP_JSON,
    _BACKGROUND_PHOTO,
    _UV_TEXTURE,
    _UV_CONFIDENCE,
    _UV_SOURCE,
    _FIT_REPORT,
)
_PREPARE_AGAIN = "prepare it again with `python -m vmc subject prepare NAME PHOTO... --overwrite`"


# --------------------------------------------------------------------------------------------
# Where subjects live
# --------------------------------------------------------------------------------------------


def subject_folder(
    name: str | os.PathLike[str], subjects_dir: str | os.PathLike[str] | None
) -> Path:
    """The folder of subject ``name``: ``<subjects_dir>/<name>``, or ``name`` itself as a path
    when it holds a slash (``./alice``, ``/data/people/alice``).

    Raises:
        ValueError: an empty name, ``.`` or ``..``.
    """
    text = os.fspath(name)
    if "/" in text or os.sep in text:
        return Path(text).expanduser()
    if text in ("", ".", ".."):
        raise ValueError(f"a subject name must be a plain folder name, got {text!r}")
    return Path(subjects_dir or DEFAULT_SUBJECTS_DIR).expanduser() / text


def subjects_dir_of(paths: Mapping[str, Any]) -> Path:
    """The subjects folder named by a resolved ``paths`` config group (``paths.subjects_dir``;
    :data:`DEFAULT_SUBJECTS_DIR` when the key is missing or null): what ``infer`` and
    ``finetune`` pass to :func:`subject_folder`."""
    return Path(str(paths.get("subjects_dir") or DEFAULT_SUBJECTS_DIR)).expanduser()


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _check_subject(s: Subject) -> None:
    n, size = s.num_photos, s.image_size
    problems = []
    if s.crops.dtype != np.uint8 or s.crops.shape != (n, size, size, 3):
        problems.append(f"crops {s.crops.dtype} {s.crops.shape}")
    if s.alphas.shape != (n, size, size):
        problems.append(f"alphas {s.alphas.shape}")
    if len(s.photos) != n or len(s.boxes) != n or len(s.reports) != n:
        problems.append(f"{len(s.photos)} photos, {len(s.boxes)} boxes, {len(s.reports)} reports")
    if s.poses.shape != (n, 72) or s.cams.shape != (n, 3) or s.betas.ndim != 1:
        problems.append(f"poses {s.poses.shape}, cams {s.cams.shape}, betas {s.betas.shape}")
    if s.background.shape != (size, size, 3):
        problems.append(f"background {s.background.shape}")
    if not s.photos or s.background_photo.shape != s.photos[0].shape:
        problems.append(f"background_photo {s.background_photo.shape}")
    t = s.texture.texture.shape[0]
    if s.texture.texture.shape != (t, t, 3) or s.texture.confidence.shape != (t, t):
        problems.append(f"texture {tuple(s.texture.texture.shape)}")
    if problems:
        raise ValueError(
            f"subject {s.name!r} is inconsistent for {n} photos: {'; '.join(problems)}"
        )


def _save_png(path: Path, image: np.ndarray) -> None:
    Image.fromarray(np.ascontiguousarray(image)).save(path)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def _unit_to_uint8(x: torch.Tensor) -> np.ndarray:
    return (x.detach().cpu().float() * 255 + 0.5).clamp(0, 255).to(torch.uint8).numpy()


def _preview_png(image: np.ndarray, limit: int = PREVIEW_MAX_BYTES) -> bytes:
    """PNG bytes of ``image``, downscaled (aspect kept) until at most ``limit`` bytes."""
    img = Image.fromarray(image)
    while True:
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        data = buf.getvalue()
        if len(data) <= limit or min(img.size) <= 32:
            return data
        f = float(np.clip(0.95 * (limit / len(data)) ** 0.5, 0.5, 0.9))
        new = (max(1, round(img.width * f)), max(1, round(img.height * f)))
        img = img.resize(new, Image.Resampling.LANCZOS)


def _write_sources(folder: Path, subject: Subject) -> None:
    (folder / "source").mkdir()
    for i, photo in enumerate(subject.photos):
        _save_png(folder / "source" / f"{i:06d}.png", photo)


def _write_crops(folder: Path, subject: Subject) -> None:
    rows = []
    for i, (box, photo) in enumerate(zip(subject.boxes, subject.photos, strict=True)):
        rows.append(
            {
                "frame": f"frames/{i:06d}.png",
                "source": f"source/{i:06d}.png",
                "x0": float(box.x0),
                "y0": float(box.y0),
                "side": float(box.side),
                "size": int(box.size),
                "photo_width": int(photo.shape[1]),
                "photo_height": int(photo.shape[0]),
            }
        )
    convention = (
        "square box in photo pixels resampled to size x size: u_crop = (u_photo - x0) * size / "
        "side, v_crop = (v_photo - y0) * size / side (pixel c covers [c, c+1))"
    )
    _write_json(folder / _CROP_JSON, {"convention": convention, "photos": rows})


def _write_texture(folder: Path, texture: SubjectTexture) -> None:
    _save_png(folder / _UV_TEXTURE, texture.to_uint8())
    _save_png(folder / _UV_CONFIDENCE, _unit_to_uint8(texture.confidence))
    _save_png(folder / _UV_SOURCE, texture.source.detach().cpu().to(torch.uint8).numpy())


def _write_report(folder: Path, subject: Subject) -> None:
    files = subject.settings.get("photo_files") or [None] * subject.num_photos
    photos = [
        {"index": i, "file": f, **asdict(r)}
        for i, (f, r) in enumerate(zip(files, subject.reports, strict=True))
    ]
    _write_json(folder / _FIT_REPORT, {"photos": photos, "warnings": subject.warnings})


def _meta(subject: Subject, body: torch.nn.Module) -> dict[str, Any]:
    num_vertices = getattr(body, "num_vertices", None)
    return {
        "kind": SUBJECT_KIND,
        "name": subject.name,
        "body_vertices": None if num_vertices is None else int(num_vertices),
        "texture_size": int(subject.texture.texture.shape[0]),
        "uv_source_codes": list(SOURCE_NAMES),
        "vmc_version": __version__,
        "settings": subject.settings,
        "timings": {k: float(v) for k, v in subject.timings.items()},
    }


def write_subject_folder(
    subject: Subject,
    folder: str | os.PathLike[str],
    body: torch.nn.Module,
    *,
    overwrite: bool = False,
) -> Path:
    """Write ``subject`` as a subject folder (module docstring), all or nothing.

    Every file is written into a temporary sibling folder that is renamed onto ``folder`` at the
    end: an error or Ctrl-C leaves neither a half folder nor the temporary one, and an existing
    ``folder`` untouched.

    Args:
        subject: what :func:`~vmc.subject.prepare.prepare_subject` returned.
        folder: the subject folder to create (:func:`subject_folder` maps a name to it).
        body: the body model the subject was fitted with (renders ``preview.png``).
        overwrite: replace an existing folder (else FileExistsError, before any work).

    Returns:
        ``folder`` as a Path.
    """
    out = Path(folder)
    if out.exists() and not overwrite:
        raise FileExistsError(
            f"subject folder {str(out)!r} exists; pass overwrite=True (--overwrite) to replace it"
        )
    _check_subject(subject)
    preview = _preview_png(subject.preview(body))
    with atomic_folder(out, overwrite=overwrite) as tmp:
        write_processed_files(
            tmp,
            subject.crops,
            subject.alphas,
            cams=subject.cams,
            poses=subject.poses,
            betas=subject.betas,
            fps=None,
            body=subject.body_kind,
            background=subject.background,
            meta=_meta(subject, body),
        )
        _write_sources(tmp, subject)
        _write_crops(tmp, subject)
        _save_png(tmp / _BACKGROUND_PHOTO, subject.background_photo)
        _write_texture(tmp, subject.texture)
        _write_report(tmp, subject)
        (tmp / _PREVIEW).write_bytes(preview)
    return out


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _load_png(path: Path, mode: str) -> np.ndarray:
    try:
        with Image.open(path) as im:
            return np.array(im.convert(mode))
    except (OSError, ValueError, SyntaxError) as err:
        raise ValueError(f"cannot read {str(path)!r}: {err}") from err


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{str(path)!r} is not valid JSON: {err}") from err


def _load_smpls(root: Path, n: int) -> dict[str, np.ndarray]:
    path = root / "smpls.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: np.asarray(z[k]) for k in ("cams", "poses", "betas") if k in z.files}
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read {str(path)!r}: {err}") from err
    missing = {"cams", "poses", "betas"} - set(arrays)
    if missing:
        raise ValueError(f"{str(path)!r} lacks {sorted(missing)}")
    betas = arrays["betas"]
    if betas.ndim == 2 and len(betas) and np.all(betas == betas[:1]):
        betas = betas[0]  # a video's per-frame betas that are one shape
    if arrays["cams"].shape != (n, 3) or arrays["poses"].shape != (n, 72) or betas.ndim != 1:
        raise ValueError(
            f"{str(path)!r}: expected cams [{n}, 3], poses [{n}, 72], betas [nb] for {n} photos; "
            f"got {arrays['cams'].shape}, {arrays['poses'].shape}, {arrays['betas'].shape}"
        )
    return {
        "cams": arrays["cams"].astype(np.float32),
        "poses": arrays["poses"].astype(np.float32),
        "betas": betas.astype(np.float32),
    }


def _numbered(folder: str, n: int) -> list[str]:
    return [f"{folder}/{i:06d}.png" for i in range(n)]


def _first_missing(root: Path, names: list[str]) -> str | None:
    return next((name for name in names if not (root / name).is_file()), None)


def _report(d: Mapping[str, Any], where: str) -> PhotoReport:
    names = [f.name for f in fields(PhotoReport)]
    try:
        return PhotoReport(**{k: d[k] for k in names})
    except (KeyError, TypeError) as err:
        raise ValueError(f"{where}: a photo's report lacks {err}") from err


def read_subject_folder(
    folder: str | os.PathLike[str], *, expected_body: str | None = None
) -> Subject:
    """Read a subject folder back into the :class:`Subject` that was written.

    Args:
        folder: the subject folder.
        expected_body: the body model the caller will animate the subject with (``"smpl"``,
            ``"embedded"``); a folder prepared with another one is an error (its shape and
            poses belong to the body it was fitted with). None: any.

    Raises:
        FileNotFoundError: no such folder, not a subject folder, or an incomplete one (the
            message names the first missing file).
        ValueError: another body than ``expected_body``; a version-1 processed-video folder (or
            a video that is not a subject: no texture, photos or boxes); a layout version newer
            than this vmc reads; unreadable or inconsistent files.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"subject folder {str(root)!r} not found")
    if not (root / "meta.json").is_file():
        raise FileNotFoundError(
            f"{str(root)!r} is not a subject folder (no meta.json); make one with "
            "`python -m vmc subject prepare NAME PHOTO...`"
        )
    meta = read_layout_meta(root)
    version = int(meta["version"])
    n = int(meta.get("num_frames") or 0)
    if version < 2 or meta.get("kind") != SUBJECT_KIND:
        if version < 2:
            what = "a version-1 processed-video folder (version 1 predates subject folders)"
        else:
            what = "a processed video, not a subject folder"
        raise ValueError(
            f"{str(root)!r} is {what}: it has crops and body parameters but no texture, source "
            "photos or crop boxes; re-run `python -m vmc subject prepare NAME PHOTO...` to make "
            "a subject folder"
        )
    body_kind = str(meta.get("body"))
    if expected_body is not None and body_kind != expected_body:
        raise ValueError(
            f"subject folder {str(root)!r} was prepared with the {body_kind} body, not the "
            f"{expected_body} body asked for: its shape and poses belong to the body it was "
            f"fitted with; prepare it again with `python -m vmc subject prepare ... --body "
            f"{expected_body} --overwrite`, or use body={body_kind}"
        )
    needed = [
        "smpls.npz",
        *_numbered("frames", n),
        *_numbered("masks", n),
        "background.png",
        *_numbered("source", n),
        *_SUBJECT_FILES,
    ]
    missing = _first_missing(root, needed)
    if n < 1 or missing is not None:
        what = f"{missing} is missing" if n >= 1 else "meta.json lists no photo"
        raise FileNotFoundError(
            f"subject folder {str(root)!r} is incomplete: {what}; {_PREPARE_AGAIN}"
        )

    smpls = _load_smpls(root, n)
    crops = np.stack([_load_png(root / p, "RGB") for p in _numbered("frames", n)])
    alphas = np.stack([_load_png(root / p, "L") for p in _numbered("masks", n)])
    photos = [_load_png(root / p, "RGB") for p in _numbered("source", n)]
    size = crops.shape[1]
    if crops.shape[1:] != (size, size, 3) or alphas.shape[1:] != (size, size):
        raise ValueError(f"subject folder {str(root)!r}: crops and masks differ in size")
    background = _load_png(root / "background.png", "RGB")
    crop_info = _load_json(root / _CROP_JSON)
    rows = crop_info.get("photos") if isinstance(crop_info, dict) else None
    if not isinstance(rows, list) or len(rows) != n:
        raise ValueError(f"{str(root / _CROP_JSON)!r}: expected 'photos' with {n} boxes")
    try:
        boxes = [
            CropBox(float(r["x0"]), float(r["y0"]), float(r["side"]), int(r["size"])) for r in rows
        ]
        photo_sizes = [(int(r["photo_height"]), int(r["photo_width"])) for r in rows]
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{str(root / _CROP_JSON)!r}: a box lacks {err}") from err
    for i, (photo, hw) in enumerate(zip(photos, photo_sizes, strict=True)):
        if photo.shape[:2] != hw:
            raise ValueError(
                f"subject folder {str(root)!r}: source/{i:06d}.png is {photo.shape[1]}x"
                f"{photo.shape[0]}, crop.json says {hw[1]}x{hw[0]}"
            )
    background_photo = _load_png(root / _BACKGROUND_PHOTO, "RGB")
    texture = SubjectTexture(
        texture=torch.from_numpy(_load_png(root / _UV_TEXTURE, "RGB").astype(np.float32) / 255),
        confidence=torch.from_numpy(_load_png(root / _UV_CONFIDENCE, "L").astype(np.float32) / 255),
        source=torch.from_numpy(_load_png(root / _UV_SOURCE, "L")),
    )
    report = _load_json(root / _FIT_REPORT)
    report_rows = report.get("photos") if isinstance(report, dict) else None
    if not isinstance(report_rows, list) or len(report_rows) != n:
        raise ValueError(f"{str(root / _FIT_REPORT)!r}: expected 'photos' with {n} reports")
    reports = [_report(r, str(root / _FIT_REPORT)) for r in report_rows]
    return Subject(
        name=str(meta.get("name", root.name)),
        body_kind=body_kind,
        photos=photos,
        crops=crops,
        alphas=alphas.astype(np.float32) / 255,
        boxes=boxes,
        betas=smpls["betas"],
        poses=smpls["poses"],
        cams=smpls["cams"],
        background=background,
        background_photo=background_photo,
        texture=texture,
        reports=reports,
        timings=dict(meta.get("timings") or {}),
        settings=dict(meta.get("settings") or {}),
    )
