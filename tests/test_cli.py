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
    assert "embedded default" in err


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
