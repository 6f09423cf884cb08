"""The procedural actions: one function per action that fills a :class:`MotionBuilder`.

Each action function ``fn(b, rng) -> params`` starts from the relaxed standing pose, draws its
variations (speed, amplitude, side, body part, timing) from the ``numpy.random.Generator`` and
returns them as a JSON-friendly ``params`` dict; ``params["variant"]`` selects caption
templates (``captions.py``). Cyclic actions (walks, waves, claps ...) start at a random phase
(in clips that ease in from standing: at the start of their cycle, see
:meth:`MotionBuilder.cycle_start`) and keep going for the whole clip; one-shot actions (bow, sit
down, kick ...) are laid out on a timeline of a nominal 2 s clip, scaled to the clip length,
with minimum-jerk ease in/out.
Angle conventions are those of ``kinematics.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vmc.motion.procedural.kinematics import (
    MotionBuilder,
    blend_dirs,
    bump,
    frontal_arm,
    pendulum_arm,
    pulse,
    ramp,
)

__all__ = ["ACTIONS", "ActionFn", "LOCOMOTION_FREE", "STARTS_POSED", "keys"]

ActionFn = Callable[[MotionBuilder, np.random.Generator], dict]
ACTIONS: dict[str, ActionFn] = {}
"""Registry: action name → action function (insertion order = :func:`list_actions` order)."""

LOCOMOTION_FREE: set[str] = set()
"""Actions whose root does not follow the feet horizontally (feet may pivot in place)."""

STARTS_POSED = {"stand_up"}
"""Actions whose first frame is not the standing pose (standing up begins seated); every other
clip eases in from standing (``MotionBuilder.ease_in``)."""

D = np.deg2rad
PI = np.pi
G = 9.81


def _register(name: str, pivot: bool = False) -> Callable[[ActionFn], ActionFn]:
    def deco(fn: ActionFn) -> ActionFn:
        ACTIONS[name] = fn
        if pivot:
            LOCOMOTION_FREE.add(name)
        return fn

    return deco


def keys(t: np.ndarray, times, values) -> np.ndarray:
    """Piecewise minimum-jerk interpolation through keyframes.

    Args:
        t: ``[T]`` times (s). times: ``[K]`` increasing key times. values: ``[K,...]``.

    Returns:
        ``[T,...]``: ``values[0]`` before the first key, ``values[-1]`` after the last.
    """
    v = np.asarray(values, dtype=np.float64)
    out = np.broadcast_to(v[0], (len(t), *v.shape[1:])).copy()
    for k in range(1, len(times)):
        w = ramp(t, times[k - 1], times[k]).reshape(-1, *([1] * (v.ndim - 1)))
        out += w * (v[k] - v[k - 1])
    return out


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _side(rng: np.random.Generator) -> int:
    return 1 if rng.random() < 0.5 else -1


def _side_name(side: int) -> str:
    return "left" if side > 0 else "right"


def _tempo(freq: float, lo: float, hi: float) -> str:
    """Speed label from where ``freq`` falls in ``[lo, hi]``: thirds → slow / normal / fast."""
    u = (freq - lo) / (hi - lo)
    return "slow" if u < 1 / 3 else ("fast" if u > 2 / 3 else "normal")


def _scale(b: MotionBuilder) -> float:
    """Time scale for one-shot timelines written for a 2 s clip."""
    return float(np.clip(b.duration / 2.0, 0.5, 2.0))


def _rest_arm(b: MotionBuilder, side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    k = b._slot(side)
    return b.arm_dir[:, k].copy(), b.arm_bend[:, k].copy(), b.elbow[:, k].copy()


def _blend_arm(b, side, w, d1, b1, elbow1) -> None:
    """Blend an arm from its current pose towards ``(d1, b1, elbow1)`` with weight ``w [T]``."""
    d0, b0, e0 = _rest_arm(b, side)
    d1 = np.broadcast_to(d1, d0.shape)
    b1 = np.broadcast_to(b1, b0.shape)
    b.set_arm(side, blend_dirs(d0, d1, w), blend_dirs(b0, b1, w), e0 + w * (elbow1 - e0))


# ---- locomotion --------------------------------------------------------------------------------


def _gait(b, phase, hip_amp, knee_swing, knee_stance, arm_amp, elbow, lean) -> None:
    """Alternating gait on ``phase [T]`` (left leg; right = +pi). Heel strike at phase 0,
    stance until pi, swing after; the root travels by :meth:`MotionBuilder.build`."""
    for side, ph in ((1, phase), (-1, phase + PI)):
        k = b._slot(side)
        b.add("hip", side, x=-hip_amp * np.cos(ph) - D(2.0))
        b.knee[:, k] += knee_stance * bump(ph, 0.3 * PI, 0.45 * PI)
        b.knee[:, k] += knee_swing * bump(ph, 1.45 * PI, 0.55 * PI)
        b.foot_pitch[:, k] += D(18.0) * bump(ph, 0.95 * PI, 0.35 * PI)
        b.foot_pitch[:, k] -= D(8.0) * bump(ph, 1.95 * PI, 0.3 * PI)
        d, bb = pendulum_arm(-arm_amp * np.cos(ph) + D(3.0), D(8.0))
        b.set_arm(side, d, bb, elbow)
    b.pitch += lean
    b.add_spine(y=D(4.0) * np.cos(phase))


def _walk(b, rng, direction: float, circle: int = 0) -> dict:
    freq = _u(rng, 0.75, 1.0) if direction > 0 else _u(rng, 0.6, 0.8)
    amp = _u(rng, 16, 24) if direction > 0 else _u(rng, 12, 17)
    phase = b.cycle_start(rng) + direction * 2 * PI * freq * b.t
    _gait(b, phase, D(amp), D(_u(rng, 55, 65)), D(_u(rng, 8, 14)), D(_u(rng, 12, 25)), D(15),
          D(_u(rng, 1, 4)) if direction > 0 else D(-1))  # fmt: skip
    params = {"freq_hz": freq, "hip_amp_deg": amp, "speed": _tempo(freq, 0.75, 1.0)}
    if circle:
        period = _u(rng, 6.0, 10.0)
        b.yaw += circle * 2 * PI * b.t / period
        params.update(direction=_side_name(circle), circle_period_s=period)
    return params


@_register("walk_forward")
def walk_forward(b, rng):
    return _walk(b, rng, 1.0)


@_register("walk_backward")
def walk_backward(b, rng):
    return _walk(b, rng, -1.0)


@_register("walk_circle")
def walk_circle(b, rng):
    return _walk(b, rng, 1.0, circle=_side(rng))


@_register("jog_forward")
def jog_forward(b, rng):
    freq = _u(rng, 1.25, 1.5)
    phase = b.cycle_start(rng) + 2 * PI * freq * b.t
    _gait(b, phase, D(_u(rng, 24, 32)), D(_u(rng, 85, 100)), D(_u(rng, 18, 26)),
          D(_u(rng, 25, 35)), D(_u(rng, 80, 95)), D(_u(rng, 6, 10)))  # fmt: skip
    b.airborne += _u(rng, 0.02, 0.05) * bump(2 * phase, 0.0, 0.45 * PI)
    b.carry_flight_velocity = True
    return {"freq_hz": freq, "speed": _tempo(freq, 1.25, 1.5)}


def _high_knees(b, rng, freq, thigh, knee, arm_amp, elbow, hop) -> np.ndarray:
    phase = b.cycle_start(rng) + 2 * PI * freq * b.t
    for side, ph in ((1, phase), (-1, phase + PI)):
        k = b._slot(side)
        lift = bump(ph, 0.5 * PI, 0.5 * PI)
        b.add("hip", side, x=-thigh * lift)
        b.knee[:, k] += knee * lift
        b.foot_pitch[:, k] += D(10.0) * lift
        d, bb = pendulum_arm(D(8.0) - arm_amp * np.sin(ph), D(10.0))
        b.set_arm(side, d, bb, elbow)
    b.airborne += hop * bump(2 * phase, 0.0, 0.35 * PI)
    return phase


@_register("run_in_place")
def run_in_place(b, rng):
    freq = _u(rng, 1.3, 1.6)
    _high_knees(b, rng, freq, D(_u(rng, 55, 75)), D(_u(rng, 90, 110)), D(_u(rng, 30, 40)),
                D(_u(rng, 80, 95)), _u(rng, 0.02, 0.05))  # fmt: skip
    b.pitch += D(5.0)
    return {"freq_hz": freq, "speed": _tempo(freq, 1.3, 1.6)}


@_register("march_in_place")
def march_in_place(b, rng):
    freq = _u(rng, 0.7, 1.0)
    thigh = _u(rng, 40, 60)
    _high_knees(b, rng, freq, D(thigh), D(thigh * 1.4), D(_u(rng, 25, 40)), D(10.0), 0.0)
    return {"freq_hz": freq, "thigh_deg": thigh, "speed": _tempo(freq, 0.7, 1.0)}


@_register("sidestep")
def sidestep(b, rng):
    side = _side(rng)
    freq = _u(rng, 0.6, 0.9)
    amp = D(_u(rng, 8, 13))
    ph = b.cycle_start(rng, 1.0) + freq * b.t  # cycles
    theta = amp * (0.5 - 0.5 * np.cos(2 * PI * ph))
    lead, trail = side, -side
    b.add("hip", lead, z=theta)
    b.add("hip", trail, z=theta)
    p2 = 2 * PI * ph
    b.knee[:, b._slot(lead)] += D(30) * bump(p2, 0.5 * PI, 0.45 * PI)
    b.knee[:, b._slot(trail)] += D(30) * bump(p2, 1.5 * PI, 0.45 * PI)
    b.add("hip", lead, x=-D(10) * bump(p2, 0.5 * PI, 0.45 * PI))
    b.add("hip", trail, x=-D(10) * bump(p2, 1.5 * PI, 0.45 * PI))
    return {"side": _side_name(side), "freq_hz": freq}


# ---- jumps -------------------------------------------------------------------------------------


def _jumps(b, rng, height: float, forward: float, one_leg: int = 0) -> int:
    """Countermovement jumps (crouch, push, ballistic flight, landing) filling the clip.

    ``forward``: metres travelled per jump. ``one_leg``: 0 for two-footed jumps, else the side
    of the supporting leg (the other leg is held up). Returns the number of jumps.
    """
    if one_leg:
        tc, tp, ta, tr = 0.12, 0.08, 0.1, 0.12
    else:
        tc, tp, ta, tr = 0.35, 0.15, 0.18, 0.35
    tf = 2.0 * np.sqrt(2.0 * height / G)
    period = tc + tp + tf + ta + tr
    start = _u(rng, 0.05, 0.2) if not one_leg else 0.4
    avail = b.duration - start - 0.05
    n = max(1, int(avail // period))
    if n * period > avail:  # squeeze all phases (flight too, so the jump gets lower)
        s = max(avail / (n * period), 0.3)
        tc, tp, tf, ta, tr = (x * s for x in (tc, tp, tf, ta, tr))
        period *= s
    t = b.t
    crouch = np.zeros(b.T)
    point = np.zeros(b.T)
    land = np.zeros(b.T)
    v0 = G * tf / 2.0
    for i in range(n):
        t0 = start + i * period
        t_off = t0 + tc + tp
        t_land = t_off + tf
        crouch += ramp(t, t0, t0 + tc) - ramp(t, t0 + tc, t_off)
        point += ramp(t, t0 + tc, t_off) - ramp(t, t_land - 0.06, t_land + 0.06)
        land += ramp(t, t_land - 0.04, t_land + ta) - ramp(t, t_land + ta, t_land + ta + tr)
        tau = t - t_off
        b.airborne += np.where((tau > 0) & (tau < tf), v0 * tau - 0.5 * G * tau**2, 0.0)
        b.push[:, 1] += forward * ramp(t, t_off - 0.1, t_land + 0.1)
    legs = (one_leg,) if one_leg else (1, -1)
    depth = 0.5 if one_leg else 1.0
    for side in legs:
        k = b._slot(side)
        b.add("hip", side, x=-D(55) * depth * crouch - D(35) * depth * land)
        b.knee[:, k] += D(90) * depth * crouch + D(60) * depth * land + D(15) * point
        b.foot_pitch[:, k] += D(30) * point
    if not one_leg:
        b.pitch += D(20) * crouch + D(12) * land
        for side in (1, -1):
            d, bb = pendulum_arm(D(3) - D(35) * crouch + D(120) * point + D(20) * land, D(10))
            b.set_arm(side, d, bb, D(15))
    return n


@_register("jump_in_place")
def jump_in_place(b, rng):
    h = _u(rng, 0.15, 0.35)
    n = _jumps(b, rng, h, 0.0)
    return {"height_m": h, "count": n, "variant": "once" if n == 1 else "repeat"}


@_register("jump_forward")
def jump_forward(b, rng):
    h, dist = _u(rng, 0.12, 0.3), _u(rng, 0.4, 0.9)
    n = _jumps(b, rng, h, dist)
    return {"height_m": h, "distance_m": dist, "count": n}


@_register("hop_on_one_foot")
def hop_on_one_foot(b, rng):
    side = _side(rng)
    other = -side
    w = ramp(b.t, 0.0, 0.35)
    b.add("hip", other, x=-D(_u(rng, 20, 40)) * w)
    b.knee[:, b._slot(other)] += D(_u(rng, 70, 90)) * w
    b.pitch += D(5) * w
    for s in (1, -1):
        d, bb = pendulum_arm(D(20) * w, D(10) + D(_u(rng, 15, 30)) * w)
        b.set_arm(s, d, bb, D(25))
    h = _u(rng, 0.06, 0.11)
    n = _jumps(b, rng, h, 0.0, one_leg=side)
    return {"side": _side_name(side), "height_m": h, "count": n}


@_register("jumping_jacks")
def jumping_jacks(b, rng):
    freq = _u(rng, 0.8, 1.2)
    ph = b.cycle_start(rng) + 2 * PI * freq * b.t
    s = 0.5 - 0.5 * np.cos(ph)  # 0 closed, 1 open
    top = D(_u(rng, 65, 80))
    for side in (1, -1):
        b.set_arm(side, frontal_arm(-D(80) + (D(80) + top) * s, D(5)), np.array([0, 0, 1.0]),
                  D(10))  # fmt: skip
        b.add("hip", side, z=D(12) * s)
        b.knee[:, b._slot(side)] += D(12) * np.cos(ph) ** 2
    b.airborne += _u(rng, 0.03, 0.07) * np.sin(ph) ** 2
    return {"freq_hz": freq, "speed": _tempo(freq, 0.8, 1.2)}


# ---- arm gestures ------------------------------------------------------------------------------


def _rotate_about(v: np.ndarray, axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rodrigues rotation of vectors ``v [T,3]`` about unit ``axis [T,3]`` by ``angle [T]``."""
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    dot = (axis * v).sum(-1, keepdims=True)
    return v * c + np.cross(axis, v) * s + axis * dot * (1.0 - c)


@_register("wave")
def wave(b, rng):
    variant = rng.choice(["left", "right", "both"])
    sides = {"left": (1,), "right": (-1,), "both": (1, -1)}[variant]
    freq = _u(rng, 1.5, 2.6)
    k = _scale(b)
    t_up = _u(rng, 0.0, 0.3) * k
    w = ramp(b.t, t_up, t_up + 0.45 * k)
    if rng.random() < 0.4:  # lower the arm again at the end
        w = w - ramp(b.t, b.duration - 0.45 * k, b.duration)
    elev, azim = D(_u(rng, 15, 45)), D(_u(rng, 15, 45))
    amp = D(_u(rng, 18, 30))
    phase0 = b.cycle_start(rng)
    for side in sides:
        d1 = np.broadcast_to(frontal_arm(elev, azim), (b.T, 3))
        up = np.array([0.0, 1.0, 0.0])
        b1 = up - (d1 @ up)[:, None] * d1
        b1 = b1 / np.linalg.norm(b1, axis=-1, keepdims=True)
        osc = amp * np.sin(phase0 + 2 * PI * freq * b.t) * w
        b1 = _rotate_about(b1, d1, osc)
        _blend_arm(b, side, w, d1, b1, D(_u(rng, 80, 105)))
        b.add("wrist", side, z=D(15) * np.sin(phase0 + 2 * PI * freq * b.t - 0.5) * w)
    return {"variant": str(variant), "freq_hz": freq, "speed": _tempo(freq, 1.5, 2.6)}


@_register("clap")
def clap(b, rng):
    freq = _u(rng, 1.5, 3.0)
    k = _scale(b)
    w = ramp(b.t, 0.0, 0.4 * k)
    ph = 2 * PI * freq * (b.t - 0.4 * k)
    close = bump(ph, 0.0, 0.55 * PI) * w
    height = _u(rng, -0.45, -0.15)
    for side in (1, -1):
        d_open = np.array([0.5, height, 0.8])
        d_closed = np.array([0.14, height, 0.95])
        d1 = blend_dirs(np.broadcast_to(d_open, (b.T, 3)), np.broadcast_to(d_closed, (b.T, 3)),
                        close)  # fmt: skip
        _blend_arm(b, side, w, d1, np.array([-1.0, 0.4, 0.0]), D(40) + D(20) * close)
        b.add("wrist", side, y=D(45) * w)  # fingers point forward so the palms meet
    return {"freq_hz": freq, "speed": _tempo(freq, 1.5, 3.0)}


@_register("punch")
def punch(b, rng):
    variant = str(rng.choice(["left", "right", "alternate"]))
    first = 1 if variant == "left" else (-1 if variant == "right" else _side(rng))
    k = _scale(b)
    guard = ramp(b.t, 0.0, 0.3 * k)
    for side in (1, -1):
        d, bb = pendulum_arm(np.full(b.T, D(35)), D(12))
        _blend_arm(b, side, guard, d, bb, D(125))
    interval = _u(rng, 0.45, 0.7) * k
    t0 = 0.35 * k
    i = 0
    ext = {1: np.zeros(b.T), -1: np.zeros(b.T)}
    while t0 + 0.35 <= b.duration:
        side = first if variant != "alternate" else first * (-1) ** i
        ext[side] += pulse(b.t, t0, 0.12, 0.06, 0.18)
        t0 += interval
        i += 1
    for side in (1, -1):
        e = np.clip(ext[side], 0, 1)
        _blend_arm(b, side, e, np.array([-0.08, 0.05, 1.0]), np.array([-1.0, 0.0, 0.0]), D(5))
        b.add_spine(y=-side * D(15) * e)
        b.add("hip", side, x=-D(5) * e)
    b.knee += D(12)
    return {"variant": variant, "count": i}


@_register("throw")
def throw(b, rng):
    side = _side(rng)
    k = _scale(b)
    t0 = _u(rng, 0.1, 0.3) * k
    times = np.array([0.0, 0.5, 0.65, 0.85, 1.05, 1.55]) * k + t0
    d0, b0, e0 = _rest_arm(b, side)
    dk = np.array([d0[0], [0.55, 0.45, -0.6], [0.55, 0.5, -0.6], [0.25, 0.5, 0.85],
                   [-0.25, -0.5, 0.8], d0[0]])  # fmt: skip
    bk = np.array([b0[0], [0.0, 1.0, 0.3], [0.0, 1.0, 0.3], [0.0, 1.0, 0.0],
                   [-0.5, 0.5, 0.5], b0[0]])  # fmt: skip
    ek = D([np.rad2deg(e0[0]), 100, 105, 20, 30, np.rad2deg(e0[0])])
    b.set_arm(side, keys(b.t, times, dk), keys(b.t, times, bk), keys(b.t, times, ek))
    b.add_spine(y=side * keys(b.t, times, D([0, 25, 28, -20, -25, 0])),
                x=keys(b.t, times, D([0, -5, -5, 5, 15, 0])))  # fmt: skip
    b.add("hip", -side, x=keys(b.t, times, D([0, -10, -10, -15, -15, 0])))
    b.knee += keys(b.t, times, D([0, 10, 10, 12, 12, 0]))[:, None]
    # the other arm comes forward for balance
    d, bb = pendulum_arm(keys(b.t, times, D([3, 45, 45, 10, 0, 3])), D(15))
    b.set_arm(-side, d, bb, D(30))
    return {"side": _side_name(side)}


@_register("raise_arms")
def raise_arms(b, rng):
    which = str(rng.choice(["left", "right", "both"]))
    plane = str(rng.choice(["side", "front", "overhead"]))
    sides = {"left": (1,), "right": (-1,), "both": (1, -1)}[which]
    k = _scale(b)
    t0 = _u(rng, 0.05, 0.35) * k
    w = ramp(b.t, t0, t0 + _u(rng, 0.6, 0.9) * k)
    for side in sides:
        if plane == "front":
            d, bb = pendulum_arm(np.full(b.T, D(88)), D(5))
            _blend_arm(b, side, w, d, bb, D(5))
        elif plane == "side":
            _blend_arm(b, side, w, frontal_arm(0.0, D(5)), np.array([0, 0, 1.0]), D(5))
        else:
            _blend_arm(b, side, w, frontal_arm(D(80), D(5)), np.array([-0.3, 0, 1.0]), D(5))
    variant = f"both_{plane}" if which == "both" else f"one_{plane}"
    return {"variant": variant, "side": which, "plane": plane}


@_register("arm_circles")
def arm_circles(b, rng):
    freq = _u(rng, 1.0, 2.0)
    sign = _side(rng)  # +1 forward circles
    k = _scale(b)
    w = ramp(b.t, 0.0, 0.5 * k)
    r = np.tan(D(_u(rng, 15, 35))) * ramp(b.t, 0.3 * k, 0.8 * k)
    ang = sign * 2 * PI * freq * b.t
    d1 = np.stack([np.ones(b.T), r * np.sin(ang), r * np.cos(ang)], -1)
    for side in (1, -1):
        _blend_arm(b, side, w, d1, np.array([0, 0, 1.0]), D(5))
    return {"direction": "forward" if sign > 0 else "backward", "freq_hz": freq,
            "variant": "forward" if sign > 0 else "backward"}  # fmt: skip


@_register("shrug")
def shrug(b, rng):
    k = _scale(b)
    n = 1 if rng.random() < 0.6 else 2
    w = np.zeros(b.T)
    span = 1.7 * k / n
    for i in range(n):
        w += pulse(b.t, 0.15 * k + i * span, 0.3 * span, 0.35 * span, 0.3 * span)
    up = D(_u(rng, 15, 25))
    for side in (1, -1):
        b.add("collar", side, z=up * w)
        _blend_arm(b, side, w, pendulum_arm(np.full(b.T, D(15)), D(15))[0],
                   np.array([0.8, 0.0, 0.6]), D(_u(rng, 60, 80)))  # fmt: skip
    b.add("neck", 1, x=D(5) * w, z=D(8) * w * _side(rng))
    return {"count": n}


# ---- trunk, head ------------------------------------------------------------------------------


@_register("bow")
def bow(b, rng):
    k = _scale(b)
    depth = D(_u(rng, 30, 60))
    t0 = _u(rng, 0.05, 0.25) * k
    w = pulse(b.t, t0, _u(rng, 0.5, 0.7) * k, _u(rng, 0.2, 0.45) * k, _u(rng, 0.5, 0.7) * k)
    b.pitch += 0.45 * depth * w
    b.add_spine(x=0.55 * depth * w)
    b.add("neck", 1, x=D(10) * w)
    for side in (1, -1):
        d, bb = pendulum_arm(D(3) + 0.8 * depth * w, D(8))  # keep the arms hanging
        b.set_arm(side, d, bb)
    return {"depth_deg": float(np.rad2deg(depth)), "variant": "deep" if depth > D(45) else "slight"}


@_register("side_bend")
def side_bend(b, rng):
    side = _side(rng)
    k = _scale(b)
    ang = D(_u(rng, 25, 45))
    t0 = _u(rng, 0.05, 0.25) * k
    w = pulse(b.t, t0, 0.6 * k, _u(rng, 0.3, 0.5) * k, 0.6 * k)
    up = ramp(b.t, t0 - 0.1 * k, t0 + 0.4 * k) - ramp(b.t, b.duration - 0.35 * k, b.duration)
    b.add_spine(z=-side * ang * w)
    _blend_arm(b, -side, up, frontal_arm(D(75), D(5)), np.array([-0.5, 0.0, 1.0]), D(15))
    b.add("neck", 1, z=-side * D(8) * w)
    return {"side": _side_name(side)}


@_register("stretch_up")
def stretch_up(b, rng):
    k = _scale(b)
    t0 = _u(rng, 0.05, 0.25) * k
    w = pulse(b.t, t0, 0.7 * k, _u(rng, 0.3, 0.6) * k, 0.6 * k)
    toes = rng.random() < 0.5
    for side in (1, -1):
        _blend_arm(b, side, w, frontal_arm(D(82), D(8)), np.array([-1.0, 0.0, 0.3]), D(5))
        if toes:
            b.foot_pitch[:, b._slot(side)] += D(25) * w
    b.add_spine(x=-D(10) * w)
    b.add("neck", 1, x=-D(15) * w)
    return {"on_toes": bool(toes), "variant": "toes" if toes else "flat"}


@_register("look_around")
def look_around(b, rng):
    first = _side(rng)
    amp = D(_u(rng, 40, 70))
    k = _scale(b)
    times = np.array([0.0, 0.5, 0.8, 1.35, 1.6, 2.0]) * k
    yaw = keys(b.t, times, [0, first, first, -first, -first, 0]) * amp
    b.add("neck", 1, y=0.55 * yaw)
    b.add("head", 1, y=0.35 * yaw)
    b.add("spine3", 1, y=0.1 * yaw)
    return {"first": _side_name(first)}


@_register("nod")
def nod(b, rng):
    freq = _u(rng, 1.2, 2.2)
    k = _scale(b)
    env = pulse(b.t, 0.05 * k, 0.3 * k, 1.2 * k, 0.3 * k)
    osc = 0.5 - 0.5 * np.cos(2 * PI * freq * b.t)
    amp = D(_u(rng, 12, 22))
    b.add("neck", 1, x=amp * osc * env)
    b.add("head", 1, x=0.6 * amp * osc * env)
    return {"freq_hz": freq}


@_register("shake_head")
def shake_head(b, rng):
    freq = _u(rng, 1.5, 2.8)
    k = _scale(b)
    env = pulse(b.t, 0.05 * k, 0.3 * k, 1.2 * k, 0.3 * k)
    amp = D(_u(rng, 20, 35))
    osc = np.sin(2 * PI * freq * b.t) * env * amp
    b.add("neck", 1, y=0.6 * osc)
    b.add("head", 1, y=0.4 * osc)
    return {"freq_hz": freq}


@_register("stand_still")
def stand_still(b, rng):
    ph = b.cycle_start(rng)
    breath = np.sin(ph + 2 * PI * _u(rng, 0.2, 0.3) * b.t)
    b.add_spine(x=D(1.5) * breath)
    b.roll += D(1.0) * np.sin(ph + 2 * PI * 0.15 * b.t)
    return {}


# ---- lower body ---------------------------------------------------------------------------------


def _lower(b, w, thigh, knee, pitch) -> None:
    for side in (1, -1):
        b.add("hip", side, x=-thigh * w)
        b.knee[:, b._slot(side)] += knee * w
    b.pitch += pitch * w


@_register("squat")
def squat(b, rng):
    k = _scale(b)
    n = 1 if rng.random() < 0.5 else 2
    w = np.zeros(b.T)
    span = 1.9 * k / n
    for i in range(n):
        w += pulse(b.t, 0.05 * k + i * span, 0.38 * span, 0.14 * span, 0.38 * span)
    depth = _u(rng, 0.65, 1.0)
    _lower(b, w, D(95) * depth, D(115) * depth, D(30) * depth)
    arms = rng.random() < 0.6
    if arms:
        for side in (1, -1):
            d, bb = pendulum_arm(D(3) + D(85) * w, D(10))
            b.set_arm(side, d, bb)
    return {"count": n, "depth": depth, "arms_forward": bool(arms)}


@_register("crouch")
def crouch(b, rng):
    k = _scale(b)
    t0 = _u(rng, 0.05, 0.3) * k
    w = ramp(b.t, t0, t0 + _u(rng, 0.6, 0.9) * k)
    _lower(b, w, D(_u(rng, 80, 95)), D(_u(rng, 110, 130)), D(_u(rng, 30, 40)))
    for side in (1, -1):
        d, bb = pendulum_arm(D(3) + D(_u(rng, 40, 60)) * w, D(12))
        b.set_arm(side, d, bb, D(12) + D(25) * w)
    b.add("neck", 1, x=-D(15) * w)
    return {}


def _sit(b, rng, w) -> None:
    _lower(b, w, D(_u(rng, 82, 90)), D(_u(rng, 85, 95)), D(10))
    b.pitch += D(25) * np.sin(PI * np.clip(w, 0, 1))  # lean forward while moving
    for side in (1, -1):
        d, bb = pendulum_arm(D(3) + D(40) * w + D(30) * np.sin(PI * np.clip(w, 0, 1)), D(10))
        b.set_arm(side, d, bb, D(12) + D(30) * w)


@_register("sit_down")
def sit_down(b, rng):
    k = _scale(b)
    t0 = _u(rng, 0.05, 0.4) * k
    _sit(b, rng, ramp(b.t, t0, t0 + _u(rng, 1.0, 1.4) * k))
    return {}


@_register("stand_up")
def stand_up(b, rng):
    k = _scale(b)
    t0 = _u(rng, 0.05, 0.4) * k
    _sit(b, rng, 1.0 - ramp(b.t, t0, t0 + _u(rng, 1.0, 1.4) * k))
    return {}


@_register("kick")
def kick(b, rng):
    side = _side(rng)
    k = _scale(b)
    height = _u(rng, 50, 85)
    t0 = _u(rng, 0.15, 0.5) * k
    w = pulse(b.t, t0, 0.3 * k, 0.3 * k, 0.35 * k)
    ext = pulse(b.t, t0 + 0.3 * k, 0.12 * k, 0.06 * k, 0.12 * k)
    kk = b._slot(side)
    b.add("hip", side, x=-D(height) * w)
    b.knee[:, kk] += D(95) * w - D(85) * ext
    b.foot_pitch[:, kk] += D(25) * w
    b.knee[:, b._slot(-side)] += D(10) * w
    b.pitch -= D(8) * w
    for s in (1, -1):
        d, bb = pendulum_arm(D(3) + D(35) * w, D(15))
        b.set_arm(s, d, bb, D(12) + D(70) * w)
    return {"side": _side_name(side), "height_deg": height,
            "variant": "high" if height > 70 else "low"}  # fmt: skip


@_register("lunge")
def lunge(b, rng):
    side = _side(rng)
    k = _scale(b)
    t0 = _u(rng, 0.05, 0.15) * k
    step = pulse(b.t, t0, 0.35 * k, 0.9 * k, 0.35 * k)
    low = pulse(b.t, t0 + 0.3 * k, 0.35 * k, 0.25 * k, 0.35 * k)
    transit = 4.0 * step * (1.0 - step)  # >0 only while the front foot travels
    f, r = b._slot(side), b._slot(-side)
    b.add("hip", side, x=-D(30) * step - D(45) * low - D(15) * transit)
    b.knee[:, f] += D(8) * step + D(77) * low + D(35) * transit
    b.add("hip", -side, x=D(14) * step - D(6) * low)
    b.knee[:, r] += D(76) * low
    b.foot_pitch[:, r] += D(20) * step + D(40) * low
    for s in (1, -1):
        d, bb = pendulum_arm(D(3) + D(10) * low, D(10))
        b.set_arm(s, d, bb)
    return {"side": _side_name(side)}


@_register("turn_around", pivot=False)
def turn_around(b, rng):
    direction = _side(rng)
    k = _scale(b)
    angle = D(_u(rng, 160, 200))
    t0 = _u(rng, 0.05, 0.3) * k
    dur = _u(rng, 1.0, 1.4) * k
    w = ramp(b.t, t0, t0 + dur)
    b.yaw += direction * angle * w
    active = pulse(b.t, t0 - 0.1, 0.2, dur - 0.2, 0.2)
    freq = 1.6 / dur
    ph = 2 * PI * freq * (b.t - t0)
    for side, p in ((1, ph), (-1, ph + PI)):
        lift = bump(p, 0.5 * PI, 0.5 * PI) * active
        b.add("hip", side, x=-D(18) * lift)
        b.knee[:, b._slot(side)] += D(35) * lift
    return {"direction": _side_name(direction)}


# ---- dance ------------------------------------------------------------------------------------


@_register("dance_groove")
def dance_groove(b, rng):
    freq = _u(rng, 0.45, 0.7)  # one full left-right pattern per cycle
    ph = b.cycle_start(rng, 1.0) + freq * b.t
    p2 = 2 * PI * ph
    amp = D(_u(rng, 8, 12))
    theta = amp * (0.5 - 0.5 * np.cos(2 * p2))
    b.add("hip", 1, z=theta)
    b.add("hip", -1, z=theta)
    lift = D(28)
    for side, centers in ((1, (0.125, 0.875)), (-1, (0.375, 0.625))):
        for c in centers:
            bmp = bump(p2, 2 * PI * c, 0.22 * PI)
            b.knee[:, b._slot(side)] += lift * bmp
            b.add("hip", side, x=-D(10) * bmp)
    b.knee += (D(10) + D(8) * (0.5 - 0.5 * np.cos(4 * p2)))[:, None]
    b.add_spine(z=D(8) * np.sin(p2), y=D(10) * np.sin(2 * p2))
    for side in (1, -1):
        d, bb = pendulum_arm(D(30) + D(20) * side * np.sin(2 * p2), D(15))
        b.set_arm(side, d, bb, D(75))
    return {"freq_hz": freq}


@_register("dance_twist", pivot=True)
def dance_twist(b, rng):
    freq = _u(rng, 1.0, 1.6)
    ph = b.cycle_start(rng) + 2 * PI * freq * b.t
    amp = D(_u(rng, 20, 32))
    yaw = amp * np.sin(ph)
    b.yaw += yaw
    for side in (1, -1):
        b.add("hip", side, y=-side * 0.8 * yaw)  # left-canonical y: mirror the twist back
        b.knee[:, b._slot(side)] += D(22) + D(8) * np.cos(2 * ph)
        b.add("hip", side, x=-D(18))
        b.foot_pitch[:, b._slot(side)] += D(12)
        d, bb = pendulum_arm(D(35) - side * D(20) * np.sin(ph), D(30))
        b.set_arm(side, d, bb, D(90))
    b.add_spine(y=-1.2 * yaw)
    b.pitch += D(8)
    return {"freq_hz": freq}
