"""SMPL-format body model: linear blend skinning over smplx's ``lbs``.

Built from explicit arrays (never from smplx's own file loader: that reads pickles only and
adds 21 extra keypoints at SMPL-H vertex ids). The joints returned are exactly the 24 regressed,
posed SMPL joints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from smplx.lbs import lbs
from torch import nn

from vmc.body.joints import NUM_SMPL_JOINTS
from vmc.body.smpl_files import NUM_POSE_BASIS, load_body_arrays, validate_body_arrays
from vmc.geometry.rotations import axis_angle_to_matrix

__all__ = ["BodyModel", "BodyOutput"]


@dataclass
class BodyOutput:
    """Posed body.

    Attributes:
        vertices: ``[B, V, 3]`` posed vertices (translation included).
        joints: ``[B, 24, 3]`` posed SMPL joints (translation included).
    """

    vertices: torch.Tensor
    joints: torch.Tensor


class BodyModel(nn.Module):
    """SMPL-format body: ``(betas, pose, transl) -> vertices, joints``.

    Buffers (move with ``.to()``): ``v_template [V,3]``, ``shapedirs [V,3,nb]``,
    ``posedirs [207, V*3]`` (smplx layout), ``J_regressor [24,V]``, ``lbs_weights [V,24]``,
    ``faces [F,3] long``, ``parents [24] long``; when the source has them, ``vt [Nvt,2]``,
    ``ft [F,3] long``, ``face_part [F] long`` (else ``None``), and the plain attribute
    ``part_names`` (list of str, or ``None``).

    Frames: the rest pose is SMPL's (Y up, facing +z, metres); apply the root rotation to
    change frames (e.g. ``R_x(pi)`` for the HMR image frame).
    """

    faces: torch.Tensor
    parents: torch.Tensor
    v_template: torch.Tensor
    shapedirs: torch.Tensor
    posedirs: torch.Tensor
    J_regressor: torch.Tensor
    lbs_weights: torch.Tensor

    def __init__(
        self,
        arrays: dict[str, Any],
        *,
        num_betas: int | None = None,
        dtype: torch.dtype = torch.float32,
        source: str = "<arrays>",
    ) -> None:
        """
        Args:
            arrays: SMPL-format arrays (see :mod:`vmc.body.smpl_files`); validated here.
            num_betas: keep only the first ``num_betas`` shape components (default: all).
            dtype: floating dtype of the buffers.
            source: name used in error messages.
        """
        super().__init__()
        a = validate_body_arrays(arrays, source=source)
        nb_file = a["shapedirs"].shape[2]
        if num_betas is None:
            num_betas = nb_file
        if not 0 <= num_betas <= nb_file:
            raise ValueError(f"num_betas={num_betas} but {source} has {nb_file} shape components")
        self.num_betas = int(num_betas)
        self.num_vertices = int(a["v_template"].shape[0])
        self.num_joints = NUM_SMPL_JOINTS
        self.source = source

        def buf(name: str, x: np.ndarray, dt: torch.dtype = dtype) -> None:
            self.register_buffer(name, torch.as_tensor(np.ascontiguousarray(x), dtype=dt))

        buf("v_template", a["v_template"])
        buf("shapedirs", a["shapedirs"][:, :, : self.num_betas])
        # smplx expects posedirs as [207, V*3].
        buf("posedirs", a["posedirs"].reshape(-1, NUM_POSE_BASIS).T)
        buf("J_regressor", a["J_regressor"])
        buf("lbs_weights", a["weights"])
        buf("faces", a["f"], torch.long)
        buf("parents", a["kintree_table"][0], torch.long)
        self.vt: torch.Tensor | None
        self.ft: torch.Tensor | None
        self.face_part: torch.Tensor | None
        if "vt" in a:
            buf("vt", a["vt"])
            buf("ft", a["ft"], torch.long)
        else:
            self.register_buffer("vt", None)
            self.register_buffer("ft", None)
        if "face_part" in a:
            buf("face_part", a["face_part"], torch.long)
            self.part_names: list[str] | None = [str(n) for n in a["part_names"]]
        else:
            self.register_buffer("face_part", None)
            self.part_names = None

    # ----------------------------------------------------------------------------------------
    # Construction

    @classmethod
    def from_arrays(
        cls, *, num_betas: int | None = None, dtype: torch.dtype = torch.float32, **arrays: Any
    ) -> BodyModel:
        """Build from SMPL-format arrays given as keyword arguments (numpy or torch)."""
        arrays = {
            k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v)
            for k, v in arrays.items()
        }
        return cls(arrays, num_betas=num_betas, dtype=dtype)

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        num_betas: int | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> BodyModel:
        """Load an SMPL-format ``.pkl`` (restricted unpickler; official chumpy files work) or
        ``.npz``. A missing file raises FileNotFoundError saying where SMPL goes."""
        return cls(load_body_arrays(path), num_betas=num_betas, dtype=dtype, source=str(path))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The model as SMPL-format numpy arrays (inverse of :meth:`from_arrays`)."""
        nv = self.num_vertices
        kt = np.stack([self.parents.cpu().numpy(), np.arange(NUM_SMPL_JOINTS)])
        out: dict[str, np.ndarray] = {
            "v_template": self.v_template.cpu().numpy(),
            "shapedirs": self.shapedirs.cpu().numpy(),
            "posedirs": self.posedirs.T.reshape(nv, 3, NUM_POSE_BASIS).cpu().numpy(),
            "J_regressor": self.J_regressor.cpu().numpy(),
            "weights": self.lbs_weights.cpu().numpy(),
            "kintree_table": kt,
            "f": self.faces.cpu().numpy(),
        }
        if self.vt is not None and self.ft is not None:
            out["vt"], out["ft"] = self.vt.cpu().numpy(), self.ft.cpu().numpy()
        if self.face_part is not None and self.part_names is not None:
            out["face_part"] = self.face_part.cpu().numpy()
            out["part_names"] = np.asarray(self.part_names)
        return out

    # ----------------------------------------------------------------------------------------
    # Forward

    @property
    def dtype(self) -> torch.dtype:
        return self.v_template.dtype

    def _batch_size(self, *tensors: torch.Tensor | None) -> int:
        sizes = {int(t.shape[0]) for t in tensors if t is not None}
        sizes.discard(1)
        if len(sizes) > 1:
            raise ValueError(f"inconsistent batch sizes {sorted(sizes)} among betas/pose/transl")
        return sizes.pop() if sizes else 1

    def _prep_betas(self, betas: torch.Tensor | None, batch: int) -> torch.Tensor:
        device, dtype = self.v_template.device, self.dtype
        if betas is None:
            return torch.zeros(batch, self.num_betas, device=device, dtype=dtype)
        if betas.dim() != 2:
            raise ValueError(
                f"betas must have shape [B, <= {self.num_betas}], got {list(betas.shape)}"
            )
        k = betas.shape[1]
        if k > self.num_betas:
            raise ValueError(
                f"betas has {k} components but this body model has num_betas={self.num_betas}"
            )
        betas = betas.to(device=device, dtype=dtype)
        if k < self.num_betas:
            betas = torch.cat([betas, betas.new_zeros(betas.shape[0], self.num_betas - k)], dim=1)
        return betas.expand(batch, -1)

    def shaped(self, betas: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Rest-pose vertices ``[B, V, 3]`` and joints ``[B, 24, 3]`` for ``betas [B, <=nb]``."""
        betas = self._prep_betas(betas, self._batch_size(betas))
        v = self.v_template + torch.einsum("bl,vkl->bvk", betas, self.shapedirs)
        return v, torch.einsum("jv,bvk->bjk", self.J_regressor, v)

    def forward(
        self,
        betas: torch.Tensor | None = None,
        rotations: torch.Tensor | None = None,
        pose_axis_angle: torch.Tensor | None = None,
        transl: torch.Tensor | None = None,
    ) -> BodyOutput:
        """Pose the body.

        Args:
            betas: ``[B, k]`` with ``k <= num_betas`` (missing components are zero); None = 0.
            rotations: ``[B, 24, 3, 3]`` joint rotation matrices (joint 0 = global orientation).
            pose_axis_angle: ``[B, 72]`` or ``[B, 24, 3]`` axis-angle; give at most one of
                ``rotations`` and ``pose_axis_angle`` (neither = rest pose).
            transl: ``[B, 3]`` translation added to vertices and joints; None = 0.

        A batch of 1 in any argument broadcasts against the others.

        Returns:
            :class:`BodyOutput` with ``vertices [B, V, 3]`` and ``joints [B, 24, 3]``.
        """
        device, dtype = self.v_template.device, self.dtype
        if rotations is not None and pose_axis_angle is not None:
            raise ValueError("give either rotations or pose_axis_angle, not both")
        if pose_axis_angle is not None:
            if pose_axis_angle.dim() == 2 and pose_axis_angle.shape[1] == 3 * NUM_SMPL_JOINTS:
                pose_axis_angle = pose_axis_angle.reshape(-1, NUM_SMPL_JOINTS, 3)
            if pose_axis_angle.dim() != 3 or pose_axis_angle.shape[1:] != (NUM_SMPL_JOINTS, 3):
                raise ValueError(
                    "pose_axis_angle must have shape [B, 72] or [B, 24, 3], "
                    f"got {list(pose_axis_angle.shape)}"
                )
            rotations = axis_angle_to_matrix(pose_axis_angle.to(device=device, dtype=dtype))
        if rotations is not None and (
            rotations.dim() != 4 or rotations.shape[1:] != (NUM_SMPL_JOINTS, 3, 3)
        ):
            raise ValueError(
                f"rotations must have shape [B, 24, 3, 3], got {list(rotations.shape)}"
            )
        if transl is not None and (transl.dim() != 2 or transl.shape[1] != 3):
            raise ValueError(f"transl must have shape [B, 3], got {list(transl.shape)}")

        batch = self._batch_size(betas, rotations, transl)
        betas_full = self._prep_betas(betas, batch)
        if rotations is None:
            rot = torch.eye(3, device=device, dtype=dtype).expand(batch, NUM_SMPL_JOINTS, 3, 3)
        else:
            rot = rotations.to(device=device, dtype=dtype).expand(batch, -1, -1, -1)
        vertices, joints = lbs(
            betas_full,
            rot.contiguous(),
            self.v_template,
            self.shapedirs,
            self.posedirs,
            self.J_regressor,
            self.parents,
            self.lbs_weights,
            pose2rot=False,
        )
        if transl is not None:
            t = transl.to(device=device, dtype=dtype)[:, None, :]
            vertices = vertices + t
            joints = joints + t
        return BodyOutput(vertices=vertices, joints=joints)

    def extra_repr(self) -> str:
        return (
            f"num_vertices={self.num_vertices}, num_faces={self.faces.shape[0]}, "
            f"num_betas={self.num_betas}, uv={self.vt is not None}, "
            f"parts={None if self.part_names is None else len(self.part_names)}"
        )
