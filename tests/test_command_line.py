"""A script's command line is checked before Hydra runs: mistyped keys and unquoted prompts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vmc.tasks.entry import check_command_line, command_line_problem

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("config", "overrides", "expected"),
    [
        ("infer", ["frames=10"], "num_frames"),  # "did you mean num_frames or framing?"
        ("infer", ["frams=10"], "num_frames"),
        ("infer", ["size=256"], "did you mean image_size?"),
        ("infer", ["motion.latent_nois=1"], "did you mean motion.latent_noise?"),
        ("train", ["trainer.max_epoch=3"], "did you mean trainer.max_epochs"),
        ("infer", ["banana=1"], "unknown config key 'banana': no key of that name exists"),
        ("infer", ["text=a person, jumps"], "'text=\"a person, jumps\"'"),
        ("infer", ["text=wave (slowly)"], "'text=\"wave (slowly)\"'"),
        ("infer", ["text=🙂 waves"], "'text=\"🙂 waves\"'"),  # emoji need quotes too
        ("infer", ["motion=banana"], "motion"),  # an unknown option of a group
    ],
)
def test_mistakes_get_one_actionable_line(config, overrides, expected):
    problem = command_line_problem(config, overrides)
    assert problem is not None and expected in problem
    assert "\n" not in problem


@pytest.mark.parametrize(
    ("config", "overrides"),
    [
        ("infer", ['text="a person, jumps"', "num_frames=20", "images=[a.jpg,b.jpg]"]),
        ("infer", ['text="🙂 waves"', "seed=3"]),  # emoji, quoted
        ("train", ["experiment=motionclip_procedural", "trainer.max_epochs=2"]),
        ("infer", ["hydra.run.dir=/tmp/x", "--multirun"]),  # Hydra's own: left to Hydra
    ],
)
def test_good_command_lines_pass(config, overrides):
    assert command_line_problem(config, overrides) is None


def test_check_exits_2_and_help_is_untouched(capsys):
    with pytest.raises(SystemExit) as err:
        check_command_line("infer", ["frames=3"])
    assert err.value.code == 2
    assert "num_frames" in capsys.readouterr().err
    check_command_line("infer", ["frames=3", "--help"])  # --help shows the config: not checked


def test_script_prints_one_line_and_no_traceback(tmp_path):
    run = subprocess.run(
        [sys.executable, str(ROOT / "infer.py"), "secs=3", f"out={tmp_path / 'x.mp4'}"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert run.returncode == 2
    text = run.stdout + run.stderr
    assert "unknown config key 'secs'" in text and "Traceback" not in text
    assert list(tmp_path.iterdir()) == []  # no run folder, no output


def test_failed_run_leaves_no_run_folder(tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "infer.py"),
            "text=a person jumps",
            "num_frames=1",
            f"paths.log_dir={tmp_path / 'logs'}",
            f"out={tmp_path / 'x.npz'}",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert run.returncode == 2 and "num_frames" in run.stdout + run.stderr
    assert not (tmp_path / "logs").exists() or not list((tmp_path / "logs").rglob("*.yaml"))
    assert not (tmp_path / "x.npz").exists()


def test_discard_keeps_a_resumed_run_folder(tmp_path, monkeypatch):
    import os
    import time

    from omegaconf import OmegaConf

    from vmc.tasks.common import RUN_STARTED_ENV, discard_failed_run_dir

    out = tmp_path / "runs" / "old"
    (out / "checkpoints").mkdir(parents=True)
    old = out / "checkpoints" / "last.ckpt"
    old.write_bytes(b"x")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    cfg = OmegaConf.create({"paths": {"output_dir": str(out)}})
    monkeypatch.setenv(RUN_STARTED_ENV, repr(time.time()))
    (out / "new.log").write_text("x")
    assert discard_failed_run_dir(cfg) is None and old.is_file()
    old.unlink()  # now every file is this run's
    assert discard_failed_run_dir(cfg) == out and not out.exists()
    assert not (tmp_path / "runs").exists()  # the emptied runs/ folder goes too
