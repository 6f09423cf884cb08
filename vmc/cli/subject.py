"""``python -m vmc subject prepare|show``: make a subject folder from photos, and summarise one.

* ``prepare NAME a.jpg [b.jpg ...]``: detect the person, fit the body, cut out, background plate,
  UV texture (:func:`vmc.subject.prepare.prepare_subject`), then write the subject folder
  (:mod:`vmc.subject.folder`) all or nothing. ``NAME`` without a slash is a folder under
  ``--subjects-dir`` (default ``./subjects``, as the ``paths.subjects_dir`` config key that
  ``infer``/``finetune`` read); with a slash it is the folder's path. An existing subject is
  replaced only with ``--overwrite``. The body and person-fit groups come from the stage
  resolver (:mod:`vmc.io.stages`, like ``infer``): ``--body auto|smpl|embedded``, ``--fit
  auto|keypoints|spin``. ``spin`` (``auto`` when ``spin/spin_ckpt.pth`` and SMPL are found):
  the SPIN regressor's estimate, loaded strictly from the user's file, starts the fit, then the
  same keypoint/silhouette refinement (:mod:`vmc.subject.regress`); ``--fit spin`` without the
  weights is one line naming the file and where it goes.
* ``show NAME``: the folder's photos, body, fit quality (silhouette IoU, facing, warnings) and
  texture coverage.

Like every ``vmc.cli`` module, this one imports only the standard library at module level;
everything else (torch, mediapipe and OpenCV through ``vmc.subject``, numpy through ``vmc.io``)
is imported inside the handler that uses it, so that ``python -m vmc --help`` stays instant.
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vmc.subject.prepare import Subject

__all__ = ["register"]

#: Smallest ``--size`` / ``--texture-size`` accepted.
MIN_SIZE = 64


def _size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of pixels, got {text!r}") from None
    if value < MIN_SIZE:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_SIZE} pixels, got {value}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``subject prepare`` and ``subject show`` to the ``python -m vmc`` parser."""
    subject = subparsers.add_parser("subject", help="prepare a person's photos for animation")
    sub = subject.add_subparsers(dest="subject_command", metavar="subject-command", required=True)
    prepare = sub.add_parser(
        "prepare", help="photos of a person -> a subject folder (fit, cut-out, background, texture)"
    )
    prepare.add_argument("name", help="subject name (a folder under --subjects-dir) or a path")
    prepare.add_argument(
        "photos", nargs="+", help="photos of the person (the first one sets the background)"
    )
    prepare.add_argument(
        "--background", default=None, help="a photo of the same scene without the person"
    )
    # vmc.io.stages.FIT_KINDS / BODY_KINDS, spelled out: importing them here would load numpy.
    prepare.add_argument(
        "--fit",
        choices=("auto", "keypoints", "spin"),
        default="auto",
        help="spin: the SPIN regressor (assets spin/spin_ckpt.pth, needs SMPL) starts the fit; "
        "keypoints: the fit alone; auto: spin when its files are found",
    )
    prepare.add_argument("--body", choices=("auto", "smpl", "embedded"), default="auto")
    prepare.add_argument("--size", type=_size, default=512, help="side of the square crops (px)")
    prepare.add_argument(
        "--texture-size", type=_size, default=512, help="side of the UV texture (px)"
    )
    prepare.add_argument(
        "--assets",
        default=None,
        help="assets folder searched first (default: $VMC_ASSETS, ./assets)",
    )
    _add_subjects_dir(prepare)
    prepare.add_argument(
        "--overwrite", action="store_true", help="replace an existing subject folder"
    )
    prepare.set_defaults(func=_prepare)
    show = sub.add_parser("show", help="summarise a subject folder")
    show.add_argument("name", help="subject name (a folder under --subjects-dir) or a path")
    _add_subjects_dir(show)
    show.set_defaults(func=_show)


def _add_subjects_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--subjects-dir",
        default=None,
        help="where named subjects live (default: ./subjects, as paths.subjects_dir)",
    )


def _prepare(args: argparse.Namespace) -> int:
    # Lazy: vmc.subject loads torch, OpenCV and mediapipe; `--help` needs none of them.
    from vmc.body.select import load_body
    from vmc.io.images import read_image
    from vmc.io.stages import StageRequest, resolve_stages
    from vmc.lwg.spin import load_spin
    from vmc.subject.detect import SubjectWarning
    from vmc.subject.folder import subject_folder, write_subject_folder
    from vmc.subject.prepare import check_photo, prepare_subject

    folder = subject_folder(args.name, args.subjects_dir)
    if folder.exists() and not args.overwrite:
        raise FileExistsError(
            f"subject folder {str(folder)!r} exists; pass --overwrite to replace it"
        )
    choices = resolve_stages(StageRequest(body=args.body, fit=args.fit, assets_dir=args.assets))
    clock = time.perf_counter()
    for photo in args.photos:  # every photo readable and large enough, before any model loads
        check_photo(read_image(photo), repr(photo))
    if args.background is not None:
        read_image(args.background)
    print(f"subject {folder.name!r} -> {folder}")
    for group in (choices.body, choices.fit):
        print(f"  {group.group}: {group.description}; {group.why}")
    body = load_body(choices.body)
    spin = load_spin(choices.fit.files["spin"]) if choices.fit.kind == "spin" else None
    loaded = "the body and SPIN" if spin is not None else "the body"
    print(
        f"  read {len(args.photos)} photo(s), loaded {loaded}: {time.perf_counter() - clock:.1f} s"
    )
    with warnings.catch_warnings():
        # The fit reports carry the same warnings; they are printed once, below.
        warnings.simplefilter("ignore", SubjectWarning)
        subject = prepare_subject(
            list(args.photos),
            body,
            name=folder.name,
            body_kind=choices.body.kind,
            image_size=args.size,
            background=args.background,
            texture_size=args.texture_size,
            progress=True,
            spin=spin,
        )
    clock = time.perf_counter()
    write_subject_folder(subject, folder, body, overwrite=args.overwrite)
    print(f"  write: {time.perf_counter() - clock:.1f} s")
    _print_warnings(subject, args.photos)
    ious = ", ".join(f"{r.silhouette_iou:.2f}" for r in subject.reports)
    print(f"wrote {folder} ({subject.num_photos} photo(s), fit IoU {ious})")
    return 0


def _print_warnings(subject: Subject, names: list[str], indent: str = "") -> None:
    rows = [(names[i], w) for i, r in enumerate(subject.reports) for w in r.warnings]
    if not rows:
        print(f"{indent}warnings: none")
        return
    print(f"{indent}warnings:")
    for name, warning in rows:
        print(f"{indent}  {name}: {warning}")


def _show(args: argparse.Namespace) -> int:
    # Lazy: vmc.subject loads torch and numpy; `--help` needs neither.
    from vmc.subject.folder import read_subject_folder, subject_folder
    from vmc.subject.texture import SOURCE_NAMES

    folder = subject_folder(args.name, args.subjects_dir)
    subject = read_subject_folder(folder)
    files = subject.settings.get("photo_files") or [f"photo {i}" for i in range(subject.num_photos)]
    size = subject.texture.texture.shape[0]
    print(f"subject {subject.name!r} ({folder})")
    print(
        f"  body: {subject.body_kind}; fit: {subject.settings.get('fit', 'keypoints')}; crops "
        f"{subject.image_size} px; texture {size} px; "
        f"background: {subject.settings.get('background', 'unknown')}"
    )
    print(f"  photos: {subject.num_photos}")
    for name, photo, r in zip(files, subject.photos, subject.reports, strict=True):
        print(
            f"    {name} ({photo.shape[1]}x{photo.shape[0]}): fit IoU {r.silhouette_iou:.2f}, "
            f"facing {r.facing}, {r.keypoints_found} landmarks, keypoint error "
            f"{r.keypoint_error_px:.1f} px"
        )
    source = subject.texture.source.flatten()
    body = source[source > 0]
    if body.numel():
        shares = ", ".join(
            f"{100 * float((body == code).float().mean()):.0f}% {SOURCE_NAMES[code]}"
            for code in range(1, len(SOURCE_NAMES))
        )
        conf = float(subject.texture.confidence.flatten()[source > 0].mean())
        print(f"  texture: {shares} of the body texels; mean confidence {conf:.2f}")
    _print_warnings(subject, files, indent="  ")
    preview = folder / "preview.png"
    if preview.is_file():
        print(f"  preview: {preview}")
    return 0
