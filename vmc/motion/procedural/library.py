"""Captioned procedural SMPL motions: the synthetic dataset for tests and the embedded model.

World frame and conventions (see ``skeleton.py`` for the details):

* poses: ``float32 [T,24,3]`` SMPL axis-angle in SMPL joint order. Joint 0 is the root
  orientation in a **Y-up world** where the person stands upright facing **+Z** at frame 0
  (root yaw = 0 at frame 0; a forward lean or pelvis tilt may be present, so the root is
  identity up to pitch/roll); other joints are local rotations relative to SMPL's T-pose.
* trans: ``float32 [T,3]`` metres, the true root (pelvis) position: walks travel, jumps leave
  the ground. ``trans[0]`` is ``(0, h, 0)``: the pelvis above the origin at height ``h``
  chosen so that, with the library's rest skeleton (``REST_JOINTS``), the lowest sole point
  touches the floor ``y = 0``. For another body call ``skeleton.ground_offset``.
* fps: frames per second (default 30, MotionCLIP's rate).

Each clip is a :class:`~vmc.motion.types.Motion` (``frame="y_up"``, ``root_rest`` zero: the
library's skeleton has its pelvis at the origin, so ``trans`` is the pelvis position; the training
captions in ``texts``). To feed a Z-up pipeline (AMASS), ``motion.to_frame("z_up")``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vmc.motion.procedural.actions import ACTIONS, LOCOMOTION_FREE, STARTS_POSED
from vmc.motion.procedural.captions import render_captions
from vmc.motion.procedural.kinematics import MotionBuilder
from vmc.motion.types import Motion

__all__ = ["ONSET_SECONDS", "ProceduralMotion", "generate_motion", "list_actions", "sample_motions"]

#: Every clip starts from the standing pose and eases into its action over this time (s), so a
#: motion begins where its action begins (``MotionBuilder.ease_in``).
ONSET_SECONDS = 0.4


@dataclass
class ProceduralMotion:
    """One captioned motion (conventions in the module docstring).

    Attributes:
        motion: the motion: ``poses [T,24,3]`` (root in the Y-up world), ``trans [T,3]`` (Y up,
            floor at y = 0), ``fps``, the training paraphrases in ``texts`` (non-empty),
            ``name`` = the action, ``source="procedural"``, ``root_rest`` zero.
        captions_heldout: different wordings, never used for training (non-empty, disjoint).
        action: action name (one of :func:`list_actions`).
        params: the drawn variations (side, speed, amplitude ...) plus ``seed``.
    """

    motion: Motion
    captions_heldout: list[str]
    action: str
    params: dict = field(default_factory=dict)


def list_actions() -> list[str]:
    """Names of all procedural actions, in a fixed order."""
    return list(ACTIONS)


def generate_motion(
    action: str,
    num_frames: int = 60,
    fps: float = 30.0,
    seed: int | np.random.Generator | None = 0,
    onset: float = ONSET_SECONDS,
    aligned_cycles: bool | None = None,
    extra_captions: bool = True,
) -> ProceduralMotion:
    """Generate one motion of ``action`` with variations drawn from ``seed``.

    Args:
        action: one of :func:`list_actions`.
        num_frames: ``T >= 2``.
        fps: frame rate (> 0). Motion speeds are physical (Hz, m/s), independent of fps.
        seed: int seed or a ``numpy.random.Generator`` (same seed → identical motion).
        onset: seconds over which the clip eases in from the standing pose, cyclic actions
            starting their cycle at its start (0: the action from frame 0, cyclic ones at a
            random phase: the library that stages 1 and 2 of the embedded MotionCLIP were
            trained on).
        aligned_cycles: cyclic actions start at the start of their cycle
            (:meth:`~vmc.motion.procedural.kinematics.MotionBuilder.cycle_start`) rather than
            at a random phase; ``None``: when ``onset > 0``.
        extra_captions: the training captions include the extra paraphrases
            (:data:`~vmc.motion.procedural.captions.MORE_TRAIN`); ``False`` gives the captions
            stages 1 and 2 of the embedded MotionCLIP were trained with.

    Raises:
        ValueError: unknown action or bad sizes.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; available: {', '.join(ACTIONS)}")
    if isinstance(num_frames, bool) or not isinstance(num_frames, int | np.integer):
        raise ValueError(f"num_frames must be an int, got {num_frames!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    builder = MotionBuilder(int(num_frames), float(fps))
    builder.aligned_cycles = onset > 0 if aligned_cycles is None else bool(aligned_cycles)
    builder.stand(rng)
    rest = builder.snapshot()
    params = dict(ACTIONS[action](builder, rng))
    if onset > 0 and action not in STARTS_POSED:
        builder.ease_in(rest, onset)
    poses, trans = builder.build(locomotion=action not in LOCOMOTION_FREE)
    train, held = render_captions(action, params, extra_captions)
    if isinstance(seed, int | np.integer):
        params["seed"] = int(seed)
    motion = Motion(
        poses=poses,
        trans=trans,
        fps=float(fps),
        frame="y_up",
        texts=train,
        root_rest=np.zeros(3, np.float32),
        name=action,
        source="procedural",
    )
    return ProceduralMotion(
        motion=motion,
        captions_heldout=held,
        action=action,
        params=params,
    )


def sample_motions(
    num: int,
    num_frames: int = 60,
    fps: float = 30.0,
    seed: int = 0,
    actions: list[str] | tuple[str, ...] | None = None,
    onset: float = ONSET_SECONDS,
    aligned_cycles: bool | None = None,
    extra_captions: bool = True,
) -> list[ProceduralMotion]:
    """A dataset of ``num`` motions, balanced over ``actions`` (all by default).

    Actions are dealt in shuffled rounds so every action appears ``num // len(actions)`` or one
    more times. Sample ``i`` is generated from its own child seed of ``seed``, so the result is
    deterministic and independent of anything but the arguments. ``onset``,
    ``aligned_cycles``, ``extra_captions``: as in :func:`generate_motion`.
    """
    if num < 0:
        raise ValueError(f"num must be >= 0, got {num}")
    names = list_actions() if actions is None else list(actions)
    unknown = [a for a in names if a not in ACTIONS]
    if unknown or not names:
        raise ValueError(f"unknown or empty actions {unknown or names}; available: {list(ACTIONS)}")
    rng = np.random.default_rng(seed)
    order: list[str] = []
    while len(order) < num:
        order += [names[i] for i in rng.permutation(len(names))]
    child = rng.integers(0, 2**31 - 1, size=num)
    return [
        generate_motion(
            order[i], num_frames, fps, int(child[i]), onset, aligned_cycles, extra_captions
        )
        for i in range(num)
    ]
