"""MotionCLIP latent editing on texts and motion files: interpolation and arithmetic.

The MotionCLIP paper edits motions in its latent space (``docs/text_to_motion.md``); the latent
operations are :meth:`vmc.motion.generate.TextToMotion.interpolate` and
:meth:`~vmc.motion.generate.TextToMotion.arithmetic`. This module feeds them *items*: an item is a
text or a motion file. An item ending in ``.npz`` is a motion file and must exist; anything else
is a text (:func:`parse_item`).

A motion file (our AMASS-style export, a real AMASS file, or the folder format;
:func:`vmc.motion.export.load_motion_npz`) is encoded with the model's motion encoder after
being brought to what the model was trained on (:func:`motion_file_tensor`): turned into the
model's world with :mod:`vmc.geometry.frames`, resampled to the model's fps, cut to its window
(or padded by holding the last frame). The heading is not changed.

Editing needs a MotionCLIP model (:func:`load_edit_stage`); caption retrieval, the fallback of
``infer.py``, has no latent space and is refused. The command line is ``python -m vmc motion
interpolate|arithmetic`` (:mod:`vmc.cli.motion`), which also writes the results.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from vmc.io.stages import StageRequest
from vmc.motion.convert import smpl_to_motion
from vmc.motion.export import load_motion_npz
from vmc.motion.generate import MotionResult, TextToMotion
from vmc.motion.resample import fit_length, resample_motion
from vmc.motion.stage import MotionCLIPStage, select_motion_stage

__all__ = [
    "EDIT_MODEL_KINDS",
    "EditItem",
    "arithmetic_items",
    "interpolate_items",
    "latent_source",
    "load_edit_stage",
    "motion_file_tensor",
    "parse_item",
]

#: ``--model`` choices: the motion stages that have a latent space (no ``retrieval``).
EDIT_MODEL_KINDS = ("auto", "run", "paper", "embedded")


@dataclass(frozen=True)
class EditItem:
    """One item to edit with: a text, or a motion file (``path`` set).

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
    if model not in EDIT_MODEL_KINDS:
        raise ValueError(f"--model must be one of {', '.join(EDIT_MODEL_KINDS)}, got {model!r}")
    if model == "run" and not run:
        raise ValueError("--model run needs --run PATH (export folder, run folder or checkpoint)")
    if run and model not in ("run", "auto"):
        raise ValueError(f"--run is used by --model run (or auto), not --model {model}")
    stage = select_motion_stage(StageRequest(motion=model, motion_run=run, assets_dir=assets))
    if not isinstance(stage, MotionCLIPStage):
        raise ValueError(
            "motion editing needs a MotionCLIP model (--model embedded, paper or run --run "
            f"PATH); only {stage.description} is available here ({stage.why})"
        )
    return stage


def motion_file_tensor(path: str | os.PathLike[str], generator: TextToMotion) -> torch.Tensor:
    """A motion file as the model's input: float32 ``[25, 6, W]`` (``W = generator.window``).

    Steps: read, turn into the model's world (the file's ``up_axis`` key: ``"z"`` for files of
    this version, ``"y"`` for older vmc files; without the key Z-up for real AMASS files, else
    Y-up; converted with :mod:`vmc.geometry.frames` about the file's ``root_rest``), resample to
    ``generator.fps``, cut to ``W`` frames or hold the last one, then
    :func:`~vmc.motion.convert.smpl_to_motion` with the model's ``translation`` and ``up_axis``.
    The heading is not changed.

    Raises:
        FileNotFoundError, ValueError: unreadable file (from ``load_motion_npz``).
    """
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


def latent_source(item: EditItem, generator: TextToMotion) -> str | torch.Tensor:
    """What ``TextToMotion`` encodes for ``item``: the text, or the motion ``[25, 6, W]``."""
    return item.label if item.path is None else motion_file_tensor(item.path, generator)


def interpolate_items(
    generator: TextToMotion,
    a: EditItem,
    b: EditItem,
    steps: int,
    num_frames: int,
    seed: int = 0,
) -> MotionResult:
    """``steps`` motions of ``num_frames`` frames decoded from ``(1 - t) z(a) + t z(b)``.

    ``t = i / (steps - 1)``, so samples 0 and ``steps - 1`` are the plain generations of ``a``
    and ``b``. Returns rotations ``[steps, T, 24, 3, 3]`` and trans ``[steps, T, 3]`` in the
    model's world; ``seed`` drives the decoder's latent noise.
    """
    return generator.interpolate(
        latent_source(a, generator),
        latent_source(b, generator),
        steps=steps,
        num_frames=num_frames,
        generator=torch.Generator().manual_seed(seed),
    )


def arithmetic_items(
    generator: TextToMotion,
    base: EditItem,
    plus: Sequence[EditItem],
    minus: Sequence[EditItem],
    num_frames: int,
    seed: int = 0,
) -> MotionResult:
    """One motion of ``num_frames`` frames decoded from ``z(base) + sum z(plus) - sum z(minus)``.

    Returns rotations ``[1, T, 24, 3, 3]`` and trans ``[1, T, 3]`` in the model's world;
    ``seed`` drives the decoder's latent noise.
    """
    return generator.arithmetic(
        latent_source(base, generator),
        [latent_source(item, generator) for item in plus],
        [latent_source(item, generator) for item in minus],
        num_frames=num_frames,
        generator=torch.Generator().manual_seed(seed),
    )
