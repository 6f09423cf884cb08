"""SPIN (HMR-style) SMPL regressor for paper-mode person fitting: network, weights, crops.

* :class:`SPINRegressor`: ResNet-50 + iterative-error-feedback head; its ``state_dict`` has the
  key names and shapes of iPERCore's ``spin_ckpt.pth`` (331 keys, 26,977,501 parameters).
* :func:`load_spin`: safe (``weights_only``), strict loading; ``parts="head"`` for head-only files.
* :func:`spin_crop`, :func:`spin_cam_to_square_crop`, :func:`fit_person`: the 224x224 input crop
  and the camera conversion to a subject's square crop.

Plain ``nn.Module``s and functions (no Lightning / Hydra). Conventions: ``docs/spin.md``.
"""

from vmc.lwg.spin.backbone import Bottleneck, ResNet50Trunk
from vmc.lwg.spin.loading import load_spin, load_spin_state_dict, read_spin_state_dict
from vmc.lwg.spin.preprocess import (
    SPIN_BOX_SIZE,
    SPINCropTransform,
    SPINFit,
    fit_person,
    spin_cam_to_square_crop,
    spin_crop,
)
from vmc.lwg.spin.regressor import (
    SPIN_INPUT_SIZE,
    SPIN_PARAM_COUNT,
    IEFStep,
    SPINOutput,
    SPINRegressor,
)

__all__ = [
    "SPIN_BOX_SIZE",
    "SPIN_INPUT_SIZE",
    "SPIN_PARAM_COUNT",
    "Bottleneck",
    "IEFStep",
    "ResNet50Trunk",
    "SPINCropTransform",
    "SPINFit",
    "SPINOutput",
    "SPINRegressor",
    "fit_person",
    "load_spin",
    "load_spin_state_dict",
    "read_spin_state_dict",
    "spin_cam_to_square_crop",
    "spin_crop",
]
