"""``python -m vmc data render-frames | synthetic-lwg | to-folder``: dataset preparation.

Every command that reads a motion source takes ``KIND`` (a name of
:data:`vmc.data.motion_sources.MOTION_SOURCES`), ``SOURCE`` (the loader's main argument,
:data:`SOURCE_ARGUMENTS`) and any other loader argument as ``--arg key=value`` (YAML value).

Handlers import their work inside the function, so that ``python -m vmc --help`` stays instant.
"""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["SOURCE_ARGUMENTS", "register"]

#: Source kind -> the loader argument SOURCE stands for (the loader's first parameter).
SOURCE_ARGUMENTS: dict[str, str] = {
    "amass_babel": "amass_dir",
    "motionclip_db": "path",
    "humanml3d": "humanml3d_dir",
    "folder": "root",
    "procedural": "num",
    "amass": "root",
}
_SOURCE_HELP = (
    "the source's main input: the folder for folder/amass, the AMASS folder for amass_babel "
    "(add --arg babel_dir=...), the HumanML3D folder for humanml3d (add --arg amass_dir=...), "
    "the amass_30fps_db.pt (or split) file for motionclip_db, a number of clips for procedural"
)
_ARG_HELP = (
    "another argument of the source's loader, as key=value (YAML value; repeatable), "
    "e.g. --arg babel_dir=data/babel_v1.0_release --arg split=vald --arg seed=1"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``data render-frames``, ``data synthetic-lwg`` and ``data to-folder``."""
    data = subparsers.add_parser("data", help="dataset preparation")
    data_sub = data.add_subparsers(dest="data_command", metavar="data-command", required=True)
    kinds = tuple(SOURCE_ARGUMENTS)

    frames = data_sub.add_parser(
        "render-frames",
        help="render the middle frame of every clip of a motion source (CLIP image loss)",
        description="Render the middle frame of every clip (data.frames_dir of the motion "
        "configs). Clips are named as the data module names them, so run it with the same "
        "source arguments as training (once per split, e.g. --arg split=vald).",
    )
    frames.add_argument("source", metavar="SOURCE", help=_SOURCE_HELP)
    frames.add_argument("out_dir", metavar="OUT_DIR", help="folder of the PNG frames")
    frames.add_argument(
        "--kind",
        choices=kinds,
        default="folder",
        metavar="KIND",
        help=f"motion source: {', '.join(kinds)} (default: folder)",
    )
    frames.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE", help=_ARG_HELP)
    frames.add_argument("--size", type=int, default=224, help="image side in pixels (224)")
    frames.add_argument("--overwrite", action="store_true", help="re-render existing frames")
    frames.add_argument(
        "--shape",
        action="store_true",
        help="pose each clip with its own betas on the SMPL model of its gender (AMASS keeps "
        "them; a warning when only the neutral SMPL is there); default: betas 0 on one body",
    )
    _add_body_options(frames, "auto")
    frames.set_defaults(func=_render_frames)

    synth = data_sub.add_parser(
        "synthetic-lwg",
        help="render synthetic LWG training clips into the processed layout",
        description="Render synthetic clips (a body with procedural clothes, procedural motion, "
        "procedural or photo backgrounds) as OUT_DIR/clip_00000 ... (data=lwg_processed).",
    )
    synth.add_argument("out_dir", metavar="OUT_DIR", help="dataset root")
    synth.add_argument("--clips", type=int, required=True, help="number of clips")
    synth.add_argument("--frames", type=int, default=30, help="frames per clip (30)")
    synth.add_argument("--size", type=int, default=256, help="image side in pixels (256)")
    synth.add_argument("--seed", type=int, default=0, help="seed (same seed, same files)")
    synth.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        help="fraction of clips listed in val.txt, the others in train.txt (0.1; 0 = no lists)",
    )
    synth.add_argument(
        "--backgrounds", default=None, metavar="DIR", help="background photos (default: procedural)"
    )
    synth.add_argument("--overwrite", action="store_true", help="replace existing clip folders")
    _add_body_options(synth, "embedded")
    synth.set_defaults(func=_synthetic_lwg)

    to_folder = data_sub.add_parser(
        "to-folder",
        help="convert a motion source into the folder format (one .npz per clip)",
        description="Convert any motion source into the folder format (data=motion_folder).",
    )
    to_folder.add_argument("kind", metavar="KIND", choices=kinds, help=f"one of {', '.join(kinds)}")
    to_folder.add_argument("source", metavar="SOURCE", help=_SOURCE_HELP)
    to_folder.add_argument("out_dir", metavar="OUT_DIR", help="output folder")
    to_folder.add_argument(
        "--arg", action="append", default=[], metavar="KEY=VALUE", help=_ARG_HELP
    )
    to_folder.set_defaults(func=_to_folder)


def _add_body_options(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--body",
        choices=("auto", "embedded", "smpl"),
        default=default,
        help=f"body model: auto = SMPL when found, else embedded (default: {default})",
    )
    parser.add_argument("--smpl", default=None, help="explicit SMPL .pkl/.npz for --body smpl/auto")
    parser.add_argument(
        "--assets",
        default=None,
        help="assets folder searched first (default: $VMC_ASSETS, ./assets)",
    )


def _parse_loader_args(pairs: Sequence[str]) -> dict[str, Any]:
    """``["key=value", ...]`` -> kwargs, each value parsed as YAML (``5``, ``true``, ``[a, b]``)."""
    import yaml  # lazy, as every non-stdlib import of vmc.cli: `python -m vmc --help` stays instant

    kwargs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ValueError(f"--arg expects key=value, got {pair!r}")
        if key in kwargs:
            raise ValueError(f"--arg {key} is given twice")
        try:
            kwargs[key] = yaml.safe_load(text) if text.strip() else text
        except yaml.YAMLError:
            kwargs[key] = text  # not YAML: keep the plain string (e.g. a path with ': ')
    return kwargs


def _source_kwargs(kind: str, source: str, pairs: Sequence[str]) -> dict[str, Any]:
    """The loader arguments of ``kind``: SOURCE as its main argument plus the ``--arg`` pairs.

    Raises:
        ValueError: unknown kind, unknown or repeated argument, a missing required argument,
            or a procedural SOURCE that is not a positive number.
    """
    # Lazy: the loaders import torch, which `python -m vmc --help` must not load.
    from vmc.data.motion_sources import MOTION_SOURCES

    if kind not in MOTION_SOURCES:
        raise ValueError(
            f"unknown motion source {kind!r}; available: {', '.join(sorted(MOTION_SOURCES))}"
        )
    params = inspect.signature(MOTION_SOURCES[kind]).parameters
    main = SOURCE_ARGUMENTS.get(kind) or next(iter(params))
    kwargs = _parse_loader_args(pairs)
    if main in kwargs:
        raise ValueError(f"SOURCE already gives {kind}'s {main!r}: drop --arg {main}=...")
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        accepted = ", ".join(p for p in params if p != main)
        raise ValueError(f"{kind} takes no argument {', '.join(unknown)} (accepted: {accepted})")
    if kind == "procedural":
        try:
            num = int(source)
        except ValueError:
            raise ValueError(f"procedural SOURCE is a number of clips, got {source!r}") from None
        if num < 1:
            raise ValueError(f"procedural SOURCE is a number of clips (>= 1), got {num}")
        kwargs[main] = num
    else:
        kwargs[main] = source
    missing = [
        name
        for name, param in params.items()
        if param.default is inspect.Parameter.empty
        and param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)
        and name not in kwargs
    ]
    if missing:
        flags = " ".join(f"--arg {name}=..." for name in missing)
        raise ValueError(f"{kind} also needs {flags}")
    return kwargs


def _load_source(
    kind: str,
    source: str,
    pairs: Sequence[str],
    y_up: bool = False,
    summary_dir: Path | None = None,
) -> list[Any]:
    """The records of a motion source given on the command line (never empty).

    Prints the source's summary (sequences found, used, dropped by reason) and, with
    ``summary_dir``, writes it there as ``data_summary.txt``/``.json``.
    """
    # lazy: torch (see above)
    from vmc.data.motion_sources import load_motion_records
    from vmc.data.motion_sources.report import collect_reports, format_summary, write_summary

    kwargs = _source_kwargs(kind, source, pairs)
    with collect_reports() as reports:
        records = load_motion_records(kind, y_up=y_up, **kwargs)
    print(format_summary(reports))
    if not records:
        raise ValueError(f"{kind} source {source} holds no clips (with these arguments)")
    if summary_dir is not None:
        write_summary(summary_dir, reports, details={"kind": kind, "source": str(source)})
    return records


def _render_frames(args: argparse.Namespace) -> int:
    # Lazy: body models and rendering import torch, which `--help` should not load.
    from vmc.body.select import select_body
    from vmc.data.motion_frames import frame_path, render_clip_frames

    if args.size < 16:
        raise ValueError(f"--size must be >= 16, got {args.size}")
    records = _load_source(args.kind, args.source, args.arg)
    out_dir = Path(args.out_dir)
    existing = (
        0 if args.overwrite else sum(frame_path(out_dir, r.motion.name).is_file() for r in records)
    )
    # One body per gender when clips keep their shape (their betas belong to that SMPL model).
    groups: dict[str | None, list[Any]] = {}
    for r in records:
        groups.setdefault(r.motion.gender if args.shape else None, []).append(r)
    paths: dict[str, Path] = {}
    bodies = []
    for gender, group in groups.items():
        body, description, _why = select_body(args.body, args.smpl, args.assets, gender=gender)
        bodies.append(description if gender is None else f"{gender}: {description}")
        for r, path in zip(
            group,
            render_clip_frames(
                group,
                out_dir,
                body,
                image_size=args.size,
                overwrite=args.overwrite,
                progress=True,
                use_betas=args.shape,
            ),
            strict=True,
        ):
            paths[r.motion.name] = path
    print(
        f"{len(paths)} clip frames in {out_dir} ({len(paths) - existing} rendered, "
        f"{existing} already there; body: {'; '.join(bodies)})"
    )
    return 0


def _synthetic_lwg(args: argparse.Namespace) -> int:
    # Lazy: body models and rendering import torch, which `--help` should not load.
    from vmc.body.select import select_body
    from vmc.data.lwg_layouts import make_synthetic_dataset

    if args.clips < 1:
        raise ValueError(f"--clips must be >= 1, got {args.clips}")
    if args.frames < 1:
        raise ValueError(f"--frames must be >= 1, got {args.frames}")
    if args.size < 16:
        raise ValueError(f"--size must be >= 16, got {args.size}")
    if args.backgrounds is not None and not Path(args.backgrounds).is_dir():
        raise FileNotFoundError(f"background folder not found: {args.backgrounds}")
    out_dir = Path(args.out_dir)
    if not args.overwrite:
        taken = [i for i in range(args.clips) if (out_dir / f"clip_{i:05d}").exists()]
        if taken:
            raise FileExistsError(
                f"{out_dir / f'clip_{taken[0]:05d}'} exists ({len(taken)} of the clips do): "
                "pass --overwrite to replace them"
            )
    body = None
    if args.body != "embedded":
        body = select_body(args.body, args.smpl, args.assets)[0]
    paths = make_synthetic_dataset(
        out_dir,
        args.clips,
        num_frames=args.frames,
        image_size=args.size,
        seed=args.seed,
        body=body,
        background_folder=args.backgrounds,
        val_fraction=args.val_fraction,
        overwrite=args.overwrite,
        progress=True,
    )
    split = ""
    if (out_dir / "val.txt").is_file():
        n_val = len((out_dir / "val.txt").read_text().split())
        split = f" ({len(paths) - n_val} train, {n_val} val: train.txt / val.txt)"
    print(f"wrote {len(paths)} synthetic clips of {args.frames} frames to {out_dir}{split}")
    return 0


def _to_folder(args: argparse.Namespace) -> int:
    from vmc.data.motion_sources import convert_records_to_folder  # lazy: torch

    records = _load_source(args.kind, args.source, args.arg, summary_dir=Path(args.out_dir))
    paths = convert_records_to_folder(records, args.out_dir)
    genders = sorted({r.motion.gender for r in records if r.motion.gender})
    kept = f"; gender kept: {', '.join(genders)}" if genders else ""
    print(
        f"wrote {len(paths)} clips to {args.out_dir} (folder format, Z-up as AMASS stores it"
        f"{kept}; summary in {Path(args.out_dir) / 'data_summary.txt'})"
    )
    return 0
