"""LightningDataModule of MotionCLIP training: motion sources -> train/val window loaders.

Sources (``train_sources``, optional ``val_sources``) are any of: a list of
:class:`~vmc.data.motion_sources.MotionRecord`, a callable returning one (Hydra ``_partial_:
true`` of a reader such as ``load_amass_babel``), or an object with a ``records()`` or ``load()``
method. They are read once, in ``setup``. Without ``val_sources``, ``val_fraction`` of the clips
(chosen by a stable hash of their names, so the split never depends on order or workers) is held
out.

Nothing is dropped silently: the sources' load reports (:mod:`vmc.data.motion_sources.report`)
and the window preparation's are gathered in ``setup`` into one summary (sequences found, used
and dropped for each reason, with the first names), logged, and written to ``summary_dir`` (the
run folder in the configs) as ``data_summary.txt`` and ``data_summary.json``.

``batch_size`` is the **global** batch: with ``N`` devices each one loads ``batch_size / N``
items, and a batch size that does not divide is an error before any work. Training batches come
from :class:`EpochSampler`, a ``DistributedSampler`` whose shuffling and per-item randomness
depend only on ``(seed, epoch)``: resuming at an epoch boundary replays exactly.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, DistributedSampler

from vmc.data.motion_dataset import MotionWindowDataset
from vmc.data.motion_sources.record import MotionRecord
from vmc.data.motion_sources.report import (
    LoadReport,
    collect_reports,
    format_summary,
    write_summary,
)

__all__ = ["EpochSampler", "MotionDataModule", "read_source"]

log = logging.getLogger(__name__)


def read_source(source: Any) -> list[MotionRecord]:
    """Records of one source (see the module docstring for what a source may be)."""
    if isinstance(source, MotionRecord):
        return [source]
    for method in ("records", "load"):
        fn = getattr(source, method, None)
        if callable(fn):
            return list(fn())
    if callable(source):
        return list(source())
    if isinstance(source, Sequence | Iterator) and not isinstance(source, str | bytes):
        return list(source)
    raise ValueError(
        f"cannot read motion records from a {type(source).__name__}: give a list of "
        "MotionRecord, a callable returning one, or an object with records()/load()"
    )


class EpochSampler(DistributedSampler):
    """Shuffles with ``(seed, epoch)`` and yields ``(index, epoch)`` pairs.

    The dataset derives each item's random window and caption from that pair, so an epoch is
    the same whether it runs uninterrupted or after a resume (Lightning calls ``set_epoch``).
    Being a ``DistributedSampler``, Lightning does not replace it under DDP.
    """

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        epoch = int(self.epoch)
        for index in super().__iter__():
            yield (int(index), epoch)


def _stable_fraction(name: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


class MotionDataModule(pl.LightningDataModule):
    """Motion windows for MotionCLIP (arguments: see the module docstring and
    :class:`~vmc.data.motion_dataset.MotionWindowDataset`).

    Args:
        train_sources: sources of training clips.
        val_sources: sources of validation clips (``None``: split ``val_fraction`` off).
        val_fraction: fraction held out when ``val_sources`` is None (0 = no validation).
        split_seed: seed of that split.
        batch_size: global batch size (divided over devices).
        val_batch_size: global validation batch size (default ``batch_size``).
        num_workers: loader workers per device.
        num_frames, fps, translation, up_axis, chunk_frames, min_frames, resample,
        max_fps_dist, frames_dir: window options.
        val_text: caption of validation items: ``"first"`` or ``"heldout"``.
        seed: seed of the training sampler and window randomness.
        drop_last: drop the last incomplete training batch.
        summary_dir: folder that gets ``data_summary.txt``/``.json`` (the run folder; ``None``:
            the summary is only logged).
    """

    def __init__(
        self,
        train_sources: Sequence[Any] | None = None,
        val_sources: Sequence[Any] | None = None,
        *,
        val_fraction: float = 0.1,
        split_seed: int = 0,
        batch_size: int = 20,
        val_batch_size: int | None = None,
        num_workers: int = 0,
        num_frames: int = 60,
        fps: float = 30.0,
        translation: str = "root",
        up_axis: str = "y",
        chunk_frames: int | None = None,
        min_frames: int | None = None,
        resample: str = "slerp",
        max_fps_dist: float | None = None,
        frames_dir: str | os.PathLike[str] | None = None,
        val_text: str = "first",
        seed: int = 0,
        drop_last: bool = True,
        pin_memory: bool = False,
        summary_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        if not train_sources:
            raise ValueError("MotionDataModule needs at least one training source (train_sources)")
        if not 0.0 <= float(val_fraction) < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        for name, value in (("batch_size", batch_size), ("val_batch_size", val_batch_size)):
            if value is not None and (isinstance(value, bool) or int(value) < 1):
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {num_workers}")
        self.train_sources = list(train_sources)
        self.val_sources = list(val_sources) if val_sources else None
        self.val_fraction = float(val_fraction)
        self.split_seed = int(split_seed)
        self.batch_size = int(batch_size)
        self.val_batch_size = int(val_batch_size or batch_size)
        self.num_workers = int(num_workers)
        self.window_kwargs: dict[str, Any] = dict(
            num_frames=num_frames,
            fps=fps,
            translation=translation,
            up_axis=up_axis,
            chunk_frames=chunk_frames,
            min_frames=min_frames,
            resample=resample,
            max_fps_dist=max_fps_dist,
            frames_dir=frames_dir,
        )
        self.val_text = val_text
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.pin_memory = bool(pin_memory)
        self.summary_dir = Path(summary_dir) if summary_dir is not None else None
        self.train_set: MotionWindowDataset | None = None
        self.val_set: MotionWindowDataset | None = None
        #: Every load report of ``setup`` (sources, then windows); empty before it.
        self.reports: list[LoadReport] = []
        #: The summary ``setup`` logged and wrote (``""`` before it).
        self.summary = ""

    # ------------------------------------------------------------------ setup
    def _read(self, sources: Sequence[Any]) -> list[MotionRecord]:
        records: list[MotionRecord] = []
        for source in sources:
            records += read_source(source)
        return records

    def split(self, records: list[MotionRecord]) -> tuple[list[MotionRecord], list[MotionRecord]]:
        """Hash split of ``records`` into (train, val) by name (``val_fraction`` held out)."""
        train, val = [], []
        for record in records:
            frac = _stable_fraction(record.motion.name, self.split_seed)
            (val if frac < self.val_fraction else train).append(record)
        return train, val

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        with collect_reports() as reports:
            records = self._read(self.train_sources)
            if self.val_sources is not None:
                train_records, val_records = records, self._read(self.val_sources)
                split_line = "validation: val_sources"
            else:
                train_records, val_records = self.split(records)
                split_line = (
                    f"validation: {len(val_records)} of {len(records)} clips held out by name "
                    f"hash (val_fraction {self.val_fraction:g})"
                )
        self.train_set = MotionWindowDataset(
            train_records, train=True, seed=self.seed, **self.window_kwargs
        )
        self.val_set = (
            MotionWindowDataset(
                val_records, train=False, text=self.val_text, seed=self.seed, **self.window_kwargs
            )
            if val_records
            else None
        )
        self.reports = [*reports, self.train_set.report]
        if self.val_set is not None:
            self.reports.append(self.val_set.report)
        self._write_summary([split_line])
        if len(self.train_set) == 0:
            raise ValueError(
                f"no training clips: {len(train_records)} records, none at least "
                f"{self.window_kwargs['min_frames'] or self.window_kwargs['num_frames']} frames "
                "long after resampling"
            )
        log.info(
            "motion data: %d training clips, %d validation clips",
            len(self.train_set),
            0 if self.val_set is None else len(self.val_set),
        )

    def _write_summary(self, extra: list[str]) -> None:
        """Log the one summary of ``setup`` and write it to ``summary_dir`` (rank 0 only)."""
        self.summary = format_summary(self.reports, extra)
        noisy = any(r.dropped or r.pieces_dropped or r.not_motions for r in self.reports)
        log.log(logging.WARNING if noisy else logging.INFO, "%s", self.summary)
        if self.summary_dir is not None and self._world()[1] == 0:
            details = {"extra": extra, "window_options": dict(self.window_kwargs)}
            details["window_options"]["frames_dir"] = str(details["window_options"]["frames_dir"])
            txt, _ = write_summary(self.summary_dir, self.reports, extra, details)
            log.info("data summary written to %s", txt)

    # ------------------------------------------------------------------ loaders
    def _world(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 1, 0
        return int(trainer.world_size), int(trainer.global_rank)

    def _per_device(self, global_batch: int, what: str) -> int:
        world, _ = self._world()
        if global_batch % world:
            raise ValueError(
                f"{what}={global_batch} is not divisible by the {world} devices "
                f"(trainer.devices x trainer.num_nodes); choose a multiple of {world}"
            )
        return global_batch // world

    def _loader(self, dataset, batch_size: int, sampler=None, drop_last: bool = False):
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            shuffle=False,
            num_workers=self.num_workers,
            drop_last=drop_last,
            pin_memory=self.pin_memory,
            persistent_workers=False,
            # An own generator: creating the loader never draws from the global RNG.
            generator=torch.Generator().manual_seed(self.seed),
        )

    def train_dataloader(self) -> DataLoader:
        self.setup("fit")
        assert self.train_set is not None
        world, rank = self._world()
        per_device = self._per_device(self.batch_size, "data.batch_size")
        sampler = EpochSampler(
            self.train_set, num_replicas=world, rank=rank, shuffle=True, seed=self.seed
        )
        drop_last = self.drop_last and len(self.train_set) >= per_device * world
        return self._loader(self.train_set, per_device, sampler, drop_last)

    def val_dataloader(self) -> DataLoader | list:
        self.setup("validate")
        if self.val_set is None:
            return []
        per_device = self._per_device(self.val_batch_size, "data.val_batch_size")
        return self._loader(self.val_set, per_device)

    # ------------------------------------------------------------------ for the system
    def all_texts(self) -> list[str]:
        """Every distinct text of the training and validation items (feature precomputation)."""
        self.setup()
        texts = set(self.train_set.all_texts()) if self.train_set else set()
        if self.val_set is not None:
            texts |= set(self.val_set.all_texts())
        return sorted(texts)

    def all_images(self) -> list[str]:
        """Every distinct rendered-frame path of the training and validation clips."""
        self.setup()
        images = set(self.train_set.all_images()) if self.train_set else set()
        if self.val_set is not None:
            images |= set(self.val_set.all_images())
        return sorted(images)
