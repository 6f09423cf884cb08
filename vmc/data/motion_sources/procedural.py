"""The procedural motion library (:mod:`vmc.motion.procedural`) as :class:`MotionRecord` s.

Synthetic, captioned, Y-up (the library's world: upright, facing +Z at frame 0, floor at
``y = 0``) with the true root trajectory in ``trans``. Generated directly at the target
``fps`` (the library's speeds are physical), so no resampling happens. ``texts`` are the
training paraphrases, ``texts_heldout`` other wordings kept for evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from vmc.data.motion_sources.record import MotionRecord
from vmc.data.motion_sources.report import LoadReport, publish
from vmc.motion.procedural import ONSET_SECONDS, sample_motions

__all__ = ["load_procedural"]


def load_procedural(
    num: int = 256,
    num_frames: int = 60,
    fps: float = 30,
    seed: int = 0,
    actions: Sequence[str] | None = None,
    onset: float = ONSET_SECONDS,
    extra_captions: bool = True,
) -> list[MotionRecord]:
    """``num`` procedural motions of ``num_frames`` frames at ``fps``, balanced over
    ``actions`` (all by default); deterministic in ``seed``.

    Named ``"s{seed}_{i:05d}_{action}"``: the seed is part of the name, so clips drawn with
    different seeds (e.g. the training and validation sources) never share a name (nor a
    rendered frame file, nor a split hash). ``onset``: seconds each clip eases in from
    standing, cyclic actions starting at the start of their cycle; ``extra_captions``: more
    training paraphrases (both: :func:`vmc.motion.procedural.generate_motion`).
    """
    if num < 1:
        raise ValueError(f"num must be >= 1, got {num}")
    motions = sample_motions(
        num, num_frames=num_frames, fps=float(fps), seed=seed,
        actions=None if actions is None else list(actions), onset=onset,
        extra_captions=extra_captions,
    )  # fmt: skip
    records = [
        MotionRecord(
            replace(m.motion, texts=list(m.motion.texts), name=f"s{seed}_{i:05d}_{m.action}"),
            texts_heldout=list(m.captions_heldout),
        )
        for i, m in enumerate(motions)
    ]
    n = len(records)
    publish(LoadReport(f"procedural (seed {seed})", "", found=n, used=n, records=n))
    return records
