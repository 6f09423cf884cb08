"""The browser demo's parts without a browser (``vmc.demo``): the page's checks and messages,
the job runner (people reused by the hash of their photos, one job at a time per device), the
stages' progress. The models are stubbed here; ``tests/test_demo_browser.py`` runs them for real.
"""

from __future__ import annotations

import collections
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vmc.cli import main
from vmc.demo import jobs
from vmc.demo.errors import DemoInputError, internal_message, page_message
from vmc.demo.jobs import DemoRunner, VideoOptions
from vmc.demo.progress import (
    MOTION_STAGES,
    VIDEO_STAGES,
    JobProgress,
    JobSize,
    StageEstimates,
    printed_steps,
)
from vmc.tasks.infer import PersonStages
from vmc.utils.import_graph import scan_package

SMALL = VideoOptions(seconds=0.2, image_size=64)


def _photo(path, colour=(200, 120, 60), size=(80, 96)):
    Image.new("RGB", size, colour).save(path)
    return path


class _Stage:
    def generate(self, prompts, num_frames, fps, seed):
        return ("motion", tuple(prompts), num_frames)


class _Pipeline:
    def __init__(self, stage, body, *, device, generator, background):
        self.text_to_motion = stage


class _Subject:
    def __init__(self, images):
        self.images = images

    def preview(self, body):
        return np.zeros((8, 16, 3), np.uint8)


@pytest.fixture
def stubbed(monkeypatch):
    """infer.py's steps replaced by stand-ins that count their calls (the runner is real)."""
    calls = collections.Counter()
    gate = {"prepare": None}  # an Event the preparation waits for, when set

    def stages(cfg, request):
        calls["load"] += 1
        assert cfg.personalize == "never"  # the page never fine-tunes on a visitor's photos
        return PersonStages("body", _Stage(), [("motion", "stub", "test")], "embedded", None)

    def subject(cfg, request, stages):
        calls["prepare"] += 1
        if gate["prepare"] is not None:
            gate["prepare"].wait(10)
        print("  detect: 0.0 s")
        print("  fit: 0.0 s")  # as prepare_subject prints its steps
        return _Subject(request.images)

    def video(request, pipeline, subject):
        calls["video"] += 1
        pipeline.text_to_motion.generate(request.prompts, request.num_frames, 30, 0)
        return "video"

    def write(cfg, request, video, subject, body, results):
        out = request.out
        files = {
            "preview_mp4": out.with_name(out.stem + ".preview.mp4"),
            "npz": out.with_suffix(".npz"),
            "bvh": out.with_suffix(".bvh"),
            "out": out,
        }
        for final in files.values():
            results.path(final).write_bytes(b"stub")
        return {key: str(path) for key, path in files.items()}

    for name, stand_in in {
        "_person_stages": stages,
        "_person_subject": subject,
        "_person_video": video,
        "_write_person": write,
        "VideoMotionCLIP": _Pipeline,
    }.items():
        monkeypatch.setattr(jobs, name, stand_in)
    return calls, gate


def test_the_second_video_of_the_same_photos_skips_the_fit(tmp_path, stubbed):
    calls, _ = stubbed
    runner = DemoRunner(tmp_path / "work")
    photo = _photo(tmp_path / "me.png")
    first = runner.video([photo], "a person waves\na person jumps", SMALL, _progress(runner))
    assert not first.reused and first.stages[-1][1] == "prepared from 1 photo(s)"
    assert list(first.seconds) == list(VIDEO_STAGES)  # the fit's end seen in its printed steps
    assert [p.suffix for p in first.downloads] == [".mp4", ".npz", ".bvh"]
    assert all(p.is_file() for p in [*first.downloads, first.preview])
    assert first.video.name == "a_person_waves.mp4"
    # The same pixels under another name: the person is reused, the models were kept.
    again = shutil.copy(photo, tmp_path / "copy.png")
    second = runner.video([again], "a person squats", SMALL, _progress(runner))
    assert second.reused and "fit" not in second.seconds and "texture" not in second.seconds
    assert second.stages[-1][1].startswith("reused")
    assert (calls["load"], calls["prepare"], calls["video"]) == (1, 1, 2)
    assert second.video.parent != first.video.parent  # each job its own folder
    # Other photos, or another video size: prepared anew.
    runner.video([_photo(tmp_path / "b.png", (10, 200, 10))], "a person squats", SMALL, None)
    runner.video([photo], "a person squats", VideoOptions(seconds=0.2, image_size=96), None)
    assert runner.preparations == calls["prepare"] == 3


def _progress(runner):
    return JobProgress(VIDEO_STAGES, runner.estimates)


@pytest.mark.parametrize(
    ("photos", "text", "options", "message"),
    [
        ([], "a person waves", SMALL, "Add a photo of the person"),
        (["me.png"], "  \n ", SMALL, "Type what the person should do"),
        (["me.png"], "a person waves", VideoOptions(seconds=500), "at most 20 in this demo"),
        (["me.png"], "a person waves", VideoOptions(seconds=None), "length of the video"),
        (
            ["me.png"],
            "a person waves",
            VideoOptions(seconds=1, seed=-1),
            "must be an integer in [0, 2^32)",
        ),
        (["notes.jpg"], "a person waves", SMALL, "cannot read image 'notes.jpg'"),
        (["big.png"], "a person waves", SMALL, "big.png is 1.1 MB: photos may be at most 1 MB"),
        (["me.png"] * 9, "a person waves", SMALL, "at most 8 photos"),
    ],
)
def test_bad_inputs_are_one_clear_message(tmp_path, stubbed, photos, text, options, message):
    calls, _ = stubbed
    _photo(tmp_path / "me.png")
    (tmp_path / "notes.jpg").write_text("not a photo")
    (tmp_path / "big.png").write_bytes(b"\0" * 1_200_000)
    runner = DemoRunner(tmp_path / "work", max_upload_mb=1)
    paths = [str(tmp_path / name) for name in photos]
    with pytest.raises(ValueError) as caught:
        runner.video(paths, text, options, None)
    shown = page_message(caught.value, {p: p.rsplit("/", 1)[1] for p in paths})
    assert shown is not None and message in shown
    assert str(tmp_path) not in shown  # uploads are named as the user named them
    assert calls["prepare"] == 0


def test_a_huge_photo_is_refused_from_its_header(tmp_path, stubbed):
    huge = tmp_path / "huge.png"
    Image.new("1", (8000, 6000)).save(huge)  # 48 megapixels, a small file
    with pytest.raises(DemoInputError, match="huge.png is 8000x6000 .* at most 40 megapixels"):
        DemoRunner(tmp_path / "work").video([huge], "a person waves", SMALL, None)


def test_page_messages_name_photos_and_hide_bugs():
    names = {"/tmp/up/1/a.jpg": "a.jpg", "/tmp/up/2/b.jpg": "b.jpg"}
    err = ValueError("photo 1: no person found in the 80x96 image")
    assert page_message(err, names) == "b.jpg: no person found in the 80x96 image"
    assert page_message(FileNotFoundError("/tmp/up/1/a.jpg is gone"), names) == "a.jpg is gone"
    assert page_message(RuntimeError("boom"), names) is None  # a bug: no details in the page
    assert "RuntimeError" in internal_message(RuntimeError("boom"))
    assert "boom" not in internal_message(RuntimeError("boom"))


def test_one_job_at_a_time_per_device(tmp_path, stubbed):
    calls, gate = stubbed
    gate["prepare"] = threading.Event()
    runner = DemoRunner(tmp_path / "work")
    photo = _photo(tmp_path / "me.png")
    first = threading.Thread(target=runner.video, args=([photo], "a person waves", SMALL, None))
    first.start()
    deadline = time.monotonic() + 10
    while not calls["prepare"] and time.monotonic() < deadline:  # the first holds the device
        time.sleep(0.02)
    waiting = _progress(runner)
    second = threading.Thread(target=runner.video, args=([photo], "a person waves", SMALL, waiting))
    second.start()
    deadline = time.monotonic() + 10
    while "waiting" not in waiting.snapshot()[1] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert waiting.snapshot()[1] == "waiting: another job is running on cpu"
    # Another device is free meanwhile.
    with runner._device(torch.device("cuda", 0), _progress(runner)):
        pass
    gate["prepare"].set()
    first.join(10)
    second.join(10)
    assert runner.preparations == 1  # the second job found the first one's person


def test_progress_counts_stages_and_time_left():
    now = [0.0]
    estimates = StageEstimates({"fit": 2.0, "texture": 1.0, "motion": 0.0, "frames": 0.1})
    size = JobSize(photos=1, frames=30, pixels=256**2)  # frames: 30 units
    progress = JobProgress(VIDEO_STAGES, estimates, clock=lambda: now[0])
    progress.plan(size)
    assert progress.snapshot() == (0.0, "starting")
    progress.begin("fit")
    now[0] = 1.0
    fraction, line = progress.snapshot()
    assert line == "fit (1 of 5): about 5 s left" and fraction == pytest.approx(1 / 6)
    now[0] = 5.0  # the fit overran: at least what has run so far
    progress.begin("texture")
    now[0] = 6.0
    progress.begin("motion")
    progress.begin("frames")
    now[0] = 10.0
    progress.begin("encoding")
    progress.finish()
    assert progress.durations == {"fit": 5.0, "texture": 1.0, "motion": 0.0, "frames": 4.0,
                                  "encoding": 0.0}  # fmt: skip
    assert estimates.expected("fit", size) == pytest.approx(3.5)  # learnt: (2 + 5) / 2
    reused = JobProgress(MOTION_STAGES, estimates, clock=lambda: now[0])
    reused.skip("motion", "reused")
    reused.begin("preview")
    assert reused.snapshot()[1].startswith("preview (1 of 1)")
    with pytest.raises(ValueError, match="unknown stage"):
        reused.begin("fit")


def test_printed_steps_are_heard_from_this_thread_only(capsys):
    heard = []
    with printed_steps(heard.append):
        print("  fit: 1.2 s")
        print("preparing: not a step")
        thread = threading.Thread(target=print, args=("  background: 3.0 s",))
        thread.start()
        thread.join()
        sys.stdout.write("  textu")
        sys.stdout.write("re: 0.5 s\n")
    print("  cut-out: 0.1 s")
    assert heard == ["fit", "texture"]  # the other thread's line was not this job's
    assert "  fit: 1.2 s" in capsys.readouterr().out  # and everything still printed


def test_the_command_and_its_optional_dependency(capsys, monkeypatch):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--help"])
    assert exit_info.value.code == 0
    shown = capsys.readouterr().out
    assert "--host" in shown and "--port" in shown and "--share" in shown
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--port", "70000"])
    assert exit_info.value.code == 2
    # Without Gradio: one line saying what to install, and `import vmc` never needs it.
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    assert main(["demo"]) == 2
    assert 'pip install -e ".[demo]"' in capsys.readouterr().err
    graph = scan_package(Path(jobs.__file__).parents[1])
    gradio = [i for i in graph.imports if i.target == "gradio"]
    assert gradio and all(i.in_function or i.type_checking for i in gradio)
