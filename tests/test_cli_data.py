"""`python -m vmc cache ...` and `python -m vmc data ...` helper commands, on tiny inputs."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import compose_config

from vmc.cli import main
from vmc.cli.cache import default_feature_cache_dir
from vmc.cli.data import SOURCE_ARGUMENTS
from vmc.data.motion_frames import frame_path
from vmc.data.motion_sources import MOTION_SOURCES, load_folder, load_procedural
from vmc.io.images import read_image
from vmc.text.feature_cache import CACHE_MARKER, FeatureCache

# ------------------------------------------------------------------------------ parser


def test_help_lists_the_new_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "cache" in out and "data" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert all(c in out for c in ("render-frames", "synthetic-lwg", "to-folder"))


def test_every_motion_source_has_its_source_argument():
    """SOURCE maps to each loader's first parameter; a new loader must be added to the map."""
    assert set(SOURCE_ARGUMENTS) == set(MOTION_SOURCES)
    for kind, loader in MOTION_SOURCES.items():
        assert next(iter(inspect.signature(loader).parameters)) == SOURCE_ARGUMENTS[kind], kind


def test_docstring_lists_every_command():
    import vmc.cli as cli

    for command in ("cache clear", "data render-frames", "data synthetic-lwg", "data to-folder"):
        assert command in cli.__doc__


# ------------------------------------------------------------------------------ cache clear


class _FakeEncoder:
    cache_id = "fake-encoder-0123"
    dim = 4
    has_image_encoder = False

    def encode(self, texts: list[str]) -> torch.Tensor:
        return torch.arange(len(texts) * 4, dtype=torch.float32).reshape(len(texts), 4)


def test_cache_clear_removes_the_cached_features(tmp_path, capsys):
    cache_dir = tmp_path / "features"
    FeatureCache(_FakeEncoder(), cache_dir).text_features(["a person walks", "a person waves"])
    assert len(list(cache_dir.rglob("*.npy"))) == 2
    (cache_dir / "README.txt").write_text("not a feature")  # anything else is kept
    assert main(["cache", "clear", "--cache-dir", str(cache_dir)]) == 0
    assert "removed 2 cached features" in capsys.readouterr().out
    assert not list(cache_dir.rglob("*.npy"))
    assert sorted(p.name for p in cache_dir.iterdir()) == [CACHE_MARKER, "README.txt"]
    assert main(["cache", "clear", "--cache-dir", str(cache_dir)]) == 0
    assert "removed 0 cached features" in capsys.readouterr().out


def test_cache_clear_touches_only_what_vmc_wrote(tmp_path, capsys):
    # A folder vmc did not create (a HumanML3D copy keeps its motions as .npy) is refused whole.
    dataset = tmp_path / "HumanML3D" / "new_joint_vecs"
    dataset.mkdir(parents=True)
    (dataset / "000001.npy").write_bytes(b"motion")
    assert main(["cache", "clear", "--cache-dir", str(tmp_path / "HumanML3D")]) == 2
    err = capsys.readouterr().err
    assert "not a vmc feature cache" in err and "Traceback" not in err
    assert (dataset / "000001.npy").read_bytes() == b"motion"
    # Inside a marked cache, only files of the cache layout go; a stray .npy stays.
    cache_dir = tmp_path / "features"
    FeatureCache(_FakeEncoder(), cache_dir).text_features(["a person walks"])
    stray = cache_dir / "mine.npy"
    stray.write_bytes(b"keep")
    assert main(["cache", "clear", "--cache-dir", str(cache_dir)]) == 0
    out = capsys.readouterr().out
    assert "removed 1 cached feature" in out and "MB freed" in out and ".npy" in out
    assert stray.read_bytes() == b"keep" and (cache_dir / CACHE_MARKER).is_file()


def test_cache_clear_default_is_the_training_cache(tmp_path, capsys, monkeypatch):
    # The default mirrors the configs: model.feature_cache_dir of the paper model.
    cfg = compose_config("train", ["experiment=motionclip_paper"])
    assert Path(cfg.model.feature_cache_dir) == default_feature_cache_dir()
    monkeypatch.chdir(tmp_path)
    assert main(["cache", "clear"]) == 0
    assert "no feature cache at .vmc_cache/features" in capsys.readouterr().out
    FeatureCache(_FakeEncoder(), tmp_path / ".vmc_cache" / "features").text_features(["x"])
    assert main(["cache", "clear"]) == 0
    assert "removed 1 cached feature from .vmc_cache/features" in capsys.readouterr().out


def test_cache_clear_on_a_file_is_an_error(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["cache", "clear", "--cache-dir", str(tmp_path / "file")]) == 2
    assert "is not a directory" in capsys.readouterr().err


# ------------------------------------------------------------------------------ render-frames


def test_render_frames_procedural_and_folder(tmp_path, capsys):
    out = tmp_path / "frames"
    args = ["--size", "64", "--body", "embedded", "--arg", "num_frames=10", "--arg", "seed=3"]
    code = main(["data", "render-frames", "3", str(out), "--kind", "procedural", *args])
    assert code == 0
    assert f"3 clip frames in {out} (3 rendered, 0 already there" in capsys.readouterr().out
    names = [r.motion.name for r in load_procedural(3, num_frames=10, seed=3)]
    for name in names:
        image = read_image(frame_path(out, name))
        assert image.shape == (64, 64, 3) and image.std() > 0  # a body, not a blank frame
    # Existing frames are kept unless --overwrite.
    assert main(["data", "render-frames", "3", str(out), "--kind", "procedural", *args]) == 0
    assert "(0 rendered, 3 already there" in capsys.readouterr().out
    code = main(
        ["data", "render-frames", "3", str(out), "--kind", "procedural", *args, "--overwrite"]
    )
    assert code == 0
    assert "(3 rendered, 0 already there" in capsys.readouterr().out

    # The default kind is the folder format, named as the loader names its clips.
    clips = tmp_path / "clips"
    assert main(["data", "to-folder", "procedural", "2", str(clips), "--arg", "num_frames=8"]) == 0
    capsys.readouterr()
    out2 = tmp_path / "frames2"
    assert main(["data", "render-frames", str(clips), str(out2), "--size", "32"]) == 0
    assert "2 clip frames" in capsys.readouterr().out
    assert sorted(p.name for p in out2.iterdir()) == sorted(
        frame_path(out2, r.motion.name).name for r in load_folder(clips)
    )


def test_render_frames_missing_source_is_a_clear_error(tmp_path, capsys):
    missing = tmp_path / "no_such_motions"
    assert main(["data", "render-frames", str(missing), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(missing) in err
    assert not (tmp_path / "out").exists()
    db = tmp_path / "amass_30fps_db.pt"
    args = ["data", "render-frames", str(db), str(tmp_path / "o"), "--kind", "motionclip_db"]
    assert main(args) == 2
    assert "amass_30fps_train.pt" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["x", "--kind", "procedural"], "procedural SOURCE is a number of clips, got 'x'"),
        (["0", "--kind", "procedural"], "number of clips (>= 1), got 0"),
        (["3", "--kind", "procedural", "--arg", "colour=red"], "takes no argument colour"),
        (["3", "--kind", "procedural", "--arg", "num=4"], "SOURCE already gives"),
        (["3", "--kind", "procedural", "--arg", "seed"], "--arg expects key=value"),
        (["a", "--kind", "amass_babel"], "amass_babel also needs --arg babel_dir=..."),
    ],
)
def test_render_frames_argument_errors(tmp_path, capsys, argv, message):
    assert main(["data", "render-frames", argv[0], str(tmp_path / "o"), *argv[1:]]) == 2
    assert message in capsys.readouterr().err


def test_unknown_kind_is_an_argparse_error(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "to-folder", "bvh", "x", str(tmp_path)])
    assert exit_info.value.code == 2


# ------------------------------------------------------------------------------ to-folder


def test_to_folder_converts_a_source(tmp_path, capsys):
    out = tmp_path / "clips"
    argv = ["data", "to-folder", "procedural", "3", str(out)]
    extra = ["--arg", "num_frames=12", "--arg", "fps=20", "--arg", "actions=[wave, squat]"]
    assert main([*argv, *extra]) == 0
    assert f"wrote 3 clips to {out}" in capsys.readouterr().out
    expected = load_procedural(3, num_frames=12, fps=20, actions=["wave", "squat"])
    back = {r.motion.name: r for r in load_folder(out, fps=20)}
    assert sorted(back) == sorted(r.motion.name for r in expected)
    for rec in expected:
        got = back[rec.motion.name]
        assert got.motion.frame == "z_up"  # folder files are written in AMASS's frame
        got = got.to_frame("y_up").motion
        assert got.num_frames == 12 and got.texts == rec.motion.texts
        np.testing.assert_allclose(got.poses, rec.motion.poses, atol=1e-5)
    assert main(["data", "to-folder", "folder", str(tmp_path / "nope"), str(out)]) == 2
    assert str(tmp_path / "nope") in capsys.readouterr().err


# ------------------------------------------------------------------------------ synthetic-lwg


def test_synthetic_lwg_writes_clips_and_splits(tmp_path, capsys):
    out = tmp_path / "lwg"
    argv = ["data", "synthetic-lwg", str(out), "--clips", "2", "--frames", "3", "--size", "64"]
    assert main([*argv, "--seed", "5", "--val-fraction", "0.5"]) == 0
    assert f"wrote 2 synthetic clips of 3 frames to {out}" in capsys.readouterr().out
    assert (out / "train.txt").read_text().split() == ["clip_00000"]
    assert (out / "val.txt").read_text().split() == ["clip_00001"]
    frames = sorted((out / "clip_00000" / "frames").iterdir())
    assert len(frames) == 3 and read_image(frames[0]).shape == (64, 64, 3)
    meta = json.loads((out / "clip_00001" / "meta.json").read_text())
    assert (meta["seed"], meta["clip_index"], meta["body"]) == (5, 1, "embedded")
    # Existing clips are refused before anything is rendered.
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "clip_00000 exists" in err and "--overwrite" in err


def test_synthetic_lwg_argument_errors(tmp_path, capsys):
    base = ["data", "synthetic-lwg", str(tmp_path / "o")]
    assert main([*base, "--clips", "0"]) == 2
    assert "--clips must be >= 1" in capsys.readouterr().err
    assert main([*base, "--clips", "1", "--backgrounds", str(tmp_path / "bg")]) == 2
    assert str(tmp_path / "bg") in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(base)  # --clips is required


# ------------------------------------------------------------------ motionclip_db config


def test_motionclip_db_data_config_composes(tmp_path):
    from omegaconf import OmegaConf

    cfg = compose_config(
        "train", ["experiment=motionclip_paper", "data=motion_motionclip_db"], output_dir=tmp_path
    )
    data = OmegaConf.to_container(cfg.data, resolve=True)
    train, val = data["train_sources"][0], data["val_sources"][0]
    assert train["_target_"] == "vmc.data.motion_sources.load_motionclip_db"
    assert train["path"].endswith("amass_db/amass_30fps_db.pt")
    assert (train["split"], val["split"]) == ("train", "vald")
    assert train["fps"] == cfg.model.fps and data["num_frames"] == cfg.model.num_frames
    # Every source argument is one the loader accepts.
    params = inspect.signature(MOTION_SOURCES["motionclip_db"]).parameters
    assert set(train) - {"_target_", "_partial_"} <= set(params)
