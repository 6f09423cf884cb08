"""A small procedural body in SMPL format, for tests and demos that must not need SMPL.

The body is 8 closed tubes (torso, neck+head, two arms with hands, two legs, two feet) built
around SMPL's 24-joint skeleton: about 620 vertices and 1,200 triangles, counter-clockwise seen
from outside (outward normals by the right-hand rule, like SMPL). Rest pose as SMPL: T-pose,
Y up, metres, facing +z, the person's left on +x, about 1.73 m tall.

What it provides, in :func:`make_tiny_body`:

* ``weights``: each tube ring is skinned to the bone it belongs to, blended 50/50 at joints.
* ``J_regressor``: every joint is the mean of one ring of vertices centred exactly on it, so
  ``J_regressor @ v_template`` reproduces :data:`TINY_REST_JOINTS` and joints follow shape.
* ``shapedirs``: 10 designed components (overall size, girth, leg length, arm length, shoulder
  width, torso length, head size, belly, hip width, limb thickness), in roughly the units of
  SMPL's betas (a unit beta changes a few centimetres); further components are seeded random
  smooth girth changes.
* ``posedirs``: a small corrective that inflates a joint's blend region as it bends.
* ``vt``/``ft``: one rectangular chart per tube in a 4x2 atlas (u around, v along the tube),
  every UV triangle counter-clockwise (v up); ``face_part``/``part_names``: 10 parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vmc.body.joints import BODY_PART_NAMES, NUM_SMPL_JOINTS, SMPL_PARENTS

__all__ = ["make_tiny_body", "TINY_REST_JOINTS", "TINY_PART_NAMES"]

_LEFT_JOINTS = {
    # joint index: rest position of the left-side (x > 0) or centre joint
    0: (0.0, -0.22, 0.02),
    1: (0.07, -0.31, 0.02),
    3: (0.0, -0.10, 0.0),
    4: (0.10, -0.70, 0.015),
    6: (0.0, 0.03, 0.01),
    7: (0.09, -1.10, -0.03),
    9: (0.0, 0.09, 0.03),
    10: (0.12, -1.165, 0.09),
    12: (0.0, 0.29, -0.01),
    13: (0.075, 0.20, -0.005),
    15: (0.0, 0.39, 0.035),
    16: (0.17, 0.235, -0.015),
    18: (0.42, 0.22, -0.035),
    20: (0.67, 0.222, -0.035),
    22: (0.75, 0.215, -0.045),
}
_MIRROR = {2: 1, 5: 4, 8: 7, 11: 10, 14: 13, 17: 16, 19: 18, 21: 20, 23: 22}


def _rest_joints() -> np.ndarray:
    j = np.zeros((NUM_SMPL_JOINTS, 3))
    for i, p in _LEFT_JOINTS.items():
        j[i] = p
    for right, left in _MIRROR.items():
        j[right] = j[left] * np.array([-1.0, 1.0, 1.0])
    return j


TINY_REST_JOINTS: np.ndarray = _rest_joints()
"""``[24, 3]`` rest-pose joints of the procedural body (metres, Y up, facing +z)."""

TINY_PART_NAMES: tuple[str, ...] = BODY_PART_NAMES


@dataclass
class _Tube:
    """A closed tube through control points; rings are ellipses ``(r_u, r_v)`` in the plane
    normal to the local tangent, ``u`` the projection of ``ref`` and ``v = t x u``."""

    name: str
    points: list[tuple[float, float, float]]
    radii: list[tuple[float, float]]
    weights: list[dict[int, float]]
    parts: list[str]  # part of the segment that starts at each control point
    ref: tuple[float, float, float]
    sides: int
    joint_rings: dict[int, int] = field(default_factory=dict)  # joint -> control point index
    cap: tuple[float, float] = (0.03, 0.03)  # extension beyond the first / last point


def _left_tubes() -> list[_Tube]:
    j = TINY_REST_JOINTS
    P = lambda i: tuple(float(x) for x in j[i])  # noqa: N806
    return [
        _Tube(
            "torso",
            [(0.0, -0.38, 0.01), P(0), P(3), P(6), P(9), (0.0, 0.22, 0.0), (0.0, 0.27, -0.01)],
            [
                (0.13, 0.085),
                (0.16, 0.10),
                (0.145, 0.095),
                (0.15, 0.10),
                (0.16, 0.11),
                (0.17, 0.095),
                (0.12, 0.08),
            ],
            [
                {0: 1},
                {0: 1},
                {0: 0.3, 3: 0.7},
                {3: 0.3, 6: 0.7},
                {6: 0.3, 9: 0.7},
                {9: 1},
                {9: 0.5, 12: 0.5},
            ],
            ["torso"] * 7,
            ref=(1.0, 0.0, 0.0),
            sides=12,
            joint_rings={0: 1, 3: 2, 6: 3, 9: 4},
            cap=(0.05, 0.03),
        ),
        _Tube(
            "head",
            [
                (0.0, 0.24, -0.01),
                P(12),
                (0.0, 0.34, 0.01),
                P(15),
                (0.0, 0.45, 0.03),
                (0.0, 0.50, 0.02),
            ],
            [
                (0.055, 0.055),
                (0.055, 0.055),
                (0.07, 0.08),
                (0.08, 0.095),
                (0.08, 0.09),
                (0.06, 0.07),
            ],
            [{9: 0.5, 12: 0.5}, {12: 1}, {12: 0.3, 15: 0.7}, {15: 1}, {15: 1}, {15: 1}],
            ["head"] * 6,
            ref=(1.0, 0.0, 0.0),
            sides=10,
            joint_rings={12: 1, 15: 3},
            cap=(0.03, 0.035),
        ),
        _Tube(
            "left_arm",
            [
                P(13),
                P(16),
                (0.295, 0.228, -0.025),
                P(18),
                (0.545, 0.221, -0.035),
                P(20),
                P(22),
                (0.84, 0.21, -0.05),
            ],
            [
                (0.05, 0.05),
                (0.055, 0.05),
                (0.048, 0.045),
                (0.04, 0.04),
                (0.037, 0.035),
                (0.025, 0.032),
                (0.02, 0.045),
                (0.015, 0.035),
            ],
            [
                {9: 0.4, 13: 0.6},
                {13: 0.5, 16: 0.5},
                {16: 1},
                {16: 0.5, 18: 0.5},
                {18: 1},
                {18: 0.5, 20: 0.5},
                {20: 0.5, 22: 0.5},
                {22: 1},
            ],
            ["left_arm"] * 5 + ["left_hand"] * 3,
            ref=(0.0, 1.0, 0.0),
            sides=8,
            joint_rings={13: 0, 16: 1, 18: 3, 20: 5, 22: 6},
            cap=(0.03, 0.03),
        ),
        _Tube(
            "left_leg",
            [(0.07, -0.24, 0.02), P(1), (0.085, -0.50, 0.02), P(4), (0.095, -0.90, -0.005), P(7)],
            [
                (0.085, 0.07),
                (0.085, 0.07),
                (0.065, 0.065),
                (0.05, 0.05),
                (0.045, 0.045),
                (0.035, 0.035),
            ],
            [
                {0: 0.7, 1: 0.3},
                {0: 0.35, 1: 0.65},
                {1: 1},
                {1: 0.5, 4: 0.5},
                {4: 1},
                {4: 0.5, 7: 0.5},
            ],
            ["left_leg"] * 6,
            ref=(0.0, 0.0, 1.0),
            sides=10,
            joint_rings={1: 1, 4: 3, 7: 5},
            cap=(0.03, 0.03),
        ),
        _Tube(
            "left_foot",
            [(0.09, -1.16, -0.07), (0.095, -1.16, 0.0), P(10), (0.125, -1.175, 0.16)],
            [(0.035, 0.035), (0.04, 0.045), (0.03, 0.045), (0.02, 0.04)],
            [{7: 1}, {7: 1}, {7: 0.5, 10: 0.5}, {10: 1}],
            ["left_foot"] * 4,
            ref=(0.0, 1.0, 0.0),
            sides=8,
            joint_rings={10: 2},
            cap=(0.02, 0.02),
        ),
    ]


def _mirror_tube(t: _Tube) -> _Tube:
    """Right-side copy of a left tube: x negated, left joints/parts renamed to right ones."""
    to_right = {left: right for right, left in _MIRROR.items()}
    return _Tube(
        t.name.replace("left", "right"),
        [(-x, y, z) for x, y, z in t.points],
        list(t.radii),
        [{to_right.get(k, k): w for k, w in d.items()} for d in t.weights],
        [p.replace("left", "right") for p in t.parts],
        ref=t.ref,
        sides=t.sides,
        joint_rings={to_right.get(k, k): r for k, r in t.joint_rings.items()},
        cap=t.cap,
    )


def _tubes() -> list[_Tube]:
    left = _left_tubes()
    return [left[0], left[1], left[2], _mirror_tube(left[2]), left[3], _mirror_tube(left[3]),
            left[4], _mirror_tube(left[4])]  # fmt: skip


@dataclass
class _Built:
    verts: list[np.ndarray] = field(default_factory=list)
    centres: list[np.ndarray] = field(default_factory=list)  # ring centre of each vertex
    weights: list[np.ndarray] = field(default_factory=list)
    tube_of: list[int] = field(default_factory=list)
    faces: list[tuple[int, int, int]] = field(default_factory=list)
    ft: list[tuple[int, int, int]] = field(default_factory=list)
    face_part: list[int] = field(default_factory=list)
    vt: list[tuple[float, float]] = field(default_factory=list)
    joint_ring_vertices: dict[int, list[int]] = field(default_factory=dict)


def _wvec(d: dict[int, float]) -> np.ndarray:
    w = np.zeros(NUM_SMPL_JOINTS)
    for k, v in d.items():
        w[k] += v
    return w / w.sum()


def _build_tube(tube: _Tube, tube_id: int, cell: tuple[float, float, float, float], b: _Built):
    pts = np.asarray(tube.points, dtype=np.float64)
    tang = np.empty_like(pts)
    tang[0], tang[-1] = pts[1] - pts[0], pts[-1] - pts[-2]
    tang[1:-1] = pts[2:] - pts[:-2]
    tang /= np.linalg.norm(tang, axis=1, keepdims=True)
    # Caps: one shrunken ring and an apex beyond each end, skinned like the end ring.
    c0, c1 = tube.cap
    rings_c = [pts[0] - 0.6 * c0 * tang[0], *pts, pts[-1] + 0.6 * c1 * tang[-1]]
    rings_t = [tang[0], *tang, tang[-1]]
    rings_r = [
        np.multiply(tube.radii[0], 0.75),
        *np.asarray(tube.radii),
        np.multiply(tube.radii[-1], 0.75),
    ]
    rings_w = [tube.weights[0], *tube.weights, tube.weights[-1]]
    ring_part = [tube.parts[0], *tube.parts, tube.parts[-1]]  # part of segment starting here
    ref = np.asarray(tube.ref, dtype=np.float64)
    n = tube.sides
    phi = 2.0 * np.pi * np.arange(n) / n
    base = sum(len(v) for v in b.verts)
    ring_ids = []
    for i, (c, t, r, w) in enumerate(zip(rings_c, rings_t, rings_r, rings_w, strict=True)):
        u = ref - ref.dot(t) * t
        u /= np.linalg.norm(u)
        v = np.cross(t, u)
        ring = c + r[0] * np.cos(phi)[:, None] * u + r[1] * np.sin(phi)[:, None] * v
        ids = list(range(base, base + n))
        base += n
        ring_ids.append(ids)
        b.verts.append(ring)
        b.centres.append(np.repeat(c[None], n, 0))
        b.weights.append(np.repeat(_wvec(w)[None], n, 0))
        b.tube_of.extend([tube_id] * n)
        # i - 1 = control point index for the rings of the original points
        for jnt, cp in tube.joint_rings.items():
            if cp == i - 1:
                b.joint_ring_vertices[jnt] = ids
    apex = [pts[0] - c0 * tang[0], pts[-1] + c1 * tang[-1]]
    apex_ids = [base, base + 1]
    b.verts.append(np.stack(apex))
    b.centres.append(np.stack(apex))
    b.weights.append(np.stack([_wvec(tube.weights[0]), _wvec(tube.weights[-1])]))
    b.tube_of.extend([tube_id, tube_id])

    # UV chart: u around (n+1 columns, seam duplicated), v along the tube by arc length.
    x0, y0, cw, ch = cell
    nr = len(rings_c)
    arc = np.concatenate(
        [[0.0], np.cumsum(np.linalg.norm(np.diff(np.stack(rings_c), axis=0), axis=1))]
    )
    total = arc[-1] + c0 * 0.4 + c1 * 0.4
    vpar = (arc + c0 * 0.4) / total
    vt0 = len(b.vt)
    for ri in range(nr):
        for col in range(n + 1):
            b.vt.append((x0 + cw * col / n, y0 + ch * vpar[ri]))
    apex_vt0 = len(b.vt)
    for col in range(n):  # start apex copies (v=0), then end apex copies (v=1)
        b.vt.append((x0 + cw * (col + 0.5) / n, y0))
    for col in range(n):
        b.vt.append((x0 + cw * (col + 0.5) / n, y0 + ch))

    def uv(ri: int, col: int) -> int:
        return vt0 + ri * (n + 1) + col

    part = lambda name: TINY_PART_NAMES.index(name)  # noqa: E731
    for ri in range(nr - 1):
        a, bb = ring_ids[ri], ring_ids[ri + 1]
        pid = part(ring_part[ri])
        for col in range(n):
            c2 = (col + 1) % n
            b.faces.append((a[col], a[c2], bb[c2]))
            b.ft.append((uv(ri, col), uv(ri, col + 1), uv(ri + 1, col + 1)))
            b.faces.append((a[col], bb[c2], bb[col]))
            b.ft.append((uv(ri, col), uv(ri + 1, col + 1), uv(ri + 1, col)))
            b.face_part.extend([pid, pid])
    first, last = ring_ids[0], ring_ids[-1]
    for col in range(n):
        c2 = (col + 1) % n
        b.faces.append((apex_ids[0], first[c2], first[col]))
        b.ft.append((apex_vt0 + col, uv(0, col + 1), uv(0, col)))
        b.face_part.append(part(ring_part[0]))
        b.faces.append((apex_ids[1], last[col], last[c2]))
        b.ft.append((apex_vt0 + n + col, uv(nr - 1, col), uv(nr - 1, col + 1)))
        b.face_part.append(part(ring_part[-1]))


def _smooth(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _shape_basis(
    v: np.ndarray, centres: np.ndarray, tube_names: list[str], tube_of: np.ndarray
) -> list[np.ndarray]:
    """The 10 designed shape displacement fields ``[V, 3]`` (one per beta)."""
    j = TINY_REST_JOINTS
    name = np.asarray(tube_names)[tube_of]
    side = np.sign(v[:, 0])
    radial = v - centres
    is_ = lambda *names: np.isin(name, names).astype(np.float64)[:, None]  # noqa: E731
    torso, head = is_("torso"), is_("head")
    arms, legs, feet = (
        is_("left_arm", "right_arm"),
        is_("left_leg", "right_leg"),
        is_("left_foot", "right_foot"),
    )
    ex, ey, ez = np.eye(3)
    y_pel, y_top = j[0, 1], 0.27
    f_torso = _smooth((v[:, 1] - y_pel) / (y_top - y_pel))[:, None]
    basis = [
        # 0 overall size: 6% scale about the origin (near the navel)
        0.06 * v,
        # 1 girth: radial growth, strongest on the torso
        radial * (0.12 * torso + 0.08 * (arms + legs) + 0.03 * (head + feet)),
        # 2 leg length: points below the hips move down
        -0.04 * ey * (legs * _smooth((j[1, 1] - v[:, 1]) / (j[1, 1] - j[7, 1]))[:, None] + feet),
        # 3 arm length: points beyond the shoulders move outward
        0.04
        * ex
        * side[:, None]
        * arms
        * _smooth((np.abs(v[:, 0]) - j[16, 0]) / (j[20, 0] - j[16, 0]))[:, None],
        # 4 shoulder width
        0.025
        * ex
        * side[:, None]
        * (
            arms * _smooth((np.abs(v[:, 0]) - j[13, 0]) / (j[16, 0] - j[13, 0]))[:, None]
            + torso * (np.abs(v[:, 0]) / 0.17)[:, None] * _smooth((v[:, 1] - 0.1) / 0.12)[:, None]
        ),
        # 5 torso length: upper body moves up, arms and head with their attachment
        0.05 * ey * (torso * f_torso + arms * _smooth((j[13, 1] - y_pel) / (y_top - y_pel)) + head),
        # 6 head size: scale about the head joint above the chin
        0.12 * (v - j[15]) * head * _smooth((v[:, 1] - 0.3) / 0.05)[:, None],
        # 7 belly: the front of the lower torso bulges
        0.05
        * ez
        * torso
        * np.clip(radial[:, 2:3] / 0.1, 0.0, None)
        * np.exp(-(((v[:, 1] + 0.05) / 0.12) ** 2))[:, None],
        # 8 hip width: legs move apart, pelvis widens
        0.02
        * ex
        * side[:, None]
        * (
            legs
            + feet
            + torso
            * (np.abs(v[:, 0]) / 0.16)[:, None]
            * np.exp(-(((v[:, 1] - y_pel) / 0.1) ** 2))[:, None]
        ),
        # 9 limb thickness
        0.15 * radial * (arms + legs),
    ]
    return basis


def make_tiny_body(num_betas: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """Build the procedural body as SMPL-format arrays.

    Args:
        num_betas: number of shape components; the first 10 are designed (see module doc),
            any further ones are seeded random smooth girth changes.
        seed: seed of the random components (the first 10 and everything else are fixed).

    Returns:
        dict with ``v_template [V,3]``, ``shapedirs [V,3,num_betas]``, ``posedirs [V,3,207]``,
        ``J_regressor [24,V]``, ``weights [V,24]``, ``kintree_table [2,24]`` (root parent -1),
        ``f [F,3]`` (int64), ``vt [Nvt,2]``, ``ft [F,3]``, ``face_part [F]``, ``part_names [10]``.
        Floats are float64.
    """
    if num_betas < 0:
        raise ValueError(f"num_betas must be >= 0, got {num_betas}")
    tubes = _tubes()
    b = _Built()
    cols, rows, pad = 4, 2, 0.01
    for i, tube in enumerate(tubes):
        cx, cy = i % cols, i // cols
        cell = (cx / cols + pad, cy / rows + pad, 1 / cols - 2 * pad, 1 / rows - 2 * pad)
        _build_tube(tube, i, cell, b)
    v = np.concatenate(b.verts)
    centres = np.concatenate(b.centres)
    weights = np.concatenate(b.weights)
    tube_of = np.asarray(b.tube_of)
    nv = len(v)

    # Collars pull the top corners of the torso (shoulder line) when they rotate.
    torso = tube_of == 0
    for collar, sgn in ((13, 1.0), (14, -1.0)):
        a = 0.6 * _smooth((sgn * v[:, 0] - 0.06) / 0.1) * _smooth((v[:, 1] - 0.15) / 0.08) * torso
        weights *= (1.0 - a)[:, None]
        weights[:, collar] += a

    jreg = np.zeros((NUM_SMPL_JOINTS, nv))
    for jnt, ids in b.joint_ring_vertices.items():
        jreg[jnt, ids] = 1.0 / len(ids)
    assert len(b.joint_ring_vertices) == NUM_SMPL_JOINTS  # every joint has its ring

    basis = _shape_basis(v, centres, [t.name for t in tubes], tube_of)
    rng = np.random.default_rng(seed)
    radial = v - centres
    for _ in range(10, num_betas):
        k = rng.normal(size=(3, 3)) * 4.0
        ph = rng.uniform(0, 2 * np.pi, size=3)
        g = np.cos(v @ k.T + ph).sum(1) / 3.0
        basis.append(0.05 * g[:, None] * radial)
    shapedirs = np.stack(basis[:num_betas], axis=-1) if num_betas else np.zeros((nv, 3, 0))

    # Pose corrective: a joint's 50/50 blend region inflates radially as the joint bends
    # (sum of the diagonal of R - I is 2 cos(theta) - 2 <= 0).
    posedirs = np.zeros((nv, 3, 9 * (NUM_SMPL_JOINTS - 1)))
    for jnt in range(1, NUM_SMPL_JOINTS):
        mix = 4.0 * weights[:, jnt] * weights[:, SMPL_PARENTS[jnt]]
        for d in (0, 4, 8):
            posedirs[:, :, 9 * (jnt - 1) + d] = -0.05 * mix[:, None] * radial

    kintree = np.stack([np.asarray(SMPL_PARENTS), np.arange(NUM_SMPL_JOINTS)]).astype(np.int64)
    return {
        "v_template": v,
        "shapedirs": shapedirs,
        "posedirs": posedirs,
        "J_regressor": jreg,
        "weights": weights,
        "kintree_table": kintree,
        "f": np.asarray(b.faces, dtype=np.int64),
        "vt": np.asarray(b.vt, dtype=np.float64),
        "ft": np.asarray(b.ft, dtype=np.int64),
        "face_part": np.asarray(b.face_part, dtype=np.int64),
        "part_names": np.asarray(TINY_PART_NAMES),
    }
