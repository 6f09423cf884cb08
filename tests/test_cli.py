"""`python -m vmc` helper commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vmc.cli import main


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "doctor" in out and "body" in out


def test_missing_command_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2


def test_doctor_reports_missing_and_found_assets(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("VMC_ASSETS", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "assets" / "clip").mkdir(parents=True)
    (tmp_path / "assets" / "clip" / "ViT-B-32.pt").write_bytes(b"x")
    assert main(["doctor"]) == 0
    err = capsys.readouterr().err
    assert "found" in err and "missing" in err
    assert "ViT-B-32.pt" in err
    # CLIP alone does not switch the motion group to paper mode: the checkpoint is missing too.
    assert "motion: embedded MotionCLIP" in err or "motion: caption retrieval" in err


def test_convert_smpl_missing_file_is_a_clear_error(tmp_path, capsys):
    code = main(["body", "convert-smpl", str(tmp_path / "nope.pkl"), str(tmp_path / "o.npz")])
    assert code == 2
    assert "nope.pkl" in capsys.readouterr().err


def test_help_loads_neither_torch_nor_numpy():
    """Building the parser imports no implementation: handlers import what they run."""
    code = (
        "import sys\n"
        "from vmc.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('torch', 'lightning', 'numpy') if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"


def _doctor_line(err: str, key: str) -> str:
    return next(line for line in err.splitlines() if line.strip().startswith(f"{key} ("))


def test_doctor_never_calls_a_file_found_by_its_name_alone(tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setenv("VMC_ASSETS", str(tmp_path / "no_such_folder"))
    monkeypatch.chdir(tmp_path)
    assets = tmp_path / "assets"
    (assets / "clip").mkdir(parents=True)
    (assets / "clip" / "ViT-B-32.pt").write_bytes(b"x" * 10)  # right name, wrong content
    (assets / "spin").mkdir()
    torch.save({"w": torch.zeros(2)}, assets / "spin" / "spin_ckpt.pth")
    (assets / "lwg").mkdir()
    (assets / "lwg" / "AttLWB-SPADE_id_G_2020-05-18.pth").write_bytes(b"not a checkpoint")
    (assets / "losses").mkdir()
    (assets / "losses" / "vgg19-dcbb9e9d.pth").write_bytes(b"")
    assert main(["doctor"]) == 0
    err = capsys.readouterr().err
    assert "$VMC_ASSETS=" in err and "does not exist" in err
    assert "found, unknown content" in _doctor_line(err, "clip")  # not the official digest
    assert "found, unknown content" in _doctor_line(err, "spin")
    assert "refused" in _doctor_line(err, "vgg19") and "empty file" in err
    assert "smpl/SMPL_NEUTRAL.npz or smpl/SMPL_NEUTRAL.pkl" in err  # every accepted name
    assert main(["doctor", "--verify"]) == 0
    err = capsys.readouterr().err
    assert "found, checked" in _doctor_line(err, "spin") and "1 tensors" in err
    assert "refused" in _doctor_line(err, "lwg")
    assert "refused" in _doctor_line(err, "clip")  # 10 bytes: not a checkpoint


def test_doctor_prints_long_paths_whole(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("VMC_ASSETS", raising=False)
    monkeypatch.setenv("COLUMNS", "40")
    deep = tmp_path / ("x" * 120) / "assets"
    (deep / "spin").mkdir(parents=True)
    (deep / "spin" / "spin_ckpt.pth").write_bytes(b"abc")
    assert main(["doctor", "--assets", str(deep)]) == 0
    err = capsys.readouterr().err
    assert str(deep / "spin" / "spin_ckpt.pth") in err  # on one line, not cut or folded
