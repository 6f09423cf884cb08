"""Rotation representations: axis-angle, rotation matrices, quaternions and two 6D forms.

All functions are pure PyTorch, batched over any number of leading dimensions, differentiable,
and keep the input dtype and device.

Conventions
-----------
* Rotation matrices act on column vectors: ``x' = R @ x``. Right-handed, so
  ``rotation_about_z(pi/2)`` maps +x to +y.
* Axis-angle ``aa [..., 3]``: direction = unit axis, norm = angle in radians (counter-clockwise
  about the axis, right-hand rule). Angles returned by the ``*_to_axis_angle`` functions lie in
  ``[0, pi]``. At exactly ``pi`` the axis sign is ambiguous (both describe the same rotation).
* Quaternions ``q [..., 4]`` are **(w, x, y, z)**, scalar first (roma uses (x, y, z, w): convert
  with ``q[..., [1, 2, 3, 0]]``). Functions returning quaternions return unit quaternions with
  ``w >= 0`` (the sign canonicalisation; ``q`` and ``-q`` are the same rotation).
* 6D, two conventions that are **not** interchangeable:

  - ``rot6d_rows`` (MotionCLIP / PyTorch3D): the first two ROWS of ``R`` flattened row-major,
    ``[R00, R01, R02, R10, R11, R12]``; Gram-Schmidt over rows.
  - ``rot6d_cols`` (SPIN / HMR / roma ``special_gramschmidt``): the first two COLUMNS of ``R``
    as a row-major 3x2 matrix, ``[R00, R01, R10, R11, R20, R21]`` (``R[..., :, :2].reshape(6)``);
    the columns ``a1 = (x0, x2, x4)``, ``a2 = (x1, x3, x5)`` are Gram-Schmidt-orthonormalised into
    the first two columns of ``R``.

  For a proper rotation, ``rot6d_rows(R) == rot6d_cols(R.T)`` reordered, never ``rot6d_cols(R)``.

Numerical care: small angles use Taylor expansions (no 0/0, finite gradients at exactly zero);
the matrix -> quaternion step picks the best-conditioned of four formulas (Shepperd), so angles
near ``pi`` stay accurate.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "axis_angle_to_matrix",
    "matrix_to_axis_angle",
    "quaternion_to_matrix",
    "matrix_to_quaternion",
    "axis_angle_to_quaternion",
    "quaternion_to_axis_angle",
    "standardize_quaternion",
    "matrix_to_rot6d_rows",
    "rot6d_rows_to_matrix",
    "matrix_to_rot6d_cols",
    "rot6d_cols_to_matrix",
    "rotation_about_x",
    "rotation_about_y",
    "rotation_about_z",
    "geodesic_angle",
]

# Below this squared angle the Taylor series are used; their truncation error (~theta^6) is
# far below float64 precision there, and the exact formulas would lose digits to cancellation.
_SMALL_ANGLE_SQ = 1e-6


def _check_last(x: torch.Tensor, name: str, shape: tuple[int, ...]) -> None:
    """Raise a clear ValueError when ``x``'s trailing dims are not ``shape``."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    n = len(shape)
    if x.dim() < n or tuple(x.shape[-n:]) != shape:
        want = "[..., " + ", ".join(str(s) for s in shape) + "]"
        raise ValueError(f"{name} must have shape {want}, got {list(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {x.dtype}")


def _skew(v: torch.Tensor) -> torch.Tensor:
    """Cross-product matrix ``[v]_x`` of ``v [..., 3]`` -> ``[..., 3, 3]``."""
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).reshape(*v.shape[:-1], 3, 3)


def _safe_sqrt(x: torch.Tensor) -> torch.Tensor:
    """sqrt(max(x, 0)) whose gradient is 0 (not inf/nan) where x <= 0."""
    pos = x > 0
    return torch.where(
        pos, torch.sqrt(torch.where(pos, x, torch.ones_like(x))), torch.zeros_like(x)
    )


def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula.

    Args:
        axis_angle: ``[..., 3]`` float, rotation vectors (radians).

    Returns:
        ``[..., 3, 3]`` rotation matrices, ``R = I + A K + B K^2`` with ``K = [aa]_x``,
        ``A = sin(t)/t``, ``B = (1 - cos t)/t^2`` (Taylor series for small ``t``).
    """
    _check_last(axis_angle, "axis_angle", (3,))
    theta2 = (axis_angle * axis_angle).sum(-1)
    small = theta2 < _SMALL_ANGLE_SQ
    theta2_safe = torch.where(small, torch.ones_like(theta2), theta2)
    theta = torch.sqrt(theta2_safe)
    a = torch.where(small, 1.0 - theta2 / 6.0 + theta2 * theta2 / 120.0, torch.sin(theta) / theta)
    b = torch.where(
        small, 0.5 - theta2 / 24.0 + theta2 * theta2 / 720.0, (1.0 - torch.cos(theta)) / theta2_safe
    )
    k = _skew(axis_angle)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def axis_angle_to_quaternion(axis_angle: torch.Tensor) -> torch.Tensor:
    """``[..., 3]`` rotation vectors -> ``[..., 4]`` unit quaternions (w, x, y, z).

    ``w = cos(t/2) >= 0`` for angles ``t <= pi``; larger angles are canonicalised to ``w >= 0``.
    """
    _check_last(axis_angle, "axis_angle", (3,))
    theta2 = (axis_angle * axis_angle).sum(-1, keepdim=True)
    small = theta2 < _SMALL_ANGLE_SQ
    theta2_safe = torch.where(small, torch.ones_like(theta2), theta2)
    theta = torch.sqrt(theta2_safe)
    # sin(t/2)/t ~ 1/2 - t^2/48 + t^4/3840
    s = torch.where(
        small,
        0.5 - theta2 / 48.0 + theta2 * theta2 / 3840.0,
        torch.sin(0.5 * theta) / theta,
    )
    w = torch.where(small, 1.0 - theta2 / 8.0 + theta2 * theta2 / 384.0, torch.cos(0.5 * theta))
    return standardize_quaternion(torch.cat([w, axis_angle * s], dim=-1))


def standardize_quaternion(quaternion: torch.Tensor) -> torch.Tensor:
    """Normalise ``[..., 4]`` (w, x, y, z) quaternions to unit norm and flip them to ``w >= 0``."""
    _check_last(quaternion, "quaternion", (4,))
    q = F.normalize(quaternion, dim=-1, eps=1e-12)
    return torch.where(q[..., :1] < 0, -q, q)


def quaternion_to_matrix(quaternion: torch.Tensor) -> torch.Tensor:
    """``[..., 4]`` (w, x, y, z) quaternions (any non-zero norm) -> ``[..., 3, 3]`` matrices."""
    _check_last(quaternion, "quaternion", (4,))
    w, x, y, z = quaternion.unbind(-1)
    two_s = 2.0 / (quaternion * quaternion).sum(-1)
    m = torch.stack(
        [
            1 - two_s * (y * y + z * z),
            two_s * (x * y - z * w),
            two_s * (x * z + y * w),
            two_s * (x * y + z * w),
            1 - two_s * (x * x + z * z),
            two_s * (y * z - x * w),
            two_s * (x * z - y * w),
            two_s * (y * z + x * w),
            1 - two_s * (x * x + y * y),
        ],
        dim=-1,
    )
    return m.reshape(*quaternion.shape[:-1], 3, 3)


def matrix_to_quaternion(matrix: torch.Tensor) -> torch.Tensor:
    """``[..., 3, 3]`` rotation matrices -> ``[..., 4]`` unit quaternions (w, x, y, z), ``w >= 0``.

    Shepperd's method: of the four algebraically equivalent formulas (dividing by 4w, 4x, 4y or
    4z) the one with the largest divisor is used, so accuracy is uniform over all rotations,
    including angles near pi where ``w -> 0``.
    """
    _check_last(matrix, "matrix", (3, 3))
    m = matrix
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    # |2w|, |2x|, |2y|, |2z|
    q_abs = _safe_sqrt(
        torch.stack(
            [
                1.0 + m00 + m11 + m22,
                1.0 + m00 - m11 - m22,
                1.0 - m00 + m11 - m22,
                1.0 - m00 - m11 + m22,
            ],
            dim=-1,
        )
    )
    # Row i = 4 * q_i * (w, x, y, z) computed without dividing.
    cand = torch.stack(
        [
            torch.stack([q_abs[..., 0] ** 2, m21 - m12, m02 - m20, m10 - m01], dim=-1),
            torch.stack([m21 - m12, q_abs[..., 1] ** 2, m01 + m10, m02 + m20], dim=-1),
            torch.stack([m02 - m20, m10 + m01, q_abs[..., 2] ** 2, m12 + m21], dim=-1),
            torch.stack([m10 - m01, m20 + m02, m21 + m12, q_abs[..., 3] ** 2], dim=-1),
        ],
        dim=-2,
    )
    # The chosen divisor is >= 1 (the four squares sum to 4); the floor only keeps the
    # discarded candidates finite so that no NaN leaks into gradients through torch.where.
    cand = cand / (2.0 * q_abs[..., None].clamp(min=0.1))
    best = q_abs.argmax(dim=-1)
    q = torch.gather(cand, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    return standardize_quaternion(q)


def quaternion_to_axis_angle(quaternion: torch.Tensor) -> torch.Tensor:
    """``[..., 4]`` (w, x, y, z) quaternions -> ``[..., 3]`` rotation vectors, angle in [0, pi].

    ``angle = 2 atan2(|v|, w)`` after canonicalising ``w >= 0`` (accurate at both ends of the
    range, unlike ``acos(w)``); ``aa = v * angle / sin(angle/2)`` with a Taylor series near 0.
    """
    q = standardize_quaternion(quaternion)
    w, v = q[..., :1], q[..., 1:]
    n2 = (v * v).sum(-1, keepdim=True)
    small = n2 < _SMALL_ANGLE_SQ
    n = torch.sqrt(torch.where(small, torch.ones_like(n2), n2))
    half = torch.atan2(n, w)
    # For unit q, sin(half) = |v|. Near 0: 2*half/sin(half) = 2 + half^2/3 + 7 half^4/180 and
    # half ~ |v|/w, accurate enough at these magnitudes.
    h2 = n2 / (w * w)
    factor = torch.where(small, 2.0 + h2 / 3.0 + 7.0 * h2 * h2 / 180.0, 2.0 * half / n)
    return v * factor


def matrix_to_axis_angle(matrix: torch.Tensor) -> torch.Tensor:
    """``[..., 3, 3]`` rotation matrices -> ``[..., 3]`` rotation vectors, angle in [0, pi].

    Goes through :func:`matrix_to_quaternion` (stable near 0 and near pi). At exactly pi the
    axis sign is arbitrary; compare such rotations as matrices.
    """
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


def _gram_schmidt(a1: torch.Tensor, a2: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Orthonormal ``b1, b2, b3`` from ``a1, a2 [..., 3]`` (F.normalize with eps 1e-12)."""
    b1 = F.normalize(a1, dim=-1, eps=1e-12)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1, eps=1e-12)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return b1, b2, b3


def matrix_to_rot6d_rows(matrix: torch.Tensor) -> torch.Tensor:
    """MotionCLIP 6D: ``[..., 3, 3]`` -> ``[..., 6]`` = first two ROWS, row-major.

    ``[R00, R01, R02, R10, R11, R12]``.
    """
    _check_last(matrix, "matrix", (3, 3))
    return matrix[..., :2, :].reshape(*matrix.shape[:-2], 6)


def rot6d_rows_to_matrix(rot6d: torch.Tensor) -> torch.Tensor:
    """MotionCLIP 6D ``[..., 6]`` -> ``[..., 3, 3]`` (Gram-Schmidt over rows).

    ``a1 = d[0:3]``, ``a2 = d[3:6]``; ``b1 = a1/|a1|``, ``b2 = normalize(a2 - (b1.a2) b1)``,
    ``b3 = b1 x b2``; ``R = stack_rows(b1, b2, b3)``.
    """
    _check_last(rot6d, "rot6d", (6,))
    b1, b2, b3 = _gram_schmidt(rot6d[..., 0:3], rot6d[..., 3:6])
    return torch.stack([b1, b2, b3], dim=-2)


def matrix_to_rot6d_cols(matrix: torch.Tensor) -> torch.Tensor:
    """SPIN/roma 6D: ``[..., 3, 3]`` -> ``[..., 6]`` = ``R[..., :, :2]`` flattened row-major.

    ``[R00, R01, R10, R11, R20, R21]``.
    """
    _check_last(matrix, "matrix", (3, 3))
    return matrix[..., :, :2].reshape(*matrix.shape[:-2], 6)


def rot6d_cols_to_matrix(rot6d: torch.Tensor) -> torch.Tensor:
    """SPIN/roma 6D ``[..., 6]`` -> ``[..., 3, 3]`` (Gram-Schmidt over columns).

    The 6 numbers are a row-major 3x2 matrix; its columns ``a1 = (x0, x2, x4)`` and
    ``a2 = (x1, x3, x5)`` become the first two columns of ``R``, the third is ``b1 x b2``.
    """
    _check_last(rot6d, "rot6d", (6,))
    m = rot6d.reshape(*rot6d.shape[:-1], 3, 2)
    b1, b2, b3 = _gram_schmidt(m[..., 0], m[..., 1])
    return torch.stack([b1, b2, b3], dim=-1)


def _about(angle: torch.Tensor, axis: int) -> torch.Tensor:
    if not isinstance(angle, torch.Tensor):
        angle = torch.as_tensor(angle, dtype=torch.get_default_dtype())
    if not angle.is_floating_point():
        angle = angle.to(torch.get_default_dtype())
    c, s = torch.cos(angle), torch.sin(angle)
    o, one = torch.zeros_like(angle), torch.ones_like(angle)
    if axis == 0:
        rows = [one, o, o, o, c, -s, o, s, c]
    elif axis == 1:
        rows = [c, o, s, o, one, o, -s, o, c]
    else:
        rows = [c, -s, o, s, c, o, o, o, one]
    return torch.stack(rows, dim=-1).reshape(*angle.shape, 3, 3)


def rotation_about_x(angle: torch.Tensor | float) -> torch.Tensor:
    """``angle [...]`` (radians) -> ``[..., 3, 3]`` right-handed rotation about +x."""
    return _about(angle, 0)


def rotation_about_y(angle: torch.Tensor | float) -> torch.Tensor:
    """``angle [...]`` (radians) -> ``[..., 3, 3]`` right-handed rotation about +y."""
    return _about(angle, 1)


def rotation_about_z(angle: torch.Tensor | float) -> torch.Tensor:
    """``angle [...]`` (radians) -> ``[..., 3, 3]`` right-handed rotation about +z."""
    return _about(angle, 2)


def geodesic_angle(r1: torch.Tensor, r2: torch.Tensor) -> torch.Tensor:
    """Angle in radians ``[...]`` of the relative rotation ``r1^T r2`` (both ``[..., 3, 3]``).

    Computed as ``|matrix_to_axis_angle(r1^T r2)|`` (accurate near 0 and pi, unlike acos of the
    trace).
    """
    _check_last(r1, "r1", (3, 3))
    _check_last(r2, "r2", (3, 3))
    return matrix_to_axis_angle(r1.transpose(-1, -2) @ r2).norm(dim=-1)
