"""``python -m vmc motion interpolate|arithmetic``: latent editing from the command line."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from vmc.cli import main
from vmc.geometry.rotations import axis_angle_to_matrix, matrix_to_rot6d_rows
from vmc.io.checkpoints import export_inference
from vmc.io.stages import StageRequest
from vmc.motion.editing import motion_file_tensor
from vmc.motion.export import load_motion_npz, save_amass_npz
from vmc.motion.model import MotionCLIP
from vmc.motion.procedural import generate_motion
from vmc.motion.runs import EXPORT_FORMAT
from vmc.motion.stage import MotionCLIPStage, select_motion_stage
from vmc.motion.types import Motion

WALK, JUMP = "a person walks", "a person jumps"


def _export_tiny_run(root: Path) -> Path:
    """A tiny random MotionCLIP exported like a training run (Y-up, root translation, 30 fps,
    60-frame window; 384-d latent so that the offline sentence encoder drives it)."""
    torch.manual_seed(0)
    net = MotionCLIP(latent_dim=384, ff_size=64, num_layers=1, num_heads=4, max_positions=200)
    info = {
        "format": EXPORT_FORMAT,
        "model": net.config.to_dict(),
        "text_encoder": {"kind": "sentence", "dim": 384},
        "translation": "root",
        "up_axis": "y",
        "num_frames": 60,
        "fps": 30.0,
    }
    export_inference(net, root, info, half=True)
    return root


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _export_tiny_run(tmp_path_factory.mktemp("edit") / "export")


@pytest.fixture(scope="module")
def stage(tiny_run: Path) -> MotionCLIPStage:
    """The same model as the CLI loads, for reference generations (``infer.py``'s path)."""
    loaded = select_motion_stage(StageRequest(motion="run", motion_run=str(tiny_run)))
    assert isinstance(loaded, MotionCLIPStage)
    return loaded


@pytest.fixture(scope="module")
def walk_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A procedural walk at 20 fps, 30 frames (written Z-up): resampled and padded by the CLI."""
    motion = generate_motion("walk_forward", num_frames=30, fps=20.0, seed=0).motion
    path = tmp_path_factory.mktemp("items") / "walk.npz"
    return save_amass_npz(path, replace(motion, texts=["walk"]))


def _matrices(poses: np.ndarray) -> torch.Tensor:
    """``[T, 72]`` or ``[T, 24, 3]`` axis-angle -> ``[T, 24, 3, 3]`` (no ±pi ambiguity)."""
    return axis_angle_to_matrix(torch.from_numpy(np.asarray(poses).reshape(-1, 24, 3)).double())


def _assert_same_motion(path: Path, motion: Motion) -> None:
    """The file (Z-up) holds ``motion`` (the stage's Y-up output)."""
    written = load_motion_npz(path)
    assert written.frame == "z_up"
    back = written.to_frame("y_up")
    torch.testing.assert_close(_matrices(back.poses), _matrices(motion.poses), atol=1e-4, rtol=0)
    np.testing.assert_allclose(back.trans, motion.trans, atol=1e-4)


def test_motion_help_lists_both_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["motion", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "interpolate" in out and "arithmetic" in out


def test_interpolate_writes_each_step_and_its_ends_are_plain_generations(
    tmp_path: Path, tiny_run: Path, stage: MotionCLIPStage
) -> None:
    out_dir = tmp_path / "interp"
    argv = ["motion", "interpolate", WALK, JUMP, str(out_dir), "--run", str(tiny_run)]
    assert main([*argv, "--steps", "3", "--bvh"]) == 0
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == [f"{i:02d}_t{t}.{ext}" for i, t in enumerate(("0.00", "0.50", "1.00"))
                     for ext in ("bvh", "npz")]  # fmt: skip
    motions = [load_motion_npz(out_dir / f"{i:02d}_t{t}.npz").to_frame("y_up") for i, t in
               enumerate(("0.00", "0.50", "1.00"))]  # fmt: skip
    for motion in motions:
        assert motion.poses.shape == (60, 24, 3) and motion.trans.shape == (60, 3)
        assert math.isclose(motion.fps, 30.0)
        forward = _matrices(motion.poses)[0, 0, :, 2]  # infer.py's frame: facing +Z at frame 0
        assert abs(float(forward[0])) < 1e-4 and float(forward[2]) > 0
    assert motions[1].texts == [f"{WALK} -> {JUMP} (0.50)"]
    # The ends are exactly what infer.py generates for A and B; the middle is neither.
    walk = stage.generate([WALK], 60, 30.0, seed=0)
    jump = stage.generate([JUMP], 60, 30.0, seed=0)
    _assert_same_motion(out_dir / "00_t0.00.npz", walk)
    _assert_same_motion(out_dir / "02_t1.00.npz", jump)
    middle = _matrices(motions[1].poses)
    assert (middle - _matrices(walk.poses)).abs().max() > 1e-3
    assert (middle - _matrices(jump.poses)).abs().max() > 1e-3


def test_arithmetic_with_text_and_motion_file_items(
    tmp_path: Path, tiny_run: Path, stage: MotionCLIPStage, walk_file: Path
) -> None:
    base = stage.generate([WALK], 2, 30.0, seed=0)
    # base + x - x = base (x a motion file): the file is read and encoded the same both times.
    out = tmp_path / "edit" / "same.npz"
    argv = ["motion", "arithmetic", WALK, str(out), "--run", str(tiny_run), "--frames", "2"]
    assert main([*argv, "--plus", str(walk_file), "--minus", str(walk_file), "--preview"]) == 0
    _assert_same_motion(out, base)
    assert load_motion_npz(out).texts == [f"{WALK} + {walk_file} - {walk_file}"]
    assert (out.parent / "same.preview.mp4").stat().st_size > 0
    # A real edit (a motion file added, a text removed) changes the motion.
    edited = tmp_path / "edited.npz"
    argv = ["motion", "arithmetic", WALK, str(edited), "--run", str(tiny_run), "--frames", "2"]
    assert main([*argv, "--plus", str(walk_file), "--minus", "a person stands still"]) == 0
    changed = _matrices(load_motion_npz(edited).to_frame("y_up").poses) - _matrices(base.poses)
    assert changed.abs().max() > 1e-3


def test_motion_file_is_brought_to_the_models_rate_window_and_world(
    tmp_path: Path, stage: MotionCLIPStage, walk_file: Path
) -> None:
    gen = stage.generator
    x = motion_file_tensor(walk_file, gen)
    assert x.shape == (25, 6, 60) and x.dtype == torch.float32
    # 30 frames at 20 fps span 1.45 s = 44 frames at 30 fps; the rest holds the last pose.
    torch.testing.assert_close(x[:24, :, 43:], x[:24, :, 43:44].expand(-1, -1, 17))
    assert (x[:24, :, 43] - x[:24, :, 42]).abs().max() > 1e-4  # frame 43 is still moving
    # The frame-0 pose is the file's, turned from its Z-up into the model's Y-up world
    # (resampling copies integer positions).
    src = load_motion_npz(walk_file)
    assert src.frame == "z_up"
    first = matrix_to_rot6d_rows(_matrices(src.to_frame("y_up").poses[:1]))[0].float()
    torch.testing.assert_close(x[:24, :, 0], first, atol=1e-5, rtol=0)
    # The same motion in an older vmc file (written Y-up, up_axis="y") gives the same tensor.
    y = src.to_frame("y_up")
    y_file = tmp_path / "walk_y.npz"
    np.savez(y_file, poses=y.poses72, trans=y.trans, mocap_framerate=20.0, up_axis="y")
    torch.testing.assert_close(motion_file_tensor(y_file, gen), x, atol=1e-4, rtol=0)


def test_bad_items_and_models_are_exit_2_errors(
    tmp_path: Path,
    tiny_run: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out_dir = tmp_path / "never"
    run = ["--run", str(tiny_run)]
    missing = tmp_path / "no_such_motion.npz"
    assert main(["motion", "interpolate", WALK, str(missing), str(out_dir), *run]) == 2
    assert "no_such_motion.npz" in capsys.readouterr().err
    argv = ["motion", "arithmetic", WALK, str(tmp_path / "o.npz"), *run, "--minus", str(missing)]
    assert main(argv) == 2
    assert "no_such_motion.npz" in capsys.readouterr().err
    assert main(["motion", "interpolate", WALK, JUMP, str(out_dir), *run, "--steps", "1"]) == 2
    assert "--steps" in capsys.readouterr().err
    assert main(["motion", "arithmetic", WALK, str(tmp_path / "o.bvh"), *run]) == 2
    assert ".npz" in capsys.readouterr().err
    assert main(["motion", "interpolate", WALK, JUMP, str(out_dir), "--model", "run"]) == 2
    assert "--run PATH" in capsys.readouterr().err
    absent = tmp_path / "absent_run"
    assert main(["motion", "interpolate", WALK, JUMP, str(out_dir), "--run", str(absent)]) == 2
    assert "absent_run" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # not a --model choice at all
        main(["motion", "interpolate", WALK, JUMP, str(out_dir), "--model", "retrieval"])
    assert exit_info.value.code == 2
    capsys.readouterr()
    # No model anywhere: auto falls back to caption retrieval, which cannot edit.
    monkeypatch.delenv("VMC_ASSETS", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("vmc.io.stages.embedded_motionclip_available", lambda: False)
    empty = tmp_path / "assets"
    empty.mkdir()
    assert main(["motion", "interpolate", WALK, JUMP, str(out_dir), "--assets", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "error: motion editing needs a MotionCLIP model" in err
    assert not out_dir.exists() and not (tmp_path / "o.npz").exists()


@pytest.mark.parametrize("failure", [ValueError, KeyboardInterrupt])
def test_failure_midway_removes_what_the_command_wrote(
    tmp_path: Path,
    tiny_run: Path,
    monkeypatch: pytest.MonkeyPatch,
    failure: type[BaseException],
) -> None:
    import vmc.motion.writing as writing

    real_save_bvh = writing.save_bvh
    calls = []

    def flaky_save_bvh(path: Path, *args: Any, **kwargs: Any) -> Path:
        calls.append(path)
        if len(calls) == 3:
            raise failure("disk full")
        return real_save_bvh(path, *args, **kwargs)

    monkeypatch.setattr(writing, "save_bvh", flaky_save_bvh)
    out_dir = tmp_path / "new" / "interp"
    argv = ["motion", "interpolate", WALK, JUMP, str(out_dir), "--run", str(tiny_run)]
    code = main([*argv, "--steps", "4", "--frames", "8", "--bvh"])
    assert code == (2 if failure is ValueError else 130)
    assert len(calls) == 3  # two steps were complete when the third failed
    assert not (tmp_path / "new").exists()  # files and the folders the command made: gone
    if failure is KeyboardInterrupt:
        return
    # In an existing folder, the user's files stay.
    keep = tmp_path / "mine" / "keep.txt"
    keep.parent.mkdir()
    keep.write_text("mine")
    calls.clear()
    argv[4] = str(keep.parent)
    assert main([*argv, "--steps", "4", "--frames", "8", "--bvh"]) != 0
    assert sorted(p.name for p in keep.parent.iterdir()) == ["keep.txt"]
