"""The one writer of motion files: :func:`write_motion_files`.

``python infer.py ... out=x.npz`` (and ``prompts=<file>``), ``python -m vmc motion
interpolate|arithmetic`` and :meth:`vmc.motion.generate.TextToMotion.generate_from_file` all write
through it, so every motion file vmc writes has the same layout and frames: ``.npz`` in AMASS's
Z-up world (:func:`vmc.motion.export.save_amass_npz`) and ``.bvh`` in Y-up
(:func:`vmc.motion.export.save_bvh`), both for the body the motion is meant for (smplx
convention: the pelvis at ``J0 + trans``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import numpy as np

from vmc.motion.export import check_bvh_units, save_amass_npz, save_bvh
from vmc.motion.types import Motion

__all__ = ["MOTION_FILE_SUFFIXES", "OutputRecorder", "write_motion_files"]

#: File types :func:`write_motion_files` writes, by suffix.
MOTION_FILE_SUFFIXES = (".npz", ".bvh")


class OutputRecorder(Protocol):
    """Where written files are recorded (e.g. ``vmc.tasks.infer.OutputSet``), so that a failed
    or interrupted command can remove them."""

    def add(self, path: Path) -> Path: ...


@contextlib.contextmanager
def _recorded(path: Path, outputs: OutputRecorder | None) -> Iterator[None]:
    """Record ``path`` in ``outputs`` around the block that writes it.

    A new file is recorded before the block (Ctrl-C right after it lands still removes it); a
    file that already exists is recorded only once the block has replaced it, so a failure
    before that leaves the user's file alone.
    """
    existed = path.exists()
    if outputs is not None and not existed:
        outputs.add(path)
    yield
    if outputs is not None and existed:
        outputs.add(path)


def write_motion_files(
    path: str | os.PathLike[str],
    motion: Motion,
    *,
    bvh: bool = False,
    rest_joints: np.ndarray | None = None,
    betas: np.ndarray | None = None,
    bvh_units: str = "cm",
    outputs: OutputRecorder | None = None,
) -> list[Path]:
    """Write ``motion`` to ``path`` (``.npz`` or ``.bvh`` by suffix), atomically.

    Args:
        path: ``.npz`` (AMASS layout, Z-up) or ``.bvh`` (Y-up).
        motion: any frame; converted by the writers.
        bvh: with a ``.npz`` path, also write ``<stem>.bvh`` beside it.
        rest_joints: ``[24, 3]`` shaped rest joints of the body the motion is meant for (the
            posed body's ``body.shaped(betas)[1][0]``): the motion is rebased on its pelvis
            (:meth:`Motion.rebased`) so ``trans`` follows smplx for that body, and the BVH
            skeleton uses these offsets. ``None``: the motion's own ``root_rest`` and the
            procedural skeleton for BVH.
        betas: that body's shape coefficients, written to the ``.npz`` (default: the motion's,
            else 10 zeros).
        bvh_units: ``"cm"`` or ``"m"`` (:func:`vmc.motion.export.save_bvh`).
        outputs: records every written file (:class:`OutputRecorder`).

    Returns:
        The written paths, ``path`` first.

    Raises:
        ValueError: an unsupported suffix or bad ``bvh_units``/``rest_joints``.
    """
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in MOTION_FILE_SUFFIXES:
        raise ValueError(f"motion files end with {' or '.join(MOTION_FILE_SUFFIXES)}, got {out}")
    check_bvh_units(bvh_units)
    m = motion
    if rest_joints is not None:
        rest = np.asarray(rest_joints, dtype=np.float64)
        if rest.shape != (24, 3):
            raise ValueError(f"rest_joints must be [24, 3], got {rest.shape}")
        m = m.rebased(rest[0])
    if betas is not None:
        m = replace(m, betas=betas, texts=list(m.texts))
    paths = [out]
    if suffix == ".npz" and bvh:
        paths.append(out.with_suffix(".bvh"))
    for target in paths:
        with _recorded(target, outputs):
            if target.suffix.lower() == ".npz":
                save_amass_npz(target, m)
            else:
                save_bvh(target, m, rest_joints, units=bvh_units)
    return paths
