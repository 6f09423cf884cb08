"""Procedural library of captioned SMPL motions (synthetic training and test data).

Public API: :class:`ProceduralMotion`, :func:`generate_motion`, :func:`sample_motions`,
:func:`list_actions`; the rest skeleton and forward kinematics live in ``skeleton``.
"""

from vmc.motion.procedural.library import (
    ONSET_SECONDS,
    ProceduralMotion,
    generate_motion,
    list_actions,
    sample_motions,
)
from vmc.motion.procedural.skeleton import REST_JOINTS, SMPL_PARENTS, forward_kinematics

__all__ = [
    "ONSET_SECONDS",
    "REST_JOINTS",
    "SMPL_PARENTS",
    "ProceduralMotion",
    "forward_kinematics",
    "generate_motion",
    "list_actions",
    "sample_motions",
]
