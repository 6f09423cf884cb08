"""The one motion type: :class:`Motion` (SMPL axis-angle poses, translation, fps, world frame).

Every producer of motions (the procedural library, the data sources, the text → motion models,
the file readers) returns :class:`Motion`; every consumer (writers, posing, training windows)
takes it. Containers that carry more than a motion hold one (``MotionRecord``: held-out texts and
per-frame labels; ``ProceduralMotion``: the action and its drawn parameters; ``Resampled``: the
source frame of each output frame; ``MotionResult``: model tensors and latents).

Validation of shapes, finite values and the frame rate happens here, in ``__post_init__``, with
errors that name the motion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from vmc.geometry.frames import FRAMES, convert_frame, up_axis_of_frame
from vmc.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle

__all__ = ["Motion"]

Segment = tuple[str, int, int]


def _float_array(value: object, what: str) -> np.ndarray:
    arr = np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value)
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{what} must be numbers, got dtype {arr.dtype}")
    return arr


@dataclass
class Motion:
    """One SMPL motion in a named world frame.

    Attributes:
        poses: ``float32 [T, 24, 3]`` axis-angle in SMPL joint order; joint 0 is the root
            orientation in ``frame``, the others local rotations relative to SMPL's T-pose.
            ``[T, 72]`` is accepted and reshaped.
        trans: ``float32 [T, 3]`` translation in metres, smplx convention: the posed pelvis is at
            ``J0 + trans`` with ``J0`` the rest pelvis (see ``root_rest``).
        fps: frames per second (> 0).
        frame: world frame of the root, one of :data:`vmc.geometry.frames.FRAMES`:
            ``"y_up"`` (ours), ``"z_up"`` (AMASS, the paper model) or ``"image"``.
        texts: captions/prompts of the whole motion (may be empty).
        segments: ``(text, start, end)`` frame spans when several prompts were chained.
        betas: ``float32 [nb]`` shape coefficients of the body ``trans`` refers to, or ``None``.
        gender: ``"neutral"``, ``"male"``, ``"female"`` or ``None``.
        root_rest: ``float32 [3]`` rest pelvis ``J0`` of the body ``trans`` refers to, in the
            body's rest coordinates. Zero for the procedural skeleton, the embedded body and the
            models trained on them (``trans`` is then the pelvis position). ``None``: not recorded
            (real AMASS files: ``J0`` of SMPL-H with ``betas``); ``trans`` then fits whichever
            body poses it, and world rotations treat ``J0`` as the origin.
        name: identifier (file name, relative path, ``#chunk`` suffixes ...).
        source: which source made it (``"procedural"``, ``"amass"``, ``"folder"``, ``"embedded"``
            ...).
    """

    poses: np.ndarray
    trans: np.ndarray
    fps: float
    frame: str = "y_up"
    texts: list[str] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    betas: np.ndarray | None = None
    gender: str | None = None
    root_rest: np.ndarray | None = None
    name: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        who = f"Motion {self.name!r}" if self.name else "Motion"
        p = _float_array(self.poses, f"{who}: poses")
        if p.ndim == 2 and p.shape[1] == 72:
            p = p.reshape(-1, 24, 3)
        if p.ndim != 3 or p.shape[1:] != (24, 3) or p.shape[0] < 1:
            raise ValueError(
                f"{who}: poses must be axis-angle [T, 24, 3] (or [T, 72]) with T >= 1, "
                f"got {p.shape}"
            )
        t = _float_array(self.trans, f"{who}: trans")
        if t.shape != (p.shape[0], 3):
            raise ValueError(f"{who}: trans must be [T, 3] = {(p.shape[0], 3)}, got {t.shape}")
        if not (np.isfinite(p).all() and np.isfinite(t).all()):
            raise ValueError(f"{who}: poses and trans must be finite")
        try:
            fps = float(self.fps)
        except (TypeError, ValueError):
            raise ValueError(f"{who}: fps must be a positive number, got {self.fps!r}") from None
        if not (np.isfinite(fps) and fps > 0):
            raise ValueError(f"{who}: fps must be a positive number, got {self.fps!r}")
        if self.frame not in FRAMES:
            raise ValueError(f"{who}: frame must be one of {FRAMES}, got {self.frame!r}")
        if isinstance(self.texts, str):
            raise ValueError(f"{who}: texts must be a list of strings, got a str")
        self.poses = np.ascontiguousarray(p, dtype=np.float32)
        self.trans = np.ascontiguousarray(t, dtype=np.float32)
        self.fps = fps
        self.texts = [str(x) for x in self.texts]
        segments = []
        for seg in self.segments:
            text, start, end = seg
            if not 0 <= int(start) <= int(end) <= p.shape[0]:
                raise ValueError(f"{who}: segment {seg!r} outside [0, {p.shape[0]}]")
            segments.append((str(text), int(start), int(end)))
        self.segments = segments
        if self.betas is not None:
            b = _float_array(self.betas, f"{who}: betas").astype(np.float32)
            if b.ndim != 1 or not np.isfinite(b).all():
                raise ValueError(f"{who}: betas must be a finite 1-D array [nb], got {b.shape}")
            self.betas = b
        if self.gender is not None and self.gender not in ("neutral", "male", "female"):
            raise ValueError(
                f"{who}: gender must be 'neutral', 'male' or 'female', got {self.gender!r}"
            )
        if self.root_rest is not None:
            j0 = _float_array(self.root_rest, f"{who}: root_rest").astype(np.float32)
            if j0.shape != (3,) or not np.isfinite(j0).all():
                raise ValueError(f"{who}: root_rest must be 3 finite numbers, got {j0.shape}")
            self.root_rest = j0

    # ---------------------------------------------------------------- views
    @property
    def num_frames(self) -> int:
        return int(self.poses.shape[0])

    @property
    def poses72(self) -> np.ndarray:
        """``float32 [T, 72]`` flattened axis-angle (AMASS layout)."""
        return self.poses.reshape(self.num_frames, 72)

    @property
    def up_axis(self) -> str:
        """``"y"`` or ``"z"`` for the world frames (the ``up_axis`` key of motion files)."""
        return up_axis_of_frame(self.frame)

    def tensors(
        self, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(poses [T, 24, 3], trans [T, 3])`` as tensors."""
        return (
            torch.from_numpy(self.poses.copy()).to(device=device, dtype=dtype),
            torch.from_numpy(self.trans.copy()).to(device=device, dtype=dtype),
        )

    def rotations(
        self, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
    ) -> torch.Tensor:
        """Joint rotation matrices ``[T, 24, 3, 3]``."""
        return axis_angle_to_matrix(self.tensors(torch.float64, device)[0]).to(dtype)

    @classmethod
    def from_torch(
        cls, poses: torch.Tensor, trans: torch.Tensor, fps: float, **fields: object
    ) -> Motion:
        """A motion from tensors: ``poses`` axis-angle ``[T, 24, 3]``/``[T, 72]`` or rotation
        matrices ``[T, 24, 3, 3]``; ``trans [T, 3]``; other fields as keywords."""
        p = poses.detach().cpu()
        if p.ndim == 4:
            p = matrix_to_axis_angle(p.to(torch.float64))
        return cls(p.numpy(), trans.detach().cpu().numpy(), fps, **fields)  # type: ignore[arg-type]

    # ---------------------------------------------------------------- edits
    def slice(self, start: int, stop: int, suffix: str = "") -> Motion:
        """Frames ``[start, stop)`` (``name + suffix``); segments are clipped and shifted."""
        if not 0 <= start < stop <= self.num_frames:
            raise ValueError(
                f"{self.name or 'motion'}: slice [{start}, {stop}) out of range for "
                f"{self.num_frames} frames"
            )
        segments = [
            (text, max(s, start) - start, min(e, stop) - start)
            for text, s, e in self.segments
            if e > start and s < stop
        ]
        return replace(
            self,
            poses=self.poses[start:stop].copy(),
            trans=self.trans[start:stop].copy(),
            segments=segments,
            texts=list(self.texts),
            name=self.name + suffix,
        )

    def rebased(self, root_rest: np.ndarray | Sequence[float] | torch.Tensor) -> Motion:
        """The same pelvis trajectory for a body whose rest pelvis is ``root_rest`` ``[3]``:
        ``trans' = trans + J0_old - J0_new`` (smplx: pelvis = ``J0 + trans``). A motion without
        ``root_rest`` (AMASS convention: trans fits the posing body) only records the new one."""
        new = _float_array(root_rest, "root_rest").astype(np.float32).reshape(-1)
        if self.root_rest is None:
            return replace(self, root_rest=new, texts=list(self.texts))
        return replace(
            self, trans=self.trans + (self.root_rest - new), root_rest=new, texts=list(self.texts)
        )

    def to_frame(self, frame: str, *, face_front: bool = False) -> Motion:
        """This motion in world ``frame`` (:func:`vmc.geometry.frames.convert_frame`): the root
        orientation and ``trans`` rotated by the fixed frame rotation about the rest pelvis
        (``root_rest``). ``face_front`` also turns it about the up axis to face the frame's front
        at frame 0 (+Z in ``y_up``, -Y in ``z_up``, the camera in ``image``)."""
        if frame == self.frame and not face_front:
            return self
        root = axis_angle_to_matrix(torch.from_numpy(self.poses[:, 0].astype(np.float64)))
        trans = torch.from_numpy(self.trans.astype(np.float64))
        j0 = None if self.root_rest is None else torch.from_numpy(self.root_rest.astype(np.float64))
        root, trans = convert_frame(
            root, trans, self.frame, frame, face_front_at_start=face_front, root_rest=j0
        )
        poses = self.poses.copy()
        # Only the root rotation changes: other joints are local to their parents.
        poses[:, 0] = matrix_to_axis_angle(root).numpy()
        return replace(self, poses=poses, trans=trans.numpy(), frame=frame, texts=list(self.texts))
