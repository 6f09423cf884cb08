"""The text → motion stage of ``infer.py`` and the pipeline: which model runs, and its output.

Implementations, chosen by ``conf/motion`` (``motion.kind``):

* ``run``: a MotionCLIP model trained with ``python train.py`` (``motion.run``: export folder,
  run folder, ``model.safetensors`` or ``.ckpt``; :func:`vmc.motion.runs.load_motionclip_run`),
  with the text encoder it was trained with.
* ``paper``: the released MotionCLIP checkpoint (``paths.motionclip`` or
  ``assets/motionclip/paper-model/checkpoint_0100.pth.tar``) with CLIP ViT-B/32. As the
  reference, its root orientation is replaced by "upright, facing the camera" on every frame
  and the motion stays in place (row 24 of that model is not a trajectory).
* ``embedded``: the small MotionCLIP that ships with vmc (trained on the procedural library with
  the offline sentence encoder; ``vmc/assets/motion/motionclip_embedded``).
* ``retrieval``: no model; the procedural action whose training caption is nearest to the text.
* ``auto``: ``run`` if ``motion.run`` is set, else ``paper`` when its checkpoint and CLIP are
  both found, else ``embedded`` when its weights are present, else ``retrieval``.

The stage takes plain values: a :class:`~vmc.io.stages.StageRequest` (what the user asked for)
and :class:`MotionOptions` (how a MotionCLIP model decodes); ``vmc.tasks`` and ``vmc.cli`` turn
the ``conf/motion`` and ``conf/text_encoder`` groups into them.

Every stage returns a :class:`~vmc.motion.types.Motion` in one frame: SMPL axis-angle poses in the
Y-up world (``frame="y_up"``), the person facing +Z at the first frame, the pelvis above the
origin at frame 0, translation in metres, at the requested fps, with the prompts in ``texts`` and
their frame spans in ``segments``. ``root_rest`` says which rest pelvis ``trans`` refers to (zero
for models trained on the procedural library); rebase the motion on the posed body
(:meth:`~vmc.motion.types.Motion.rebased`) before posing or writing it.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from vmc.io.stages import EMBEDDED_MOTIONCLIP_DIR, GroupChoice, StageRequest, resolve_motion
from vmc.motion.contact import remove_foot_sliding
from vmc.motion.flight import ballistic_flight as follow_gravity
from vmc.motion.generate import TextToMotion
from vmc.motion.model import MotionCLIP
from vmc.motion.procedural import generate_motion, list_actions
from vmc.motion.resample import fit_length, resample_motion
from vmc.motion.retrieval import CaptionIndex
from vmc.motion.runs import load_motionclip_run
from vmc.motion.types import Motion
from vmc.text import build_text_encoder
from vmc.text.clip_encoder import ClipTextEncoder
from vmc.text.sentence_encoder import mpnet_encoder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MotionOptions:
    """How a MotionCLIP stage decodes (the ``conf/motion`` keys of the same names).

    Attributes:
        overlap: frames shared by consecutive decoder windows (``None``: the generator's
            default); see :class:`~vmc.motion.generate.TextToMotion`.
        latent_noise: standard deviation of the noise added to the text latent (0: none).
        prior_k: with a latent bank, decode one of the ``prior_k`` nearest bank latents (the
            seed picks; ``vmc.motion.prior``); 0 decodes the text latent itself.
        plant_feet: move the decoded root horizontally so that planted feet do not slide
            (:func:`vmc.motion.contact.remove_foot_sliding`; joint rotations are kept).
        text_head: map text latents through the export's learnt text head when it has one
            (:mod:`vmc.motion.text_head`); ``False`` uses the encoder's latent as it is.
        caption_prior: add the vote of the export's caption prior when it has one
            (:mod:`vmc.motion.caption_prior`, all-mpnet-base-v2); ``False`` leaves it out.
        ballistic_flight: make the root's height a ballistic arc while both feet are off the
            floor (:func:`vmc.motion.flight.ballistic_flight`; the decoder's flight time, gravity's
            height).
    """

    overlap: int | None = None
    latent_noise: float = 0.0
    prior_k: int = 4
    plant_feet: bool = True
    text_head: bool = True
    caption_prior: bool = True
    ballistic_flight: bool = True


class MotionStage(Protocol):
    """What ``infer`` needs from a text → motion implementation."""

    description: str
    why: str
    encoder_name: str

    def generate(self, prompts: list[str], num_frames: int, fps: float, seed: int) -> Motion: ...


class RetrievalMotionStage:
    """Caption retrieval over the procedural library (the fallback with no trained model).

    Args:
        encoder: a :class:`vmc.text.TextEncoder` (any dimension).
        why: why this stage was chosen (for the run's stage table).
    """

    def __init__(self, encoder: Any, why: str) -> None:

        captions, labels = [], []
        for action in list_actions():
            sample = generate_motion(action, num_frames=2, fps=30.0, seed=0)
            captions += sample.motion.texts
            labels += [action] * len(sample.motion.texts)
        self.index = CaptionIndex(captions, labels, encoder)
        self.encoder_name = str(getattr(encoder, "name", type(encoder).__name__))
        self.description = f"caption retrieval over {len(list_actions())} procedural actions"
        self.why = why
        self.last_match = ""

    def to(self, device: torch.device | str) -> RetrievalMotionStage:
        """Nothing to move: the library's motions are made on the CPU."""
        return self

    def generate(self, prompts: list[str], num_frames: int, fps: float, seed: int) -> Motion:
        """Generate the best-matching action for one prompt (a sequence needs a model)."""

        if len(prompts) != 1:
            raise ValueError(
                "several prompts in sequence need a MotionCLIP model (motion=embedded, "
                "motion=paper or motion=run); caption retrieval takes one prompt"
            )
        match = self.index.query(prompts)[0]
        self.last_match = f"matched '{match.caption}' (cos {match.score:.2f})"
        motion = generate_motion(match.label, num_frames=num_frames, fps=fps, seed=seed).motion
        # The library's clips already face +Z above the origin at frame 0 (its world).
        return replace(
            motion, texts=[prompts[0]], segments=[(prompts[0], 0, num_frames)], source="retrieval"
        )


def _caption_prior(prior: Any) -> dict[str, Any]:
    """``TextToMotion`` keywords for an export's caption prior (none when there is none or its
    encoder is not installed: the model still runs, on its own text latent, with a warning)."""
    if prior is None:
        return {}
    try:
        encoder = mpnet_encoder()
    except ImportError as err:
        warnings.warn(
            f"the model's caption prior is not used: {err} (it helps with wordings unlike the "
            "training captions)",
            stacklevel=3,
        )
        return {}
    return {"caption_prior": prior, "prior_encoder": encoder}


class MotionCLIPStage:
    """A MotionCLIP decoder driven by its text encoder (:class:`vmc.motion.generate.TextToMotion`).

    Args:
        model: the MotionCLIP network.
        info: what :func:`vmc.motion.runs.load_motionclip_run` returns beside it (``translation``,
            ``up_axis``, ``fps``, ``num_frames``).
        encoder: the text encoder the model was trained with.
        description, why: for the run's stage table.
        upright_root: replace the root orientation by "upright, facing the camera" on every
            frame and drop the translation (the reference's generate-time overwrite).
        overlap, latent_noise: :class:`~vmc.motion.generate.TextToMotion` options.
        prior_k: with a latent bank in ``info``, decode one of the ``prior_k`` nearest bank
            latents (the seed picks; ``vmc.motion.prior``); 0 decodes the text latent itself.
        plant_feet: correct the decoded root path so that planted feet do not slide
            (:func:`vmc.motion.contact.remove_foot_sliding`); not with ``upright_root``, which
            keeps the body in place anyway.
        text_head: use the export's text head (``info["text_head"]``) when there is one.
        caption_prior: use the export's caption prior (``info["caption_prior"]``) when there is
            one and its sentence encoder is installed (else a warning with the pip command).
        ballistic_flight: make every flight of the decoded root a ballistic arc
            (:func:`vmc.motion.flight.ballistic_flight`); not with ``upright_root``.

    ``info["root_rest"]`` (the rest pelvis the training ``trans`` referred to) is recorded on the
    motions; a Y-up model without it was trained on this project's data (the procedural
    skeleton, pelvis at the origin), so it defaults to zero there and to unknown otherwise.
    """

    def __init__(
        self,
        model: Any,
        info: dict[str, Any],
        encoder: Any,
        description: str,
        why: str,
        *,
        upright_root: bool = False,
        overlap: int | None = None,
        latent_noise: float = 0.0,
        prior_k: int = 4,
        plant_feet: bool = True,
        text_head: bool = True,
        caption_prior: bool = True,
        ballistic_flight: bool = True,
    ) -> None:

        self.model_fps = float(info.get("fps", 30.0))
        self.up_axis = str(info.get("up_axis", "y"))
        root_rest = info.get("root_rest", [0.0, 0.0, 0.0] if self.up_axis == "y" else None)
        self.generator = TextToMotion(
            model,
            encoder,
            translation=str(info.get("translation", "root")),
            fps=self.model_fps,
            window=int(info.get("num_frames", 60)),
            overlap=overlap,
            up_axis=self.up_axis,
            latent_noise=float(latent_noise),
            text_scale=info.get("text_scale"),
            text_center=info.get("text_center"),
            latent_bank=info.get("latent_bank") if prior_k else None,
            prior_k=int(prior_k or 1),
            root_rest=root_rest,
            text_head=info.get("text_head") if text_head else None,
            **_caption_prior(info.get("caption_prior") if caption_prior else None),
        )
        self.upright_root = upright_root
        self.plant_feet = bool(plant_feet) and not upright_root
        self.ballistic_flight = bool(ballistic_flight) and not upright_root
        self.encoder_name = str(getattr(encoder, "name", type(encoder).__name__))
        prior = self.generator.caption_prior
        # Name it where the stage is described (`python -m vmc motion ...` prints "model: ..."):
        # a second sentence encoder is at work.
        self.description = description + (f" + caption prior ({prior.encoder})" if prior else "")
        self.why = why

    def to(self, device: torch.device | str) -> MotionCLIPStage:
        """Run the MotionCLIP network on ``device`` (text features follow it)."""
        self.generator.model.to(device)
        return self

    def generate(self, prompts: list[str], num_frames: int, fps: float, seed: int) -> Motion:
        """One motion of ``num_frames`` frames at ``fps`` performing ``prompts`` in order."""
        # Generate at the model's rate for the same duration, then resample to the request.
        model_frames = max(2, math.ceil((num_frames - 1) * self.model_fps / fps) + 1)
        generator = torch.Generator().manual_seed(int(seed))
        if len(prompts) == 1:
            result = self.generator(prompts, model_frames, generator)
            segments = [(prompts[0], 0, num_frames)]
        else:
            share = split_frames(model_frames, len(prompts))
            result = self.generator.sequence(prompts, share, generator=generator)
            scale = num_frames / model_frames
            segments = [
                (p, round(s * scale), round(e * scale)) for p, s, e in result.motions[0].segments
            ]
        motion = self.canonical(result.motions[0])
        if self.plant_feet:
            # At the model's rate, where its contacts were learned; before any resampling.
            motion = remove_foot_sliding(motion)
        if self.ballistic_flight:
            motion = follow_gravity(motion)
        if abs(fps - self.model_fps) > 1e-6:
            motion = resample_motion(motion, fps).motion
        motion = fit_length(motion, num_frames)
        return replace(motion, texts=list(prompts), segments=segments)

    def canonical(self, motion: Motion) -> Motion:
        """A motion of the model's world in the stage's output frame (module docstring): Y-up,
        facing +Z and above the origin at frame 0. With ``upright_root`` the root is replaced by
        identity (upright, facing +Z) on every frame and the translation dropped: the reference's
        overwrite (:func:`vmc.geometry.frames.reference_root` in the image frame)."""
        if self.upright_root:
            poses = motion.poses.copy()
            poses[:, 0] = 0.0
            return replace(
                motion,
                poses=poses,
                trans=np.zeros_like(motion.trans),
                frame="y_up",
                texts=list(motion.texts),
            )
        out = motion.to_frame("y_up", face_front=True)
        # Row 24 is relative to the first frame horizontally; a decoder reproduces that only
        # approximately, so start the trajectory exactly above the origin.
        trans = out.trans.copy()
        trans[:, [0, 2]] -= trans[:1, [0, 2]]
        return replace(out, trans=trans, texts=list(out.texts))


def split_frames(total: int, parts: int) -> list[int]:
    """``total`` frames shared as evenly as possible among ``parts`` prompts (sums to total)."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def encoder_for_run(
    info: dict[str, Any],
    clip_path: str | os.PathLike[str] | None = None,
    assets_dir: str | os.PathLike[str] | None = None,
) -> Any:
    """The text encoder a trained model needs (from its saved ``text_encoder`` facts).

    Args:
        info: what :func:`vmc.motion.runs.load_motionclip_run` returns beside the model.
        clip_path, assets_dir: where CLIP's weights are (for a model trained with CLIP).
    """

    facts = info.get("text_encoder") or {}
    kind = facts.get("kind")
    if kind not in ("clip", "sentence"):
        raise ValueError(
            f"{info.get('source')}: trained with text encoder {kind!r}, which vmc cannot rebuild; "
            "expected 'clip' or 'sentence'"
        )
    encoder = build_text_encoder(kind, clip_path, assets_dir)
    dim = facts.get("dim")
    if dim and int(dim) != encoder.dim:
        raise ValueError(
            f"{info.get('source')}: trained with a {dim}-d {kind} encoder but {encoder.name} "
            f"gives {encoder.dim}-d features"
        )
    return encoder


def build_motion_stage(
    choice: GroupChoice,
    request: StageRequest | None = None,
    options: MotionOptions | None = None,
) -> MotionStage:
    """Build the text → motion stage the resolver chose (:func:`vmc.io.stages.resolve_motion`).

    Args:
        choice: the motion group's :class:`~vmc.io.stages.GroupChoice`.
        request: the request it was resolved from: where CLIP and the assets are
            (``clip``, ``assets_dir``) and the retrieval stage's encoder kind (``text_encoder``).
        options: how a MotionCLIP model decodes (default: :class:`MotionOptions`).
    """
    request = request or StageRequest()
    options = options or MotionOptions()
    if choice.kind in ("run", "embedded"):
        source = choice.files["run"] if choice.kind == "run" else EMBEDDED_MOTIONCLIP_DIR
        model, info = load_motionclip_run(source)
        encoder = encoder_for_run(info, request.clip, request.assets_dir)
        return MotionCLIPStage(
            model, info, encoder, choice.description, choice.why, **_stage_options(options)
        )
    if choice.kind == "paper":
        return _paper_stage(choice.files["checkpoint"], choice.files["clip"], options)
    encoder = build_text_encoder(request.text_encoder, request.clip, request.assets_dir)
    return RetrievalMotionStage(encoder, choice.why)


def select_motion_stage(
    request: StageRequest | None = None, options: MotionOptions | None = None
) -> MotionStage:
    """Resolve (:func:`vmc.io.stages.resolve_motion`) and build the stage ``request`` asks for.

    Raises:
        FileNotFoundError: a required file is missing (the message says which and where it
        goes). (An unknown kind is refused by :class:`~vmc.io.stages.StageRequest` itself.)
    """
    request = request or StageRequest()
    return build_motion_stage(resolve_motion(request), request, options)


def _stage_options(options: MotionOptions) -> dict[str, Any]:
    """:class:`MotionCLIPStage` keyword arguments of ``options``."""
    return {
        "overlap": options.overlap,
        "latent_noise": float(options.latent_noise or 0.0),
        "prior_k": int(options.prior_k or 0),
        "plant_feet": bool(options.plant_feet),
        "text_head": bool(options.text_head),
        "caption_prior": bool(options.caption_prior),
        "ballistic_flight": bool(options.ballistic_flight),
    }


def _paper_stage(official: Path, clip: Path, options: MotionOptions) -> MotionCLIPStage:
    """The released checkpoint with CLIP, in the reference's generate-time convention."""

    model = MotionCLIP.from_official(official)
    info = {
        "translation": "reference",
        "up_axis": "z",
        "fps": 30.0,
        "num_frames": 60,
        "root_rest": None,  # SMPL-H's, with AMASS's betas; trans is zero anyway (row 24 unused)
    }
    return MotionCLIPStage(
        model,
        info,
        ClipTextEncoder(clip),
        f"paper MotionCLIP ({official.name}) + CLIP ViT-B/32",
        "checkpoint and CLIP weights found",
        upright_root=True,
        **_stage_options(options),
    )
