"""MotionCLIP networks (text-to-motion stage 1) and helpers around them.

Public API: :class:`MotionCLIP` (``encode``/``decode``/``forward``/``from_official``),
:class:`MotionCLIPConfig`, :func:`overwrite_root_orientation` (the reference's generate-time root
overwrite), :func:`lengths_to_mask`. Motion tensors are ``[B, 25, 6, T]``
(see ``vmc.motion.model``).
"""

from vmc.motion.model import (
    REFERENCE_GENERATE_ROOT_6D,
    MotionCLIP,
    MotionCLIPConfig,
    MotionCLIPOutput,
    lengths_to_mask,
    overwrite_root_orientation,
)

__all__ = [
    "REFERENCE_GENERATE_ROOT_6D",
    "MotionCLIP",
    "MotionCLIPConfig",
    "MotionCLIPOutput",
    "lengths_to_mask",
    "overwrite_root_orientation",
]
