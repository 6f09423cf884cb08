"""LightningDataModule for LWG pretraining: synthetic clips or processed videos.

Two sources of videos (``conf/data/lwg_*.yaml``):

* ``root: null`` - synthetic clips rendered on the fly (``SyntheticLWGDataset``), nothing on disk;
* ``root: <folder>`` - processed videos in any layout ``vmc.data.lwg_layouts.find_videos`` reads
  (ours, including synthetic clips written by ``make_synthetic_dataset``; iPERCore's v0.2
  ``primitives/*/processed``; the older iPER ``processed/*``). The validation videos are
  ``<root>/val.txt`` when it exists (training then uses ``train.txt``), else ``val_root``, else
  the last ``val_fraction`` of the videos.

Batches are the dicts of ``vmc.data.lwg_dataset`` with a batch dimension in front, e.g.
``src_inputs [B, ns, 6, H, W]`` and ``Tst [B, nt, ns, H, W, 2]``: exactly the generator's inputs.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import torch
from lightning import LightningDataModule
from torch.utils.data import DataLoader

from vmc.body.model import BodyModel
from vmc.body.procedural import make_tiny_body
from vmc.body.select import load_body
from vmc.data.backgrounds import BackgroundSource
from vmc.data.lwg_dataset import LWGSampleBuilder, LWGVideoDataset, SyntheticLWGDataset
from vmc.data.lwg_layouts import VideoRecord, find_videos, read_video
from vmc.io.assets import missing_asset_message
from vmc.io.stages import StageRequest, resolve_body
from vmc.render.correspondence import UVLayout

__all__ = ["LWGDataModule", "load_body_and_layout"]

BODY_CHOICES = ("auto", "smpl", "embedded", "tiny")


def load_body_and_layout(
    kind: str = "embedded", smpl_path: str | None = None, assets_dir: str | None = None
) -> tuple[torch.nn.Module, UVLayout, str]:
    """The body model, its UV layout and a short name.

    Args:
        kind: ``auto`` (SMPL when found, else embedded), ``smpl``, ``embedded`` or ``tiny`` (the
            small procedural test body).
        smpl_path / assets_dir: where SMPL (and its UV files ``smpl/uv/mapper_*.txt``) are.

    Raises:
        FileNotFoundError: SMPL (or its UV layout files) required but missing; the message says
            where to put them.
    """
    if kind not in BODY_CHOICES:
        raise ValueError(f"body kind must be one of {BODY_CHOICES}, got {kind!r}")
    if kind == "tiny":
        body = BodyModel.from_arrays(**make_tiny_body())
        return body, UVLayout.from_body(body), "tiny"
    choice = resolve_body(StageRequest(body=kind, smpl=smpl_path, assets_dir=assets_dir))
    body = load_body(choice)
    if body.vt is not None:
        return (
            body,
            UVLayout.from_body(body),
            choice.kind if choice.kind == "embedded" else "custom",
        )
    for key in ("smpl_fim_enc", "smpl_uv"):  # the resolver lists SMPL's UV files it found
        if key not in choice.files:
            raise FileNotFoundError(
                "LWG training with SMPL needs its UV layout: "
                + missing_asset_message(key, assets_dir)
            )
    layout = UVLayout.from_smpl_files(
        choice.files["smpl_fim_enc"], choice.files["smpl_uv"], faces=body.faces
    )
    return body, layout, "smpl"


class LWGDataModule(LightningDataModule):
    """LWG pretraining data (see the module docstring).

    Args:
        root: processed-video dataset root, or None for on-the-fly synthetic clips.
        val_root: separate validation root (used when ``root`` has no ``val.txt``).
        body: ``{kind, smpl_path, assets_dir}`` (see :func:`load_body_and_layout`).
        image_size: sample side (512 in the paper).
        num_source / time_step: ``ns`` / ``nt`` per sample (4 / 2 in pretraining).
        batch_size / val_batch_size: loader batch sizes.
        num_workers: loader workers (rendering happens there).
        train_length: training items per epoch (default: total frames for videos, 1000 for
            synthetic clips).
        val_length: validation items (fixed samples, the same every epoch).
        val_fraction: share of videos held out when no split is given.
        clip_frames: motion length of on-the-fly synthetic clips.
        background_dir: folder of background photos (e.g. Places365) for the clips and the BGNet
            augmentation; procedural backgrounds when None.
        source_sampling: ``"front"`` (iPERCore) or ``"random"``.
        out_dilate_ks: morph-image padding (9 in iPERCore's training config).
        uv_size: UV texture side (default ``image_size``).
        seed: base seed of the sampling.
        pin_memory / persistent_workers: loader options.
        videos: explicit video folders to train (and validate) on instead of ``root``'s videos
            (per-subject fine-tuning: one subject folder).
    """

    def __init__(
        self,
        root: str | None = None,
        val_root: str | None = None,
        body: dict[str, Any] | None = None,
        image_size: int = 256,
        num_source: int = 4,
        time_step: int = 2,
        batch_size: int = 1,
        val_batch_size: int | None = None,
        num_workers: int = 0,
        train_length: int | None = None,
        val_length: int = 16,
        val_fraction: float = 0.1,
        clip_frames: int = 30,
        background_dir: str | None = None,
        source_sampling: str = "front",
        out_dilate_ks: int = 9,
        uv_size: int | None = None,
        seed: int = 0,
        pin_memory: bool = False,
        persistent_workers: bool = False,
        videos: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.body_cfg = dict(body or {"kind": "embedded"})
        self.train_set: torch.utils.data.Dataset | None = None
        self.val_set: torch.utils.data.Dataset | None = None
        self.builder: LWGSampleBuilder | None = None

    # ---------------------------------------------------------------------------------------

    def _split(self) -> tuple[list[VideoRecord], list[VideoRecord]]:
        hp = self.hparams
        if hp.videos:
            # Named video folders (one subject for fine-tuning): trained on, and validated on
            # with fixed samples.
            chosen = [read_video(Path(v).expanduser()) for v in hp.videos]
            return chosen, chosen
        root = Path(hp.root).expanduser()
        if (root / "val.txt").is_file():
            val = find_videos(root, "val")
            if (root / "train.txt").is_file():
                return find_videos(root, "train"), val
            held = {v.name for v in val}
            return [v for v in find_videos(root) if v.name not in held], val
        train = find_videos(root, "train")
        if hp.val_root:
            return train, find_videos(hp.val_root, "val")
        n_val = math.ceil(hp.val_fraction * len(train)) if hp.val_fraction > 0 else 0
        if n_val >= len(train):
            # One video: validate on it too (fixed samples) rather than train on nothing.
            return train, train
        return (train[: len(train) - n_val], train[len(train) - n_val :]) if n_val else (train, [])

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        hp = self.hparams
        body, layout, body_name = load_body_and_layout(
            self.body_cfg.get("kind", "embedded"),
            self.body_cfg.get("smpl_path"),
            self.body_cfg.get("assets_dir"),
        )
        self.builder = LWGSampleBuilder(
            body, hp.image_size, layout, hp.uv_size, out_dilate_ks=hp.out_dilate_ks
        )
        bgs = BackgroundSource(folder=hp.background_dir)
        common = {
            "num_source": hp.num_source,
            "time_step": hp.time_step,
            "backgrounds": bgs,
        }
        if hp.root is None and not hp.videos:
            self.train_set = SyntheticLWGDataset(
                self.builder,
                length=hp.train_length or 1000,
                clip_frames=hp.clip_frames,
                seed=hp.seed,
                **common,
            )
            self.val_set = SyntheticLWGDataset(
                self.builder,
                length=hp.val_length,
                clip_frames=hp.clip_frames,
                deterministic=True,
                seed=hp.seed + 1_000_003,  # validation clips differ from training ones
                **common,
            )
            return
        train, val = self._split()
        known = ("smpl", "embedded")
        wrong = sorted({v.body for v in train + val if v.body in known and v.body != body_name})
        if body_name in known and wrong:
            warnings.warn(
                f"videos under {hp.root!r} hold SMPL parameters of the {wrong} body but "
                f"data.body gives the {body_name} body: shapes (betas) will not match",
                stacklevel=2,
            )
        self.train_set = LWGVideoDataset(
            train,
            self.builder,
            length=hp.train_length,
            source_sampling=hp.source_sampling,
            seed=hp.seed,
            **common,
        )
        self.val_set = (
            LWGVideoDataset(
                val,
                self.builder,
                length=hp.val_length,
                source_sampling=hp.source_sampling,
                deterministic=True,
                seed=hp.seed,
                **common,
            )
            if val and hp.val_length > 0
            else None
        )

    def _loader(self, ds: torch.utils.data.Dataset, batch: int, shuffle: bool) -> DataLoader:
        hp = self.hparams
        return DataLoader(
            ds,
            batch_size=batch,
            shuffle=shuffle,
            num_workers=hp.num_workers,
            pin_memory=hp.pin_memory,
            persistent_workers=hp.persistent_workers and hp.num_workers > 0,
            drop_last=shuffle,
        )

    def train_dataloader(self) -> DataLoader:
        self.setup("fit")
        return self._loader(self.train_set, self.hparams.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader | list:
        self.setup("validate")
        if self.val_set is None:
            return []
        return self._loader(
            self.val_set, self.hparams.val_batch_size or self.hparams.batch_size, shuffle=False
        )
