"""Motion export: AMASS npz (Z-up, smplx trans) round trip, loader validation, BVH, the writer."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vmc.body import BodyModel
from vmc.body.joints import SMPL_JOINT_NAMES
from vmc.body.procedural import make_tiny_body
from vmc.motion.export import continuous_euler, load_motion_npz, save_amass_npz, save_bvh
from vmc.motion.procedural import forward_kinematics, generate_motion
from vmc.motion.types import Motion
from vmc.motion.writing import write_motion_files

_R_Y_TO_Z = Rotation.from_euler("x", 90, degrees=True)  # y_up → z_up world rotation


@pytest.fixture(scope="module")
def motion() -> Motion:
    return generate_motion("jump_forward", 40, 30, seed=2).motion


@pytest.fixture(scope="module")
def tiny_rest() -> np.ndarray:
    """Rest joints ``[24, 3]`` of a body whose pelvis is NOT at the origin (J0 ≈ (0,-0.22,0.02))."""
    body = BodyModel.from_arrays(**make_tiny_body()).double()
    rest = body.shaped()[1][0].numpy()
    assert np.abs(rest[0]).max() > 0.1
    return rest


def test_npz_round_trip(tmp_path, motion):
    path = save_amass_npz(tmp_path / "sub" / "m.npz", motion)
    raw = np.load(path, allow_pickle=False)
    assert {"poses", "trans", "betas", "mocap_framerate", "gender", "up_axis"} <= set(raw.files)
    assert raw["poses"].shape == (40, 72) and raw["betas"].shape == (10,)
    assert float(raw["mocap_framerate"]) == 30.0 and str(raw["gender"]) == "neutral"
    assert str(raw["up_axis"]) == "z"
    loaded = load_motion_npz(path)
    assert loaded.frame == "z_up" and loaded.gender == "neutral" and loaded.name == "m"
    back = loaded.to_frame("y_up")
    np.testing.assert_allclose(back.poses, motion.poses, atol=1e-5)
    np.testing.assert_allclose(back.trans, motion.trans, atol=1e-6)
    np.testing.assert_array_equal(loaded.root_rest, np.zeros(3))
    assert loaded.fps == 30.0 and loaded.texts == motion.texts
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["m.npz"]  # no temp files left


def test_npz_is_z_up_like_amass(tmp_path, motion):
    """AMASS tools assume Z-up: in the written file a jump rises along +Z and the head is
    above the pelvis along +Z, with the file's poses/trans read as AMASS does."""
    raw = np.load(save_amass_npz(tmp_path / "jump.npz", motion), allow_pickle=False)
    trans = raw["trans"]
    assert trans[:, 2].max() - trans[0, 2] > 0.1  # the jump rises along +Z
    assert trans[0, 2] > 0.5  # the pelvis height is Z
    np.testing.assert_allclose(trans[:, 2], motion.trans[:, 1], atol=1e-6)
    joints, _ = forward_kinematics(raw["poses"], trans)
    assert (joints[:, 15, 2] > joints[:, 0, 2] + 0.3).all()  # head above pelvis along +Z
    ours, _ = forward_kinematics(motion.poses, motion.trans)
    np.testing.assert_allclose(joints, _R_Y_TO_Z.apply(ours.reshape(-1, 3)).reshape(ours.shape),
                               atol=1e-5)  # fmt: skip


def test_older_y_up_files_still_load(tmp_path, motion):
    """Files of older vmc versions were written Y-up with ``up_axis="y"`` (no root_rest)."""
    np.savez(
        tmp_path / "old.npz",
        poses=motion.poses72,
        trans=motion.trans,
        betas=np.zeros(10, np.float32),
        mocap_framerate=np.float64(30),
        fps=np.float64(30),
        gender=np.str_("neutral"),
        texts=np.array(["a jump"]),
        up_axis=np.str_("y"),
    )
    old = load_motion_npz(tmp_path / "old.npz")
    assert old.frame == "y_up" and old.root_rest is None and old.texts == ["a jump"]
    np.testing.assert_array_equal(old.poses, motion.poses)
    # rewritten by this version it becomes Z-up, and reads back to the same motion
    again = load_motion_npz(save_amass_npz(tmp_path / "new.npz", old)).to_frame("y_up")
    np.testing.assert_allclose(again.poses, motion.poses, atol=1e-5)
    np.testing.assert_allclose(again.trans, motion.trans, atol=1e-6)


def test_npz_follows_smplx_for_a_body_with_offset_pelvis(tmp_path, motion, tiny_rest):
    """smplx/AMASS put the pelvis at ``J0(betas) + trans``: written for a body whose J0 is off
    the origin, the file's trans is the pelvis minus J0, and posing that body with the file's
    poses/trans puts every joint where the motion's skeleton had it (Z-up)."""
    j0 = tiny_rest[0]
    (path,) = write_motion_files(tmp_path / "tiny.npz", motion, rest_joints=tiny_rest)
    raw = np.load(path, allow_pickle=False)
    np.testing.assert_allclose(raw["root_rest"], j0, atol=1e-6)
    pelvis_y = motion.trans  # the library's rest pelvis is at the origin
    expected_z = _R_Y_TO_Z.apply(pelvis_y) - j0  # the pelvis rotated, minus the body's J0
    np.testing.assert_allclose(raw["trans"], expected_z, atol=1e-5)
    posed, _ = forward_kinematics(raw["poses"], raw["trans"], tiny_rest)  # pelvis at J0 + trans
    np.testing.assert_allclose(posed[:, 0], _R_Y_TO_Z.apply(pelvis_y), atol=1e-5)
    # the reader gives the same motion back, and rebasing returns the skeleton's trans
    loaded = load_motion_npz(path).to_frame("y_up").rebased(np.zeros(3))
    np.testing.assert_allclose(loaded.trans, motion.trans, atol=1e-5)


def test_load_folder_format_and_amass_smplh(tmp_path):
    rng = np.random.default_rng(0)
    poses = rng.normal(size=(7, 72)).astype(np.float32) * 0.1
    np.savez(
        tmp_path / "ours.npz",
        poses=poses,
        trans=np.zeros((7, 3)),
        fps=20,
        texts=np.array(["a person waves"]),
    )
    ours = load_motion_npz(tmp_path / "ours.npz")
    assert ours.fps == 20 and ours.texts == ["a person waves"] and ours.frame == "y_up"
    smplh = rng.normal(size=(5, 156)).astype(np.float32)
    np.savez(
        tmp_path / "amass.npz",
        poses=smplh,
        trans=np.ones((5, 3)),
        mocap_framerate=np.float64(120.0),
        betas=np.zeros(16),
        gender=np.array("female"),
    )
    amass = load_motion_npz(tmp_path / "amass.npz")
    j = smplh.reshape(5, 52, 3)
    np.testing.assert_array_equal(amass.poses[:, :22], j[:, :22])
    np.testing.assert_array_equal(amass.poses[:, 22], j[:, 22])  # left_index1
    np.testing.assert_array_equal(amass.poses[:, 23], j[:, 37])  # right_index1
    assert amass.fps == 120.0 and amass.frame == "z_up" and amass.gender == "female"
    assert amass.root_rest is None  # AMASS files don't record J0 (SMPL-H's, with their betas)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"poses": np.zeros((4, 70))}, "poses"),
        ({"poses": np.zeros((4, 23, 3))}, "poses"),
        ({"trans": np.zeros((4, 2))}, "trans"),
        ({"trans": np.zeros((5, 3))}, "trans"),
        ({"poses": np.full((4, 72), np.nan)}, "finite"),
        ({"betas": np.zeros((2, 5))}, "betas"),
        ({"fps": 0}, "fps"),
        ({"gender": "robot"}, "gender"),
        ({"frame": "x_up"}, "frame"),
        ({"root_rest": np.zeros(2)}, "root_rest"),
    ],
)
def test_motion_rejects_bad_input(kwargs, match):
    args = {"poses": np.zeros((4, 72)), "trans": np.zeros((4, 3)), "fps": 30.0} | kwargs
    with pytest.raises(ValueError, match=match):
        Motion(**args)


def test_load_rejects_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        load_motion_npz(tmp_path / "nope.npz")
    np.savez(tmp_path / "no_trans.npz", poses=np.zeros((3, 72)), fps=30)
    with pytest.raises(ValueError, match="no_trans.npz.*'trans'"):
        load_motion_npz(tmp_path / "no_trans.npz")
    np.savez(tmp_path / "no_fps.npz", poses=np.zeros((3, 72)), trans=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="frame rate"):
        load_motion_npz(tmp_path / "no_fps.npz")
    np.savez(tmp_path / "short.npz", poses=np.zeros((3, 72)), trans=np.zeros((2, 3)), fps=30)
    with pytest.raises(ValueError, match=r"short.npz.*trans"):
        load_motion_npz(tmp_path / "short.npz")
    np.savez(
        tmp_path / "obj.npz", poses=np.array([None, 1], dtype=object), trans=np.zeros(3), fps=30
    )
    with pytest.raises(ValueError, match="pickle"):
        load_motion_npz(tmp_path / "obj.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.npz"):
        load_motion_npz(tmp_path / "junk.npz")


# ---- BVH -----------------------------------------------------------------------------------------


def _parse_bvh(text: str):
    """Tiny BVH reader: joint names, parents, offsets, channel lists, frames, frame time."""
    tokens = text.split()
    i = 0
    names, parents, offsets, channels = [], [], [], []
    stack: list[int] = []
    in_end = False
    while tokens[i] != "MOTION":
        tok = tokens[i]
        if tok in ("ROOT", "JOINT"):
            names.append(tokens[i + 1])
            parents.append(stack[-1] if stack else -1)
            i += 2
        elif tok == "End":
            in_end = True
            i += 2
        elif tok == "{":
            if not in_end:
                stack.append(len(names) - 1)
            i += 1
        elif tok == "}":
            if in_end:
                in_end = False
            else:
                stack.pop()
            i += 1
        elif tok == "OFFSET":
            if not in_end:
                offsets.append([float(x) for x in tokens[i + 1 : i + 4]])
            i += 4
        elif tok == "CHANNELS":
            n = int(tokens[i + 1])
            channels.append(tokens[i + 2 : i + 2 + n])
            i += 2 + n
        else:
            i += 1
    num_frames = int(tokens[i + 2])
    frame_time = float(tokens[i + 5])
    data = np.array(tokens[i + 6 :], dtype=np.float64).reshape(num_frames, -1)
    return names, parents, np.array(offsets), channels, data, frame_time


def _bvh_fk(parents, offsets, channels, data):
    num_frames = data.shape[0]
    pos = np.zeros((num_frames, len(parents), 3))
    glob = np.zeros((num_frames, len(parents), 3, 3))
    col = 0
    for j, (par, chans) in enumerate(zip(parents, channels, strict=True)):
        vals = data[:, col : col + len(chans)]
        col += len(chans)
        local_t = np.zeros((num_frames, 3))
        rot = np.tile(np.eye(3), (num_frames, 1, 1))
        for k, ch in enumerate(chans):  # rotations compose in channel order (intrinsic)
            if ch.endswith("position"):
                local_t[:, "XYZ".index(ch[0])] = vals[:, k]
            else:
                rot = (
                    rot
                    @ Rotation.from_euler(ch[0].lower(), vals[:, k, None], degrees=True).as_matrix()
                )
        if par < 0:
            pos[:, j] = offsets[j] + local_t
            glob[:, j] = rot
        else:
            pos[:, j] = pos[:, par] + np.einsum("tij,j->ti", glob[:, par], offsets[j])
            glob[:, j] = glob[:, par] @ rot
    return pos


def _bvh_joints(path, scale):
    names, parents, offsets, channels, data, _ = _parse_bvh(path.read_text())
    idx = [names.index(n) for n in SMPL_JOINT_NAMES]  # the BVH lists joints in hierarchy order
    return _bvh_fk(parents, offsets, channels, data)[:, idx] / scale


@pytest.mark.parametrize(("units", "scale"), [("cm", 100.0), ("m", 1.0)])
def test_bvh_round_trip_fk(tmp_path, motion, units, scale):
    path = save_bvh(tmp_path / "m.bvh", motion, units=units)
    names, parents, offsets, channels, data, frame_time = _parse_bvh(path.read_text())
    assert len(names) == 24 and names[0] == "pelvis" and data.shape[0] == 40
    assert np.isclose(frame_time, 1 / 30)
    assert channels[0] == [
        "Xposition",
        "Yposition",
        "Zposition",
        "Zrotation",
        "Xrotation",
        "Yrotation",
    ]
    ours, _ = forward_kinematics(motion.poses, motion.trans)
    np.testing.assert_allclose(_bvh_joints(path, scale), ours, atol=2e-5)


def test_bvh_units(tmp_path, motion):
    cm = _parse_bvh(save_bvh(tmp_path / "cm.bvh", motion).read_text())
    m = _parse_bvh(save_bvh(tmp_path / "m.bvh", motion, units="m").read_text())
    np.testing.assert_allclose(cm[2], 100 * m[2], atol=1e-4)  # offsets
    np.testing.assert_allclose(cm[4][:, :3], 100 * m[4][:, :3], atol=1e-4)  # root positions
    np.testing.assert_allclose(cm[4][:, 3:], m[4][:, 3:], atol=1e-5)  # angles unchanged
    height = cm[4][0, 1] + cm[2][0, 1]  # pelvis height in the file (cm): a person, not 165 m
    assert 50 < height < 150
    with pytest.raises(ValueError, match="bvh_units"):
        save_bvh(tmp_path / "x.bvh", motion, units="mm")
    assert not (tmp_path / "x.bvh").exists()


def test_bvh_offsets_are_the_body_rest_joints(tmp_path, motion, tiny_rest):
    path = save_bvh(tmp_path / "tiny.bvh", motion, rest_joints=tiny_rest)
    names, parents, offsets, _, _, _ = _parse_bvh(path.read_text())
    idx = [names.index(n) for n in SMPL_JOINT_NAMES]
    rest_from_bvh = np.zeros((24, 3))
    for j, par in enumerate(parents):  # accumulate offsets down the tree
        rest_from_bvh[j] = offsets[j] + (rest_from_bvh[par] if par >= 0 else 0)
    np.testing.assert_allclose(rest_from_bvh[idx] / 100, tiny_rest, atol=1e-6)
    # posed: the BVH's joints are the body's joints for the same motion (pelvis kept)
    ours, _ = forward_kinematics(motion.poses, motion.trans - tiny_rest[0], tiny_rest)
    np.testing.assert_allclose(_bvh_joints(path, 100.0), ours, atol=2e-5)
    with pytest.raises(ValueError, match="rest_joints"):
        save_bvh(tmp_path / "x.bvh", motion, rest_joints=np.zeros((23, 3)))


def _deep_knee_motion(num_frames: int = 90) -> Motion:
    """A smooth squat whose knees bend from 0 to 150 degrees and back, with a little knee
    twist and a slowly turning root (so no Euler angle sits exactly on a singularity)."""
    t = np.linspace(0.0, 1.0, num_frames)
    bend = np.radians(150.0) * np.sin(np.pi * t)
    poses = np.zeros((num_frames, 24, 3))
    for knee in (4, 5):  # SMPL left/right knee
        rot = Rotation.from_euler("ZXY", np.stack([0.1 * bend, bend, 0.05 * bend], 1))
        poses[:, knee] = rot.as_rotvec()
    poses[:, 0] = Rotation.from_euler("y", 2.5 * t[:, None]).as_rotvec()
    return Motion(poses, np.zeros((num_frames, 3)), 30.0)


def test_bvh_channels_are_continuous_through_deep_knee_flexion(tmp_path):
    m = _deep_knee_motion()
    # scipy's plain Euler angles jump by ~180 degrees past 90 degrees of flexion
    plain = Rotation.from_rotvec(m.poses[:, 4]).as_euler("ZXY", degrees=True)
    assert np.abs(np.diff(plain, axis=0)).max() > 90
    path = save_bvh(tmp_path / "squat.bvh", m)
    _, _, _, _, data, _ = _parse_bvh(path.read_text())
    assert np.abs(np.diff(data[:, 3:], axis=0)).max() < 90  # no channel jumps between frames
    ours, _ = forward_kinematics(m.poses, m.trans)
    np.testing.assert_allclose(_bvh_joints(path, 100.0), ours, atol=2e-5)  # same rotations


def test_continuous_euler_gives_the_same_rotations():
    m = _deep_knee_motion(60)
    euler = continuous_euler(m.poses)
    rebuilt = Rotation.from_euler("ZXY", euler.reshape(-1, 3), degrees=True)
    original = Rotation.from_rotvec(m.poses.reshape(-1, 3))
    assert (rebuilt.inv() * original).magnitude().max() < 1e-9


def test_writer_writes_npz_and_bvh_and_records_outputs(tmp_path, motion):
    class Recorder:
        def __init__(self):
            self.paths = []

        def add(self, path):
            self.paths.append(path)
            return path

    outputs = Recorder()
    tagged = replace(motion, texts=["a person jumps forward"])
    paths = write_motion_files(tmp_path / "j.npz", tagged, bvh=True, outputs=outputs)
    assert paths == [tmp_path / "j.npz", tmp_path / "j.bvh"] == outputs.paths
    assert load_motion_npz(paths[0]).texts == ["a person jumps forward"]
    with pytest.raises(ValueError, match="motion files end with"):
        write_motion_files(tmp_path / "j.txt", motion)
    with pytest.raises(ValueError, match="bvh_units"):
        write_motion_files(tmp_path / "k.npz", motion, bvh=True, bvh_units="inch")
    assert not (tmp_path / "k.npz").exists()
