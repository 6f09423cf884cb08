"""Every user mistake is one clear line, exit 2, checked before the work; nothing is left behind.

One table of bad inputs across ``infer.py``, ``train.py``, ``finetune.py`` and the ``python -m
vmc`` commands, run in-process (the scripts' own code path: the command-line check, Hydra's
composition, then :func:`vmc.tasks.common.run_task`). Each case asserts: exit status 2, a message
naming the cause, no traceback, nothing at the output path, no run folder left, and the inputs
unchanged (hashed before and after).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT, compose_config
from PIL import Image

from vmc.cli import main as vmc_main
from vmc.tasks.common import run_task
from vmc.tasks.entry import check_command_line
from vmc.tasks.finetune import finetune
from vmc.tasks.infer import infer
from vmc.tasks.train import train

PERSON = REPO_ROOT / "examples" / "person.jpg"
TASKS = {"infer": infer, "train": train, "finetune": finetune}


@dataclass
class Case:
    """One bad input: a script with overrides (``{tmp}`` is the test's folder) or a command."""

    name: str
    script: str  # infer | train | finetune | vmc
    args: list[str]
    message: str  # a regex the one-line error must contain
    setup: Callable[[Path], None] | None = None
    inputs: list[str] = field(default_factory=list)  # files (relative to tmp) that must not change


def _bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _image(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _photo(tmp: Path) -> None:
    _bytes(tmp / "me.jpg", PERSON.read_bytes())


def _no_person(tmp: Path) -> None:
    sky = np.zeros((160, 160, 3), np.uint8)
    sky[:] = np.linspace(60, 200, 160)[:, None, None].astype(np.uint8)
    _image(tmp / "sky.png", sky)


def _corrupt_safetensors(tmp: Path) -> None:
    _bytes(tmp / "run" / "model.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{broken")


def _unrelated_ckpt(tmp: Path) -> None:
    torch.save({"weights": torch.zeros(2)}, tmp / "other.ckpt")


INFER = "infer"
CASES = [
    # --- mistyped keys and unquoted values (caught before Hydra)
    Case("wrong key frames", INFER, ["frames=10"], r"unknown config key 'frames'.*num_frames"),
    Case("wrong key size", INFER, ["size=256"], r"unknown config key 'size'.*image_size"),
    Case("wrong key secs", INFER, ["secs=3"], r"unknown config key 'secs'"),
    Case("wrong key frams", INFER, ["frams=3"], r"unknown config key 'frams'.*num_frames"),
    Case("comma in prompt", INFER, ["text=a person, jumps"], r"'text=\"a person, jumps\"'"),
    Case("parentheses in prompt", INFER, ["text=wave (slowly)"], r"quote the value"),
    Case("emoji in prompt", INFER, ["text=🙂 waves"], r"quote the value"),
    # --- values of the wrong type or out of range
    Case("seed not a number", INFER, ["seed=x"], r"seed must be an integer"),
    Case("seed too large", INFER, ["seed=99999999999999999999"], r"seed must be an integer"),
    Case("latent noise not a number", INFER, ["motion.latent_noise=abc"], r"motion.latent_noise"),
    Case("plant_feet not a boolean", INFER, ["motion.plant_feet=3"], r"motion.plant_feet"),
    Case("text_head not a boolean", INFER, ["motion.text_head=yes please"], r"motion.text_head"),
    Case("caption_prior not a boolean", INFER, ["motion.caption_prior=2"], r"motion.caption_prior"),
    Case("ballistic_flight", INFER, ["motion.ballistic_flight=x"], r"motion.ballistic_flight"),
    Case("prior_k negative", INFER, ["motion.prior_k=-2"], r"motion.prior_k"),
    Case("fps tiny", INFER, ["fps=0.001"], r"s of motion.*lower num_frames or raise fps"),
    Case("fps zero", INFER, ["fps=0"], r"'fps' must be > 0"),
    Case("one frame", INFER, ["num_frames=1"], r"num_frames must be in \[2"),
    Case("too many frames", INFER, ["num_frames=100000"], r"num_frames must be in"),
    Case("tiny image size", INFER, ["image_size=10"], r"image_size must be an integer in \[64"),
    Case("too many pixels", INFER, ["image_size=2048", "num_frames=600"], r"G pixels to render"),
    Case("crf", INFER, ["crf=99"], r"crf must be a number in \[0, 51\]"),
    Case("bvh units", INFER, ["bvh_units=mm", "out={tmp}/x.bvh"], r"bvh_units must be cm or m"),
    Case("empty text", INFER, ["text=' '"], r"text must be a non-empty description"),
    Case("device banana", INFER, ["device=banana"], r"device must be one of auto, cpu"),
    Case("device absent", INFER, ["device=cuda:7"], r"device=cuda:7: no such CUDA device"),
    Case("generator missing", INFER, ["generator={tmp}/none.pth"], r"generator=.*does not exist"),
    Case(
        "generator corrupt",
        INFER,
        ["images=[" + str(PERSON) + "]", "appearance=lwg", "generator={tmp}/g.pth"],
        r"g\.pth",
        setup=lambda t: _bytes(t / "g.pth", b"garbage"),
        inputs=["g.pth"],
    ),  # fmt: skip
    Case("blend_in", INFER, ["blend_in=-1"], r"blend_in must be seconds in \[0, 10\]"),
    Case("framing", INFER, ["framing=wide"], r"framing must be one of crop, full"),
    Case("root motion", INFER, ["root_motion=fly"], r"root_motion must be one of"),
    Case("export", INFER, ["export=[gif]"], r"export takes npz and/or bvh"),
    Case("appearance", INFER, ["appearance=magic"], r"appearance must be one of"),
    Case("background", INFER, ["background={tmp}/nope.jpg"], r"background=.*neither"),
    Case(
        "personalize",
        INFER,
        ["personalize=sometimes"],
        r"personalize must be one of auto, always, never",
    ),  # fmt: skip
    Case(
        "personalize always with warp",
        INFER,
        ["images=[" + str(PERSON) + "]", "appearance=warp", "personalize=always"],
        r"personalize=always .*appearance=warp uses none: set appearance=lwg",
    ),  # fmt: skip
    Case(
        "personalize always without a generator",
        INFER,
        ["images=[" + str(PERSON) + "]", "personalize=always"],
        r"personalize=always .*none to start from: give generator=<weights>",
    ),  # fmt: skip
    Case(
        "personalize overrides",
        INFER,
        ['personalize_overrides=["trainer.max_step=3"]'],
        r"personalize_overrides: unknown config key 'trainer.max_step'.*trainer.max_steps",
    ),  # fmt: skip
    # --- files
    Case("out suffix", INFER, ["out={tmp}/x.avi"], r"must end with one of"),
    Case(
        "out is a folder",
        INFER,
        ["out={tmp}/folder.mp4"],
        r"is a directory",
        setup=lambda t: (t / "folder.mp4").mkdir(),
    ),  # fmt: skip
    Case(
        "out overwrites the photo",
        INFER,
        ["images=[{tmp}/me.jpg]", "out={tmp}/me.jpg"],
        r"must end with one of",
        setup=_photo,
        inputs=["me.jpg"],
    ),  # fmt: skip
    Case(
        "out gif overwrites the photo",
        INFER,
        ["images=[{tmp}/me.gif]", "out={tmp}/me.gif"],
        r"would overwrite the input",
        inputs=["me.gif"],
        setup=lambda t: Image.open(PERSON).save(t / "me.gif"),
    ),  # fmt: skip
    Case("missing photo", INFER, ["images=[{tmp}/nobody.jpg]"], r"nobody\.jpg"),
    Case(
        "photo not an image",
        INFER,
        ["images=[{tmp}/bytes.jpg]"],
        r"bytes\.jpg",
        setup=lambda t: _bytes(t / "bytes.jpg", os.urandom(500)),
        inputs=["bytes.jpg"],
    ),  # fmt: skip
    Case(
        "1x1 photo",
        INFER,
        ["images=[{tmp}/dot.png]"],
        r"at least 64 pixels",
        setup=lambda t: _image(t / "dot.png", np.zeros((1, 1, 3), np.uint8)),
    ),  # fmt: skip
    Case(
        "photo without a person",
        INFER,
        ["images=[{tmp}/sky.png]"],
        r"photo 0.*person",
        setup=_no_person,
        inputs=["sky.png"],
    ),  # fmt: skip
    Case(
        "motion file missing",
        INFER,
        ["text=null", "images=[" + str(PERSON) + "]", "motion_file={tmp}/none.npz"],
        r"motion_file=.*does not exist",
    ),  # fmt: skip
    Case(
        "motion file bvh",
        INFER,
        ["text=null", "motion_file={tmp}/m.bvh"],
        r"reading BVH is not supported",
    ),  # fmt: skip
    Case(
        "motion file corrupt",
        INFER,
        ["text=null", "images=[" + str(PERSON) + "]", "motion_file={tmp}/bad.npz"],
        r"bad\.npz",
        inputs=["bad.npz"],
        setup=lambda t: _bytes(t / "bad.npz", b"not a zip"),
    ),  # fmt: skip
    Case(
        "corrupt run weights",
        INFER,
        ["motion=run", "motion.run={tmp}/run/model.safetensors"],
        r"model\.safetensors",
        setup=_corrupt_safetensors,
    ),  # fmt: skip
    Case(
        "prompts file is a folder",
        INFER,
        ["prompts={tmp}", "out={tmp}/motions"],
        r"is a folder, not a text file",
    ),  # fmt: skip
    Case(
        "prompts file is binary",
        INFER,
        ["prompts={tmp}/p.txt", "out={tmp}/motions"],
        r"p\.txt.*not a UTF-8 text file",
        setup=lambda t: _bytes(t / "p.txt", b"\xff\xfe\x00\x81binary"),
    ),  # fmt: skip
    # /proc refuses new files even to root (CI runs as root: permission bits would not do)
    Case("read-only output folder", INFER, ["out=/proc/vmc-test/x.mp4"], r"cannot write"),
    Case(
        "output parent is a file",
        INFER,
        ["out={tmp}/file/x.mp4"],
        r"cannot write",
        setup=lambda t: _bytes(t / "file", b"x"),
    ),  # fmt: skip
    Case(
        "appearance lwg",
        INFER,
        ["images=[" + str(PERSON) + "]", "appearance=lwg"],
        r"LWG|Liquid Warping",
    ),  # fmt: skip
    # --- train
    Case("nothing to train", "train", [], r"nothing to train"),
    Case(
        "endless epochs",
        "train",
        ["experiment=motionclip_procedural", "trainer.max_epochs=-1"],
        r"trainer.max_epochs must be at least 1",
    ),  # fmt: skip
    Case(
        "gpu trainer on cpu",
        "train",
        ["experiment=motionclip_procedural", "trainer=gpu"],
        r"no CUDA device",
    ),  # fmt: skip
    Case(
        "train seed",
        "train",
        ["experiment=motionclip_procedural", "seed=x"],
        r"seed must be an integer",
    ),  # fmt: skip
    Case(
        "missing resume checkpoint",
        "train",
        ["experiment=motionclip_procedural", "ckpt_path={tmp}/none.ckpt"],
        r"ckpt_path .*does not exist",
    ),  # fmt: skip
    Case(
        "unrelated resume checkpoint",
        "train",
        ["experiment=motionclip_procedural", "ckpt_path={tmp}/other.ckpt"],
        r"other\.ckpt.*not a Lightning training checkpoint",
        setup=_unrelated_ckpt,
    ),  # fmt: skip
    Case("train wrong key", "train", ["trainer.max_epoch=3"], r"trainer.max_epochs"),
    # --- finetune
    Case("finetune without photos", "finetune", ["subject=alice"], r"needs the subject's photos"),
    Case(
        "finetune unknown subject folder",
        "finetune",
        ["subject=./nobody"],
        r"no prepared subject at nobody",
    ),  # fmt: skip
    Case(
        "finetune init_from",
        "finetune",
        ["subject=alice", f"images=[{PERSON}]", "init_from={tmp}/none"],
        r"init_from=.*does not exist",
    ),  # fmt: skip
    Case(
        "finetune photo without a person",
        "finetune",
        ["subject=alice", "images=[{tmp}/sky.png]"],
        r"photo 0.*person",
        setup=_no_person,
        inputs=["sky.png"],
    ),  # fmt: skip
    # --- python -m vmc
    Case(
        "cache clear unmarked",
        "vmc",
        ["cache", "clear", "--cache-dir", "{tmp}/data"],
        r"not a vmc feature cache",
        setup=lambda t: _bytes(t / "data" / "x.npy", b"1"),
        inputs=["data/x.npy"],
    ),  # fmt: skip
    Case(
        "convert missing smpl",
        "vmc",
        ["body", "convert-smpl", "{tmp}/no.pkl", "{tmp}/o.npz"],
        r"no\.pkl",
    ),  # fmt: skip
    Case(
        "to-folder missing source",
        "vmc",
        ["data", "to-folder", "folder", "{tmp}/nope", "{tmp}/out"],
        r"nope",
    ),  # fmt: skip
    Case(
        "interpolate missing motion",
        "vmc",
        ["motion", "interpolate", "{tmp}/a.npz", "walk", "{tmp}/out"],
        r"a\.npz",
    ),  # fmt: skip
]


def _hashes(tmp: Path, names: list[str]) -> dict[str, str]:
    return {n: hashlib.sha256((tmp / n).read_bytes()).hexdigest() for n in names}


def _defaults(script: str, args: list[str], tmp: Path) -> list[str]:
    """Keys a case leaves out: a quick infer request writing into ``tmp``."""
    given = {a.split("=", 1)[0] for a in args}
    extra = [f"paths.log_dir={tmp}/logs"]
    if script == "infer":
        extra += [] if "out" in given else [f"out={tmp}/out.mp4"]
        extra += [] if given & {"text", "prompts"} else ["text=a person jumps"]
        extra += [] if "num_frames" in given else ["num_frames=6"]
    return extra


def _run_script(script: str, args: list[str], tmp: Path) -> int:
    """What ``python <script>.py args`` does, in-process; returns the exit status."""
    try:
        check_command_line(script, args)
        run_dir = tmp / "logs" / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        cfg = compose_config(script, args + _defaults(script, args, tmp), output_dir=run_dir)
        run_task(TASKS[script], cfg)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_clear_line(case: Case, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VMC_ASSETS", raising=False)
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    if case.setup:
        case.setup(tmp_path)
    before_files = {p for p in tmp_path.rglob("*") if p.is_file()}
    before = _hashes(tmp_path, case.inputs)
    args = [a.replace("{tmp}", str(tmp_path)) for a in case.args]
    code = vmc_main(args) if case.script == "vmc" else _run_script(case.script, args, tmp_path)
    out = capsys.readouterr()
    text = " ".join((out.out + out.err).split())  # rich may wrap a long line
    assert code == 2, text[-2000:]
    assert re.search(case.message, text), text[-2000:]
    assert "Traceback" not in text
    assert _hashes(tmp_path, case.inputs) == before  # inputs unchanged
    after_files = {p for p in tmp_path.rglob("*") if p.is_file()}
    assert after_files <= before_files, sorted(map(str, after_files - before_files))
    assert not list((tmp_path / "logs").rglob("*.yaml")) if (tmp_path / "logs").exists() else True


def test_there_are_at_least_forty_cases() -> None:
    assert len(CASES) >= 40


def test_sigkill_leaves_the_whole_result_or_none(tmp_path: Path) -> None:
    """SIGKILL at several moments of a short infer.py run: afterwards every file of the result
    exists, or none does (only a hidden staging folder, which the next run removes)."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "x.mp4"
    command = [
        sys.executable, str(REPO_ROOT / "infer.py"), "text=a person jumps",
        f"images=[{PERSON}]", f"out={out}", "image_size=96", "num_frames=8", "export=[npz]",
        f"paths.log_dir={tmp_path / 'logs'}",
    ]  # fmt: skip
    result = {"x.mp4", "x.preview.mp4", "x.preview.png", "x.npz"}

    def visible() -> set[str]:
        return {p.name for p in tmp_path.iterdir() if p.is_file() and not p.name.startswith(".")}

    for delay in (2.0, 5.0, 8.0):
        process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert visible() in (set(), result), (delay, visible())
        for name in result & visible():
            (tmp_path / name).unlink()
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert visible() == result
    assert not list(tmp_path.glob(".vmc-staging-*"))  # the killed runs' staging is gone
