"""SPIN's HMR-style SMPL regressor: ResNet-50 features + iterative error feedback (IEF).

State-dict layout (331 keys, 26,977,501 parameters + 53,330 buffer elements), identical to the
SPIN checkpoint iPERCore ships as ``spin_ckpt.pth``: the buffers ``init_pose (1, 144)``,
``init_shape (1, 10)``, ``init_cam (1, 3)`` (SMPL mean parameters), the torchvision ResNet-50
keys ``conv1 ... layer4`` (see :mod:`vmc.lwg.spin.backbone`), then the head ``fc1`` (2205 -> 1024),
``fc2`` (1024 -> 1024), ``decpose`` (-> 144), ``decshape`` (-> 10), ``deccam`` (-> 3).

Forward (3 IEF iterations, starting from the mean parameters)::

    x_i     = cat([f (2048), pose6d (144), betas (10), cam (3)])       # this order
    h_i     = drop(fc2(drop(fc1(x_i))))                                 # no ReLU anywhere
    pose6d += decpose(h_i);  betas += decshape(h_i);  cam += deccam(h_i)

Dropout (p = 0.5) acts only in ``train()`` mode.

Output conventions:

* ``pose6d [B, 144]``: 24 joints x 6, SPIN's 6-D form: each 6-tuple is a row-major 3x2 matrix
  whose two columns are Gram-Schmidt-orthonormalised into the first two **columns** of the
  rotation (:func:`vmc.geometry.rotations.rot6d_cols_to_matrix`); inverse ``R[:, :, :2]``.
* ``rotmat [B, 24, 3, 3]`` and ``pose_aa [B, 72]`` (axis-angle, angle in [0, pi]): SMPL joint
  order, the root orientation in the HMR image frame (x right, **y down**, camera looking along
  +z): an upright person facing the camera has a root of about ``R_x(pi)``.
* ``cam [B, 3] = (s, tx, ty)``: weak-perspective camera of the 224x224 input crop,
  ``x = s (X + tx)``, ``y = s (Y + ty)`` in the crop's NDC ([-1, 1], y down). Convert it to
  another image with :func:`vmc.lwg.spin.preprocess.spin_cam_to_square_crop`.
* ``betas [B, 10]``: SMPL shape coefficients.
* ``theta [B, 85] = cat([cam, pose_aa, betas])``: iPERCore's SMPL parameter vector.

The axis-angle conversion uses vmc's log map (quaternion via Shepperd's method); SPIN's own
torchgeometry quaternion route agrees with it to ~4e-5 (exactly the same rotations), except that
for angles of exactly pi the axis sign may differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from vmc.geometry.rotations import (
    matrix_to_axis_angle,
    matrix_to_rot6d_cols,
    rot6d_cols_to_matrix,
    rotation_about_x,
)
from vmc.lwg.spin.backbone import ResNet50Trunk

__all__ = [
    "HEAD_KEYS",
    "IEFStep",
    "NUM_JOINTS",
    "SPINOutput",
    "SPINRegressor",
    "SPIN_INPUT_SIZE",
    "SPIN_PARAM_COUNT",
]

NUM_JOINTS = 24
NPOSE = 6 * NUM_JOINTS  # 144
NBETAS = 10
NCAM = 3
SPIN_INPUT_SIZE = 224
SPIN_PARAM_COUNT = 26_977_501
#: State-dict key prefixes of the head (what a head-only file holds); the rest is the backbone.
HEAD_KEYS = (
    "init_pose",
    "init_shape",
    "init_cam",
    "fc1.",
    "fc2.",
    "decpose.",
    "decshape.",
    "deccam.",
)


@dataclass
class IEFStep:
    """Recorded intermediates of one IEF iteration (all ``[B, ...]`` float).

    Attributes:
        fc1_in: ``[B, 2205]`` the concatenation ``[f, pose6d, betas, cam]`` fed to ``fc1``.
        dpose: ``[B, 144]`` residual added to the 6-D pose.
        dshape: ``[B, 10]`` residual added to the betas.
        dcam: ``[B, 3]`` residual added to the camera.
    """

    fc1_in: torch.Tensor
    dpose: torch.Tensor
    dshape: torch.Tensor
    dcam: torch.Tensor


@dataclass
class SPINOutput:
    """Regressor prediction for a batch of ``B`` crops (conventions in the module docstring).

    Attributes:
        pred_cam: ``[B, 3]`` ``(s, tx, ty)`` in the 224x224 crop's NDC.
        pred_rotmat: ``[B, 24, 3, 3]`` joint rotations (root in the y-down image frame).
        pred_pose_aa: ``[B, 72]`` the same as axis-angle.
        pred_betas: ``[B, 10]`` SMPL shape.
        pred_pose6d: ``[B, 144]`` SPIN 6-D (column convention) before orthonormalisation.
        iterations: per-IEF-iteration intermediates, only when requested.
    """

    pred_cam: torch.Tensor
    pred_rotmat: torch.Tensor
    pred_pose_aa: torch.Tensor
    pred_betas: torch.Tensor
    pred_pose6d: torch.Tensor
    iterations: tuple[IEFStep, ...] = field(default=(), repr=False)

    @property
    def theta(self) -> torch.Tensor:
        """``[B, 85] = [cam (3), pose axis-angle (72), betas (10)]`` (SPIN's/iPERCore's output)."""
        return torch.cat([self.pred_cam, self.pred_pose_aa, self.pred_betas], dim=1)


def _placeholder_mean_pose() -> torch.Tensor:
    """``[1, 144]``: root ``R_x(pi)`` (upright, y-down frame), other joints identity."""
    rots = torch.eye(3).expand(NUM_JOINTS, 3, 3).clone()
    rots[0] = rotation_about_x(torch.tensor(torch.pi))
    return matrix_to_rot6d_cols(rots).reshape(1, NPOSE)


class SPINRegressor(ResNet50Trunk):
    """SPIN: ResNet-50 -> 2048-d feature -> 3 IEF iterations -> SMPL pose, shape and camera.

    A freshly built model holds placeholder mean parameters (root ``R_x(pi)``, other joints
    identity, betas 0, cam ``(0.9, 0, 0)``); the real SMPL means come with the checkpoint
    (:func:`vmc.lwg.spin.loading.load_spin`).

    Args:
        n_iter: IEF iterations (SPIN: 3).
    """

    def __init__(self, n_iter: int = 3) -> None:
        super().__init__()
        self.n_iter = int(n_iter)
        in_dim = self.feature_dim + NPOSE + NBETAS + NCAM  # 2205
        self.fc1 = nn.Linear(in_dim, 1024)
        self.drop1 = nn.Dropout()
        self.fc2 = nn.Linear(1024, 1024)
        self.drop2 = nn.Dropout()
        self.decpose = nn.Linear(1024, NPOSE)
        self.decshape = nn.Linear(1024, NBETAS)
        self.deccam = nn.Linear(1024, NCAM)
        for dec in (self.decpose, self.decshape, self.deccam):
            nn.init.xavier_uniform_(dec.weight, gain=0.01)  # start close to the mean
        self.register_buffer("init_pose", _placeholder_mean_pose())
        self.register_buffer("init_shape", torch.zeros(1, NBETAS))
        self.register_buffer("init_cam", torch.tensor([[0.9, 0.0, 0.0]]))

    # ----------------------------------------------------------------------------- forward
    def forward(self, images: torch.Tensor, *, record_iterations: bool = False) -> SPINOutput:
        """Regress SMPL parameters from person crops.

        Args:
            images: ``[B, 3, 224, 224]`` float RGB crops, ``(x / 255 - mean) / std`` with the
                ImageNet mean/std (what :func:`vmc.lwg.spin.preprocess.spin_crop` returns).
            record_iterations: also return the per-iteration intermediates.

        Returns:
            :class:`SPINOutput`.
        """
        if images.dim() != 4 or tuple(images.shape[1:]) != (3, SPIN_INPUT_SIZE, SPIN_INPUT_SIZE):
            raise ValueError(
                f"SPINRegressor expects images [B, 3, {SPIN_INPUT_SIZE}, {SPIN_INPUT_SIZE}], "
                f"got {list(images.shape)}"
            )
        return self.forward_head(self.forward_features(images), record_iterations=record_iterations)

    def forward_head(
        self, features: torch.Tensor, *, record_iterations: bool = False
    ) -> SPINOutput:
        """Run the IEF head on pooled backbone features.

        Args:
            features: ``[B, 2048]`` float (the backbone's average-pooled output).
            record_iterations: also return the per-iteration intermediates (:class:`IEFStep`).

        Returns:
            :class:`SPINOutput`.
        """
        if features.dim() != 2 or features.shape[1] != self.feature_dim:
            raise ValueError(
                f"forward_head expects features [B, {self.feature_dim}], got {list(features.shape)}"
            )
        b = features.shape[0]
        pose = self.init_pose.expand(b, -1)
        betas = self.init_shape.expand(b, -1)
        cam = self.init_cam.expand(b, -1)
        steps: list[IEFStep] = []
        for _ in range(self.n_iter):
            x = torch.cat([features, pose, betas, cam], dim=1)
            h = self.drop2(self.fc2(self.drop1(self.fc1(x))))
            dpose, dshape, dcam = self.decpose(h), self.decshape(h), self.deccam(h)
            pose, betas, cam = pose + dpose, betas + dshape, cam + dcam
            if record_iterations:
                steps.append(IEFStep(x, dpose, dshape, dcam))
        rotmat = rot6d_cols_to_matrix(pose.reshape(b, NUM_JOINTS, 6))
        pose_aa = matrix_to_axis_angle(rotmat).reshape(b, 3 * NUM_JOINTS)
        return SPINOutput(
            pred_cam=cam,
            pred_rotmat=rotmat,
            pred_pose_aa=pose_aa,
            pred_betas=betas,
            pred_pose6d=pose,
            iterations=tuple(steps),
        )

    # ----------------------------------------------------------------------------- helpers
    @staticmethod
    def is_head_key(key: str) -> bool:
        """True for state-dict keys of the IEF head and mean buffers (not the ResNet-50)."""
        return key.startswith(HEAD_KEYS)
