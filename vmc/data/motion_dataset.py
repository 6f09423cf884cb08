"""Training windows for MotionCLIP: :class:`MotionRecord` clips -> ``[25, 6, T]`` tensors + text.

What one item is (``docs/conventions.md#motionclip-training-items``, generalised to every source):

* Preparation (once, in ``__init__``): every record is resampled to ``fps`` (30), expressed in
  the model's world (``up_axis``: ``"z"`` for the paper model trained on AMASS, ``"y"`` for ours;
  records in the other world are rotated, :meth:`MotionRecord.to_frame` rule), optionally cut
  into non-overlapping ``chunk_frames`` chunks (the paper's 100-frame chunks), and dropped when
  shorter than ``min_frames`` (default ``num_frames``: the paper drops them; shorter kept clips
  are right-padded and masked).
* Sampling: a window of ``num_frames`` (60) contiguous frames. Training: a random start and a
  random caption; validation: the centred window and the first caption (or the first held-out
  caption with ``text="heldout"``). The randomness of training items is a pure function of
  ``(seed, epoch, index)`` (the sampler passes ``(index, epoch)``), so worker count, DDP and
  resuming at an epoch boundary do not change what the model sees.
* Text: with per-frame labels (BABEL), the window's text is :func:`window_text` of its frames
  (the reference's sorted unique labels joined by " and "); otherwise one of the record's texts.
  A record without text gives ``""`` (the system leaves such items out of the text loss).
* Motion: ``vmc.motion.convert.smpl_to_motion`` with the configured ``translation`` mode
  (``"reference"``: the paper's right-ankle row; ``"root"``: the true root translation).

Item (a dict; the default collate stacks it): ``x float32 [25, 6, T]``, ``mask bool [T]``,
``text str``, ``image str`` (path of the clip's rendered frame, ``""`` if none), ``index int``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from vmc.data.motion_frames import frame_path
from vmc.data.motion_sources.amass import fps_reason
from vmc.data.motion_sources.record import MotionRecord, window_text
from vmc.data.motion_sources.report import LoadReport
from vmc.geometry.rotations import axis_angle_to_matrix
from vmc.motion.convert import check_translation_mode, smpl_to_motion
from vmc.motion.resample import FpsMismatchError

__all__ = ["MotionWindowDataset", "prepare_records"]

TextMode = Literal["random", "first", "heldout"]


def prepare_records(
    records: Sequence[MotionRecord],
    *,
    fps: float = 30.0,
    up_axis: str = "y",
    chunk_frames: int | None = None,
    min_frames: int = 60,
    resample: str = "slerp",
    max_fps_dist: float | None = None,
    report: LoadReport | None = None,
) -> tuple[list[MotionRecord], dict[str, int]]:
    """Resample, re-express and chunk records; drop short ones (see the module docstring).

    Args:
        report: when given, counts every record as found, used (it gave a clip) or dropped
            (``"frame rate not reachable ..."``, ``"too short ..."``), and the short chunks of
            used records as dropped pieces, with their names.

    Returns:
        ``(prepared records, counts)`` where ``counts`` has ``input``, ``kept``,
        ``too_short`` and ``bad_fps`` (records whose rate cannot be reached).
    """
    if up_axis not in ("y", "z"):
        raise ValueError(f"up_axis must be 'y' or 'z', got {up_axis!r}")
    if chunk_frames is not None and chunk_frames < 1:
        raise ValueError(f"chunk_frames must be >= 1 or None, got {chunk_frames}")
    counts = {"input": 0, "kept": 0, "too_short": 0, "bad_fps": 0}
    out: list[MotionRecord] = []
    for record in records:
        if not isinstance(record, MotionRecord):
            raise ValueError(
                f"expected MotionRecord items, got {type(record).__name__} (a source must yield "
                "vmc.data.motion_sources.MotionRecord)"
            )
        counts["input"] += 1
        name = record.motion.name
        if report is not None:
            report.found += 1
        try:
            rec = record.resampled(fps, resample, max_fps_dist)  # type: ignore[arg-type]
        except FpsMismatchError:
            counts["bad_fps"] += 1
            if report is not None:
                report.drop(fps_reason(record.motion.fps, fps, resample, max_fps_dist), name)
            continue
        rec = rec.to_frame(f"{up_axis}_up")
        if chunk_frames is None:
            pieces = [rec]
        else:
            n = rec.motion.num_frames // chunk_frames
            pieces = [
                rec.slice(k * chunk_frames, (k + 1) * chunk_frames, f"#chunk{k:03d}")
                for k in range(n)
            ]
            if not pieces and rec.motion.num_frames >= min_frames:
                pieces = [rec]  # shorter than a chunk but long enough for a window
        kept = [p for p in pieces if p.motion.num_frames >= min_frames]
        counts["too_short"] += len(pieces) - len(kept) + (0 if pieces else 1)
        out += kept
        if report is not None:
            short = f"too short (< {min_frames} frames at {fps:g} fps)"
            if not kept:
                report.drop(short, name)
            else:
                report.used += 1
                for piece in pieces:
                    if piece.motion.num_frames < min_frames:
                        report.drop(short, piece.motion.name, piece=True)
    counts["kept"] = len(out)
    if report is not None:
        report.records = len(out)
    return out, counts


class MotionWindowDataset(Dataset):
    """Fixed-length motion windows with captions (module docstring).

    Args:
        records: motion clips from any source.
        num_frames: window length ``T`` (60 = 2 s at 30 fps).
        train: random windows and captions (True) or deterministic ones (False).
        translation: row 24's meaning, ``"reference"`` or ``"root"``.
        up_axis: the model's world up axis (``"y"`` or ``"z"``).
        fps: frame rate of the windows.
        chunk_frames: cut records into chunks of this many frames first (paper: 100).
        min_frames: drop clips shorter than this (default ``num_frames``); shorter clips that
            are kept are padded and masked.
        resample: ``"slerp"`` or ``"subsample"`` (the paper's frame dropping).
        max_fps_dist: ``subsample`` only: skip records whose rate is farther than this.
        text: ``"random"`` (default in training), ``"first"`` (default in validation) or
            ``"heldout"`` (first held-out caption when the record has one, else first caption).
        frames_dir: folder of rendered frames (``vmc.data.motion_frames``); ``None`` = no images.
        seed: base seed of the training randomness.
    """

    def __init__(
        self,
        records: Sequence[MotionRecord],
        *,
        num_frames: int = 60,
        train: bool = True,
        translation: str = "root",
        up_axis: str = "y",
        fps: float = 30.0,
        chunk_frames: int | None = None,
        min_frames: int | None = None,
        resample: str = "slerp",
        max_fps_dist: float | None = None,
        text: TextMode | None = None,
        frames_dir: str | os.PathLike[str] | None = None,
        seed: int = 0,
    ) -> None:
        if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 2:
            raise ValueError(f"num_frames must be an int >= 2, got {num_frames!r}")
        self.translation = check_translation_mode(translation)
        self.num_frames = num_frames
        self.train = bool(train)
        self.up_axis = up_axis
        self.text_mode: TextMode = text or ("random" if train else "first")
        if self.text_mode not in ("random", "first", "heldout"):
            raise ValueError(f"text must be 'random', 'first' or 'heldout', got {text!r}")
        self.seed = int(seed)
        min_frames = num_frames if min_frames is None else int(min_frames)
        if not 1 <= min_frames <= num_frames:
            raise ValueError(
                f"min_frames must be in [1, num_frames={num_frames}], got {min_frames}"
            )
        #: What the window preparation kept and dropped (part of the data module's summary).
        self.report = LoadReport(
            f"{'training' if self.train else 'validation'} windows ({num_frames} frames, "
            f"{fps:g} fps, {up_axis}-up)"
        )
        self.records, self.counts = prepare_records(
            records,
            fps=fps,
            up_axis=up_axis,
            chunk_frames=chunk_frames,
            min_frames=min_frames,
            resample=resample,
            max_fps_dist=max_fps_dist,
            report=self.report,
        )
        self.frames_dir = Path(frames_dir) if frames_dir is not None else None
        self.images = [self._find_image(r) for r in self.records]

    # ------------------------------------------------------------------ public
    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, item: int | tuple[int, int]) -> dict[str, Any]:
        index, epoch = (int(item[0]), int(item[1])) if isinstance(item, tuple) else (int(item), 0)
        if not 0 <= index < len(self.records):
            raise IndexError(f"index {index} out of range for {len(self.records)} clips")
        record = self.records[index]
        rng = np.random.default_rng([self.seed, epoch, index]) if self.train else None
        start, length = self._window(record.motion.num_frames, rng)
        text = self._text(record, start, length, rng)
        x = self._motion(record, start, length)
        mask = torch.zeros(self.num_frames, dtype=torch.bool)
        mask[:length] = True
        return {"x": x, "mask": mask, "text": text, "image": self.images[index], "index": index}

    def all_texts(self) -> list[str]:
        """Every distinct text an item can carry (for precomputing features), sorted."""
        texts: set[str] = set()
        for record in self.records:
            if record.frame_labels is not None:
                num = min(self.num_frames, record.motion.num_frames)
                texts |= _window_texts(record.frame_labels, num)
            elif self.text_mode == "random":
                texts |= set(record.motion.texts) if record.motion.texts else {""}
            else:
                texts.add(self._fixed_text(record))
        return sorted(texts)

    def all_images(self) -> list[str]:
        """Distinct rendered-frame paths of the clips (empty when there are none)."""
        return sorted({p for p in self.images if p})

    # ------------------------------------------------------------------ internals
    def _window(self, num_frames: int, rng: np.random.Generator | None) -> tuple[int, int]:
        length = min(self.num_frames, num_frames)
        slack = num_frames - length
        if slack == 0:
            return 0, length
        start = int(rng.integers(0, slack + 1)) if rng is not None else slack // 2
        return start, length

    def _fixed_text(self, record: MotionRecord) -> str:
        if self.text_mode == "heldout" and record.texts_heldout:
            return record.texts_heldout[0]
        texts = record.motion.texts
        return texts[0] if texts else ""

    def _text(
        self, record: MotionRecord, start: int, length: int, rng: np.random.Generator | None
    ) -> str:
        if record.frame_labels is not None:
            return window_text(record.frame_labels[start : start + length])
        texts = record.motion.texts
        if self.text_mode == "random" and rng is not None and texts:
            return texts[int(rng.integers(0, len(texts)))]
        return self._fixed_text(record)

    def _motion(self, record: MotionRecord, start: int, length: int) -> torch.Tensor:
        poses = torch.from_numpy(record.motion.poses[start : start + length])  # [L, 24, 3]
        trans = torch.from_numpy(record.motion.trans[start : start + length])  # [L, 3]
        rotations = axis_angle_to_matrix(poses)[None]
        x = smpl_to_motion(
            rotations, trans[None], translation=self.translation, up_axis=self.up_axis
        )[0]  # [25, 6, L]
        if length < self.num_frames:
            x = torch.nn.functional.pad(x, (0, self.num_frames - length))
        return x.float().contiguous()

    def _find_image(self, record: MotionRecord) -> str:
        if self.frames_dir is None:
            return ""

        for name in (record.motion.name, record.motion.name.split("#")[0]):
            path = frame_path(self.frames_dir, name)
            if path.is_file():
                return str(path)
        return ""


def _window_texts(labels: np.ndarray, length: int) -> set[str]:
    """Distinct :func:`window_text` values over every ``length``-frame window of ``labels``.

    A sliding multiset of labels: O(T) instead of O(T * length).
    """
    labels = [str(x) for x in labels]
    counter = Counter(labels[:length])
    out = {" and ".join(sorted(counter))}
    for start in range(1, len(labels) - length + 1):
        gone, new = labels[start - 1], labels[start + length - 1]
        if gone != new:
            counter[gone] -= 1
            if counter[gone] == 0:
                del counter[gone]
            counter[new] += 1
            out.add(" and ".join(sorted(counter)))
    return out
