"""Text -> motion inference and latent editing with a MotionCLIP model (pure torch).

What the reference does (``docs/conventions.md#motionclip-text-to-motion``): ``z =
text_encoder(prompts)``, **not normalised**, is fed straight to the decoder as the latent (the
motion latent space was trained to match the text feature by cosine), decoded with ``T = 60`` and an
all-true mask; then the root is overwritten with ``R_x(pi)``. :class:`TextToMotion` does the same by
default (``overwrite_root`` is an option, off by default so that trained root orientations and
trajectories survive) and adds:

* **Longer motions** than the trained window: windows are decoded, each from its own latent
  (constant for one prompt, interpolated between prompts in :meth:`TextToMotion.sequence`), and
  chained. Each new window is (1) phase-matched when its latent equals the previous one: the
  window start ``s`` whose first ``overlap`` body poses are nearest to the tail of the motion so
  far is used, so cyclic motions continue instead of restarting; (2) turned about the up axis so
  its root heading continues the previous one, and shifted so that the root trajectory continues
  (``translation="root"``: horizontal position; the height stays what the model produced);
  (3) cross-faded over ``overlap`` frames with smoothstep weights: rotations by quaternion slerp,
  row 24 linearly.
* **Several prompts in sequence** (:meth:`TextToMotion.sequence`), **interpolation** between texts,
  motions or latents (:meth:`TextToMotion.interpolate`, linear in the unnormalised latent space as
  the paper), **latent arithmetic** (:meth:`TextToMotion.arithmetic`: ``base + sum(plus) -
  sum(minus)``, the paper's editing ``base - v_start + v_end``) and **batch inference** over a file
  of prompts (:meth:`TextToMotion.generate_from_file`).

All motions are ``[B, 25, 6, T]`` in the model's world frame (``up_axis``: ``"y"`` for this
project's models, ``"z"`` for the paper checkpoint trained on AMASS); see
:mod:`vmc.motion.convert` for row 24. Each sample is also returned as a
:class:`~vmc.motion.types.Motion` in that frame (:mod:`vmc.geometry.frames` converts it).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from vmc.geometry.rotations import (
    matrix_to_quaternion,
    matrix_to_rot6d_rows,
    quaternion_to_matrix,
    rot6d_rows_to_matrix,
    rotation_about_y,
    rotation_about_z,
)
from vmc.motion.caption_prior import CaptionPrior, blend_vote
from vmc.motion.convert import check_translation_mode, motion_to_smpl
from vmc.motion.model import MotionCLIP, overwrite_root_orientation
from vmc.motion.prior import nearest_latents, pick_latents
from vmc.motion.text_head import apply_text_head
from vmc.motion.types import Motion
from vmc.motion.writing import write_motion_files
from vmc.text.base import TextEncoder

__all__ = ["MotionResult", "TextToMotion", "read_prompt_file", "slerp", "slugify"]

#: Something that can be turned into a latent: a text, a motion ``[25,6,T]``/``[1,25,6,T]``, or a
#: latent ``[D]``.
LatentSource = str | torch.Tensor


@dataclass
class MotionResult:
    """Generated motions: the model's tensors, latents, and one :class:`Motion` per sample.

    Attributes:
        x: float ``[B, 25, 6, T]`` motion tensors (model world frame).
        motions: ``B`` motions in the model's world (``frame`` ``"y_up"``/``"z_up"``, the model's
            fps, zero trans for ``translation="reference"``): ``texts`` = the sample's
            description (for :meth:`TextToMotion.sequence`: the prompts, with ``segments``).
        latents: float ``[B, D]`` latent of each sample (for a sequence: ``[P, D]``, one per
            prompt).
    """

    x: torch.Tensor
    motions: list[Motion]
    latents: torch.Tensor

    @property
    def num_frames(self) -> int:
        return int(self.x.shape[-1])


def slerp(q0: torch.Tensor, q1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of unit quaternions ``[..., 4]`` (wxyz), shortest path.

    ``t`` broadcasts against ``q0[..., :1]``; ``t = 0`` gives ``q0`` and ``t = 1`` gives ``±q1``.
    Nearly equal quaternions fall back to normalised lerp (no 0/0).
    """
    dot = (q0 * q1).sum(-1, keepdim=True)
    q1 = torch.where(dot < 0, -q1, q1)  # q and -q are the same rotation: take the short arc
    dot = dot.abs().clamp(max=1.0)
    theta = torch.acos(dot)
    sin = torch.sin(theta)
    near = sin < 1e-6
    safe = torch.where(near, torch.ones_like(sin), sin)
    w0 = torch.where(near, 1.0 - t, torch.sin((1.0 - t) * theta) / safe)
    w1 = torch.where(near, t, torch.sin(t * theta) / safe)
    out = w0 * q0 + w1 * q1
    return out / out.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def _smoothstep(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``n`` crossfade weights strictly inside (0, 1), rising smoothly (zero slope at the ends)."""
    u = torch.arange(1, n + 1, dtype=dtype, device=device) / (n + 1)
    return u * u * (3.0 - 2.0 * u)


def read_prompt_file(path: str | os.PathLike[str]) -> list[str]:
    """Prompts of a text file: one per line; blank lines and lines starting with ``#`` skipped.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file holds no prompt.
    """
    src = Path(path)
    if src.is_dir():
        raise ValueError(f"prompts={src} is a folder, not a text file of prompts (one per line)")
    if not src.is_file():
        raise FileNotFoundError(f"prompt file not found: {src}")
    try:
        text = src.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(
            f"prompts={src} is not a UTF-8 text file (one prompt per line expected)"
        ) from None
    prompts = []
    for line in text.splitlines():
        text = line.strip()
        if text and not text.startswith("#"):
            prompts.append(text)
    if not prompts:
        raise ValueError(f"{src}: no prompts (one per line; lines starting with '#' are comments)")
    return prompts


def slugify(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return slug[:limit].rstrip("_") or "motion"


class TextToMotion:
    """Text -> motion with a MotionCLIP decoder and a frozen text encoder.

    Args:
        model: a :class:`~vmc.motion.model.MotionCLIP`; it is put in eval mode (no dropout).
        text_encoder: a :class:`~vmc.text.TextEncoder` whose ``dim`` equals the model's latent
            size (the text feature is the latent).
        translation: meaning of row 24 the model was trained with, ``"reference"`` or
            ``"root"`` (:mod:`vmc.motion.convert`).
        fps: frame rate of the model's training data (30 for the paper model).
        window: trained window length in frames (60 for the paper model).
        overlap: frames cross-faded between chained windows (default ``window // 4``).
        up_axis: the model's world up axis (``"y"`` ours, ``"z"`` AMASS / the paper model).
        overwrite_root: apply the reference's generate-time root overwrite (``R_x(pi)`` on every
            frame; :func:`~vmc.motion.model.overwrite_root_orientation`).
        normalize_text: L2-normalise text features before decoding (the reference does not).
        text_scale: rescale text features to this norm before decoding (models trained with
            the ``text_rc`` loss record it in their export as ``text_scale``); ``None`` keeps
            them as they are. Overrides ``normalize_text``.
        text_center: ``[D]`` subtracted from every text feature first (models trained with
            ``text_center`` record it in their export); ``None`` = no centering.
        latent_bank: ``[N, D]`` motion latents of the training clips (``vmc.motion.prior``):
            generation then decodes one of the ``prior_k`` bank latents nearest to each text
            latent (the nearest; with a call's ``generator``, one drawn by similarity) instead
            of the text latent itself. ``None`` = the reference behaviour.
        prior_k: candidate bank latents per text (with ``latent_bank``).
        prior_mean: decode the *mean* of the ``prior_k`` nearest bank latents instead (the
            first embedded model's rule; kept to compare: it averages different performances).
        latent_noise: std of Gaussian noise added to each window's latent, relative to the
            latent's RMS (0 = deterministic MotionCLIP, as the reference); drawn from the
            ``generator`` given to the call.
        match_phase: phase-match chained windows of the same latent (module docstring).
        root_rest: ``[3]`` rest pelvis of the skeleton the model's training ``trans`` referred to
            (zero for the procedural library: ``trans`` is the pelvis position), recorded on the
            output motions; ``None`` = not known (AMASS-trained models).
        text_head: ``[D, D]`` learnt text head applied to every text latent after centring
            (:mod:`vmc.motion.text_head`); ``None`` = the text latent as encoded.
        caption_prior: a :class:`~vmc.motion.caption_prior.CaptionPrior` whose vote is added to
            every text latent after the head (``None`` = none); needs ``prior_encoder``.
        prior_encoder: the sentence encoder the caption prior's features come from.
    """

    def __init__(
        self,
        model: MotionCLIP,
        text_encoder: TextEncoder,
        *,
        translation: str,
        fps: float,
        window: int = 60,
        overlap: int | None = None,
        up_axis: str = "y",
        overwrite_root: bool = False,
        normalize_text: bool = False,
        text_scale: float | None = None,
        text_center: Sequence[float] | torch.Tensor | None = None,
        latent_bank: torch.Tensor | None = None,
        prior_k: int = 4,
        prior_mean: bool = False,
        latent_noise: float = 0.0,
        match_phase: bool = True,
        root_rest: Sequence[float] | None = None,
        text_head: torch.Tensor | None = None,
        caption_prior: CaptionPrior | None = None,
        prior_encoder: TextEncoder | None = None,
    ) -> None:
        self.translation = check_translation_mode(translation)
        if not isinstance(model, MotionCLIP):
            raise ValueError(f"model must be a vmc.motion.model.MotionCLIP, got {type(model)}")
        dim = getattr(text_encoder, "dim", None)
        if dim != model.latent_dim:
            raise ValueError(
                f"text encoder {getattr(text_encoder, 'name', type(text_encoder).__name__)!r} "
                f"gives {dim}-d features but the model's latent size is {model.latent_dim}: "
                "use the encoder the model was trained with"
            )
        if not (isinstance(fps, int | float) and math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        if isinstance(window, bool) or not isinstance(window, int) or window < 2:
            raise ValueError(f"window must be an int >= 2, got {window!r}")
        overlap = window // 4 if overlap is None else overlap
        if isinstance(overlap, bool) or not isinstance(overlap, int) or not 1 <= overlap < window:
            raise ValueError(f"overlap must be an int in [1, window={window}), got {overlap!r}")
        if up_axis not in ("y", "z"):
            raise ValueError(f"up_axis must be 'y' or 'z', got {up_axis!r}")
        if not (math.isfinite(latent_noise) and latent_noise >= 0):
            raise ValueError(f"latent_noise must be >= 0, got {latent_noise!r}")
        self.model = model.eval()
        self.text_encoder = text_encoder
        self.fps = float(fps)
        self.window = window
        self.overlap = overlap
        self.up_axis = up_axis
        self.overwrite_root = overwrite_root
        self.normalize_text = normalize_text
        if text_scale is not None and not (math.isfinite(text_scale) and text_scale > 0):
            raise ValueError(f"text_scale must be a positive number or None, got {text_scale!r}")
        self.text_scale = None if text_scale is None else float(text_scale)
        self.text_center = None
        if text_center is not None:
            center = torch.as_tensor(text_center, dtype=torch.float32).reshape(-1)
            if center.shape[0] != model.latent_dim or not torch.isfinite(center).all():
                raise ValueError(
                    f"text_center must be {model.latent_dim} finite numbers, got "
                    f"{tuple(center.shape)}"
                )
            self.text_center = center
        if latent_bank is not None and (
            latent_bank.ndim != 2 or latent_bank.shape[1] != model.latent_dim
        ):
            raise ValueError(
                f"latent_bank must be [N, {model.latent_dim}], got {tuple(latent_bank.shape)}"
            )
        if isinstance(prior_k, bool) or not isinstance(prior_k, int) or prior_k < 1:
            raise ValueError(f"prior_k must be a positive int, got {prior_k!r}")
        self.latent_bank = None if latent_bank is None else latent_bank.float()
        d = model.latent_dim
        if text_head is not None and (
            text_head.shape != (d, d) or not torch.isfinite(text_head).all()
        ):
            raise ValueError(
                f"text_head must be a finite [{d}, {d}] tensor, got {tuple(text_head.shape)}"
            )
        self.text_head = None if text_head is None else text_head.float()
        if caption_prior is not None:
            if caption_prior.latent_dim != d:
                raise ValueError(
                    f"caption_prior targets are {caption_prior.latent_dim}-d, the model's latents "
                    f"{d}-d"
                )
            if getattr(prior_encoder, "dim", None) != caption_prior.feature_dim:
                raise ValueError(
                    f"caption_prior needs a {caption_prior.feature_dim}-d prior_encoder "
                    f"({caption_prior.encoder}), got {getattr(prior_encoder, 'dim', None)}"
                )
        self.caption_prior = caption_prior
        self.prior_encoder = prior_encoder if caption_prior is not None else None
        self.prior_k = prior_k
        self.prior_mean = bool(prior_mean)
        self.latent_noise = float(latent_noise)
        self.match_phase = match_phase
        self.root_rest = None if root_rest is None else [float(v) for v in root_rest]
        # Smallest number of new frames a chained window must add (bounds the phase search).
        self.min_new_frames = max(1, (window - overlap) // 3)

    # ------------------------------------------------------------------ latents
    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """Text latents ``[B, D]`` (the text features, unnormalised unless ``normalize_text``)."""
        if isinstance(texts, str):
            raise ValueError("texts must be a list of strings, got a single str; wrap it: [text]")
        texts = list(texts)
        if not texts or not all(isinstance(t, str) for t in texts):
            raise ValueError("texts must be a non-empty list of strings")
        z = self.text_encoder.encode(texts).to(self.device, torch.float32)
        if self.text_center is not None:
            z = z - self.text_center.to(z)
        if self.text_head is not None:
            z = apply_text_head(z, self.text_head)
        if self.caption_prior is not None:
            vote = self.caption_prior.vote(self.prior_encoder.encode(texts))
            z = blend_vote(z, vote)
        if self.text_scale is not None:
            z = torch.nn.functional.normalize(z, dim=-1) * self.text_scale
        elif self.normalize_text:
            z = torch.nn.functional.normalize(z, dim=-1)
        return z

    def generation_latents(
        self, texts: Sequence[str], generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Latents ``[B, D]`` that generation decodes for ``texts``: the text latents, or with a
        latent bank one of the ``prior_k`` nearest bank latents (the nearest without a
        ``generator``, else drawn by similarity; ``vmc.motion.prior``)."""
        z = self.encode_texts(texts)
        if self.latent_bank is None:
            return z
        bank = self.latent_bank.to(z.device)
        if self.prior_mean:
            return nearest_latents(z, bank, self.prior_k)
        return pick_latents(z, bank, self.prior_k, generator)

    def latent_of(self, item: LatentSource) -> torch.Tensor:
        """Latent ``[D]`` of a text, a motion (``[25,6,T]`` or ``[1,25,6,T]``, encoded with
        ``model.encode``) or a latent ``[D]`` (returned as is)."""
        if isinstance(item, str):
            return self.generation_latents([item])[0]
        if not isinstance(item, torch.Tensor):
            raise ValueError(f"expected a text, a motion tensor or a latent, got {type(item)}")
        d = self.model.latent_dim
        if item.ndim == 1:
            if item.shape[0] != d:
                raise ValueError(f"a latent must be [{d}], got {tuple(item.shape)}")
            return item.to(self.device, torch.float32)
        motion = item[None] if item.ndim == 3 else item
        if motion.ndim != 4 or motion.shape[0] != 1:
            raise ValueError(
                f"a motion must be [25, 6, T] or [1, 25, 6, T], got {tuple(item.shape)}"
            )
        with torch.no_grad():
            return self.model.encode(motion.to(self.device, torch.float32))[0]

    @staticmethod
    def _describe(item: LatentSource) -> str:
        if isinstance(item, str):
            return item
        return "<latent>" if item.ndim == 1 else f"<motion {item.shape[-1]} frames>"

    def _noisy(self, z: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        if self.latent_noise == 0:
            return z
        noise = torch.randn(z.shape, generator=generator, device="cpu").to(z)
        rms = z.pow(2).mean(-1, keepdim=True).sqrt()
        return z + self.latent_noise * rms * noise

    # ------------------------------------------------------------------ decoding
    def decode(self, z: torch.Tensor, num_frames: int | None = None) -> torch.Tensor:
        """One window per latent: ``z [B, D]`` -> ``[B, 25, 6, T]`` (``T = window`` default)."""
        with torch.no_grad():
            return self.model.decode(z, num_frames=num_frames or self.window)

    def _finish(
        self,
        x: torch.Tensor,
        texts: list[str],
        latents: torch.Tensor,
        segments: list[tuple[str, int, int]] | None = None,
    ) -> MotionResult:
        if self.overwrite_root:
            x = overwrite_root_orientation(x)
        rotations, trans = motion_to_smpl(x, translation=self.translation)  # type: ignore[arg-type]
        # A chained sequence is one sample performing every text in turn.
        groups: list[tuple[list[str], list[tuple[str, int, int]]]] = (
            [(list(texts), list(segments))] if segments else [([text], []) for text in texts]
        )
        motions = [
            Motion.from_torch(
                rotations[i],
                trans[i],
                self.fps,
                frame=f"{self.up_axis}_up",
                texts=group_texts,
                segments=group_segments,
                root_rest=self.root_rest,
                source="motionclip",
            )
            for i, (group_texts, group_segments) in enumerate(groups)
        ]
        return MotionResult(x=x, motions=motions, latents=latents)

    def _check_frames(self, num_frames: int, name: str = "num_frames") -> int:
        if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
            raise ValueError(f"{name} must be a positive int, got {num_frames!r}")
        return num_frames

    def __call__(
        self,
        texts: list[str],
        num_frames: int | None = None,
        generator: torch.Generator | None = None,
    ) -> MotionResult:
        """Generate one motion per text.

        Args:
            texts: ``B`` descriptions.
            num_frames: frames per motion (default: ``window``). Up to ``window`` this is one
                plain decode; longer motions chain windows (module docstring).
            generator: random source for the prior's pick among the nearest bank latents and for
                ``latent_noise`` (``None``: the nearest latent, no noise).

        Returns:
            :class:`MotionResult` with ``B`` samples of ``num_frames`` frames.
        """
        total = self._check_frames(self.window if num_frames is None else num_frames)
        z = self.generation_latents(texts, generator)
        return self._finish(self._generate(z, total, generator), list(texts), z)

    def _generate(
        self, z: torch.Tensor, total: int, generator: torch.Generator | None
    ) -> torch.Tensor:
        if total <= self.window:
            return self.decode(self._noisy(z, generator), total)
        out = []
        for zb in z:
            zb = zb[None]
            if self.latent_noise == 0:
                first = self.decode(zb)[0]  # the same latent gives the same window: decode once
                out.append(self._chain(lambda _k, _n, w=first, zz=zb: (zz, w), first, zb, total))
            else:

                def next_window(
                    _k: int, _n: int, base: torch.Tensor = zb
                ) -> tuple[torch.Tensor, torch.Tensor]:
                    return base, self.decode(self._noisy(base, generator))[0]

                out.append(self._chain(next_window, next_window(0, 0)[1], zb, total))
        return torch.stack(out)

    # ------------------------------------------------------------------ chaining
    def _heading(self, root: torch.Tensor) -> torch.Tensor:
        """Heading angle about the up axis of the body's forward (+Z body axis), ``root [3,3]``."""
        f = root[:, 2]
        if self.up_axis == "y":
            return torch.atan2(f[0], f[2])
        return torch.atan2(f[1], f[0])

    def _yaw(self, angle: torch.Tensor) -> torch.Tensor:
        return rotation_about_y(angle) if self.up_axis == "y" else rotation_about_z(angle)

    def _best_shift(self, tail: torch.Tensor, window_rot6d: torch.Tensor, max_shift: int) -> int:
        """Start ``s`` in ``[0, max_shift]`` whose ``overlap`` body poses best match ``tail``.

        ``tail [ov, 23, 6]`` and ``window_rot6d [W, 23, 6]``: body joints only (the root
        heading is aligned separately)."""
        ov = tail.shape[0]
        cand = window_rot6d.unfold(0, ov, 1)[: max_shift + 1]  # [S, 23, 6, ov]
        cost = (cand - tail.permute(1, 2, 0)[None]).pow(2).sum(dim=(1, 2, 3))
        return int(torch.argmin(cost))

    def _chain(
        self,
        next_window: Callable[[int, int], tuple[torch.Tensor, torch.Tensor]],
        first: torch.Tensor,
        z_first: torch.Tensor,
        total: int,
    ) -> torch.Tensor:
        """Chain windows ``[25, 6, W]`` into one motion ``[25, 6, total]``.

        ``next_window(k, n)`` returns ``(key [1, D], window [25, 6, W])`` for the ``k``-th
        window when the motion so far has ``n`` frames; ``key`` is the window's latent before
        any noise (phase matching happens between windows of equal keys).
        """
        ov, w_len = self.overlap, first.shape[-1]
        frames = first.permute(2, 0, 1)  # [T, 25, 6]
        rot = rot6d_rows_to_matrix(frames[:, :24])  # [T, 24, 3, 3]
        row = frames[:, 24].clone()  # [T, 6]
        horizontal = [0, 2] if self.up_axis == "y" else [0, 1]
        z_prev, k = z_first, 1
        while rot.shape[0] < total:
            z_k, win = next_window(k, rot.shape[0])
            wf = win.permute(2, 0, 1)
            shift = 0
            if self.match_phase and torch.equal(z_k, z_prev):
                max_shift = w_len - ov - self.min_new_frames
                body = matrix_to_rot6d_rows(rot6d_rows_to_matrix(wf[:, 1:24]))
                shift = self._best_shift(matrix_to_rot6d_rows(rot[-ov:, 1:]), body, max_shift)
            w_rot = rot6d_rows_to_matrix(wf[shift:, :24]).clone()
            w_row = wf[shift:, 24].clone()
            # Continue the heading: turn the new window about the up axis.
            turn = self._yaw(self._heading(rot[-ov, 0]) - self._heading(w_rot[0, 0]))
            w_rot[:, 0] = turn @ w_rot[:, 0]
            w_row[:, :3] = w_row[:, :3] @ turn.T
            # Continue the trajectory (root: horizontal only, the height is the model's).
            dims = horizontal if self.translation == "root" else [0, 1, 2]
            w_row[:, dims] += row[-ov, dims] - w_row[0, dims]
            # Cross-fade the overlap.
            a = _smoothstep(ov, rot.dtype, rot.device)
            q = slerp(
                matrix_to_quaternion(rot[-ov:]),
                matrix_to_quaternion(w_rot[:ov]),
                a[:, None, None],
            )
            blended_row = (1 - a[:, None]) * row[-ov:] + a[:, None] * w_row[:ov]
            rot = torch.cat([rot[:-ov], quaternion_to_matrix(q), w_rot[ov:]])
            row = torch.cat([row[:-ov], blended_row, w_row[ov:]])
            z_prev, k = z_k, k + 1
        rot6d = matrix_to_rot6d_rows(rot[:total])  # [T, 24, 6]
        x = torch.cat([rot6d, row[:total, None]], dim=1)  # [T, 25, 6]
        return x.permute(1, 2, 0).contiguous()

    # ------------------------------------------------------------------ sequences
    def sequence(
        self,
        prompts: list[str],
        frames_per_prompt: list[int] | int,
        transition: int | None = None,
        generator: torch.Generator | None = None,
    ) -> MotionResult:
        """One motion performing several prompts in order.

        Prompt ``i`` owns ``frames_per_prompt[i]`` frames of the timeline (total = their sum).
        Windows are chained as in :meth:`__call__`; a window's latent is that of the prompt at
        the centre of the frames it adds, linearly interpolated between neighbouring prompts
        within ``transition`` frames of a boundary (default: ``overlap``), and the windows are
        cross-faded. A window of a new latent starts at its first frame (no phase matching), so
        each prompt's motion starts from its beginning. Give each prompt at least about
        ``window / 2`` frames for it to be clearly visible.

        Returns:
            :class:`MotionResult` with one sample (``latents [P, D]``) whose motion has
            ``texts`` = prompts and ``segments`` = ``(prompt, start, end)``.
        """
        if isinstance(prompts, str) or not prompts:
            raise ValueError("prompts must be a non-empty list of strings")
        count = len(prompts)
        if isinstance(frames_per_prompt, int) and not isinstance(frames_per_prompt, bool):
            frames = [frames_per_prompt] * count
        else:
            frames = list(frames_per_prompt)
        if len(frames) != count:
            raise ValueError(
                f"frames_per_prompt has {len(frames)} entries for {count} prompts; give one each "
                "or a single int"
            )
        for f in frames:
            self._check_frames(f, "frames_per_prompt entries")
        transition = self.overlap if transition is None else transition
        if isinstance(transition, bool) or not isinstance(transition, int) or transition < 0:
            raise ValueError(f"transition must be an int >= 0, got {transition!r}")
        z = self.generation_latents(prompts, generator)
        bounds = [sum(frames[: i + 1]) for i in range(count)]
        total = bounds[-1]

        def latent_at(pos: float) -> torch.Tensor:
            for i in range(count - 1):
                b = bounds[i]
                if transition > 0 and abs(pos - b) < transition / 2:
                    t = (pos - b) / transition + 0.5
                    return (1.0 - t) * z[i] + t * z[i + 1]
                if pos < b:
                    return z[i].clone()
            return z[-1].clone()

        def window_for(pos: float) -> tuple[torch.Tensor, torch.Tensor]:
            key = latent_at(pos)[None]
            return key, self.decode(self._noisy(key, generator))[0]

        new = self.window - self.overlap
        if total <= self.window:
            x = self.decode(self._noisy(latent_at(total / 2)[None], generator), total)
        else:
            z0, first = window_for(self.window / 2)
            chained = self._chain(
                lambda _k, n: window_for(n - self.overlap + new / 2), first, z0, total
            )
            x = chained[None]
        starts = [0, *bounds[:-1]]
        segments = [(p, s, e) for p, s, e in zip(prompts, starts, bounds, strict=True)]
        return self._finish(x, list(prompts), z, segments)

    # ------------------------------------------------------------------ editing
    def interpolate(
        self,
        a: LatentSource,
        b: LatentSource,
        steps: int = 5,
        num_frames: int | None = None,
        generator: torch.Generator | None = None,
    ) -> MotionResult:
        """Motions at ``steps`` evenly spaced stops of the latent segment from ``a`` to ``b``.

        ``a``/``b`` are texts, motions (encoded with ``model.encode``) or latents; the stops are
        ``(1 - t) z_a + t z_b`` for ``t = 0 .. 1`` (unnormalised, as the paper's 5 stops), so the
        end samples are exactly the plain decodes of ``a`` and ``b``.
        """
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
            raise ValueError(f"steps must be an int >= 2, got {steps!r}")
        za, zb = self.latent_of(a), self.latent_of(b)
        t = torch.linspace(0.0, 1.0, steps, device=za.device)[:, None]
        z = (1.0 - t) * za[None] + t * zb[None]
        total = self._check_frames(self.window if num_frames is None else num_frames)
        la, lb = self._describe(a), self._describe(b)
        texts = [f"{la} -> {lb} ({float(v):.2f})" for v in t[:, 0]]
        return self._finish(self._generate(z, total, generator), texts, z)

    def arithmetic(
        self,
        base: LatentSource,
        plus: Sequence[LatentSource] = (),
        minus: Sequence[LatentSource] = (),
        num_frames: int | None = None,
        generator: torch.Generator | None = None,
    ) -> MotionResult:
        """Decode ``z(base) + sum(z(plus)) - sum(z(minus))`` (the paper's motion editing:
        ``base - v_start + v_end``). Items are texts, motions or latents."""
        if isinstance(plus, str | torch.Tensor) or isinstance(minus, str | torch.Tensor):
            raise ValueError("plus and minus must be lists of texts/motions/latents")
        z = self.latent_of(base).clone()
        for item in plus:
            z = z + self.latent_of(item)
        for item in minus:
            z = z - self.latent_of(item)
        text = self._describe(base)
        text += "".join(f" + {self._describe(i)}" for i in plus)
        text += "".join(f" - {self._describe(i)}" for i in minus)
        total = self._check_frames(self.window if num_frames is None else num_frames)
        return self._finish(self._generate(z[None], total, generator), [text], z[None])

    # ------------------------------------------------------------------ batch files
    def generate_from_file(
        self,
        path: str | os.PathLike[str],
        out_dir: str | os.PathLike[str],
        *,
        num_frames: int | None = None,
        bvh: bool = False,
        batch_size: int = 16,
        progress: bool = True,
        generator: torch.Generator | None = None,
    ) -> list[Path]:
        """Generate one motion per prompt of a text file (see :func:`read_prompt_file`).

        Writes ``out_dir/<index>_<slug>.npz`` and, with ``bvh``, a ``.bvh`` beside each, with
        :func:`vmc.motion.writing.write_motion_files` (the one per-prompt writer: AMASS ``.npz``
        in Z-up, the prompt in ``texts``; BVH in Y-up on the library skeleton). Files are
        written atomically.

        Returns:
            The written ``.npz`` paths, in prompt order.
        """
        prompts = read_prompt_file(path)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        width = max(3, len(str(len(prompts))))
        written: list[Path] = []
        with tqdm(
            total=len(prompts), desc="text->motion", unit="prompt", disable=not progress
        ) as bar:
            for start in range(0, len(prompts), batch_size):
                chunk = prompts[start : start + batch_size]
                result = self(chunk, num_frames, generator)
                for i, prompt in enumerate(chunk):
                    stem = f"{start + i:0{width}d}_{slugify(prompt)}"
                    files = write_motion_files(out / f"{stem}.npz", result.motions[i], bvh=bvh)
                    written.append(files[0])
                    bar.update(1)
        return written
