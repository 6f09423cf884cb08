"""One motion clip from any source: :class:`MotionRecord`, and the Z-up → Y-up rule."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from vmc.data.resample import ResampleMethod, resample_motion
from vmc.motion.export import z_up_to_y_up

__all__ = ["MotionRecord", "window_text"]


def window_text(frame_labels: np.ndarray | list[str]) -> str:
    """MotionCLIP's text for a span of frames (spec §2.2): the distinct per-frame labels,
    sorted lexicographically (as ``np.unique`` sorts them), joined with ``" and "``.

    The empty label of unlabelled frames takes part, so a span with an unlabelled frame and
    "walk" gives ``" and walk"`` (a quirk the reference has, kept for parity).
    """
    labels = np.asarray(frame_labels).reshape(-1).astype(np.str_)
    return " and ".join(np.unique(labels).tolist())  # code-point order, as sorted() on str


@dataclass
class MotionRecord:
    """A motion clip with its texts, in SMPL axis-angle form.

    Attributes:
        poses: ``float32 [T,24,3]`` axis-angle in SMPL joint order; joint 0 is the root
            orientation in the world frame named by ``up_axis``, the others local rotations.
        trans: ``float32 [T,3]`` root translation in metres, same world frame.
        fps: frames per second.
        texts: captions/labels of the whole clip (any may be used for training; may be empty).
        source: which source made it (``"amass_babel"``, ``"humanml3d"``, ``"folder"`` ...).
        up_axis: the world's up axis: ``"z"`` for AMASS-derived data, ``"y"`` for ours.
        name: a stable identifier (relative path, plus ``#...`` for segments and chunks).
        betas: ``float32 [nb]`` shape coefficients when the source has them, else ``None``.
        texts_heldout: captions never used for training (procedural library), for evaluation.
        frame_labels: optional ``str [T]`` per-frame labels (BABEL raw labels; ``""`` =
            unlabelled): the text of a training window is ``window_text(frame_labels[a:b])``.
            Not part of the shared contract's required fields; sources without frame-level
            labels leave it ``None``.
    """

    poses: np.ndarray
    trans: np.ndarray
    fps: float
    texts: list[str]
    source: str
    up_axis: Literal["y", "z"]
    name: str
    betas: np.ndarray | None = None
    texts_heldout: list[str] = field(default_factory=list)
    frame_labels: np.ndarray | None = None

    def __post_init__(self) -> None:
        p = np.asarray(self.poses)
        if p.ndim == 2 and p.shape[1] == 72:
            p = p.reshape(-1, 24, 3)
        if p.ndim != 3 or p.shape[1:] != (24, 3) or p.shape[0] < 1:
            raise ValueError(
                f"MotionRecord {self.name!r}: poses must be [T,24,3] (or [T,72]) with T >= 1, "
                f"got {np.shape(self.poses)}"
            )
        t = np.asarray(self.trans)
        if t.shape != (p.shape[0], 3):
            raise ValueError(
                f"MotionRecord {self.name!r}: trans must be [T,3] = {(p.shape[0], 3)}, "
                f"got {t.shape}"
            )
        if not (np.isfinite(p).all() and np.isfinite(t).all()):
            raise ValueError(f"MotionRecord {self.name!r}: poses/trans must be finite")
        if not (np.isfinite(self.fps) and float(self.fps) > 0):
            raise ValueError(f"MotionRecord {self.name!r}: fps must be > 0, got {self.fps!r}")
        if self.up_axis not in ("y", "z"):
            raise ValueError(
                f"MotionRecord {self.name!r}: up_axis must be 'y' or 'z', got {self.up_axis!r}"
            )
        self.poses = p.astype(np.float32, copy=False)
        self.trans = t.astype(np.float32, copy=False)
        self.fps = float(self.fps)
        self.texts = [str(x) for x in self.texts]
        self.texts_heldout = [str(x) for x in self.texts_heldout]
        if self.betas is not None:
            self.betas = np.asarray(self.betas, dtype=np.float32).reshape(-1)
        if self.frame_labels is not None:
            labels = np.asarray(self.frame_labels, dtype=np.str_).reshape(-1)
            if labels.shape[0] != p.shape[0]:
                raise ValueError(
                    f"MotionRecord {self.name!r}: frame_labels must have one label per frame "
                    f"({p.shape[0]}), got {labels.shape[0]}"
                )
            self.frame_labels = labels

    @property
    def num_frames(self) -> int:
        return int(self.poses.shape[0])

    @property
    def poses72(self) -> np.ndarray:
        """``float32 [T,72]`` flattened axis-angle (AMASS layout)."""
        return self.poses.reshape(self.num_frames, 72)

    def slice(self, start: int, stop: int, suffix: str = "") -> MotionRecord:
        """Frames ``[start, stop)`` as a new record (``name + suffix``); texts are kept, except
        that with ``frame_labels`` the texts become ``[window_text(labels of the slice)]``."""
        if not 0 <= start < stop <= self.num_frames:
            raise ValueError(
                f"{self.name}: slice [{start}, {stop}) out of range for {self.num_frames} frames"
            )
        labels = None if self.frame_labels is None else self.frame_labels[start:stop]
        texts = list(self.texts) if labels is None else [window_text(labels)]
        return replace(
            self,
            poses=self.poses[start:stop].copy(),
            trans=self.trans[start:stop].copy(),
            texts=texts,
            name=self.name + suffix,
            frame_labels=labels,
            texts_heldout=list(self.texts_heldout),
        )

    def resampled(
        self, fps: float, method: ResampleMethod = "slerp", max_fps_dist: float | None = None
    ) -> MotionRecord:
        """This motion at ``fps`` (see :mod:`vmc.data.resample`); per-frame labels follow the
        nearest source frame. Returns ``self`` when the rate already matches."""
        if abs(float(fps) - self.fps) < 1e-9:
            return self
        out = resample_motion(self.poses, self.trans, self.fps, fps, method, max_fps_dist)
        labels = None if self.frame_labels is None else self.frame_labels[out.source_index]
        return replace(self, poses=out.poses, trans=out.trans, fps=out.fps, frame_labels=labels)

    def to_y_up(self, root_rest: np.ndarray | None = None) -> MotionRecord:
        """This motion in the Y-up world (a copy; a Y-up record is returned unchanged).

        Rule (Z-up → Y-up): the world is rotated by ``R = R_x(-90°)``, i.e. a world point
        ``(x, y, z)`` becomes ``(x, z, -y)``: +Z (up) → +Y, +Y → -Z. The root orientation becomes
        ``R @ R_root`` (other joints are local and do not change) and the translation
        ``R @ (trans + J0) - J0``, where ``J0`` is the body's rest pelvis position
        (``root_rest``, default zero). With the right ``J0`` every posed joint and vertex is
        exactly ``R`` times the original; with ``J0 = 0`` the trajectory is the rotated one and
        the whole motion is shifted by the constant ``J0 - R J0`` (about 0.3 m for SMPL).
        An AMASS subject standing upright (root ≈ ``R_x(+90°)``, the SMPL body's +Y mapped to
        world +Z) gets a root near identity: head up along +Y, like SMPL's rest pose and this
        project's motions.
        """
        if self.up_axis == "y":
            return self
        poses, trans = z_up_to_y_up(self.poses72, self.trans, root_rest)
        return replace(
            self,
            poses=poses.reshape(-1, 24, 3),
            trans=trans,
            up_axis="y",
            texts=list(self.texts),
            texts_heldout=list(self.texts_heldout),
        )
