"""Motion export: AMASS-style npz round trip, loader validation, world-frame conversion, BVH."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vmc.motion.export import (
    load_motion_npz,
    save_amass_npz,
    save_bvh,
    y_up_to_z_up,
    z_up_to_y_up,
)
from vmc.motion.procedural import REST_JOINTS, forward_kinematics, generate_motion


@pytest.fixture(scope="module")
def motion():
    return generate_motion("jump_forward", 40, 30, seed=2)


def test_npz_round_trip(tmp_path, motion):
    path = save_amass_npz(
        tmp_path / "sub" / "m.npz",
        motion.poses,
        motion.trans,
        fps=motion.fps,
        texts=motion.captions,
    )
    raw = np.load(path, allow_pickle=False)
    assert {"poses", "trans", "betas", "mocap_framerate", "gender"} <= set(raw.files)
    assert raw["poses"].shape == (40, 72) and raw["betas"].shape == (10,)
    assert float(raw["mocap_framerate"]) == 30.0 and str(raw["gender"]) == "neutral"
    loaded = load_motion_npz(path)
    np.testing.assert_array_equal(loaded.poses_24x3, motion.poses)
    np.testing.assert_array_equal(loaded.trans, motion.trans)
    assert loaded.fps == 30.0 and loaded.texts == motion.captions
    assert loaded.up_axis == "y" and loaded.gender == "neutral"
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["m.npz"]  # no temp files left


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
    assert ours.fps == 20 and ours.texts == ["a person waves"] and ours.up_axis is None
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
    np.testing.assert_array_equal(amass.poses_24x3[:, :22], j[:, :22])
    np.testing.assert_array_equal(amass.poses_24x3[:, 22], j[:, 22])  # left_index1
    np.testing.assert_array_equal(amass.poses_24x3[:, 23], j[:, 37])  # right_index1
    assert amass.fps == 120.0 and amass.up_axis == "z" and amass.gender == "female"


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
        ({"up_axis": "x"}, "up_axis"),
    ],
)
def test_save_rejects_bad_input(tmp_path, kwargs, match):
    args = {"poses": np.zeros((4, 72)), "trans": np.zeros((4, 3))} | kwargs
    with pytest.raises(ValueError, match=match):
        save_amass_npz(tmp_path / "bad.npz", **args)
    assert not list(tmp_path.iterdir())


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


def test_world_frame_conversion(motion):
    p_z, t_z = y_up_to_z_up(motion.poses, motion.trans)
    pos_y, _ = forward_kinematics(motion.poses, motion.trans)
    pos_z, _ = forward_kinematics(p_z, t_z)
    rot = Rotation.from_euler("x", 90, degrees=True)
    np.testing.assert_allclose(
        pos_z, rot.apply(pos_y.reshape(-1, 3)).reshape(pos_y.shape), atol=1e-5
    )
    assert (pos_z[:, 15, 2] > pos_z[:, 0, 2]).all()  # head above pelvis along +z
    p_y, t_y = z_up_to_y_up(p_z, t_z)
    np.testing.assert_allclose(t_y, motion.trans, atol=1e-5)
    # with a body whose rest pelvis is off the origin the conversion is still exact
    j0 = np.array([0.0, -0.22, 0.03])
    rest = REST_JOINTS + j0
    p_z2, t_z2 = y_up_to_z_up(motion.poses, motion.trans, root_rest=j0)
    a, _ = forward_kinematics(motion.poses, motion.trans, rest)
    b, _ = forward_kinematics(p_z2, t_z2, rest)
    np.testing.assert_allclose(b, rot.apply(a.reshape(-1, 3)).reshape(a.shape), atol=1e-5)


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


@pytest.mark.parametrize("scale", [100.0, 1.0])
def test_bvh_round_trip_fk(tmp_path, motion, scale):
    path = save_bvh(tmp_path / "m.bvh", motion.poses, motion.trans, fps=motion.fps, scale=scale)
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
    theirs = _bvh_fk(parents, offsets, channels, data) / scale
    # the BVH may list joints in a different order than SMPL: match by name
    from vmc.motion.procedural.skeleton import SMPL_JOINT_NAMES

    idx = [names.index(n) for n in SMPL_JOINT_NAMES]
    np.testing.assert_allclose(theirs[:, idx], ours, atol=2e-5)


def test_bvh_custom_offsets_and_errors(tmp_path, motion):
    rest = REST_JOINTS * 1.1
    path = save_bvh(tmp_path / "big.bvh", motion.poses[:3], motion.trans[:3], offsets=rest)
    names, parents, offsets, channels, data, _ = _parse_bvh(path.read_text())
    from vmc.motion.procedural.skeleton import SMPL_JOINT_NAMES

    idx = [names.index(n) for n in SMPL_JOINT_NAMES]
    ours, _ = forward_kinematics(motion.poses[:3], motion.trans[:3], rest)
    np.testing.assert_allclose(
        _bvh_fk(parents, offsets, channels, data)[:, idx] / 100, ours, atol=2e-5
    )
    with pytest.raises(ValueError, match="offsets"):
        save_bvh(tmp_path / "x.bvh", motion.poses, motion.trans, offsets=np.zeros((23, 3)))
    with pytest.raises(ValueError, match="trans"):
        save_bvh(tmp_path / "x.bvh", motion.poses, motion.trans[:-1])
    assert not (tmp_path / "x.bvh").exists()
