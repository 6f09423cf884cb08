"""Pose building blocks for procedural motions: timing curves, joint limits, a motion builder.

Angle conventions (all angles in radians inside the code, degrees in the limits table):

* Most joints are set by three angles ``(x, y, z)`` composed as ``R = R_x(x) R_y(y) R_z(z)``
  (scipy ``"XYZ"``, intrinsic), in the joint's parent frame at rest (SMPL rest frame: x = the
  person's left, y = up, z = forward). Values are given for the person's **left** side; the
  right side is the mirror image (same x, negated y and z), so one number describes both.
  On the left side, +x bends forward (spine, head, knee flexion, ankle plantarflexion,
  thigh backwards), +y twists towards the left, +z tilts the upper end towards the person's
  right... i.e. for the hip +z is abduction (leg out to the side), for the collar +z raises
  the shoulder, for the spine -z bends the trunk to the left.
* Hips are given as **thigh pitch** relative to the upright heading frame (negative = thigh
  forward); the builder subtracts the pelvis pitch so that tilting the pelvis does not move
  the legs. Ankles are given as **foot pitch** (0 = sole horizontal, positive = toes down); the
  builder solves the ankle angle from the leg chain.
* Shoulders are given by the upper-arm direction ``d`` and the elbow bend direction ``b``
  (where the forearm goes when the elbow flexes), both in the collar frame with x = outward;
  the shoulder rotation is the frame ``[d, b x d, b]`` (left). Elbows and knees are hinges:
  one flexion angle ``>= 0`` each.
* The root is ``R_y(yaw) R_x(pitch) R_z(roll)`` in the world frame of ``skeleton.py``.

Ground contact and root translation are solved from the feet (:meth:`MotionBuilder.build`).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from vmc.motion.procedural.skeleton import (
    REST_JOINTS,
    SMPL_JOINT_NAMES,
    contact_points,
    forward_kinematics,
)

__all__ = [
    "EULER_LIMITS_DEG",
    "HINGE_LIMITS_DEG",
    "MotionBuilder",
    "bump",
    "minjerk",
    "pulse",
    "ramp",
]

# Joint limits in degrees, left side, for the (x, y, z) angles above. Right side mirrors.
# Sources: standard clinical range-of-motion tables, rounded and slightly narrowed.
EULER_LIMITS_DEG: dict[str, tuple[tuple[float, float], ...]] = {
    # hip: x = local flexion(-)/extension(+); y = internal/external rotation; z = abduction(+)
    "hip": ((-125.0, 35.0), (-40.0, 40.0), (-25.0, 50.0)),
    # ankle: x = plantarflexion(+)/dorsiflexion(-); y, z = small inversion/eversion
    "ankle": ((-45.0, 55.0), (-20.0, 20.0), (-25.0, 25.0)),
    "foot": ((-40.0, 30.0), (-5.0, 5.0), (-5.0, 5.0)),  # toes
    "spine1": ((-25.0, 45.0), (-30.0, 30.0), (-25.0, 25.0)),
    "spine2": ((-25.0, 45.0), (-30.0, 30.0), (-25.0, 25.0)),
    "spine3": ((-25.0, 45.0), (-30.0, 30.0), (-25.0, 25.0)),
    "neck": ((-40.0, 45.0), (-45.0, 45.0), (-30.0, 30.0)),
    "head": ((-30.0, 30.0), (-40.0, 40.0), (-20.0, 20.0)),
    "collar": ((-20.0, 20.0), (-25.0, 25.0), (-15.0, 30.0)),
    "wrist": ((-60.0, 60.0), (-60.0, 60.0), (-60.0, 60.0)),
    "hand": ((-30.0, 30.0), (-30.0, 30.0), (-30.0, 30.0)),
}
"""Euler joint limits (degrees) per joint kind, ``((xmin,xmax),(ymin,ymax),(zmin,zmax))``."""

HINGE_LIMITS_DEG: dict[str, tuple[float, float]] = {"knee": (0.0, 150.0), "elbow": (0.0, 150.0)}
"""Hinge flexion range (degrees). Knees rotate about +x (shin backwards), left elbows about -y
and right elbows about +y (forearm towards the bend direction); they never bend the other way."""

SHOULDER_MAX_ANGLE_DEG = 175.0
"""Largest total shoulder rotation from the T-pose (degrees)."""

_IDX = {n: i for i, n in enumerate(SMPL_JOINT_NAMES)}
_PAIRED = {"hip", "knee", "ankle", "foot", "collar", "shoulder", "elbow", "wrist", "hand"}


def joint_indices(kind: str, side: int) -> int:
    """SMPL index of joint ``kind`` (``"hip"``, ``"spine2"`` ...) on side +1 (left) / -1 (right)."""
    if kind in _PAIRED:
        return _IDX[("left_" if side > 0 else "right_") + kind]
    return _IDX[kind]


# ---- timing curves (all C1/C2-continuous) --------------------------------------------------------


def minjerk(u: np.ndarray | float) -> np.ndarray:
    """Minimum-jerk ease ``10u^3 - 15u^4 + 6u^5`` on ``u`` clipped to [0,1] (zero end velocity
    and acceleration)."""
    u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
    return u**3 * (10.0 - 15.0 * u + 6.0 * u * u)


def ramp(t: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """0 before ``t0``, 1 after ``t1``, minimum-jerk in between."""
    return minjerk((t - t0) / max(t1 - t0, 1e-6))


def pulse(t: np.ndarray, t0: float, rise: float, hold: float, fall: float) -> np.ndarray:
    """Smooth 0→1→0 envelope: rises from ``t0`` over ``rise``, holds, falls over ``fall``."""
    t2 = t0 + rise + hold
    return ramp(t, t0, t0 + rise) - ramp(t, t2, t2 + fall)


def bump(phase: np.ndarray, center: float, width: float) -> np.ndarray:
    """Periodic smooth bump in ``[0,1]``: ``cos^2`` of the wrapped phase distance to ``center``,
    zero beyond ``width`` (radians)."""
    d = np.angle(np.exp(1j * (np.asarray(phase) - center)))  # wrap to (-pi, pi]
    return np.where(np.abs(d) < width, np.cos(0.5 * np.pi * d / width) ** 2, 0.0)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def pendulum_arm(swing: np.ndarray, spread: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Arm direction and bend direction for an arm hanging ``spread`` out to the side and swung
    forward by ``swing`` about the body's lateral axis (radians; 0 = hanging, pi/2 = pointing
    forward, pi = straight up). Returns ``(d [T,3], b [T,3])`` (left-canonical)."""
    swing = np.asarray(swing, dtype=np.float64)
    spread = np.broadcast_to(np.asarray(spread, dtype=np.float64), swing.shape)
    d = np.stack(
        [np.sin(spread), -np.cos(spread) * np.cos(swing), np.cos(spread) * np.sin(swing)], -1
    )
    b = np.stack([np.zeros_like(swing), np.sin(swing), np.cos(swing)], -1)
    return d, b


def frontal_arm(elevation: np.ndarray, forward: np.ndarray | float = 0.0) -> np.ndarray:
    """Arm direction raised in the frontal plane: ``elevation`` -pi/2 = down, 0 = sideways
    (T-pose), pi/2 = straight up; ``forward`` tilts it towards +z. Returns ``[T,3]``."""
    e = np.asarray(elevation, dtype=np.float64)
    f = np.broadcast_to(np.asarray(forward, dtype=np.float64), e.shape)
    return np.stack([np.cos(e) * np.cos(f), np.sin(e), np.cos(e) * np.sin(f)], -1)


def blend_dirs(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Spherical interpolation of unit directions ``a``, ``b`` (``[T,3]``) with weight ``w [T]``
    (0 → a, 1 → b): constant angular speed along the great circle, well-behaved even for
    nearly opposite directions (a linear blend would pass near the zero vector and spin)."""
    a, b = _unit(np.asarray(a, dtype=np.float64)), _unit(np.asarray(b, dtype=np.float64))
    w = np.asarray(w, dtype=np.float64)[..., None]
    cos = np.clip((a * b).sum(-1, keepdims=True), -1.0, 1.0)
    omega = np.arccos(cos)
    sin = np.sin(omega)
    small = sin < 1e-6
    safe = np.where(small, 1.0, sin)
    wa = np.where(small, 1.0 - w, np.sin((1.0 - w) * omega) / safe)
    wb = np.where(small, w, np.sin(w * omega) / safe)
    return _unit(wa * a + wb * b)


class MotionBuilder:
    """Accumulates per-frame joint angles of one motion, then solves ground contact and root
    translation and returns SMPL axis-angle poses.

    Attributes (arrays over ``T`` frames, left-canonical values as in the module docstring):
        euler: ``[T,24,3]`` angles (radians) of the Euler-set joints; the hip x entry is thigh
            pitch and the ankle x entry is added to the solved ankle angle.
        foot_pitch: ``[T,2]`` foot pitch target (left, right).
        knee, elbow: ``[T,2]`` hinge flexion (radians).
        arm_dir, arm_bend: ``[T,2,3]`` shoulder frames (see module docstring).
        yaw, pitch, roll: ``[T]`` root angles.
        airborne: ``[T]`` height (m) of the lowest foot above the floor (flight phases), >= 0.
        push: ``[T,2]`` extra horizontal root displacement (world x, z) not explained by the
            feet (e.g. the forward travel of a jump).
        carry_flight_velocity: in flight, keep the last grounded horizontal velocity (running)
            instead of stopping (jumps, whose travel comes from ``push``).
        aligned_cycles: cyclic actions begin their cycle at its start (:meth:`cycle_start`)
            instead of at a random phase.
    """

    def __init__(self, num_frames: int, fps: float) -> None:
        if num_frames < 2:
            raise ValueError(f"num_frames must be >= 2, got {num_frames}")
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.T, self.fps = int(num_frames), float(fps)
        self.t = np.arange(self.T) / self.fps
        self.duration = self.T / self.fps
        T = self.T
        self.euler = np.zeros((T, 24, 3))
        self.foot_pitch = np.zeros((T, 2))
        self.knee = np.zeros((T, 2))
        self.elbow = np.zeros((T, 2))
        self.arm_dir = np.zeros((T, 2, 3))
        self.arm_bend = np.zeros((T, 2, 3))
        self.yaw = np.zeros(T)
        self.pitch = np.zeros(T)
        self.roll = np.zeros(T)
        self.airborne = np.zeros(T)
        self.push = np.zeros((T, 2))
        self.carry_flight_velocity = False
        self.aligned_cycles = False

    def cycle_start(self, rng: np.random.Generator, period: float = 2 * np.pi) -> float:
        """Phase at frame 0 of a cyclic action, in ``[0, period)``: 0 (the cycle's start, where
        each action puts its rest-like pose) with ``aligned_cycles``, else random.

        The random draw is made either way, so the variations drawn after it stay the same.
        Why aligned: a clip that eases in from standing starts its cycle where people start it
        (a walk with a step, a jumping jack closed). Random phases make the clips of one
        caption disagree frame by frame, and a decoder driven by the caption learns their
        average: legs that barely swing.
        """
        drawn = float(rng.uniform(0, period))
        return 0.0 if self.aligned_cycles else drawn

    # -- setters -----------------------------------------------------------------------------

    @staticmethod
    def _slot(side: int) -> int:
        return 0 if side > 0 else 1

    def add(self, kind: str, side: int = 1, x=0.0, y=0.0, z=0.0) -> None:
        """Add angles (radians, left-canonical; scalars or ``[T]``) to an Euler-set joint."""
        j = joint_indices(kind, side)
        s = 1.0 if (kind not in _PAIRED or side > 0) else -1.0
        self.euler[:, j, 0] += x
        self.euler[:, j, 1] += s * np.asarray(y)
        self.euler[:, j, 2] += s * np.asarray(z)

    def add_spine(self, x=0.0, y=0.0, z=0.0) -> None:
        """Spread a trunk rotation evenly over spine1..spine3."""
        for k in ("spine1", "spine2", "spine3"):
            self.add(k, 1, x / 3.0, y / 3.0, z / 3.0)

    def set_arm(self, side: int, d: np.ndarray, b: np.ndarray, elbow=None) -> None:
        """Set the upper-arm direction ``d`` and bend direction ``b`` (``[T,3]`` or ``[3]``,
        left-canonical: x = outward) and optionally the elbow flexion."""
        k = self._slot(side)
        self.arm_dir[:, k] = np.broadcast_to(d, (self.T, 3))
        self.arm_bend[:, k] = np.broadcast_to(b, (self.T, 3))
        if elbow is not None:
            self.elbow[:, k] = elbow

    def stand(self, rng: np.random.Generator) -> None:
        """Relaxed standing pose: arms hanging slightly away from the body, elbows and knees
        slightly bent, legs slightly apart."""
        spread = np.deg2rad(rng.uniform(6.0, 12.0))
        for side in (1, -1):
            d, b = pendulum_arm(np.zeros(self.T) + np.deg2rad(3.0), spread)
            self.set_arm(side, d, b, np.deg2rad(rng.uniform(8.0, 15.0)))
            self.add("hip", side, z=np.deg2rad(rng.uniform(1.0, 4.0)))
            self.knee[:, self._slot(side)] = np.deg2rad(rng.uniform(2.0, 5.0))

    _CHANNELS = ("euler", "foot_pitch", "knee", "elbow", "arm_dir", "arm_bend", "yaw", "pitch",
                 "roll", "airborne", "push")  # fmt: skip

    def snapshot(self) -> dict[str, np.ndarray]:
        """Copies of every per-frame channel (e.g. the standing pose, before an action)."""
        return {name: getattr(self, name).copy() for name in self._CHANNELS}

    def ease_in(self, rest: dict[str, np.ndarray], seconds: float) -> None:
        """Start the motion from ``rest`` (a :meth:`snapshot`) and reach the action after
        ``seconds``: every channel becomes ``rest + w(t) (action - rest)`` with ``w`` a
        minimum-jerk ramp from 0 at frame 0 to 1 (arm directions blend on the sphere).

        Why: a cyclic action (walk, wave) runs at a random phase from frame 0, so a clip would
        begin mid-stride; people start from standing, and a model trained on such clips starts
        its motions where their action begins.
        """
        w = ramp(self.t, 0.0, float(seconds))
        for name in self._CHANNELS:
            now, before = getattr(self, name), rest[name]
            if name in ("arm_dir", "arm_bend"):
                for k in range(now.shape[1]):
                    now[:, k] = blend_dirs(before[:, k], now[:, k], w)
            else:
                shape = (-1,) + (1,) * (now.ndim - 1)
                now[...] = before + w.reshape(shape) * (now - before)

    # -- solve -------------------------------------------------------------------------------

    def local_rotations(self) -> np.ndarray:
        """Local joint rotation matrices ``[T,24,3,3]`` (limits applied)."""
        T = self.T
        ang = self.euler.copy()
        out = np.tile(np.eye(3), (T, 24, 1, 1))
        out[:, 0] = Rotation.from_euler(
            "YXZ", np.stack([self.yaw - self.yaw[0], self.pitch, self.roll], -1)
        ).as_matrix()
        knee = np.clip(self.knee, *np.deg2rad(HINGE_LIMITS_DEG["knee"]))
        elbow = np.clip(self.elbow, *np.deg2rad(HINGE_LIMITS_DEG["elbow"]))
        for side in (1, -1):
            k = self._slot(side)
            hip, ankle = joint_indices("hip", side), joint_indices("ankle", side)
            thigh = ang[:, hip, 0].copy()
            ang[:, hip, 0] = thigh - self.pitch  # thigh pitch → local hip flexion
            ang[:, ankle, 0] += self.foot_pitch[:, k] - (thigh + knee[:, k])
            out[:, joint_indices("knee", side)] = Rotation.from_euler(
                "x", knee[:, k, None]
            ).as_matrix()
            out[:, joint_indices("elbow", side)] = Rotation.from_euler(
                "y", -side * elbow[:, k, None]
            ).as_matrix()
            out[:, joint_indices("shoulder", side)] = self._shoulder(side)
        for kind, lim in EULER_LIMITS_DEG.items():
            lim_r = np.deg2rad(np.asarray(lim))  # [3,2]
            for side in (1, -1) if kind in _PAIRED else (1,):
                j = joint_indices(kind, side)
                s = np.array([1.0, side, side]) if kind in _PAIRED else np.ones(3)
                canon = np.clip(ang[:, j] * s, lim_r[:, 0], lim_r[:, 1])
                out[:, j] = Rotation.from_euler("XYZ", canon * s).as_matrix()
        return out

    def _shoulder(self, side: int) -> np.ndarray:
        k = self._slot(side)
        flip = np.array([side, 1.0, 1.0])
        d = _unit(self.arm_dir[:, k] * flip)
        b = self.arm_bend[:, k] * flip
        b = _unit(b - (b * d).sum(-1, keepdims=True) * d)  # Gram-Schmidt: b ⟂ d
        # Left: R e_x = d, R e_z = b. Right (rest arm along -x): R(-e_x) = d, R e_z = b.
        x_axis = d if side > 0 else -d
        y_axis = np.cross(b, x_axis)
        return np.stack([x_axis, y_axis, b], axis=-1)

    def build(
        self, rest_joints: np.ndarray = REST_JOINTS, locomotion: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Solve the root translation and return ``(poses [T,24,3] axis-angle, trans [T,3])``.

        Vertical: the lowest sole point (heel or ball, a soft minimum within 3 mm) touches
        ``y = 0``, raised by ``airborne``. Horizontal (``locomotion=True``): while grounded,
        the root moves so that the weighted contact foot does not slide (walks travel, turns
        pivot on the planted foot); in flight it stops or keeps its velocity
        (``carry_flight_velocity``); ``push`` is added.
        """
        rot = self.local_rotations()
        pos, grot = forward_kinematics(rot, None, rest_joints)
        cp = contact_points(pos, grot)  # [T,4,3]
        y = cp[..., 1]
        tau = 0.003
        ymin = y.min(-1, keepdims=True)
        soft_min = ymin[:, 0] - tau * np.log(np.exp(-(y - ymin) / tau).sum(-1))
        trans = np.zeros((self.T, 3))
        air = np.maximum(self.airborne, 0.0)
        trans[:, 1] = -soft_min + air
        if locomotion:
            w = np.exp(-(y - ymin) / 0.01)
            w /= w.sum(-1, keepdims=True)
            grounded = 1.0 - minjerk((air - 0.005) / 0.015)
            vel = np.zeros(2)
            for t in range(1, self.T):
                wt = 0.5 * (w[t] + w[t - 1])
                foot_v = (wt[:, None] * (cp[t][:, [0, 2]] - cp[t - 1][:, [0, 2]])).sum(0)
                g = min(grounded[t], grounded[t - 1])
                carry = vel if self.carry_flight_velocity else 0.0
                vel = g * (-foot_v) + (1.0 - g) * carry
                trans[t, [0, 2]] = trans[t - 1, [0, 2]] + vel
        trans[:, [0, 2]] += self.push - self.push[0]
        poses = Rotation.from_matrix(rot.reshape(-1, 3, 3)).as_rotvec().reshape(self.T, 24, 3)
        return poses, trans
