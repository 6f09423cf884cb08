"""Body models in SMPL format: the SMPL-format :class:`BodyModel`, its file formats, the SMPL
kinematic tree and a small procedural body for tests."""

from vmc.body.model import BodyModel, BodyOutput

__all__ = ["BodyModel", "BodyOutput"]
