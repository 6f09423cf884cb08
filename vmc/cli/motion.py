"""``python -m vmc motion interpolate|arithmetic``: MotionCLIP's latent interpolation and editing.

The editing itself (items, motion files as model inputs, the latent operations) is
:mod:`vmc.motion.editing`; this module is the command line and the files it writes:

* ``interpolate A B OUT_DIR --steps N``: decode ``(1 - t) z(A) + t z(B)`` at ``N`` evenly
  spaced ``t`` in ``[0, 1]``, one file each: ``OUT_DIR/{i:02d}_t{t:.2f}.npz`` (the index gets
  more digits past 100 steps so that the names keep sorting).
* ``arithmetic BASE OUT.npz --plus P ... --minus M ...``: decode
  ``z(BASE) + sum z(P) - sum z(M)``, e.g. ``arithmetic "a person walks" out.npz --plus "a person
  waves" --minus "a person stands still"``.

Items (``A``, ``B``, ``BASE``, every ``--plus``/``--minus`` value) are texts or motion files
(:func:`vmc.motion.editing.parse_item`).

Outputs are written as ``python infer.py ... out=x.npz`` writes them: the stage's conversion
(:meth:`vmc.motion.stage.MotionCLIPStage.canonical`: facing front and above the origin at frame
0) at the model's frame rate, the item descriptions in ``texts``, through the one writer
:func:`vmc.motion.writing.write_motion_files` (AMASS ``.npz`` in Z-up; ``.bvh`` in Y-up).
``--bvh`` adds a ``.bvh`` beside each file (``--bvh-units cm`` or ``m``) and ``--preview`` a
``<stem>.preview.mp4`` (+ ``.png`` frame grid) of the embedded body. A command writes all its
files or none: on any error or Ctrl-C the files it wrote (and the folders it created) are
removed.

Like every ``vmc.cli`` module, this one imports only the standard library at module level;
everything else (torch through ``vmc.motion``/``vmc.body``/``vmc.render``, numpy through
``vmc.io``) is imported inside the function that uses it, so that building the parser for
``python -m vmc --help`` stays instant.

Handlers import their work inside the function, so that ``python -m vmc --help`` stays instant.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vmc.body.model import BodyModel
    from vmc.io.atomic import OutputSet
    from vmc.motion.generate import MotionResult
    from vmc.motion.stage import MotionCLIPStage
    from vmc.motion.types import Motion

__all__ = ["arithmetic_command", "interpolate_command", "register"]

#: Preview side in pixels.
PREVIEW_SIZE = 256

_ITEM_HELP = "a text, or a motion .npz file (ours, AMASS or the folder format)"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``motion interpolate`` and ``motion arithmetic`` to the ``python -m vmc`` parser."""
    motion = subparsers.add_parser(
        "motion", help="MotionCLIP latent editing (interpolation, arithmetic)"
    )
    motion_sub = motion.add_subparsers(
        dest="motion_command", metavar="motion-command", required=True
    )
    interp = motion_sub.add_parser(
        "interpolate",
        help="motions along the latent segment between two texts or motion files",
        description="Decode (1 - t) z(A) + t z(B) at --steps evenly spaced t in [0, 1] (the "
        "MotionCLIP paper's interpolation) into OUT_DIR/{i:02d}_t{t:.2f}.npz, in the frame "
        "infer.py writes (AMASS Z-up .npz, facing front at frame 0). All files or none.",
    )
    interp.add_argument("a", metavar="A", help=_ITEM_HELP)
    interp.add_argument("b", metavar="B", help=_ITEM_HELP)
    interp.add_argument("out_dir", metavar="OUT_DIR", help="output folder")
    interp.add_argument("--steps", type=int, default=5, help="motions, ends included (5; >= 2)")
    _add_motion_model_options(interp)
    interp.set_defaults(func=_interpolate)

    arith = motion_sub.add_parser(
        "arithmetic",
        help="decode z(BASE) + z(plus ...) - z(minus ...) (the paper's motion editing)",
        description="Latent arithmetic (the MotionCLIP paper's editing), e.g. arithmetic "
        '"a person walks" out.npz --plus "a person waves" --minus "a person stands still". '
        "Writes OUT.npz in the frame infer.py writes. All files or none.",
    )
    arith.add_argument("base", metavar="BASE", help=_ITEM_HELP)
    arith.add_argument("out", metavar="OUT.npz", help="output motion file")
    for sign, effect in (("plus", "added"), ("minus", "subtracted")):
        arith.add_argument(
            f"--{sign}",
            nargs="+",
            action="extend",
            default=[],
            metavar="ITEM",
            help=f"items whose latents are {effect} (repeatable)",
        )
    _add_motion_model_options(arith)
    arith.set_defaults(func=_arithmetic)


def _add_motion_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--frames", type=int, default=60, help="frames per motion, at the model's fps (60)"
    )
    parser.add_argument(
        "--model",
        # vmc.motion.editing.EDIT_MODEL_KINDS, spelled out: importing it would load torch.
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
        "--bvh-units",
        default="cm",
        choices=("cm", "m"),
        help="BVH length unit (cm: Blender import scale 0.01; m: scale 1)",
    )
    parser.add_argument(
        "--preview",
        action="store_true",
        help="also render <stem>.preview.mp4 (+ .png grid) with the embedded body",
    )


#: The options :func:`_add_motion_model_options` adds, passed on by name to both commands.
_MODEL_OPTIONS = ("frames", "model", "run", "assets", "bvh", "bvh_units", "preview")


def _model_options(args: argparse.Namespace) -> dict[str, Any]:
    return {key: getattr(args, key) for key in _MODEL_OPTIONS}


def _interpolate(args: argparse.Namespace) -> int:
    interpolate_command(args.a, args.b, args.out_dir, steps=args.steps, **_model_options(args))
    return 0


def _arithmetic(args: argparse.Namespace) -> int:
    arithmetic_command(
        args.base, args.out, plus=args.plus, minus=args.minus, **_model_options(args)
    )
    return 0


def _check_frames(frames: int) -> int:
    from vmc.motion.limits import MAX_FRAMES  # lazy: vmc.motion loads torch (module docstring)

    if isinstance(frames, bool) or not isinstance(frames, int) or not 1 <= frames <= MAX_FRAMES:
        raise ValueError(f"--frames must be an int in [1, {MAX_FRAMES}], got {frames!r}")
    return frames


def _new_dirs(path: Path) -> list[Path]:
    """Folders from ``path`` up that do not exist yet (deepest first)."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    return missing


@contextlib.contextmanager
def _written_or_none(folder: Path) -> Iterator[OutputSet]:
    """:func:`vmc.io.atomic.all_or_nothing`, also removing the folders it had to create."""
    from vmc.io.atomic import all_or_nothing  # lazy: vmc.io loads numpy (module docstring)

    created = _new_dirs(folder)
    try:
        with all_or_nothing() as outputs:
            yield outputs
    except BaseException:
        for path in created:  # deepest first; a folder someone else filled stays
            with contextlib.suppress(OSError):
                path.rmdir()
        raise


class _Writer:
    """Writes one motion (``.npz``, optional ``.bvh`` and preview) in ``infer.py``'s frame."""

    def __init__(
        self,
        stage: MotionCLIPStage,
        outputs: OutputSet,
        bvh: bool,
        preview: bool,
        bvh_units: str = "cm",
    ):
        self.stage = stage
        self.outputs = outputs
        self.bvh = bvh
        self.preview = preview
        self.bvh_units = bvh_units
        self._body: BodyModel | None = None

    def __call__(self, path: Path, result: MotionResult, index: int, text: str) -> Path:
        """Write sample ``index`` of ``result`` to ``path`` (``.npz``; ``.bvh``/preview beside
        it) with :func:`vmc.motion.writing.write_motion_files`."""
        from dataclasses import replace  # lazy, as the imports below (module docstring)

        from vmc.motion.writing import write_motion_files

        motion = replace(self.stage.canonical(result.motions[index]), texts=[text])
        write_motion_files(
            path, motion, bvh=self.bvh, bvh_units=self.bvh_units, outputs=self.outputs
        )
        if self.preview:
            self._write_preview(path, motion)
        return path

    @contextlib.contextmanager
    def _tracked(self, *paths: Path) -> Iterator[None]:
        """Record ``paths`` as this command's outputs around the block that writes them.

        New files are recorded before the block (Ctrl-C right after a file lands still removes
        it); files that already exist are recorded only once the block has replaced them, so a
        failure before that leaves the user's file alone.
        """
        existing = [p for p in paths if p.exists()]
        for p in paths:
            if p not in existing:
                self.outputs.add(p)
        yield
        for p in existing:
            self.outputs.add(p)

    def _write_preview(self, path: Path, motion: Motion) -> None:
        """``<stem>.preview.mp4``/``.png`` of the embedded body posed with ``motion``."""
        from vmc.body.posing import pose_body  # lazy, as the imports below (module docstring)
        from vmc.render.preview import render_mesh_frames, write_preview

        if self._body is None:
            from vmc.body.select import select_body

            self._body = select_body("embedded", None, None)[0]
        posed = motion.rebased(self._body.shaped()[1][0, 0].numpy())  # smplx: pelvis = J0 + trans
        vertices = pose_body(self._body, posed.poses, posed.trans)  # [T, V, 3]
        frames = render_mesh_frames(vertices, self._body.faces, image_size=PREVIEW_SIZE)
        stem = path.with_name(path.stem + ".preview")
        with self._tracked(*(stem.with_name(stem.name + s) for s in (".mp4", ".png"))):
            write_preview(stem, frames, posed.fps)


def interpolate_command(
    a: str,
    b: str,
    out_dir: str | os.PathLike[str],
    *,
    steps: int = 5,
    frames: int = 60,
    model: str = "auto",
    run: str | None = None,
    assets: str | None = None,
    bvh: bool = False,
    preview: bool = False,
    bvh_units: str = "cm",
) -> list[Path]:
    """``motion interpolate``: ``steps`` motions of ``frames`` frames from ``A`` to ``B``.

    Writes ``out_dir/{i:02d}_t{t:.2f}.npz`` (poses ``[frames, 72]``, trans ``[frames, 3]``)
    for ``t = i / (steps - 1)``; the ends are the plain generations of ``A`` and ``B``.

    Returns:
        The ``.npz`` paths in order of ``t``.

    Raises:
        ValueError, FileNotFoundError: bad options or items, no MotionCLIP model (checked before
            anything is written).
    """
    from vmc.motion.editing import interpolate_items, load_edit_stage, parse_item  # lazy: torch
    from vmc.motion.export import check_bvh_units

    check_bvh_units(bvh_units)

    if isinstance(steps, bool) or not isinstance(steps, int) or not 2 <= steps <= 1000:
        raise ValueError(f"--steps must be an int in [2, 1000], got {steps!r}")
    frames = _check_frames(frames)
    item_a, item_b = parse_item(a, "A"), parse_item(b, "B")
    folder = Path(out_dir).expanduser()
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"OUT_DIR {folder} exists and is not a folder")
    stage = load_edit_stage(model, run, assets)
    gen = stage.generator
    print(f"model: {stage.description}")
    result = interpolate_items(gen, item_a, item_b, steps=steps, num_frames=frames)
    width = max(2, len(str(steps - 1)))
    written: list[Path] = []
    with _written_or_none(folder) as outputs:
        folder.mkdir(parents=True, exist_ok=True)
        write = _Writer(stage, outputs, bvh, preview, bvh_units)
        for i in range(steps):
            t = i / (steps - 1)
            text = f"{item_a.label} -> {item_b.label} ({t:.2f})"
            written.append(write(folder / f"{i:0{width}d}_t{t:.2f}.npz", result, i, text))
    print(f"wrote {steps} motions of {frames} frames at {gen.fps:g} fps to {folder}")
    return written


def arithmetic_command(
    base: str,
    out: str | os.PathLike[str],
    *,
    plus: Sequence[str] = (),
    minus: Sequence[str] = (),
    frames: int = 60,
    model: str = "auto",
    run: str | None = None,
    assets: str | None = None,
    bvh: bool = False,
    preview: bool = False,
    bvh_units: str = "cm",
) -> Path:
    """``motion arithmetic``: decode ``z(BASE) + sum z(plus) - sum z(minus)`` into ``out``.

    Writes ``out`` (``.npz``: poses ``[frames, 72]``, trans ``[frames, 3]``), plus
    ``<stem>.bvh`` with ``bvh`` and ``<stem>.preview.mp4`` with ``preview``.

    Returns:
        The ``.npz`` path.

    Raises:
        ValueError, FileNotFoundError: bad options or items, no MotionCLIP model (checked before
            anything is written).
    """
    from vmc.motion.editing import arithmetic_items, load_edit_stage, parse_item  # lazy: torch
    from vmc.motion.export import check_bvh_units

    check_bvh_units(bvh_units)

    frames = _check_frames(frames)
    path = Path(out).expanduser()
    if path.suffix.lower() != ".npz":
        raise ValueError(f"OUT must be a .npz file, got {path}")
    if path.is_dir():
        raise ValueError(f"OUT {path} is a folder; give a .npz file name")
    item_base = parse_item(base, "BASE")
    items_plus = [parse_item(item, "--plus") for item in plus]
    items_minus = [parse_item(item, "--minus") for item in minus]
    stage = load_edit_stage(model, run, assets)
    gen = stage.generator
    print(f"model: {stage.description}")
    result = arithmetic_items(gen, item_base, items_plus, items_minus, num_frames=frames)
    text = item_base.label
    text += "".join(f" + {item.label}" for item in items_plus)
    text += "".join(f" - {item.label}" for item in items_minus)
    with _written_or_none(path.parent) as outputs:
        _Writer(stage, outputs, bvh, preview, bvh_units)(path, result, 0, text)
    print(f"wrote {path} ({text}; {frames} frames at {gen.fps:g} fps)")
    return path
