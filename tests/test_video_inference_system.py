"""Many jobs through ``Trainer.predict`` of the joint inference LightningModule (one CPU, and
DDP with two CPU processes: every output written once, by the rank that made it)."""

from __future__ import annotations

import functools
from pathlib import Path

import lightning.pytorch as pl
import pytest
from conftest import REPO_ROOT

from vmc.body.embedded import load_embedded_body
from vmc.io.atomic import result_set
from vmc.io.video import probe_video, write_video
from vmc.motion.procedural import generate_motion
from vmc.subject.prepare import prepare_subject
from vmc.systems.video_inference import VideoInferenceSystem, VideoJob, predict_videos


@pytest.fixture(scope="module")
def system_parts():
    body = load_embedded_body()
    subject = prepare_subject(
        [REPO_ROOT / "examples" / "person.jpg"], body, image_size=128, texture_size=128
    )
    return body, {"person": subject}


def _jobs(tmp_path: Path, n: int) -> list[VideoJob]:
    actions = ["squat", "wave", "jump_in_place", "clap"]
    return [
        VideoJob("person", tmp_path / f"{i}_{a}.mp4", motion=generate_motion(a, 8, 30.0, i).motion)
        for i, a in enumerate(actions[:n])
    ]


def write_with_rank(job: VideoJob, video, rank_dir: Path) -> dict[str, str]:
    """Writes the video and a marker naming the rank that made it (module level: picklable)."""
    import torch.distributed as dist

    rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
    with result_set(job.out.parent) as results:
        write_video(results.path(job.out), video.frames, 30.0)
    marker = rank_dir / f"{job.out.stem}.rank{rank}"
    marker.write_text("")
    return {"out": str(job.out)}


def test_predict_makes_every_job_once(system_parts, tmp_path):
    body, subjects = system_parts
    system = VideoInferenceSystem(body, subjects, num_frames=8, image_size=96)
    results = predict_videos(system, _jobs(tmp_path, 3))
    assert len(results) == 3 and {r["rank"] for r in results} == {0}
    for job in _jobs(tmp_path, 3):
        info = probe_video(job.out)
        assert (info.num_frames, info.width) == (8, 96)


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_spreads_the_jobs(system_parts, tmp_path):
    body, subjects = system_parts
    ranks = tmp_path / "ranks"
    ranks.mkdir()
    writer = functools.partial(write_with_rank, rank_dir=ranks)
    system = VideoInferenceSystem(body, subjects, num_frames=8, image_size=96, writer=writer)
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy="ddp_spawn", logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    jobs = _jobs(tmp_path, 4)
    predict_videos(system, jobs, trainer)
    markers = sorted(p.name for p in ranks.iterdir())
    assert len(markers) == 4  # each job written exactly once
    assert {m.rsplit(".rank", 1)[1] for m in markers} == {"0", "1"}  # by both processes
    for job in jobs:
        assert probe_video(job.out).num_frames == 8
