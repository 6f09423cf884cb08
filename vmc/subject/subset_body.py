"""Pose only some vertices of a body: the fit's inner loop needs landmarks and a silhouette
subset, not all 13,718 vertices.

Same linear blend skinning as :class:`vmc.body.model.BodyModel` (smplx's ``lbs``: shape blend
shapes, pose blend shapes, rigid joint transforms, skinning), restricted to chosen vertex ids.
The joint regressor is folded into the shape space once (``J = J_template + J_dirs betas``), so
joints stay exact without shaping every vertex. A fit iteration on ~3,500 vertices costs about a
quarter of the full forward/backward pass; one on the 33 landmarks almost nothing.
"""

from __future__ import annotations

import torch
from smplx.lbs import batch_rigid_transform
from torch import nn

__all__ = ["SubsetBody"]


class SubsetBody(nn.Module):
    """``(betas, rotations) -> (vertices[ids], joints)`` of a ``BodyModel``.

    Args:
        body: the ``BodyModel`` (its buffers are sliced, not copied wholesale).
        vertex_ids: ``long [K]`` vertex indices to pose.
    """

    def __init__(self, body: nn.Module, vertex_ids: torch.Tensor) -> None:
        super().__init__()
        ids = torch.as_tensor(vertex_ids, dtype=torch.long)
        nv = body.num_vertices
        self.num_betas = int(body.num_betas)
        self.register_buffer("ids", ids)
        self.register_buffer("v_template", body.v_template[ids].clone())
        self.register_buffer("shapedirs", body.shapedirs[ids].clone())  # [K,3,nb]
        pd = body.posedirs.reshape(-1, nv, 3)[:, ids].reshape(body.posedirs.shape[0], -1)
        self.register_buffer("posedirs", pd.clone())  # [207, K*3]
        self.register_buffer("lbs_weights", body.lbs_weights[ids].clone())  # [K,24]
        self.register_buffer("parents", body.parents.clone())
        jr = body.J_regressor
        self.register_buffer("j_template", jr @ body.v_template)  # [24,3]
        self.register_buffer("j_dirs", torch.einsum("jv,vkl->jkl", jr, body.shapedirs))

    def forward(
        self, betas: torch.Tensor | None, rotations: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pose the subset.

        Args:
            betas: ``[B, nb]`` (or ``[1, nb]``, broadcast; None = 0).
            rotations: ``[B, 24, 3, 3]`` local joint rotations (joint 0 = global orientation).

        Returns:
            ``vertices [B, K, 3]`` and ``joints [B, 24, 3]`` (posed, no translation).
        """
        b = rotations.shape[0]
        dtype = self.v_template.dtype
        if betas is None:
            betas = rotations.new_zeros(1, self.num_betas)
        betas = betas.to(dtype).expand(b, -1)
        v_shaped = self.v_template + torch.einsum("bl,kcl->bkc", betas, self.shapedirs)
        joints = self.j_template + torch.einsum("bl,jcl->bjc", betas, self.j_dirs)
        eye = torch.eye(3, dtype=dtype, device=rotations.device)
        feat = (rotations[:, 1:] - eye).reshape(b, -1)
        v_posed = v_shaped + (feat @ self.posedirs).reshape(b, -1, 3)
        j_posed, a = batch_rigid_transform(rotations, joints, self.parents, dtype=dtype)
        t = (self.lbs_weights @ a.reshape(b, 24, 16)).reshape(b, -1, 4, 4)
        verts = (t[..., :3, :3] @ v_posed[..., None])[..., 0] + t[..., :3, 3]
        return verts, j_posed
