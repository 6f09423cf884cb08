"""One training clip from any source: :class:`MotionRecord` (a Motion plus labels)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from vmc.motion.resample import ResampleMethod, resample_motion
from vmc.motion.types import Motion

__all__ = ["MotionRecord", "window_text"]


def window_text(frame_labels: np.ndarray | list[str]) -> str:
    """MotionCLIP's text for a span of frames (``docs/data.md``): the distinct per-frame labels,
    sorted lexicographically (as ``np.unique`` sorts them), joined with ``" and "``.

    The empty label of unlabelled frames takes part, so a span with an unlabelled frame and
    "walk" gives ``" and walk"`` (a quirk the reference has, kept for parity).
    """
    labels = np.asarray(frame_labels).reshape(-1).astype(np.str_)
    return " and ".join(np.unique(labels).tolist())  # code-point order, as sorted() on str


@dataclass
class MotionRecord:
    """A training clip: a :class:`~vmc.motion.types.Motion` plus what only data needs.

    Attributes:
        motion: the clip (SMPL axis-angle ``[T,24,3]``, ``trans [T,3]``, ``fps``, its world
            ``frame``: ``"z_up"`` for AMASS-derived data, ``"y_up"`` for ours), with its captions/
            labels in ``texts`` (any may be used for training; may be empty), ``source`` (which
            source made it: ``"amass_babel"``, ``"humanml3d"``, ``"folder"`` ...), ``name`` (a
            stable identifier: relative path, plus ``#...`` for segments and chunks) and
            ``betas`` when the source has them.
        texts_heldout: captions never used for training (procedural library), for evaluation.
        frame_labels: optional ``str [T]`` per-frame labels (BABEL raw labels; ``""`` =
            unlabelled): the text of a training window is ``window_text(frame_labels[a:b])``.
            Sources without frame-level labels leave it ``None``.
    """

    motion: Motion
    texts_heldout: list[str] = field(default_factory=list)
    frame_labels: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.motion, Motion):
            raise ValueError(f"MotionRecord.motion must be a Motion, got {type(self.motion)}")
        if self.motion.frame not in ("y_up", "z_up"):
            raise ValueError(
                f"MotionRecord {self.motion.name!r}: training data lives in 'y_up' or 'z_up', "
                f"got frame {self.motion.frame!r}"
            )
        self.texts_heldout = [str(x) for x in self.texts_heldout]
        if self.frame_labels is not None:
            labels = np.asarray(self.frame_labels, dtype=np.str_).reshape(-1)
            if labels.shape[0] != self.motion.num_frames:
                raise ValueError(
                    f"MotionRecord {self.motion.name!r}: frame_labels must have one label per "
                    f"frame ({self.motion.num_frames}), got {labels.shape[0]}"
                )
            self.frame_labels = labels

    def slice(self, start: int, stop: int, suffix: str = "") -> MotionRecord:
        """Frames ``[start, stop)`` as a new record (``name + suffix``); texts are kept, except
        that with ``frame_labels`` the texts become ``[window_text(labels of the slice)]``."""
        motion = self.motion.slice(start, stop, suffix)
        labels = None if self.frame_labels is None else self.frame_labels[start:stop]
        if labels is not None:
            motion = replace(motion, texts=[window_text(labels)])
        return MotionRecord(motion, list(self.texts_heldout), labels)

    def resampled(
        self, fps: float, method: ResampleMethod = "slerp", max_fps_dist: float | None = None
    ) -> MotionRecord:
        """This clip at ``fps`` (see :mod:`vmc.motion.resample`); per-frame labels follow the
        nearest source frame. Returns ``self`` when the rate already matches."""
        if abs(float(fps) - self.motion.fps) < 1e-9:
            return self
        out = resample_motion(self.motion, fps, method, max_fps_dist)
        labels = None if self.frame_labels is None else self.frame_labels[out.source_index]
        return MotionRecord(out.motion, list(self.texts_heldout), labels)

    def to_frame(self, frame: str) -> MotionRecord:
        """This clip in world ``frame`` (``"y_up"`` or ``"z_up"``; :meth:`Motion.to_frame`, the
        rule of :mod:`vmc.geometry.frames`: Z-up → Y-up rotates the world by ``R_x(-90°)``, an
        upright AMASS subject, root ≈ ``R_x(+90°)``, getting a root near identity). The
        translation is rotated about the rest pelvis ``root_rest`` (unknown for AMASS: taken at
        the origin, which shifts the whole clip by a constant, about 0.3 m for SMPL)."""
        if frame == self.motion.frame:
            return self
        motion = self.motion.to_frame(frame)
        return MotionRecord(motion, list(self.texts_heldout), self.frame_labels)
