"""``python -m vmc motion interpolate|arithmetic``: MotionCLIP's latent interpolation and editing.

The MotionCLIP paper edits motions in its latent space (``specs/motionclip.md``; implemented
by :meth:`vmc.motion.generate.TextToMotion.interpolate` and
:meth:`~vmc.motion.generate.TextToMotion.arithmetic`):

* ``interpolate A B OUT_DIR --steps N``: decode ``(1 - t) z(A) + t z(B)`` at ``N`` evenly
  spaced ``t`` in ``[0, 1]``, one file each: ``OUT_DIR/{i:02d}_t{t:.2f}.npz`` (the index gets
  more digits past 100 steps so that the names keep sorting).
* ``arithmetic BASE OUT.npz --plus P ... --minus M ...``: decode
  ``z(BASE) + sum z(P) - sum z(M)``, e.g. ``arithmetic "a person walks" out.npz --plus "a person
  waves" --minus "a person stands still"``.

Items (``A``, ``B``, ``BASE``, every ``--plus``/``--minus`` value) are texts or motion files: an
item ending in ``.npz`` is a motion file and must exist; anything else is a text. A motion file
(our AMASS-style export, a real AMASS file, or the folder format; :func:`vmc.motion.export.
load_motion_npz`) is encoded with the model's motion encoder after being brought to what the model
was trained on (:func:`motion_file_tensor`): turned into the model's world, resampled to the
model's fps, cut to its window (or padded by holding the last frame). The file's frame is its
``up_axis`` key (``"z"`` for files of this version, ``"y"`` for older vmc files; without the
key: Z-up for real AMASS files, else Y-up), converted with :mod:`vmc.geometry.frames` about the
file's ``root_rest``. The heading is not changed.

Outputs are written as ``python infer.py ... out=x.npz`` writes them: the stage's conversion
(:meth:`vmc.motion.stage.MotionCLIPStage.canonical`: facing front and above the origin at frame
0) at the model's frame rate, the item descriptions in ``texts``, through the one writer
:func:`vmc.motion.writing.write_motion_files` (AMASS ``.npz`` in Z-up; ``.bvh`` in Y-up).
``--bvh`` adds a ``.bvh`` beside each file (``bvh_units``: ``cm`` or ``m``) and ``--preview`` a
``<stem>.preview.mp4`` (+ ``.png`` frame grid) of the embedded body. A command writes all its
files or none: on any error or Ctrl-C the files it wrote (and the folders it created) are
removed.

Editing needs a MotionCLIP model (``--model run/paper/embedded``, or ``auto`` finding one);
caption retrieval, the fallback of ``infer.py``, has no latent space and is refused.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from vmc.motion.export import check_bvh_units

if TYPE_CHECKING:
    from vmc.motion.generate import MotionResult, TextToMotion
    from vmc.motion.stage import MotionCLIPStage
    from vmc.motion.types import Motion
    from vmc.tasks.infer import OutputSet

__all__ = [
    "EDIT_MODEL_KINDS",
    "EditItem",
    "arithmetic_command",
    "interpolate_command",
    "load_edit_stage",
    "motion_file_tensor",
    "parse_item",
]

#: ``--model`` choices: the motion stages that have a latent space (no ``retrieval``).
EDIT_MODEL_KINDS = ("auto", "run", "paper", "embedded")
#: Preview side in pixels.
PREVIEW_SIZE = 256


@dataclass(frozen=True)
class EditItem:
    """One command-line item: a text, or a motion file (``path`` set).

    Attributes:
        label: how it is described in the outputs' ``texts`` (the text, or the path as given).
        path: the motion ``.npz`` for a motion item, ``None`` for a text.
    """

    label: str
    path: Path | None = None


def parse_item(item: str, what: str = "item") -> EditItem:
    """A text, or (ending in ``.npz``) a motion file, which must exist.

    Raises:
        FileNotFoundError: a ``.npz`` item that is not a file (the message names it).
        ValueError: an empty text.
    """
    text = item.strip()
    if text.lower().endswith(".npz"):
        path = Path(text).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{what}: motion file not found: {path}")
        return EditItem(text, path)
    if not text:
        raise ValueError(f"{what} is empty: give a text or a motion .npz file")
    return EditItem(text)


def load_edit_stage(
    model: str = "auto", run: str | None = None, assets: str | None = None
) -> MotionCLIPStage:
    """The MotionCLIP stage ``--model``/``--run``/``--assets`` select (as ``infer.py`` would).

    Raises:
        ValueError: an unknown kind, ``--run`` missing for ``run`` or given for a kind that
            ignores it, or only caption retrieval available (no latent space to edit).
        FileNotFoundError: the chosen model's files are missing.
    """
    from vmc.motion.stage import MotionCLIPStage, select_motion_stage

    if model not in EDIT_MODEL_KINDS:
        raise ValueError(f"--model must be one of {', '.join(EDIT_MODEL_KINDS)}, got {model!r}")
    if model == "run" and not run:
        raise ValueError("--model run needs --run PATH (export folder, run folder or checkpoint)")
    if run and model not in ("run", "auto"):
        raise ValueError(f"--run is used by --model run (or auto), not --model {model}")
    motion_cfg = {"kind": model, "run": run, "assets_dir": assets}
    stage = select_motion_stage(motion_cfg, {"assets_dir": assets})
    if not isinstance(stage, MotionCLIPStage):
        raise ValueError(
            "motion editing needs a MotionCLIP model (--model embedded, paper or run --run "
            f"PATH); only {stage.description} is available here ({stage.why})"
        )
    return stage


def motion_file_tensor(path: str | os.PathLike[str], generator: TextToMotion) -> torch.Tensor:
    """A motion file as the model's input: float32 ``[25, 6, W]`` (``W = generator.window``).

    Steps (module docstring): read, turn into the model's world (Y/Z up), resample to
    ``generator.fps``, cut to ``W`` frames or hold the last one, then
    :func:`~vmc.motion.convert.smpl_to_motion` with the model's ``translation`` and ``up_axis``.

    Raises:
        FileNotFoundError, ValueError: unreadable file (from ``load_motion_npz``).
    """
    from vmc.motion.convert import smpl_to_motion
    from vmc.motion.export import load_motion_npz
    from vmc.motion.resample import fit_length, resample_motion

    motion = load_motion_npz(path).to_frame(f"{generator.up_axis}_up")
    if abs(motion.fps - generator.fps) > 1e-6:
        motion = resample_motion(motion, generator.fps).motion
    motion = fit_length(motion, generator.window)
    _, trans = motion.tensors()
    x = smpl_to_motion(
        motion.rotations()[None],  # [1, W, 24, 3, 3]
        trans[None],  # [1, W, 3]
        translation=generator.translation,  # type: ignore[arg-type]
        up_axis=generator.up_axis,
    )
    return x[0]


def _latent_source(item: EditItem, generator: TextToMotion) -> str | torch.Tensor:
    """What ``TextToMotion`` takes: the text, or the motion ``[25, 6, W]``."""
    return item.label if item.path is None else motion_file_tensor(item.path, generator)


def _check_frames(frames: int) -> int:
    from vmc.tasks.infer import MAX_FRAMES

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
    """:func:`vmc.tasks.infer.all_or_nothing`, also removing the folders it had to create."""
    from vmc.tasks.infer import all_or_nothing

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
        self._body: Any = None

    def __call__(self, path: Path, result: MotionResult, index: int, text: str) -> Path:
        """Write sample ``index`` of ``result`` to ``path`` (``.npz``; ``.bvh``/preview beside
        it) with :func:`vmc.motion.writing.write_motion_files`."""
        from dataclasses import replace

        from vmc.motion.writing import write_motion_files

        motion = self.stage.canonical(result.motions[index])
        motion = replace(motion, texts=[text])
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
        from vmc.render.preview import render_mesh_frames, write_preview
        from vmc.tasks.infer import pose_body

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
    if isinstance(steps, bool) or not isinstance(steps, int) or not 2 <= steps <= 1000:
        raise ValueError(f"--steps must be an int in [2, 1000], got {steps!r}")
    frames = _check_frames(frames)
    check_bvh_units(bvh_units)
    item_a, item_b = parse_item(a, "A"), parse_item(b, "B")
    folder = Path(out_dir).expanduser()
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"OUT_DIR {folder} exists and is not a folder")
    stage = load_edit_stage(model, run, assets)
    gen = stage.generator
    print(f"model: {stage.description}")
    result = gen.interpolate(
        _latent_source(item_a, gen),
        _latent_source(item_b, gen),
        steps=steps,
        num_frames=frames,
        generator=torch.Generator().manual_seed(0),
    )
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
    frames = _check_frames(frames)
    check_bvh_units(bvh_units)
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
    result = gen.arithmetic(
        _latent_source(item_base, gen),
        [_latent_source(item, gen) for item in items_plus],
        [_latent_source(item, gen) for item in items_minus],
        num_frames=frames,
        generator=torch.Generator().manual_seed(0),
    )
    text = item_base.label
    text += "".join(f" + {item.label}" for item in items_plus)
    text += "".join(f" - {item.label}" for item in items_minus)
    with _written_or_none(path.parent) as outputs:
        _Writer(stage, outputs, bvh, preview, bvh_units)(path, result, 0, text)
    print(f"wrote {path} ({text}; {frames} frames at {gen.fps:g} fps)")
    return path
