"""AMASS, BABEL and HumanML3D in the layouts their authors ship, built small in tmp_path.

Where each format comes from (the files here are synthetic; only the layouts are copied):

* **AMASS** ("SMPL+H G" release), as AMASS's visualisation notebook
  (``amass/notebooks/01-AMASS_Visualization.ipynb``) reads it: one
  ``<subset>/<subject>/<name>_poses.npz`` per sequence with ``poses [T,156]``, ``trans [T,3]``,
  ``betas [16]``, ``gender`` (a 0-d ``str`` array, ``bytes`` in older files), ``mocap_framerate``
  and ``dmpls [T,8]``; every subject folder also has a ``shape.npz`` with ``betas`` and
  ``gender`` only. Archives are downloaded under names that may differ from the folder inside
  them (``BMLrub.tar.bz2`` holds ``BioMotionLab_NTroje/``).
* **BABEL v1.0** (``babel_v1.0_release/{train,val}.json``), as BABEL's exploration notebook
  (``BABEL/notebooks/BABEL_explore.ipynb``) reads it: ``{babel_sid: {"babel_sid", "url",
  "feat_p", "dur", "seq_ann": {"labels": [{"raw_label", "proc_label", "seg_id", "act_cat"}]},
  "frame_ann": {"labels": [... "start_t", "end_t"]} or null}}`` with ``feat_p`` =
  ``<archive>/<subset>/<subject>/<file>.npz`` (``"BMLrub/BioMotionLab_NTroje/rub001/..."``). The
  notebook joins ``feat_p`` under the AMASS folder in full; MotionCLIP's parser drops the first
  component.
* **HumanML3D**, as its ``raw_pose_processing.py`` reads it: ``index.csv`` (``source_path,
  start_frame,end_frame,new_name``, ``./pose_data/<subset>/.../<name>.npy``; HumanAct12 rows
  under ``./pose_data/humanact12/``) in the repository root, beside ``HumanML3D/`` that holds
  ``texts/<id>.txt`` (``caption#tokens#start#end`` lines, unzipped from ``texts.zip``) and
  ``train.txt``/``val.txt``/``test.txt``; mirrored clips are ``M<id>``.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from motionclip_stubs import TINY_MODEL_OVERRIDES

from vmc.body.procedural import make_tiny_body
from vmc.body.select import body_for_motion, select_body
from vmc.cli import main as cli_main
from vmc.data.motion_datamodule import MotionDataModule
from vmc.data.motion_sources import (
    load_amass,
    load_amass_babel,
    load_folder,
    load_humanml3d,
)
from vmc.data.motion_sources.report import SUMMARY_JSON, SUMMARY_TXT, collect_reports
from vmc.motion.export import load_motion_npz

# ------------------------------------------------------------------------------ AMASS


def _amass_file(path: Path, frames: int, fps: float, gender: str | bytes = "male", seed=0):
    """One AMASS SMPL+H G sequence (keys as the visualisation notebook lists them)."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.linspace(0, 1, frames)[:, None]
    np.savez(
        path,
        poses=0.3 * np.sin(2 * np.pi * t + rng.uniform(0, 6, (1, 156))),
        trans=np.cumsum(np.full((frames, 3), 0.01), axis=0),
        betas=rng.normal(size=16),
        gender=np.array(gender),
        mocap_framerate=np.array(float(fps)),
        dmpls=np.zeros((frames, 8)),
    )
    # Every AMASS subject folder has its shape file: betas and gender, no motion.
    np.savez(path.parent / "shape.npz", betas=np.zeros(16), gender=np.array(gender))


def _babel_entry(sid: int, feat_p: str, dur: float, labels: list[tuple[str, float, float]]):
    seg = [
        {
            "raw_label": r,
            "proc_label": r,
            "seg_id": f"s{i}",
            "act_cat": [r],
            "start_t": a,
            "end_t": b,
        }
        for i, (r, a, b) in enumerate(labels)
    ]
    return {
        "babel_sid": sid,
        "url": f"https://example.invalid/{sid}.mp4",
        "feat_p": feat_p,
        "dur": dur,
        "seq_ann": {"babel_lid": "x", "mul_act": True, "labels": [{"raw_label": "seq"}]},
        "frame_ann": {"babel_lid": "y", "mul_act": True, "labels": seg},
    }


def _babel(tmp: Path, layout: str) -> tuple[Path, Path]:
    """AMASS + BABEL in one of the layouts users have:

    * ``"subset"``: archives unpacked at the AMASS root (``amass/BioMotionLab_NTroje/...``),
      what MotionCLIP's parser expects;
    * ``"archive/subset"``: each archive in its own folder (``amass/BMLrub/BioMotionLab_NTroje
      /...``), what BABEL's tools expect;
    * ``"archive"``: archive-named folders (``amass/BMLrub/rub001/...``).
    """
    amass, babel = tmp / f"amass_{layout.replace('/', '_')}", tmp / "babel_v1.0_release"
    top = {
        "subset": lambda a, s: amass / s,
        "archive/subset": lambda a, s: amass / a / s,
        "archive": lambda a, s: amass / a,
    }[layout]
    # 120 fps, 1000 frames -> 250 at 30 fps: 2 chunks
    _amass_file(top("BMLrub", "BioMotionLab_NTroje") / "rub001/0001_walk_poses.npz", 1000, 120)
    # 60 fps, 360 frames -> 180: 1 chunk; female, old-style bytes gender
    _amass_file(top("CMU", "CMU") / "86/86_05_poses.npz", 360, 60, gender=b"female", seed=1)
    # 60 fps, 160 frames -> 80: long enough for a window, shorter than a 100-frame chunk
    _amass_file(top("KIT", "KIT") / "3/short_poses.npz", 160, 60, seed=2)
    # 45 fps: frame dropping gives 22.5 fps, more than 5 fps off 30
    _amass_file(top("ACCAD", "ACCAD") / "s1/odd_rate_poses.npz", 300, 45, seed=3)
    # HDM05 (validation subset), archive "HDM05" holds "MPI_HDM05"
    _amass_file(top("HDM05", "MPI_HDM05") / "dg/box_poses.npz", 480, 120, seed=4)
    babel.mkdir(exist_ok=True)
    train = {
        "11": _babel_entry(
            11,
            "BMLrub/BioMotionLab_NTroje/rub001/0001_walk_poses.npz",
            1000 / 120,
            [("walk", 0.0, 4.0), ("jump", 4.0, 1000 / 120)],
        ),
        "12": _babel_entry(12, "CMU/CMU/86/86_05_poses.npz", 6.0, [("wave", 0.0, 6.0)]),
        "13": _babel_entry(13, "KIT/KIT/3/short_poses.npz", 160 / 60, [("hop", 0.0, 2.0)]),
        "14": _babel_entry(14, "ACCAD/ACCAD/s1/odd_rate_poses.npz", 300 / 45, [("run", 0, 1)]),
        "15": _babel_entry(15, "CMU/CMU/01/gone_poses.npz", 3.0, [("sit", 0.0, 3.0)]),
    }
    val = {"21": _babel_entry(21, "HDM05/MPI_HDM05/dg/box_poses.npz", 4.0, [("box", 0, 4)])}
    (babel / "train.json").write_text(json.dumps(train))
    (babel / "val.json").write_text(json.dumps(val))
    return amass, babel


@pytest.mark.parametrize("layout", ["subset", "archive/subset", "archive"])
def test_babel_every_amass_layout_counts_labels_gender_and_drops(tmp_path, layout):
    amass, babel = _babel(tmp_path, layout)
    with collect_reports() as reports:
        chunks = load_amass_babel(amass, babel, "train", method="subsample", max_fps_dist=5)
        vald = load_amass_babel(amass, babel, "vald", method="subsample", max_fps_dist=5)
    names = [c.motion.name for c in chunks]
    assert names == [
        "BioMotionLab_NTroje/rub001/0001_walk_poses#chunk000",
        "BioMotionLab_NTroje/rub001/0001_walk_poses#chunk001",
        "CMU/86/86_05_poses#chunk000",
    ]
    assert [c.motion.texts for c in chunks] == [["walk"], ["jump and walk"], ["wave"]]
    assert [c.motion.gender for c in chunks] == ["male", "male", "female"]
    assert all(c.motion.betas.shape == (16,) and c.motion.fps == 30 for c in chunks)
    assert [c.motion.name for c in vald] == ["MPI_HDM05/dg/box_poses#chunk000"]
    train_report = reports[0]
    assert (train_report.found, train_report.used, train_report.records) == (5, 2, 3)
    assert train_report.dropped == {
        "file missing": ["CMU/01/gone_poses.npz"],
        "shorter than a chunk (100 frames)": ["KIT/3/short_poses"],
        "frame rate not reachable (45 fps -> 30, subsample, max 5 fps off)": [
            "ACCAD/s1/odd_rate_poses"
        ],
    }


def test_amass_and_folder_skip_shape_files_and_keep_gender(tmp_path, capsys):
    amass, _ = _babel(tmp_path, "subset")
    with collect_reports() as reports:
        recs = load_amass(amass, fps=30)
        folder = load_folder(amass, fps=30)  # data=motion_folder pointed at AMASS itself
    for report in reports:
        assert report.found == 5 and len(report.not_motions) == 5
        assert all(n.endswith("shape.npz") for n in report.not_motions)
    genders = {r.motion.name: r.motion.gender for r in folder}
    assert genders == {r.motion.name: r.motion.gender for r in recs}
    assert genders["CMU/86/86_05_poses"] == "female"
    assert genders["KIT/3/short_poses"] == "male"
    # to-folder keeps the gender with the betas, and writes the summary beside the clips
    out = tmp_path / "clips"
    assert cli_main(["data", "to-folder", "folder", str(amass), str(out)]) == 0
    printed = capsys.readouterr().out
    assert "files that are not motions, skipped: 5" in printed and "gender kept" in printed
    back = load_motion_npz(out / "CMU/86/86_05_poses.npz")
    cmu = next(r for r in recs if r.motion.name == "CMU/86/86_05_poses")
    assert back.gender == "female" and np.allclose(back.betas, cmu.motion.betas)
    summary = json.loads((out / SUMMARY_JSON).read_text())
    assert summary["sources"][0]["found"] == 5 and len(summary["sources"][0]["not_motions"]) == 5


def _smpl_folder(root: Path, genders: tuple[str, ...]) -> Path:
    """SMPL files (the tiny body's arrays in SMPL's npz layout) under ``root/smpl``."""
    (root / "smpl").mkdir(parents=True)
    arrays = make_tiny_body()
    for name in genders:
        scaled = dict(arrays, v_template=arrays["v_template"] * (1.1 if name == "MALE" else 1.0))
        np.savez(root / "smpl" / f"SMPL_{name}.npz", **scaled)
    return root


def test_gendered_smpl_is_used_when_present_and_warned_about_when_not(tmp_path, caplog):
    amass, _ = _babel(tmp_path, "subset")
    male = {r.motion.name: r.motion for r in load_amass(amass)}[
        "BioMotionLab_NTroje/rub001/0001_walk_poses"
    ]
    assert male.gender == "male"
    both = _smpl_folder(tmp_path / "assets_all", ("NEUTRAL", "MALE", "FEMALE"))
    body, description, why = body_for_motion(male, "smpl", assets_dir=str(both))
    assert description == "SMPL male (SMPL_MALE.npz)" and "male SMPL found" in why
    tiny = make_tiny_body()["v_template"]
    assert np.allclose(body.v_template.numpy(), tiny * 1.1, atol=1e-5)  # the male file's
    neutral_only = _smpl_folder(tmp_path / "assets_neutral", ("NEUTRAL",))
    with caplog.at_level(logging.WARNING, logger="vmc.body.select"):
        _, description, why = select_body("smpl", None, str(neutral_only), gender="female")
    assert description == "SMPL (SMPL_NEUTRAL.npz)"
    assert "only the neutral one" in why and "SMPL_FEMALE.npz" in caplog.text
    _, description, _ = select_body("smpl", None, str(both), gender=None)
    assert description == "SMPL (SMPL_NEUTRAL.npz)"


# ------------------------------------------------------------------------------ HumanML3D


def _humanml3d(tmp: Path, amass_naming: str) -> tuple[Path, Path]:
    """The HumanML3D repository (index.csv at its root, data in HumanML3D/) over AMASS with
    subset-named (``BioMotionLab_NTroje``) or archive-named (``BMLrub``) folders."""
    repo, amass = tmp / "HumanML3D-repo", tmp / f"amass_{amass_naming}"
    bml = "BMLrub" if amass_naming == "archive" else "BioMotionLab_NTroje"
    _amass_file(amass / bml / "rub002/0005_kick_poses.npz", 240, 120, gender="female", seed=5)
    _amass_file(amass / "KIT/4/wave_poses.npz", 200, 100, seed=6)
    data = repo / "HumanML3D"
    (data / "texts").mkdir(parents=True)
    with open(repo / "index.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["source_path", "start_frame", "end_frame", "new_name"])
        w.writerow(
            ["./pose_data/BioMotionLab_NTroje/rub002/0005_kick_poses.npy", 0, -1, "000000.npy"]
        )
        w.writerow(["./pose_data/KIT/4/wave_poses.npy", 0, 40, "000001.npy"])
        w.writerow(
            ["./pose_data/humanact12/humanact12/P01G01R01F0001T0064A0101.npy", 0, 60, "000002.npy"]
        )
        w.writerow(["./pose_data/KIT/9/lost_poses.npy", 0, 40, "000003.npy"])
    (data / "texts/000000.txt").write_text(
        "a person kicks#a/DET person/NOUN kick/VERB#0.0#0.0\n"
        "someone kicks and steps back#someone/PRON kick/VERB#0.0#0.0\n"
        "the person steps back#the/DET person/NOUN step/VERB#0.5#1.5\n"
    )
    (data / "texts/M000000.txt").write_text("a mirrored kick#a/DET kick/NOUN#0.0#0.0\n")
    (data / "texts/000001.txt").write_text("a person waves#a/DET person/NOUN wave/VERB#nan#nan\n")
    (data / "train.txt").write_text("000000\nM000000\n000001\nM000001\n000002\n000003\n009999\n")
    (data / "val.txt").write_text("000001\n")
    return repo, amass


@pytest.mark.parametrize("amass_naming", ["subset", "archive"])
@pytest.mark.parametrize("point_at", ["HumanML3D", "repository"])
def test_humanml3d_index_beside_the_data_captions_mirrors_and_drops(
    tmp_path, amass_naming, point_at
):
    repo, amass = _humanml3d(tmp_path, amass_naming)
    h3d = repo / "HumanML3D" if point_at == "HumanML3D" else repo
    with collect_reports() as reports:
        recs = load_humanml3d(h3d, amass, split="train", fps=20)
    by_name = {r.motion.name: r for r in recs}
    assert sorted(by_name) == ["000000", "000000#10-30", "000001", "M000000"]
    assert by_name["000000"].motion.texts == ["a person kicks", "someone kicks and steps back"]
    assert by_name["000000#10-30"].motion.texts == ["the person steps back"]
    assert by_name["M000000"].motion.texts == ["a mirrored kick"]
    assert by_name["000001"].motion.texts == ["a person waves"]
    # 240 frames at 120 fps -> every 6th: 40 at 20 fps, [0:-1] -> 39
    assert by_name["000000"].motion.num_frames == 39
    assert by_name["000000"].motion.gender == "female"
    assert by_name["M000000"].motion.gender == "female"
    report = reports[0]
    assert (report.found, report.used, report.records) == (7, 3, 4)
    assert report.dropped == {
        "no texts/<id>.txt": ["M000001"],
        "HumanAct12 (not in AMASS)": ["000002"],
        "AMASS file missing": ["000003 (KIT/9/lost_poses.npz)"],
        "not in index.csv": ["009999"],
    }


def test_humanml3d_index_csv_key_and_missing_index(tmp_path):
    repo, amass = _humanml3d(tmp_path, "subset")
    moved = tmp_path / "elsewhere.csv"
    (repo / "index.csv").rename(moved)
    with pytest.raises(FileNotFoundError, match=r"index\.csv not found in .*HumanML3D nor in"):
        load_humanml3d(repo / "HumanML3D", amass, split="val")
    recs = load_humanml3d(repo / "HumanML3D", amass, split="val", index_csv=moved)
    assert [r.motion.name for r in recs] == ["000001"]


# ------------------------------------------------------------------------------ data module


def test_data_module_writes_one_summary_to_the_run_folder(tmp_path, caplog):
    amass, babel = _babel(tmp_path, "archive/subset")
    from functools import partial

    source = partial(load_amass_babel, amass, babel, method="subsample", max_fps_dist=5)
    run = tmp_path / "run"
    dm = MotionDataModule(
        [partial(source, split="train")],
        [partial(source, split="vald")],
        batch_size=2,
        up_axis="y",
        resample="subsample",
        max_fps_dist=5,
        summary_dir=run,
    )
    with caplog.at_level(logging.WARNING, logger="vmc.data.motion_datamodule"):
        dm.setup("fit")
    text = (run / SUMMARY_TXT).read_text()
    assert text == dm.summary + "\n" and dm.summary in caplog.text
    assert "amass_babel (split train, by amass)" in text
    assert "5 sequences found, 2 used -> 3 clips; 3 dropped" in text
    assert "  - file missing: 1 (CMU/01/gone_poses.npz)" in text
    assert "training windows (60 frames, 30 fps, y-up)" in text
    data = json.loads((run / SUMMARY_JSON).read_text())
    assert [s["source"].split(" (")[0] for s in data["sources"]] == [
        "amass_babel",
        "amass_babel",
        "training windows",
        "validation windows",
    ]
    assert len(dm.train_set) == 3 and len(dm.val_set) == 1


# ------------------------------------------------------------------------------ the experiment


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("data", ["motion_amass_babel", "motion_humanml3d"])
def test_sentence_experiment_trains_on_the_real_layouts(tmp_path, data):
    """``experiment=motionclip_sentence`` composes with the sentence encoder and the embedded
    body, and trains on each dataset as downloaded (tiny networks, a stub encoder for speed)."""
    from conftest import compose_config

    from vmc.tasks.train import train

    if data == "motion_amass_babel":
        amass, babel = _babel(tmp_path, "archive/subset")
        paths = [f"data.{s}_sources.0.amass_dir={amass}" for s in ("train", "val")]
        paths += [f"data.{s}_sources.0.babel_dir={babel}" for s in ("train", "val")]
    else:
        repo, amass = _humanml3d(tmp_path, "archive")
        paths = [f"data.{s}_sources.0.amass_dir={amass}" for s in ("train", "val")]
        paths += [f"data.{s}_sources.0.humanml3d_dir={repo}" for s in ("train", "val")]
        paths += ["data.train_sources.0.min_frames=30", "data.val_sources.0.min_frames=30"]
        paths += ["data.min_frames=30"]
    run = tmp_path / "run"
    composed = compose_config("train", ["experiment=motionclip_sentence", f"data={data}"], run)
    assert composed.model.text_encoder.kind == "sentence"
    assert composed.model.body.kind == "embedded" and composed.model.losses.image_cosine == 0
    cfg = compose_config(
        "train",
        [
            "experiment=motionclip_sentence",
            f"data={data}",
            *paths,
            "trainer=cpu",
            "debug=fast",
            "logger=[]",
            "callbacks.progress_bar=null",
            "data.batch_size=2",
            "data.num_workers=0",
            *TINY_MODEL_OVERRIDES,
        ],
        run,
    )
    train(cfg)
    summary = (run / SUMMARY_TXT).read_text()
    assert "training windows" in summary and "validation windows" in summary
    assert ("amass_babel (split train" if data == "motion_amass_babel" else "humanml3d") in summary


def test_render_frames_shape_uses_the_gendered_smpl(tmp_path, capsys):
    """``data render-frames --shape``: one body per gender, each clip with its own betas."""
    amass = tmp_path / "amass"
    _amass_file(amass / "CMU/86/86_05_poses.npz", 40, 30, gender=b"female")
    _amass_file(amass / "KIT/3/walk_poses.npz", 40, 30, gender="male", seed=1)
    assets = _smpl_folder(tmp_path / "assets", ("NEUTRAL", "MALE", "FEMALE"))
    out = tmp_path / "frames"
    argv = ["data", "render-frames", str(amass), str(out), "--kind", "amass", "--size", "32"]
    assert cli_main([*argv, "--shape", "--body", "smpl", "--assets", str(assets)]) == 0
    printed = capsys.readouterr().out
    assert "female: SMPL female (SMPL_FEMALE.npz)" in printed
    assert "male: SMPL male (SMPL_MALE.npz)" in printed
    assert len(list(out.glob("*.png"))) == 2
