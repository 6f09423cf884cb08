"""MotionCLIP networks (text-to-motion stage 1) and helpers around them.

Public API: :class:`MotionCLIP` (``encode``/``decode``/``forward``/``from_official``),
:class:`MotionCLIPConfig`, :func:`overwrite_root_orientation` (the reference's generate-time root
overwrite), :func:`lengths_to_mask`. Motion tensors are ``[B, 25, 6, T]``
(see ``vmc.motion.model``).

The one motion type: :class:`Motion` (``vmc.motion.types``).

Around the network: :func:`load_motionclip_run` (an export, run directory or checkpoint of
this project -> model + info), :class:`TextToMotion` / :class:`MotionResult` (text -> SMPL
motion) and :func:`read_prompt_file`, :func:`smpl_to_motion` / :func:`motion_to_smpl` (SMPL
rotations + translation <-> the model's ``[25, 6, T]`` representation).
"""

from vmc.motion.convert import motion_to_smpl, smpl_to_motion
from vmc.motion.generate import MotionResult, TextToMotion, read_prompt_file
from vmc.motion.model import (
    REFERENCE_GENERATE_ROOT_6D,
    MotionCLIP,
    MotionCLIPConfig,
    MotionCLIPOutput,
    lengths_to_mask,
    overwrite_root_orientation,
)
from vmc.motion.runs import load_motionclip_run
from vmc.motion.types import Motion

__all__ = [
    "REFERENCE_GENERATE_ROOT_6D",
    "Motion",
    "MotionCLIP",
    "MotionCLIPConfig",
    "MotionCLIPOutput",
    "MotionResult",
    "TextToMotion",
    "lengths_to_mask",
    "load_motionclip_run",
    "motion_to_smpl",
    "overwrite_root_orientation",
    "read_prompt_file",
    "smpl_to_motion",
]
