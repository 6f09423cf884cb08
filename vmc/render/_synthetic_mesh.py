"""A closed, body-like synthetic mesh for rasterizer tests and benchmarks.

The mesh is a UV sphere deformed into a flat "star person" (head, two arms, two legs as lobes of the
silhouette), already in the rasterizer's projected frame: x right, y down (head at negative y),
z = depth (camera looks along +z). Faces are wound so that the outward normal is right-handed,
which makes camera-facing faces have signed image area <= 0, i.e. they survive back-face culling
exactly like SMPL faces under the HMR camera (see ``vmc.render.rasterizer``).

With the default ``n_lat=83, n_lon=84`` the mesh has SMPL's size: 6,890 vertices, 13,776 faces.
"""

from __future__ import annotations

import math

import torch

# (angle in the image plane in radians with y down, amplitude, width): lobes added to the silhouette
# radius. -pi/2 points up (head), +pi/2 points down (legs).
_LOBES: tuple[tuple[float, float, float], ...] = (
    (-math.pi / 2, 0.38, 0.30),  # head
    (math.pi - 0.35, 0.5, 0.18),  # arm (image left)
    (0.35, 0.5, 0.18),  # arm (image right)
    (math.pi / 2 + 0.3, 0.6, 0.15),  # leg
    (math.pi / 2 - 0.3, 0.6, 0.15),  # leg
)


def _silhouette_radius(phi: torch.Tensor) -> torch.Tensor:
    """Radius of the star-shaped silhouette at image-plane angle ``phi`` (any shape, float)."""
    r = torch.full_like(phi, 0.42)
    for centre, amp, width in _LOBES:
        # Wrapped angular distance so lobes are continuous across +-pi.
        d = torch.remainder(phi - centre + math.pi, 2 * math.pi) - math.pi
        r = r + amp * torch.exp(-0.5 * (d / width) ** 2)
    return r


def make_body_like_mesh(
    n_lat: int = 83,
    n_lon: int = 84,
    scale: float = 1.0,
    depth: float = 0.15,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Build the synthetic body-like mesh.

    Args:
        n_lat: number of latitude steps pole to pole (rings = ``n_lat - 1``), >= 2.
        n_lon: number of longitude steps, >= 3.
        scale: multiplies x and y (``1.0`` covers about 35% of the [-1,1]^2 image).
        depth: half-thickness of the body along z.
        dtype: float dtype of the vertices.

    Returns:
        ``(points [V,3] float, faces [F,3] long)`` with ``V = 2 + n_lon (n_lat - 1)`` and
        ``F = 2 n_lon (n_lat - 1)``; points are already projected (x, y in NDC, y down; z depth).
    """
    if n_lat < 2 or n_lon < 3:
        raise ValueError(
            f"make_body_like_mesh needs n_lat >= 2 and n_lon >= 3, got {n_lat}, {n_lon}"
        )
    # Poles on the z axis (front and back of the body); rings are circles in the image plane.
    theta = torch.arange(1, n_lat, dtype=torch.float64) * (math.pi / n_lat)  # [n_lat-1]
    phi = torch.arange(n_lon, dtype=torch.float64) * (2 * math.pi / n_lon)  # [n_lon]
    st, ct = torch.sin(theta)[:, None], torch.cos(theta)[:, None]
    r = _silhouette_radius(phi)[None, :]
    x = st * torch.cos(phi)[None, :] * r
    y = st * torch.sin(phi)[None, :] * r
    z = ct.expand_as(x) * depth
    ring = torch.stack([x, y, z], dim=-1).reshape(-1, 3)
    north = torch.tensor([[0.0, 0.0, depth]], dtype=torch.float64)
    south = torch.tensor([[0.0, 0.0, -depth]], dtype=torch.float64)
    verts = torch.cat([north, ring, south], dim=0)
    verts[:, :2] *= scale

    n_rings = n_lat - 1
    j = torch.arange(n_lon)
    jn = (j + 1) % n_lon
    faces = []
    # North cap: pole 0 with ring 0.
    faces.append(torch.stack([torch.zeros_like(j), 1 + j, 1 + jn], dim=1))
    for i in range(n_rings - 1):
        a = 1 + i * n_lon + j
        b = 1 + i * n_lon + jn
        c = 1 + (i + 1) * n_lon + j
        d = 1 + (i + 1) * n_lon + jn
        faces.append(torch.stack([a, c, b], dim=1))
        faces.append(torch.stack([b, c, d], dim=1))
    last = 1 + (n_rings - 1) * n_lon
    south_id = verts.shape[0] - 1
    faces.append(torch.stack([last + j, torch.full_like(j, south_id), last + jn], dim=1))
    f = torch.cat(faces, dim=0)

    # Orient outward: positive signed volume.
    v0, v1, v2 = verts[f[:, 0]], verts[f[:, 1]], verts[f[:, 2]]
    volume = (v0 * torch.linalg.cross(v1, v2)).sum() / 6.0
    if volume < 0:
        f = f[:, [0, 2, 1]]
    return verts.to(dtype), f.contiguous()
