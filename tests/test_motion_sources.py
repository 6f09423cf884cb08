"""Motion data sources: every format built small in tmp_path and read back.

Nothing licensed is used: AMASS, BABEL, HumanML3D and MotionCLIP-database files are synthetic
stand-ins written in each format's layout.
"""

from __future__ import annotations

import csv
import json
import os
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from vmc.body import BodyModel
from vmc.body.joints import SMPL_FLIP_PERMUTATION, joint_index
from vmc.body.procedural import make_tiny_body
from vmc.data.motion_sources import (
    MOTION_SOURCES,
    MotionRecord,
    chunk_records,
    convert_records_to_folder,
    load_amass,
    load_amass_babel,
    load_folder,
    load_humanml3d,
    load_motion_records,
    load_motionclip_db,
    load_procedural,
    window_text,
)
from vmc.data.motion_sources.babel import babel_frame_labels
from vmc.data.motion_sources.humanml3d import mirror_record, parse_humanml3d_texts
from vmc.data.motion_sources.motionclip_db import UnsafeDatabaseError, read_motionclip_db
from vmc.motion.export import load_motion_npz, save_amass_npz
from vmc.motion.resample import FpsMismatchError, fit_length, resample_motion
from vmc.motion.types import Motion

# ------------------------------------------------------------------------------ helpers


def _amass_poses(num_frames: int, width: int, seed: int) -> np.ndarray:
    """Smooth random axis-angle poses, with each joint's index in its x component at frame 0
    shifted so joint selection is visible."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, num_frames)[:, None]
    phase = rng.uniform(0, 2 * np.pi, size=(1, width))
    amp = rng.uniform(0.05, 0.4, size=(1, width))
    return (amp * np.sin(2 * np.pi * t + phase)).astype(np.float64)


def _write_amass(
    path: Path, num_frames: int, fps: float, width: int = 156, seed: int = 0, rate_key=None
) -> dict[str, np.ndarray]:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "poses": _amass_poses(num_frames, width, seed),
        "trans": np.cumsum(np.full((num_frames, 3), 0.01), axis=0),
        (rate_key or ("mocap_frame_rate" if width == 165 else "mocap_framerate")): np.array(fps),
        "betas": np.arange(16, dtype=np.float64) * 0.1,
        "gender": np.array("male"),
        "dmpls": np.zeros((num_frames, 8)),
    }
    np.savez(path, **data)
    return data


def _smplh_to_24(poses156: np.ndarray) -> np.ndarray:
    return poses156.reshape(len(poses156), 52, 3)[:, list(range(22)) + [22, 37]]


@pytest.fixture(scope="module")
def tiny_body() -> BodyModel:
    return BodyModel.from_arrays(**make_tiny_body())


def _rec(poses, trans, fps, texts, source, up_axis, name, **kwargs) -> MotionRecord:
    """A record from the old positional fields (the motion's frame from ``up_axis``)."""
    motion = Motion(poses, trans, fps, frame=f"{up_axis}_up", texts=texts, source=source, name=name)
    return MotionRecord(motion, **kwargs)


def _joints(body: BodyModel, rec: MotionRecord) -> np.ndarray:
    with torch.no_grad():
        out = body(
            pose_axis_angle=torch.from_numpy(rec.motion.poses72.astype(np.float32)),
            transl=torch.from_numpy(rec.motion.trans),
        )
    return out.joints.numpy().astype(np.float64)


# ------------------------------------------------------------------------------ resampling


def test_resample_sinusoid_slerp_50_to_30_fps():
    src, dst, freq, amp = 50.0, 30.0, 0.7, 1.2
    t = np.arange(100) / src
    axis = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
    angle = amp * np.sin(2 * np.pi * freq * t)
    poses = np.zeros((100, 24, 3))
    poses[:, 5] = angle[:, None] * axis
    trans = np.stack([np.sin(2 * np.pi * freq * t), t, np.zeros_like(t)], axis=1)
    out = resample_motion(Motion(poses, trans, src), dst)
    assert out.motion.fps == dst
    assert out.motion.poses.shape == (60, 24, 3)  # floor(99 * 30 / 50) + 1
    t_out = np.arange(60) / dst
    expected = amp * np.sin(2 * np.pi * freq * t_out)
    got = out.motion.poses[:, 5] @ axis  # rotation stays about the same axis
    # slerp about a fixed axis = linear interpolation of the angle: error <= h^2/8 max|θ''|
    bound = (1 / src) ** 2 / 8 * amp * (2 * np.pi * freq) ** 2 + 1e-6
    assert np.abs(got - expected).max() <= bound
    assert np.abs(got - expected).max() > 1e-6  # really interpolated, not copied
    assert np.allclose(np.cross(out.motion.poses[:, 5], axis), 0, atol=1e-6)
    assert np.allclose(out.motion.poses[:, 0], 0)
    assert np.abs(out.motion.trans[:, 0] - np.sin(2 * np.pi * freq * t_out)).max() <= 0.01
    assert np.allclose(out.motion.trans[:, 1], t_out, atol=1e-6)
    up = resample_motion(Motion(poses, trans, src), 100.0)
    assert up.motion.poses.shape[0] == 199 and np.allclose(up.motion.poses[::2], poses, atol=1e-6)


def test_resample_integer_ratio_equals_frame_dropping_and_subsample_rules():
    poses = _amass_poses(250, 72, seed=1).reshape(250, 24, 3)
    trans = np.random.default_rng(0).normal(size=(250, 3))
    slerp = resample_motion(Motion(poses, trans, 120), 30)
    sub = resample_motion(Motion(poses, trans, 120), 30, method="subsample")
    assert np.array_equal(slerp.motion.poses, poses[::4].astype(np.float32))
    assert np.array_equal(sub.motion.poses, slerp.motion.poses) and np.array_equal(
        sub.motion.trans, slerp.motion.trans
    )
    assert np.array_equal(slerp.source_index, np.arange(0, 250, 4))
    odd = resample_motion(Motion(poses, trans, 100), 30, method="subsample", max_fps_dist=5)
    assert odd.motion.fps == pytest.approx(100 / 3) and np.array_equal(
        odd.source_index[:3], [0, 3, 6]
    )
    with pytest.raises(FpsMismatchError, match="every 3th"):
        resample_motion(Motion(poses, trans, 100), 30, method="subsample", max_fps_dist=2)
    with pytest.raises(ValueError, match="method"):
        resample_motion(Motion(poses, trans, 100), 30, method="cubic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="trans"):
        resample_motion(Motion(poses, trans[:10], 100), 30)


def test_slerp_takes_the_short_arc():
    poses = np.zeros((2, 24, 3))
    poses[0, 0] = [0, 0, np.deg2rad(170)]
    poses[1, 0] = [0, 0, np.deg2rad(-170)]  # 20 degrees away through 180
    out = resample_motion(Motion(poses, np.zeros((2, 3)), 2.0), 4.0)  # frames at 0, 0.5, 1
    mid = Rotation.from_rotvec(out.motion.poses[1, 0]).as_matrix()
    assert np.allclose(mid, Rotation.from_euler("z", 180, degrees=True).as_matrix(), atol=1e-5)


def test_fit_length_cuts_or_holds_and_resample_keeps_fields():
    poses = np.random.default_rng(0).normal(scale=0.3, size=(10, 24, 3))
    m = Motion(poses, np.arange(30.0).reshape(10, 3), 30.0, texts=["a"], segments=[("a", 0, 10)])
    cut = fit_length(m, 4)
    assert cut.num_frames == 4 and cut.segments == [("a", 0, 4)] and cut.texts == ["a"]
    held = fit_length(m, 13)
    assert held.num_frames == 13 and np.array_equal(held.poses[10:], np.repeat(m.poses[-1:], 3, 0))
    assert fit_length(m, 10) is m
    half = resample_motion(m, 15.0)
    assert half.motion.num_frames == 5 and half.motion.texts == ["a"]
    assert half.motion.segments == [("a", 0, 5)] and half.motion.frame == "y_up"


# ------------------------------------------------------------------------------ AMASS


def test_amass_reader_joint_maps_and_resampling(tmp_path):
    smplh = _write_amass(tmp_path / "CMU" / "01" / "01_01_poses.npz", 250, 120.0, 156, seed=2)
    smplx = _write_amass(tmp_path / "KIT" / "3" / "walk_poses.npz", 61, 60.0, 165, seed=3)
    smpl = _write_amass(tmp_path / "X" / "s" / "a.npz", 30, 30.0, 72, seed=4, rate_key="fps")
    np.savez(tmp_path / "CMU" / "01" / "shape.npz", betas=np.zeros(16))  # skipped
    recs = {r.motion.name: r for r in load_amass(tmp_path, fps=30)}
    assert sorted(recs) == ["CMU/01/01_01_poses", "KIT/3/walk_poses", "X/s/a"]
    r = recs["CMU/01/01_01_poses"]
    assert r.motion.poses.shape == (63, 24, 3) and r.motion.trans.shape == (63, 3)
    assert r.motion.poses.dtype == np.float32 and r.motion.fps == 30 and r.motion.frame == "z_up"
    assert r.motion.source == "amass" and r.motion.texts == [] and r.motion.betas.shape == (16,)
    assert np.allclose(r.motion.poses, _smplh_to_24(smplh["poses"])[::4], atol=1e-6)
    assert np.allclose(r.motion.trans, smplh["trans"][::4], atol=1e-6)
    x = recs["KIT/3/walk_poses"]
    expect_x = smplx["poses"].reshape(61, 55, 3)[::2][:, list(range(22)) + [25, 40]]
    assert x.motion.poses.shape == (31, 24, 3) and np.allclose(x.motion.poses, expect_x, atol=1e-6)
    assert np.allclose(recs["X/s/a"].motion.poses72, smpl["poses"], atol=1e-6)


def test_amass_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"amass\.is\.tue\.mpg\.de"):
        load_amass(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no AMASS .npz"):
        load_amass(tmp_path)
    bad = tmp_path / "bad.npz"
    np.savez(bad, poses=np.zeros((5, 156)), mocap_framerate=np.array(60.0))
    with pytest.raises(ValueError, match=r"bad\.npz.*trans"):
        load_amass([bad])
    np.savez(bad, poses=np.zeros((5, 100)), trans=np.zeros((5, 3)), mocap_framerate=60.0)
    with pytest.raises(ValueError, match=r"bad\.npz.*\[T,156\]"):
        load_amass([bad])


# ------------------------------------------------------------------------------ BABEL


def test_babel_label_joining_hand_made():
    frame_entry = {
        "babel_sid": 7,
        "dur": 4.0,
        "seq_ann": {"labels": [{"raw_label": "walk and turn"}]},
        "frame_ann": {
            "labels": [
                {"raw_label": "walk", "start_t": 0.0, "end_t": 2.0},
                {"raw_label": "turn", "start_t": 1.5, "end_t": 3.0},
            ]
        },
    }
    labels = babel_frame_labels(frame_entry, 40)  # label rate 40 / 4 s = 10 frames/s
    assert list(labels[:15]) == ["walk"] * 15  # the later "turn" overwrites 15..19
    assert list(labels[15:30]) == ["turn"] * 15 and list(labels[30:]) == [""] * 10
    assert window_text(labels[10:20]) == "turn and walk"  # sorted, " and "
    assert window_text(labels[25:35]) == " and turn"  # the reference's empty-label quirk
    seq_entry = {
        "dur": 2.0,
        "seq_ann": {"labels": [{"raw_label": "walk"}, {"raw_label": "turn"}]},
        "frame_ann": None,
    }
    seq_labels = babel_frame_labels(seq_entry, 20)
    assert set(seq_labels) == {"walkand turn"}  # "and ".join, no leading space


def _babel_fixture(tmp_path: Path) -> tuple[Path, Path]:
    amass = tmp_path / "amass"
    babel = tmp_path / "babel"
    babel.mkdir()
    _write_amass(amass / "CMU" / "01" / "01_01_poses.npz", 1000, 120.0, seed=5)
    _write_amass(amass / "KIT" / "3" / "kick_poses.npz", 300, 60.0, seed=6)
    _write_amass(amass / "HumanEva" / "S1" / "box_poses.npz", 480, 120.0, seed=7)
    _write_amass(amass / "ACCAD" / "s" / "short_poses.npz", 200, 120.0, seed=8)  # 50 frames
    _write_amass(amass / "ACCAD" / "s" / "unlabelled_poses.npz", 400, 120.0, seed=9)
    train = {
        "1": {
            "babel_sid": 1,
            "feat_p": "CMU/CMU/01/01_01_poses.npz",
            "dur": 1000 / 120,
            "seq_ann": {"labels": [{"raw_label": "walk then jump"}]},
            "frame_ann": {
                "labels": [
                    {"raw_label": "walk", "start_t": 0.0, "end_t": 4.0},
                    {"raw_label": "jump", "start_t": 4.0, "end_t": 1000 / 120},
                ]
            },
        },
        "2": {
            "babel_sid": 2,
            "feat_p": "KIT/KIT/3/kick_poses.npz",
            "dur": 5.0,
            "seq_ann": {"labels": [{"raw_label": "kick"}, {"raw_label": "stand"}]},
            "frame_ann": None,
        },
        "3": {
            "babel_sid": 3,
            "feat_p": "ACCAD/ACCAD/s/short_poses.npz",
            "dur": 200 / 120,
            "seq_ann": {"labels": [{"raw_label": "hop"}]},
            "frame_ann": None,
        },
    }
    val = {
        "4": {
            "babel_sid": 4,
            "feat_p": "HumanEva/HumanEva/S1/box_poses.npz",
            "dur": 4.0,
            "seq_ann": {"labels": [{"raw_label": "box"}]},
            "frame_ann": None,
        }
    }
    (babel / "train.json").write_text(json.dumps(train))
    (babel / "val.json").write_text(json.dumps(val))
    return amass, babel


def test_amass_babel_chunks_labels_and_splits(tmp_path):
    amass, babel = _babel_fixture(tmp_path)
    chunks = load_amass_babel(amass, babel, split="train")
    # CMU: 1000 @120 -> 250 @30 -> 2 chunks; KIT: 300 @60 -> 150 -> 1; ACCAD short: < 60 frames
    assert [c.motion.name for c in chunks] == [
        "CMU/01/01_01_poses#chunk000",
        "CMU/01/01_01_poses#chunk001",
        "KIT/3/kick_poses#chunk000",
    ]
    assert all(
        c.motion.num_frames == 100 and c.motion.fps == 30 and c.motion.frame == "z_up"
        for c in chunks
    )
    assert all(c.motion.source == "amass_babel" for c in chunks)
    c0, c1, k0 = chunks
    assert set(c0.frame_labels) == {"walk"} and c0.motion.texts == ["walk"]
    # walk covers source frames [0, 480) = output frames [0, 120): chunk 1 holds both labels
    assert list(c1.frame_labels[:20]) == ["walk"] * 20 and set(c1.frame_labels[20:]) == {"jump"}
    assert c1.motion.texts == ["jump and walk"] and window_text(c1.frame_labels[25:85]) == "jump"
    assert k0.motion.texts == ["kickand stand"]
    src = np.load(amass / "CMU" / "01" / "01_01_poses.npz")
    assert np.allclose(c1.motion.poses, _smplh_to_24(src["poses"])[400:800:4], atol=1e-6)
    whole = load_amass_babel(amass, babel, split="train", chunk_len=None)
    assert [w.motion.num_frames for w in whole] == [250, 150]
    vald = load_amass_babel(amass, babel, split="vald")
    assert [c.motion.name for c in vald] == ["HumanEva/S1/box_poses#chunk000"]
    assert vald[0].motion.texts == ["box"]
    by_babel = load_amass_babel(amass, babel, split="vald", split_by="babel", chunk_len=None)
    assert [r.motion.name for r in by_babel] == ["HumanEva/S1/box_poses"]
    paper = load_amass_babel(amass, babel, split="all", method="subsample", max_fps_dist=5)
    assert len(paper) == 4


def test_amass_babel_errors(tmp_path):
    amass, babel = _babel_fixture(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"babel\.is\.tue\.mpg\.de"):
        load_amass_babel(amass, tmp_path / "nobabel")
    with pytest.raises(FileNotFoundError, match="AMASS folder not found"):
        load_amass_babel(tmp_path / "noamass", babel)
    empty = tmp_path / "empty_amass"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=r"none of the 3 AMASS files.*CMU/01/01_01"):
        load_amass_babel(empty, babel)
    (babel / "val.json").write_text(json.dumps({"9": {"feat_p": "x"}}))
    with pytest.raises(ValueError, match=r"val\.json.*'dur'"):
        load_amass_babel(amass, babel)
    (babel / "val.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"val\.json: not valid JSON"):
        load_amass_babel(amass, babel)
    with pytest.raises(ValueError, match="split"):
        load_amass_babel(amass, babel, split="validation")  # type: ignore[arg-type]


def test_chunk_counts():
    rec = _rec(
        np.zeros((250, 24, 3)), np.zeros((250, 3)), 30.0, ["x"], "t", "y", "r",
        frame_labels=np.array(["a"] * 120 + ["b"] * 130),
    )  # fmt: skip
    assert [c.motion.name for c in chunk_records([rec])] == ["r#chunk000", "r#chunk001"]
    assert len(chunk_records([rec], chunk_len=50)) == 5
    assert chunk_records([rec.slice(0, 99)]) == []
    assert [c.motion.texts for c in chunk_records([rec])] == [["a"], ["a and b"]]
    with pytest.raises(ValueError, match="chunk_len"):
        chunk_records([rec], chunk_len=0)


# ------------------------------------------------------------------------------ MotionCLIP db


def _db(num_seqs: int = 2) -> dict:
    lengths = [230, 120, 80][:num_seqs]
    rng = np.random.default_rng(11)
    db = {k: [] for k in ("vid_names", "thetas", "joints3d", "clip_images", "clip_pathes")}
    db.update(text_raw_labels=[], text_proc_labels=[], action_cat=[])
    for i, n in enumerate(lengths):
        db["vid_names"].append(np.array([f"CMU_0{i}_seq{i}_poses"] * n))
        db["thetas"].append(rng.normal(scale=0.3, size=(n, 72)))
        db["joints3d"].append(rng.normal(size=(n, 18, 3)).astype(np.float32))
        db["clip_images"].append(None)
        db["clip_pathes"].append(None)
        labels = np.full(n, "", dtype=object)
        labels[: n // 2] = "walk"
        labels[n // 2 : n - 10] = "sit down"
        db["text_raw_labels"].append(labels)
        db["text_proc_labels"].append(labels.copy())
        db["action_cat"].append(np.full(n, "locomotion", dtype=object))
    return db


@pytest.mark.parametrize("compress", [0, 3])
def test_motionclip_db_joblib_roundtrip(tmp_path, compress):
    joblib = pytest.importorskip("joblib")
    db = _db(3)
    joblib.dump(db, tmp_path / "amass_30fps_train.pt", compress=compress)
    chunks = load_motionclip_db(tmp_path / "amass_30fps_db.pt", split="train")
    # 230 -> 2 chunks, 120 -> 1, 80 -> 0
    assert [c.motion.name for c in chunks] == [
        "CMU_00_seq0_poses#chunk000",
        "CMU_00_seq0_poses#chunk001",
        "CMU_01_seq1_poses#chunk000",
    ]
    assert all(
        c.motion.frame == "z_up" and c.motion.fps == 30 and c.motion.source == "motionclip_db"
        for c in chunks
    )
    assert np.allclose(chunks[1].motion.poses72, db["thetas"][0][100:200], atol=1e-6)
    assert np.array_equal(chunks[1].frame_labels, db["text_raw_labels"][0][100:200].astype(str))
    assert chunks[1].motion.texts == ["sit down and walk"] and chunks[0].motion.texts == ["walk"]
    assert np.all(chunks[0].motion.trans == 0)
    whole = load_motionclip_db(
        tmp_path / "amass_30fps_train.pt", chunk_len=None, translation="ankle",
        skip_first_sequence=True,
    )  # fmt: skip
    assert [w.motion.num_frames for w in whole] == [120, 80]
    ankle = db["joints3d"][1][:, 0]
    assert np.allclose(whole[0].motion.trans, ankle - ankle[0], atol=1e-6)
    assert whole[0].motion.texts == [" and sit down and walk"]
    slow = load_motionclip_db(tmp_path / "amass_30fps_train.pt", fps=15, chunk_len=None)
    assert slow[0].motion.num_frames == 115 and slow[0].motion.fps == 15


def test_motionclip_db_torch_zip_format(tmp_path):
    db = _db(1)
    torch.save(db, tmp_path / "resaved.pt")
    (rec,) = load_motionclip_db(tmp_path / "resaved.pt", chunk_len=None)
    assert rec.motion.num_frames == 230 and np.allclose(
        rec.motion.poses72, db["thetas"][0], atol=1e-6
    )
    assert rec.motion.texts == [" and sit down and walk"]


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_motionclip_db_refuses_code_and_reports_missing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plain.pt").write_bytes(pickle.dumps({"thetas": [_Evil()]}))
    with pytest.raises(UnsafeDatabaseError, match=r"plain\.pt.*posix\.system|system"):
        read_motionclip_db(tmp_path / "plain.pt")
    joblib = pytest.importorskip("joblib")
    nested = {"thetas": [np.zeros((3, 72))], "text_raw_labels": [np.array([_Evil()], object)]}
    joblib.dump(nested, tmp_path / "nested.pt")
    with pytest.raises(UnsafeDatabaseError, match="refusing"):
        read_motionclip_db(tmp_path / "nested.pt")
    torch.save({"thetas": [np.zeros((3, 72))], "x": _Evil()}, tmp_path / "zip.pt")
    with pytest.raises(UnsafeDatabaseError):
        read_motionclip_db(tmp_path / "zip.pt")
    assert not (tmp_path / "pwned.txt").exists()
    with pytest.raises(FileNotFoundError, match=r"amass_30fps_vald\.pt.*MotionCLIP README"):
        load_motionclip_db(tmp_path / "amass_30fps_db.pt", split="vald")
    joblib.dump({"poses": []}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="'thetas'"):
        read_motionclip_db(tmp_path / "other.pt")
    (tmp_path / "garbage.pt").write_bytes(b"\x00\x01not a pickle")
    with pytest.raises(ValueError, match="garbage"):
        read_motionclip_db(tmp_path / "garbage.pt")


# ------------------------------------------------------------------------------ HumanML3D


def _humanml3d_fixture(tmp_path: Path) -> tuple[Path, Path, dict, dict]:
    amass, h3d = tmp_path / "amass", tmp_path / "HumanML3D"
    kick = _write_amass(amass / "KIT" / "3" / "kick_poses.npz", 300, 100.0, seed=12)
    hdm = _write_amass(amass / "MPI_HDM05" / "dg" / "x_poses.npz", 1200, 120.0, seed=13)
    (h3d / "texts").mkdir(parents=True)
    with open(h3d / "index.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["source_path", "start_frame", "end_frame", "new_name"])
        w.writerow(["./pose_data/KIT/3/kick_poses.npy", 0, 30, "000000.npy"])
        w.writerow(["./pose_data/MPI_HDM05/dg/x_poses.npy", 10, -1, "000001.npy"])
        w.writerow(["./pose_data/humanact12/humanact12/P01G01.npy", 0, 50, "000002.npy"])
    (h3d / "texts" / "000000.txt").write_text(
        "a person kicks#a/DET person/NOUN kick/VERB#0.0#0.0\n"
        "someone kicks with the left leg#someone/PRON kick/VERB#0.0#0.0\n"
        "the person stands still#the/DET person/NOUN stand/VERB#0.5#1.0\n"
    )
    (h3d / "texts" / "M000000.txt").write_text(
        "someone kicks with the right leg#someone/PRON kick/VERB#0.0#0.0\n"
    )
    (h3d / "texts" / "000001.txt").write_text("a person dances#a/DET#nan#nan\n")
    (h3d / "train.txt").write_text("000000\nM000000\n000001\n000002\n")
    (h3d / "test.txt").write_text("000001\n")
    return amass, h3d, kick, hdm


def test_humanml3d_index_crop_segments_and_mirror(tmp_path):
    amass, h3d, kick, hdm = _humanml3d_fixture(tmp_path)
    recs = {r.motion.name: r for r in load_humanml3d(h3d, amass, split="train", fps=30)}
    assert sorted(recs) == ["000000", "000000#10-20", "000001", "M000000"]
    r0 = recs["000000"]
    assert r0.motion.texts == ["a person kicks", "someone kicks with the left leg"]
    assert r0.motion.frame == "z_up" and r0.motion.fps == 30 and r0.motion.source == "humanml3d"
    # 100 fps, step int(100/20) = 5 -> 20 fps; frames [0:30] -> 30 frames -> 44 at 30 fps
    assert r0.motion.num_frames == 44
    src20 = _smplh_to_24(kick["poses"])[::5][:30]
    assert np.allclose(r0.motion.poses[::3], src20[::2], atol=1e-5)  # t = 0.1 s grid is shared
    seg = recs["000000#10-20"]
    assert seg.motion.texts == ["the person stands still"] and seg.motion.num_frames == 14
    assert np.allclose(seg.motion.poses[0], src20[10], atol=1e-6)
    r1 = recs["000001"]
    # 120 fps, step 6; MPI_HDM05 crop 3 s = 60 frames; then [10:-1]
    n20 = len(range(0, 1200, 6)) - 60 - 10 - 1
    assert r1.motion.num_frames == int(np.floor((n20 - 1) * 1.5)) + 1 and r1.motion.texts == [
        "a person dances"
    ]
    assert np.allclose(r1.motion.poses[0], _smplh_to_24(hdm["poses"])[(60 + 10) * 6], atol=1e-6)
    m = recs["M000000"]
    assert m.motion.texts == ["someone kicks with the right leg"]
    assert np.allclose(mirror_record(m).motion.poses, r0.motion.poses, atol=1e-6)
    assert not np.allclose(m.motion.poses, r0.motion.poses)
    test = load_humanml3d(h3d, amass, split="test", include_mirrored=False)
    assert [r.motion.name for r in test] == ["000001"]
    no_seg = load_humanml3d(h3d, amass, split=None, segment_captions=False)
    assert sorted(r.motion.name for r in no_seg) == ["000000", "000001", "M000000"]


def test_mirror_record_matches_mirrored_body(tiny_body):
    rng = np.random.default_rng(3)
    rec = _rec(
        rng.normal(scale=0.4, size=(4, 24, 3)), rng.normal(size=(4, 3)), 30.0, [], "t", "y", "m"
    )
    a = _joints(tiny_body, rec)
    b = _joints(tiny_body, mirror_record(rec))
    # the tiny body is left/right symmetric: mirrored joint i = original joint flip(i), x negated
    expect = a[:, list(SMPL_FLIP_PERMUTATION)] * np.array([-1.0, 1.0, 1.0])
    assert np.allclose(b, expect, atol=1e-4)


def test_humanml3d_errors(tmp_path):
    amass, h3d, _, _ = _humanml3d_fixture(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"texts.*EricGuo5513/HumanML3D"):
        load_humanml3d(tmp_path / "nope", amass)
    with pytest.raises(FileNotFoundError, match=r"val\.txt"):
        load_humanml3d(h3d, amass, split="val")
    with pytest.raises(FileNotFoundError, match=r"amass\.is\.tue\.mpg\.de"):
        load_humanml3d(h3d, tmp_path / "no_amass")
    (h3d / "texts" / "000001.txt").write_text("a broken line without fields\n")
    with pytest.raises(ValueError, match=r"000001\.txt:1: expected 'caption#tokens#start#end'"):
        load_humanml3d(h3d, amass)
    assert parse_humanml3d_texts(h3d / "texts" / "M000000.txt")[1] == {}
    (h3d / "index.csv").write_text("path,new_name\nx,y\n")
    with pytest.raises(ValueError, match=r"index\.csv: expected columns"):
        load_humanml3d(h3d, amass)


# ------------------------------------------------------------------------------ folder + procedural


def test_folder_roundtrip_from_procedural(tmp_path):
    recs = load_motion_records("procedural", num=3, num_frames=40, fps=20, seed=4)
    assert all(
        r.motion.fps == 20 and r.motion.frame == "y_up" and r.motion.num_frames == 40 for r in recs
    )
    assert all(
        r.motion.texts and r.texts_heldout and not set(r.motion.texts) & set(r.texts_heldout)
        for r in recs
    )
    labelled = recs[0].slice(0, 40)
    labelled.frame_labels = np.array(["wave"] * 20 + [""] * 20)
    labelled.motion.name = "same"
    twin = _rec(recs[1].motion.poses, recs[1].motion.trans, 20.0, ["b"], "x", "z", "same")
    paths = convert_records_to_folder([*recs, labelled, twin], tmp_path / "clips")
    assert [p.name for p in paths[-2:]] == ["same.npz", "same-1.npz"]
    plain = load_motion_npz(paths[0])  # the shared export format reads it
    assert plain.texts == recs[0].motion.texts and plain.fps == 20
    assert plain.frame == "z_up"  # written in AMASS's frame; read back as Y-up below
    back = {r.motion.name: r for r in load_folder(tmp_path / "clips", fps=20)}
    assert len(back) == 5
    r = back[recs[0].motion.name].to_frame("y_up")
    assert np.allclose(r.motion.poses, recs[0].motion.poses, atol=1e-5)
    assert np.allclose(r.motion.trans, recs[0].motion.trans, atol=1e-5)
    assert r.motion.texts == recs[0].motion.texts and r.texts_heldout == recs[0].texts_heldout
    assert r.motion.source == "folder"
    assert list(back["same"].frame_labels) == ["wave"] * 20 + [""] * 20
    assert back["same-1"].motion.frame == "z_up"
    at30 = load_folder(tmp_path / "clips", fps=30)
    assert all(
        x.motion.fps == 30 and x.motion.num_frames == 59 for x in at30
    )  # floor(39 * 1.5) + 1


def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="motion folder not found"):
        load_folder(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no .npz clips"):
        load_folder(tmp_path)
    np.savez(tmp_path / "broken.npz", poses=np.zeros((4, 72)), fps=30.0)
    with pytest.raises(ValueError, match=r"broken\.npz.*'trans'"):
        load_folder(tmp_path)
    save_amass_npz(tmp_path / "ok.npz", Motion(np.zeros((4, 72)), np.zeros((4, 3)), 30.0))
    np.savez(tmp_path / "broken.npz", poses=np.zeros((4, 72)), trans=np.zeros((3, 3)), fps=30.0)
    with pytest.raises(ValueError, match=r"broken\.npz.*trans"):
        load_folder(tmp_path)


def test_registry_and_dispatch():
    assert {"amass_babel", "motionclip_db", "humanml3d", "folder", "procedural"} <= set(
        MOTION_SOURCES
    )
    with pytest.raises(ValueError, match="available: amass, amass_babel"):
        load_motion_records("bvh_folder")
    recs = load_procedural(num=2, num_frames=30, fps=30, actions=["wave", "squat"])
    assert sorted(r.motion.name.split("_", 2)[2] for r in recs) == ["squat", "wave"]
    assert all(r.motion.name.startswith("s0_") for r in recs)
    other = load_procedural(num=2, num_frames=30, fps=30, seed=1, actions=["wave", "squat"])
    assert not {r.motion.name for r in recs} & {
        r.motion.name for r in other
    }  # seeds never share names
    with pytest.raises(ValueError, match="poses must be"):
        _rec(np.zeros((5, 23, 3)), np.zeros((5, 3)), 30.0, [], "t", "y", "bad")
    with pytest.raises(ValueError, match="frame"):
        _rec(np.zeros((5, 24, 3)), np.zeros((5, 3)), 30.0, [], "t", "x", "bad")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ Z-up -> Y-up


def test_z_up_to_y_up_rule_with_body_fk(tiny_body):
    """An AMASS-style upright subject (root = R_x(+90°) · yaw, Z-up) converted to Y-up: head
    above feet along +Y, facing +Z at identity yaw; every joint is exactly R_x(-90°) times the
    original when the body's rest pelvis is given, and shifted by a constant otherwise."""
    num = 5
    yaw = np.linspace(0.0, 1.0, num)  # turning about the world's up (Z) axis
    root = Rotation.from_euler("z", yaw[:, None]) * Rotation.from_euler("x", 90, degrees=True)
    poses = np.zeros((num, 24, 3))
    poses[:, 0] = root.as_rotvec()
    poses[:, joint_index("left_knee")] = [0.6, 0.0, 0.0]
    trans = np.stack([np.linspace(0, 1, num), np.full(num, 0.5), np.full(num, 0.95)], axis=1)
    z_rec = _rec(poses, trans, 30.0, ["walk"], "amass", "z", "seq")
    jz = _joints(tiny_body, z_rec)
    head, foot = joint_index("head"), joint_index("left_foot")
    assert np.all(jz[:, head, 2] > jz[:, foot, 2] + 1.0)  # upright in Z-up before
    j0 = make_tiny_body()["J_regressor"] @ make_tiny_body()["v_template"]
    y_rec = MotionRecord(replace(z_rec.motion, root_rest=j0[0], texts=["walk"])).to_frame("y_up")
    assert (
        y_rec.motion.frame == "y_up"
        and z_rec.motion.frame == "z_up"
        and y_rec.motion.texts == ["walk"]
    )
    jy = _joints(tiny_body, y_rec)
    rot = Rotation.from_euler("x", -90, degrees=True).as_matrix()
    assert np.allclose(jy, jz @ rot.T, atol=1e-4)
    assert np.all(jy[:, head, 1] > jy[:, foot, 1] + 1.0)  # head above feet along +Y
    assert np.allclose(jy[:, head, [0, 2]] - jy[:, 0, [0, 2]], 0, atol=0.1)
    left = jy[0, joint_index("left_hip")] - jy[0, joint_index("right_hip")]
    forward = np.cross(left, [0.0, 1.0, 0.0])
    assert forward[2] > 0.9 * np.linalg.norm(forward)  # frame 0 (yaw 0) faces +Z
    no_rest = _joints(tiny_body, z_rec.to_frame("y_up"))  # root_rest unknown: J0 taken at 0
    offset = no_rest - jy
    assert np.allclose(offset, offset[:1, :1], atol=1e-4)  # constant J0 - R J0 shift
    assert np.allclose(offset[0, 0], j0[0] - rot @ j0[0], atol=1e-4)
    assert y_rec.to_frame("y_up") is y_rec
