"""Procedural motion library: shapes, joint limits, smoothness, ground contact, travel, captions."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vmc.motion.procedural import (
    REST_JOINTS,
    SMPL_PARENTS,
    forward_kinematics,
    generate_motion,
    list_actions,
    sample_motions,
)
from vmc.motion.procedural.kinematics import (
    EULER_LIMITS_DEG,
    HINGE_LIMITS_DEG,
    SHOULDER_MAX_ANGLE_DEG,
    MotionBuilder,
    joint_indices,
)
from vmc.motion.procedural.skeleton import contact_points

ACTIONS = list_actions()
SEEDS = (0, 1, 2)
FPS = 30
T = 60
JUMPS = {"jump_in_place", "jump_forward", "hop_on_one_foot"}
FLIGHT = JUMPS | {"jog_forward", "run_in_place", "jumping_jacks"}
IN_PLACE = {
    "wave",
    "clap",
    "nod",
    "shake_head",
    "look_around",
    "shrug",
    "arm_circles",
    "raise_arms",
    "side_bend",
    "stand_still",
    "bow",
    "stretch_up",
}


@pytest.fixture(scope="module")
def motions():
    return {(a, s): generate_motion(a, T, FPS, seed=s) for a in ACTIONS for s in SEEDS}


def _local_mats(m) -> np.ndarray:
    flat = m.motion.poses.reshape(-1, 3).astype(np.float64)
    return Rotation.from_rotvec(flat).as_matrix().reshape(m.motion.num_frames, 24, 3, 3)


def _lowest_sole(m) -> np.ndarray:
    pos, rot = forward_kinematics(m.motion.poses, m.motion.trans)
    return contact_points(pos, rot)[..., 1].min(-1)  # [T]


def test_catalogue_has_the_required_actions():
    assert len(ACTIONS) >= 25
    required = {
        "walk_forward",
        "walk_backward",
        "walk_circle",
        "run_in_place",
        "jog_forward",
        "jump_in_place",
        "jump_forward",
        "wave",
        "clap",
        "squat",
        "kick",
        "punch",
        "bow",
        "turn_around",
        "raise_arms",
        "jumping_jacks",
        "sit_down",
        "stand_up",
        "stretch_up",
        "side_bend",
        "dance_groove",
        "dance_twist",
        "march_in_place",
        "hop_on_one_foot",
        "lunge",
        "throw",
        "look_around",
        "nod",
        "shrug",
        "crouch",
    }
    assert required <= set(ACTIONS)


def test_shapes_dtypes_and_finite(motions):
    for (action, _), m in motions.items():
        assert m.motion.poses.shape == (T, 24, 3) and m.motion.poses.dtype == np.float32, action
        assert m.motion.trans.shape == (T, 3) and m.motion.trans.dtype == np.float32, action
        assert m.motion.poses72.shape == (T, 72)
        assert np.isfinite(m.motion.poses).all() and np.isfinite(m.motion.trans).all(), action
        assert m.motion.fps == FPS and m.action == action


def test_frame0_upright_facing_plus_z(motions):
    for (action, _), m in motions.items():
        root = Rotation.from_rotvec(m.motion.poses[0, 0].astype(np.float64))
        fwd, up = root.apply([0.0, 0.0, 1.0]), root.apply([0.0, 1.0, 0.0])
        assert abs(fwd[0]) < 1e-5 and fwd[2] > 0.8 and up[1] > 0.8, action  # yaw 0, upright
        np.testing.assert_allclose(m.motion.trans[0, [0, 2]], 0.0, atol=1e-6, err_msg=action)
        pos, _ = forward_kinematics(m.motion.poses[:1], m.motion.trans[:1])
        assert pos[0, 15, 1] > pos[0, 0, 1] > pos[0, 7, 1], action  # head > pelvis > ankle
        assert pos[0, 1, 0] > pos[0, 2, 0], action  # left hip on +x


def test_joint_limits(motions):
    tol = np.deg2rad(0.5)
    for (action, seed), m in motions.items():
        mats = _local_mats(m)
        rv = m.motion.poses.astype(np.float64)
        for side in (1, -1):
            knee = rv[:, joint_indices("knee", side)]
            # hinge: pure rotation about +x, flexion only
            assert np.abs(knee[:, 1:]).max() < 1e-4, (action, seed)
            lo, hi = np.deg2rad(HINGE_LIMITS_DEG["knee"])
            assert (knee[:, 0] >= lo - tol).all() and (knee[:, 0] <= hi + tol).all(), action
            elbow = rv[:, joint_indices("elbow", side)]
            assert np.abs(elbow[:, [0, 2]]).max() < 1e-4, (action, seed)
            flex = -side * elbow[:, 1]  # left bends about -y, right about +y
            lo, hi = np.deg2rad(HINGE_LIMITS_DEG["elbow"])
            assert (flex >= lo - tol).all() and (flex <= hi + tol).all(), (action, seed)
            sh = rv[:, joint_indices("shoulder", side)]
            assert np.linalg.norm(sh, axis=-1).max() <= np.deg2rad(SHOULDER_MAX_ANGLE_DEG)
        for kind, lim in EULER_LIMITS_DEG.items():
            lim = np.deg2rad(np.asarray(lim))
            for side in (1, -1):
                j = joint_indices(kind, side)
                eul = Rotation.from_matrix(mats[:, j]).as_euler("XYZ")
                paired = joint_indices(kind, 1) != joint_indices(kind, -1)
                canon = eul * (np.array([1.0, side, side]) if paired else 1.0)
                assert (canon >= lim[:, 0] - tol).all() and (canon <= lim[:, 1] + tol).all(), (
                    action,
                    seed,
                    kind,
                    side,
                    np.rad2deg(canon.min(0)),
                    np.rad2deg(canon.max(0)),
                )


def test_builder_clamps_out_of_range_requests():
    b = MotionBuilder(10, 30.0)
    b.knee[:] = -0.5  # hyperextension request
    b.elbow[:] = 3.0  # beyond 150 degrees
    b.add("neck", 1, x=2.0)
    b.arm_dir[:] = [1.0, 0.0, 0.0]
    b.arm_bend[:] = [0.0, 0.0, 1.0]
    rot = b.local_rotations()
    rv = Rotation.from_matrix(rot.reshape(-1, 3, 3)).as_rotvec().reshape(10, 24, 3)
    assert np.allclose(rv[:, joint_indices("knee", 1)], 0.0, atol=1e-9)
    assert np.isclose(np.linalg.norm(rv[0, joint_indices("elbow", 1)]), np.deg2rad(150))
    neck = Rotation.from_matrix(rot[:, joint_indices("neck", 1)]).as_euler("XYZ")
    assert np.isclose(neck[0, 0], np.deg2rad(EULER_LIMITS_DEG["neck"][0][1]))


def test_smooth_joint_rotations(motions):
    for (action, seed), m in motions.items():
        r = _local_mats(m)
        rel = np.einsum("tjki,tjkl->tjil", r[:-1], r[1:])  # R_t^T R_{t+1}
        omega = Rotation.from_matrix(rel.reshape(-1, 3, 3)).as_rotvec().reshape(T - 1, 24, 3)
        omega *= FPS  # rad/s
        speed = np.linalg.norm(omega, axis=-1)
        accel = np.linalg.norm(np.diff(omega, axis=0), axis=-1) * FPS
        assert speed.max() < 35.0, (action, seed, speed.max())  # < 2000 deg/s
        assert accel.max() < 1000.0, (action, seed, accel.max())
        # no frame-to-frame jumps in the root translation; only jumps have impacts
        vel = np.diff(m.motion.trans.astype(np.float64), axis=0) * FPS
        assert np.linalg.norm(vel, axis=-1).max() < 6.0, (action, seed)
        acc = np.linalg.norm(np.diff(vel, axis=0), axis=-1).max() * FPS
        assert acc < (250.0 if action in FLIGHT else 60.0), (action, seed, acc)


def test_feet_on_the_ground(motions):
    for (action, seed), m in motions.items():
        low = _lowest_sole(m)
        assert low.min() > -0.01, (action, seed, low.min())  # never below the floor
        if action not in FLIGHT:
            assert low.max() < 0.015, (action, seed, low.max())  # always a foot on the floor
        pos, _ = forward_kinematics(m.motion.poses, m.motion.trans)
        foot_joints = pos[:, [7, 8, 10, 11], 1]
        assert foot_joints.min() > -0.01, (action, seed)
        assert foot_joints.min() < 0.02, (action, seed)


def test_standing_clip_feet_flat():
    m = generate_motion("stand_still", 60, 30, seed=3)
    pos, _ = forward_kinematics(m.motion.poses, m.motion.trans)
    balls = pos[:, [10, 11], 1]
    assert np.abs(balls).max() < 0.02
    assert (
        m.motion.trans[:, 1].min() > 0.85 and m.motion.trans[:, 1].max() < 1.0
    )  # pelvis height ~0.95 m


def test_walks_travel(motions):
    for seed in SEEDS:
        fwd = motions[("walk_forward", seed)].motion.trans
        assert fwd[-1, 2] - fwd[0, 2] > 0.5 and abs(fwd[-1, 0]) < 0.2
        back = motions[("walk_backward", seed)].motion.trans
        assert back[-1, 2] - back[0, 2] < -0.5
        jog = motions[("jog_forward", seed)].motion.trans
        assert jog[-1, 2] > 0.8
        circ = motions[("walk_circle", seed)]
        sign = 1.0 if circ.params["direction"] == "left" else -1.0
        assert np.linalg.norm(circ.motion.trans[-1, [0, 2]]) > 0.5
        assert sign * circ.motion.trans[-1, 0] > 0.2  # curves towards the named side (+x = left)
        side = motions[("sidestep", seed)]
        dx = side.motion.trans[-1, 0] - side.motion.trans[0, 0]
        assert (dx > 0.15) if side.params["side"] == "left" else (dx < -0.15)


def test_in_place_actions_stay(motions):
    for (action, seed), m in motions.items():
        if action in IN_PLACE:
            drift = np.linalg.norm(
                m.motion.trans[:, [0, 2]] - m.motion.trans[0, [0, 2]], axis=-1
            ).max()
            assert drift < 0.1, (action, seed, drift)


def test_jumps_leave_the_ground(motions):
    for seed in SEEDS:
        for action in JUMPS:
            m = motions[(action, seed)]
            assert _lowest_sole(m).max() > 0.05, (action, seed)
            assert m.motion.trans[:, 1].max() - m.motion.trans[0, 1] > 0.05, (action, seed)
        jump = motions[("jump_in_place", seed)]
        assert _lowest_sole(jump).max() > 0.1
        assert abs(jump.motion.trans[-1, 2]) < 0.15  # in place
        assert motions[("jump_forward", seed)].motion.trans[-1, 2] > 0.3


def test_sitting_lowers_the_pelvis(motions):
    for seed in SEEDS:
        sit = motions[("sit_down", seed)].motion.trans[:, 1]
        assert sit[0] - sit[-1] > 0.3
        up = motions[("stand_up", seed)].motion.trans[:, 1]
        assert up[-1] - up[0] > 0.3


def test_turn_around_faces_backwards(motions):
    for seed in SEEDS:
        m = motions[("turn_around", seed)]
        fwd = Rotation.from_rotvec(m.motion.poses[-1, 0].astype(np.float64)).apply([0.0, 0.0, 1.0])
        assert fwd[2] < -0.8


def test_sides_follow_params(motions):
    for seed in SEEDS:
        m = motions[("wave", seed)]
        pos, _ = forward_kinematics(m.motion.poses, m.motion.trans)
        hand_up = {
            s: pos[-20:, 22 if s == "left" else 23, 1].max() > pos[-20:, 15, 1].min() - 0.1
            for s in ("left", "right")
        }
        variant = m.params["variant"]
        for s in ("left", "right"):
            assert hand_up[s] == (variant in (s, "both")), (seed, variant, hand_up)


def test_determinism_and_variation():
    a = generate_motion("wave", 60, 30, seed=7)
    b = generate_motion("wave", 60, 30, seed=7)
    np.testing.assert_array_equal(a.motion.poses, b.motion.poses)
    np.testing.assert_array_equal(a.motion.trans, b.motion.trans)
    assert a.motion.texts == b.motion.texts and a.params == b.params
    c = generate_motion("wave", 60, 30, seed=8)
    assert not np.allclose(a.motion.poses, c.motion.poses)
    s1 = sample_motions(12, seed=3)
    s2 = sample_motions(12, seed=3)
    assert [m.action for m in s1] == [m.action for m in s2]
    for m1, m2 in zip(s1, s2, strict=True):
        np.testing.assert_array_equal(m1.motion.poses, m2.motion.poses)
    assert [m.action for m in sample_motions(12, seed=4)] != [m.action for m in s1]


def test_sample_motions_balanced_and_filtered():
    ms = sample_motions(2 * len(ACTIONS) + 3, num_frames=20, fps=20, seed=0)
    counts = {a: sum(m.action == a for m in ms) for a in ACTIONS}
    assert set(counts.values()) <= {2, 3}
    sub = sample_motions(5, num_frames=30, seed=1, actions=["nod", "clap"])
    assert {m.action for m in sub} == {"nod", "clap"}
    assert all(m.motion.poses.shape == (30, 24, 3) and m.motion.fps == 30 for m in sub)
    with pytest.raises(ValueError, match="unknown"):
        sample_motions(2, actions=["moonwalk"])


def test_other_lengths_and_rates_keep_physical_speed():
    w30 = generate_motion("walk_forward", 60, 30, seed=5)
    w60 = generate_motion("walk_forward", 120, 60, seed=5)
    assert w60.motion.poses.shape == (120, 24, 3)
    assert abs(w60.motion.trans[-1, 2] - w30.motion.trans[-1, 2]) < 0.1  # same 2 s, same distance
    long = generate_motion("jump_in_place", 150, 30, seed=0)
    assert long.params["count"] >= 2
    short = generate_motion("bow", 12, 30, seed=0)
    assert np.isfinite(short.motion.poses).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown action"):
        generate_motion("moonwalk")
    with pytest.raises(ValueError, match="num_frames"):
        generate_motion("wave", num_frames=1)
    with pytest.raises(ValueError, match="fps"):
        generate_motion("wave", fps=0)


def test_captions(motions):
    train_all, held_all = set(), set()
    for (action, _), m in motions.items():
        assert m.motion.texts and m.captions_heldout, action
        assert all(isinstance(c, str) and c.strip() and "{" not in c for c in m.motion.texts)
        assert all(c.strip() and "{" not in c for c in m.captions_heldout)
        train_all |= set(m.motion.texts)
        held_all |= set(m.captions_heldout)
    assert not train_all & held_all
    for seed in SEEDS:
        m = motions[("wave", seed)]
        words = {"left": ("left",), "right": ("right",), "both": ("both", "two")}
        assert all(any(w in c for w in words[m.params["variant"]]) for c in m.motion.texts)


def test_rest_skeleton_fk():
    pos, rot = forward_kinematics(np.zeros((2, 24, 3)), np.array([[0, 1.0, 0], [1.0, 0, 0]]))
    np.testing.assert_allclose(pos[0], REST_JOINTS + [0, 1.0, 0])
    np.testing.assert_allclose(rot, np.broadcast_to(np.eye(3), rot.shape))
    # rotating the root by 90 degrees about y turns the left hip from +x to -z
    aa = np.zeros((24, 3))
    aa[0] = [0.0, np.pi / 2, 0.0]
    p, _ = forward_kinematics(aa)
    np.testing.assert_allclose(p[1], [0.0, REST_JOINTS[1, 1], -REST_JOINTS[1, 0]], atol=1e-12)
    with pytest.raises(ValueError, match="poses"):
        forward_kinematics(np.zeros((5, 23, 3)))
    try:
        from vmc.body.joints import SMPL_PARENTS as body_parents
    except ImportError:  # pragma: no cover
        return
    assert tuple(body_parents) == tuple(SMPL_PARENTS)


@pytest.mark.parametrize("action", ["walk_forward", "jumping_jacks", "run_in_place"])
def test_cycles_start_aligned_in_clips_that_ease_in(action):
    """With an onset, the clips of a cyclic action agree frame by frame (their cycle starts at
    its start), so their average still moves; at random phases it moves far less (what remains
    is the ease-in, common to every clip, and the noise of a mean over 8 clips)."""

    def average_over_clip_activity(aligned: bool) -> float:
        joints = []
        for seed in range(8):
            m = generate_motion(action, T, FPS, 100 + seed, onset=0.4, aligned_cycles=aligned)
            j, _ = forward_kinematics(m.motion.poses, m.motion.trans)
            joints.append(j - j[:, :1])
        joints = np.stack(joints)  # [clips, T, 24, 3]
        return float(joints.mean(0).std(0).mean() / joints.std(1).mean())

    aligned, random = average_over_clip_activity(True), average_over_clip_activity(False)
    assert aligned > 0.6 and aligned > random + 0.25, (aligned, random)
    # The phase is drawn either way, so the other variations of a seed stay the same.
    default = generate_motion(action, T, FPS, 5, onset=0.4)
    assert (
        default.params == generate_motion(action, T, FPS, 5, onset=0.4, aligned_cycles=False).params
    )


def test_extra_captions_are_training_paraphrases_apart_from_the_held_out_ones():
    from vmc.motion.procedural.captions import CAPTIONS, MORE_TRAIN

    assert set(MORE_TRAIN) <= set(CAPTIONS)
    for clip in sample_motions(6 * len(ACTIONS), 2, FPS, 3):
        base = generate_motion(clip.action, 2, FPS, int(clip.params["seed"]), extra_captions=False)
        texts, held = clip.motion.texts, clip.captions_heldout
        assert texts[: len(base.motion.texts)] == base.motion.texts
        assert len(texts) > len(base.motion.texts), clip.action
        assert not {t.lower() for t in texts} & {h.lower() for h in held}
        assert all("{" not in t for t in texts)


def _content_words(text: str) -> set[str]:
    """Words of a caption that carry meaning (not articles, pronouns or the subject)."""
    filler = "a an the to of and with in on at his her their its is someone somebody person human"
    return set(re.findall(r"[a-z]+", text.lower())) - set(filler.split())


def test_freer_paraphrases_keep_the_held_out_vocabulary_out():
    from vmc.motion.checks import FREE_PROMPTS, MODIFIER_PAIRS
    from vmc.motion.procedural.captions import CAPTIONS, FREER_TRAIN, MORE_TRAIN, SIZE_TRAIN

    assert set(FREER_TRAIN) == set(CAPTIONS)
    for key, extra in FREER_TRAIN.items():
        action = key.split("/")[0]
        sizes = SIZE_TRAIN[action][3] + SIZE_TRAIN[action][4] if action in SIZE_TRAIN else ()
        train, held = CAPTIONS[key]
        known = set().union(*map(_content_words, train + MORE_TRAIN.get(key, ())))
        held_words = set().union(*map(_content_words, held))
        for text in extra + sizes:
            # A freer wording may reuse the earlier training words, never add a held-out one.
            assert not (_content_words(text) & held_words) - known, (key, text)
    prompts = {p.prompt for p in FREE_PROMPTS}
    prompts |= {q for p in MODIFIER_PAIRS for q in (p.low, p.high)}
    every = [t for v in FREER_TRAIN.values() for t in v]
    every += [t for v in SIZE_TRAIN.values() for t in v[3] + v[4]]
    assert not {t.format(side="left", dir="left", adv="", variant="") for t in every} & prompts


def test_size_wordings_follow_the_drawn_size():
    for action, param, small, big in (
        ("jump_in_place", "height_m", "a person does a small jump", "a person jumps high"),
        ("squat", "depth", "a person does a shallow squat", "a person does a deep squat"),
    ):
        clips = [generate_motion(action, 2, FPS, seed) for seed in range(40)]
        values = {c.params[param] for c in clips if small in c.motion.texts}
        others = {c.params[param] for c in clips if big in c.motion.texts}
        assert values and others and max(values) < min(others), action
        assert any(small not in c.motion.texts and big not in c.motion.texts for c in clips)
        plain = generate_motion(action, 2, FPS, 0, extra_captions=False).motion.texts
        assert small not in plain and big not in plain
