"""Many prompts × subjects through ``Trainer.predict``: the joint inference LightningModule.

Each job (a prompt or a motion file, a prepared subject, an output path) is one predict item.
Lightning's predict loop gives every rank its own items without repeats, so DDP spreads the jobs
over GPUs (or CPU processes) and each output is written once, by the rank that made it, through
a result set (its files appear together). The module holds no trainable weights; the networks
(text → motion, body) are injected, as the training systems receive theirs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, Dataset

from vmc.io.atomic import result_set
from vmc.io.video import write_video
from vmc.motion.stage import MotionStage
from vmc.motion.types import Motion
from vmc.pipeline.video import VideoMotionCLIP, VideoOutput
from vmc.subject.prepare import Subject

__all__ = ["VideoJob", "VideoJobs", "VideoInferenceSystem", "predict_videos"]


@dataclass  # not frozen: Lightning's batch transfer rebuilds dataclasses field by field
class VideoJob:
    """One video to make.

    Attributes:
        subject: key of the subject in the system's ``subjects``.
        out: the video's path (``.mp4``).
        prompt: the text to perform, or ``None`` with ``motion``.
        motion: a motion to perform instead of a prompt.
    """

    subject: str
    out: Path
    prompt: str | None = None
    motion: Motion | None = None


class VideoJobs(Dataset):
    """The jobs as a map-style dataset (one item = one job)."""

    def __init__(self, jobs: Sequence[VideoJob]) -> None:
        self.jobs = list(jobs)

    def __len__(self) -> int:
        return len(self.jobs)

    def __getitem__(self, index: int) -> VideoJob:
        return self.jobs[index]


def _first(batch: list[VideoJob]) -> VideoJob:
    return batch[0]


Writer = Callable[[VideoJob, VideoOutput], dict[str, str]]


def write_video_only(job: VideoJob, video: VideoOutput, fps: float) -> dict[str, str]:
    """The default writer: the video alone, through a result set."""
    with result_set(job.out.expanduser().absolute().parent) as results:
        write_video(results.path(job.out), video.frames, fps)
    return {"out": str(job.out)}


class VideoInferenceSystem(pl.LightningModule):
    """Makes one video per predict item (a :class:`VideoJob`).

    Args:
        body: the ``BodyModel`` the subjects were fitted with.
        subjects: prepared subjects by key.
        text_to_motion: the motion stage for prompt jobs (``None``: motion jobs only).
        num_frames, fps, framing, root_motion, image_size, seed, blend_in: the video's settings
            (:class:`vmc.pipeline.video.VideoMotionCLIP`).
        generator: a Liquid Warping GAN generator for the appearance (default: texture warping).
        background: ``plate`` or ``bgnet`` (:class:`vmc.pipeline.video.VideoMotionCLIP`).
        writer: ``(job, video) -> {name: path}`` writing the files of one job (default: the
            video alone).
    """

    def __init__(
        self,
        body: torch.nn.Module,
        subjects: dict[str, Subject],
        text_to_motion: MotionStage | None = None,
        *,
        num_frames: int = 60,
        fps: float = 30.0,
        framing: str = "full",
        root_motion: str = "in_place",
        image_size: int = 256,
        seed: int = 0,
        blend_in: float = 0.0,
        generator: torch.nn.Module | None = None,
        background: str = "plate",
        writer: Writer | None = None,
    ) -> None:
        super().__init__()
        self.body = body
        self.subjects = subjects
        self.text_to_motion = text_to_motion
        self.settings = {
            "num_frames": num_frames,
            "fps": fps,
            "framing": framing,
            "root_motion": root_motion,
            "image_size": image_size,
            "blend_in": blend_in,
        }
        self.seed = seed
        self.generator = generator
        self.background = background
        self.writer = writer
        self._pipeline: VideoMotionCLIP | None = None  # one per process, built on first use

    def predict_step(self, job: VideoJob, batch_idx: int) -> dict[str, Any]:
        """Make and write one job's video; returns what was written and by which rank."""
        if self._pipeline is None:  # the subjects' renderers are then built once per rank
            self._pipeline = VideoMotionCLIP(
                self.text_to_motion, self.body, device=self.device, generator=self.generator,
                background=self.background,
            )  # fmt: skip
        video = self._pipeline(
            self.subjects[job.subject],
            prompts=[job.prompt] if job.prompt is not None else None,
            motion=job.motion,
            seed=self.seed,
            **self.settings,
        )
        if self.writer is not None:
            files = self.writer(job, video)
        else:
            files = write_video_only(job, video, float(self.settings["fps"]))
        return {"rank": int(self.global_rank), "files": files, "frames": int(len(video.frames))}


def predict_videos(
    system: VideoInferenceSystem, jobs: Sequence[VideoJob], trainer: pl.Trainer | None = None
) -> list[dict[str, Any]]:
    """Run every job through ``trainer.predict`` (a one-CPU trainer when ``None``)."""
    trainer = trainer or pl.Trainer(
        accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    loader = DataLoader(VideoJobs(jobs), batch_size=1, shuffle=False, collate_fn=_first)
    with torch.no_grad():
        results = trainer.predict(system, dataloaders=loader) or []
    return [r for r in results if isinstance(r, dict)]
