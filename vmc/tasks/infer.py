"""``infer(cfg)``: the body of ``python infer.py text="..." images=[photo.jpg]``.

Numbered steps (each a separate, tested unit):

1. check the inputs (text or motion file, photos, output paths, sizes, device) before any work;
2. resolve each stage group's implementation (:mod:`vmc.io.stages`) and print the table;
3. with photos and a video output: prepare the person (:func:`vmc.subject.prepare.
   prepare_subject`: fit, cut-out, background, texture), then :class:`vmc.pipeline.video.
   VideoMotionCLIP` animates them with the motion (from the text, or ``motion_file``);
   without photos: text → motion and the motion on the body alone;
4. write the outputs atomically, companions first and the main output last (all of them or
   none: an error or Ctrl-C removes what this run had written).

The output extension decides what is written: ``.mp4``/``.gif`` a video (with photos: the person
performing the motion over their own background, and ``<stem>.preview.mp4`` = photo | motion on
the body | result); ``.npz`` (AMASS-style SMPL, Z-up) or ``.bvh`` (Y-up, ``bvh_units`` cm or m)
the motion alone (with a ``<stem>.preview.mp4`` beside it), through
:func:`vmc.motion.writing.write_motion_files` for the selected body (its rest joints and betas:
smplx's ``J0 + trans`` convention); ``export=[npz,bvh]`` adds those beside a video. ``text``
may be a list: the prompts are performed one after the other. ``prompts=<file>`` runs every
line of a text file, one motion file each, into the folder ``out``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from PIL import Image, ImageColor
from tqdm.auto import tqdm

from vmc.body.model import BodyModel
from vmc.body.posing import pose_body
from vmc.body.select import load_body
from vmc.io.atomic import ResultSet, check_writable, result_set
from vmc.io.images import read_image
from vmc.io.processed_video import read_layout_meta
from vmc.io.stages import APPEARANCE_KINDS, GroupChoice, resolve_stages
from vmc.io.video import write_gif, write_video
from vmc.lwg.generator import AttentionLWBGenerator
from vmc.lwg.loading import load_generator
from vmc.motion.export import load_motion_npz
from vmc.motion.generate import read_prompt_file, slugify
from vmc.motion.limits import MAX_FRAMES
from vmc.motion.stage import MotionStage, build_motion_stage
from vmc.motion.writing import write_motion_files
from vmc.pipeline.retarget import ROOT_MOTIONS
from vmc.pipeline.video import FRAMINGS, VideoMotionCLIP, VideoOutput
from vmc.render.preview import render_mesh_frames, write_preview
from vmc.subject.background import align_background
from vmc.subject.folder import (
    read_subject_folder,
    subject_folder,
    subjects_dir_of,
    write_subject_folder,
)
from vmc.subject.prepare import Subject, prepare_subject
from vmc.systems.video_inference import VideoInferenceSystem, VideoJob, predict_videos
from vmc.tasks.common import motion_options, motion_request, record_stages
from vmc.tasks.entry import command_line_problem
from vmc.tasks.finetune import (
    GENERATOR_FILE,
    PERSONALIZE_MODES,
    personalize,
    personalize_config,
)
from vmc.utils.config import ConfigError, as_path_list, check_positive
from vmc.utils.console import console, print_stage_table
from vmc.utils.device import DeviceError, resolve_device
from vmc.utils.timing import StepTimer

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".gif")
MOTION_SUFFIXES = (".npz", ".bvh")
#: The longest motion (seconds) a request may ask for: MAX_FRAMES at 30 fps.
MAX_SECONDS = MAX_FRAMES / 30.0
#: Pixels one request may render (frames x side^2): keeps a mistyped size from running for hours.
MAX_PIXELS = 1_000_000_000


@dataclass
class InferRequest:
    """Validated inputs of one inference run."""

    prompts: list[str]
    images: list[np.ndarray]  # uint8 [H,W,3] each
    image_paths: list[str]
    out: Path
    num_frames: int
    fps: float
    image_size: int
    seed: int
    bvh_units: str = "cm"
    motion_file: Path | None = None
    framing: str = "full"
    root_motion: str = "in_place"
    export: tuple[str, ...] = ()
    background: str = "auto"
    appearance: str = "auto"
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    subject: Path | None = None
    blend_in: float = 0.5
    generator: Path | None = None
    personalize: str = "auto"
    personalize_overrides: tuple[str, ...] = ()

    @property
    def person(self) -> bool:
        """Whether this request animates a person (a video with photos or a prepared subject)."""
        return bool(self.images or self.subject) and self.out.suffix.lower() in VIDEO_SUFFIXES

    @property
    def text(self) -> str:
        """The prompts as one description (for file metadata)."""
        return " then ".join(self.prompts)


def _check_prompts(text: object) -> list[str]:
    """``text`` as a list of prompts: a string, or a list of strings performed in order."""
    if isinstance(text, str):
        items: list[object] = [text]
    elif isinstance(text, Sequence):  # a list, or OmegaConf's ListConfig
        items = list(text)
    else:
        items = []
    prompts = [t.strip() for t in items if isinstance(t, str)]
    if not items or len(prompts) != len(items) or not all(prompts):
        raise ConfigError(
            'text must be a non-empty description, e.g. text="a person jumps", or a list of '
            'them performed in order, e.g. \'text=["a person walks","a person jumps"]\''
        )
    return prompts


def check_inputs(cfg: DictConfig, **overrides: object) -> InferRequest:
    """Validate everything a run needs, with errors that name the key and the fix.

    ``overrides`` replace config keys (``text``, ``images``, ``out``) for one request.
    """

    def value(key: str) -> object:
        return overrides[key] if key in overrides else cfg.get(key)

    motion_file = _check_motion_file(value("motion_file"))
    raw_text = value("text")
    prompts = [] if motion_file is not None and raw_text in (None, "") else _check_prompts(raw_text)
    if motion_file is not None and prompts:
        raise ConfigError("give text or motion_file, not both")
    image_paths = as_path_list(value("images"), "images")
    images = [read_image(path) for path in image_paths]  # clear error naming a bad file
    out = Path(str(value("out") or "")).expanduser()
    suffix = out.suffix.lower()
    if suffix not in VIDEO_SUFFIXES + MOTION_SUFFIXES:
        raise ConfigError(
            f"out={out} must end with one of {', '.join(VIDEO_SUFFIXES + MOTION_SUFFIXES)}"
        )
    if out.exists() and out.is_dir():
        raise ConfigError(f"out={out} is a directory; give a file name")
    fps = check_positive(cfg.get("fps"), "fps", maximum=240)
    seconds = cfg.get("seconds")
    if seconds is not None:
        seconds = check_positive(seconds, "seconds", maximum=MAX_FRAMES / 30.0)
        num_frames = max(2, round(seconds * fps))  # the length in seconds wins over num_frames
    else:
        num_frames = cfg.get("num_frames")
    if isinstance(num_frames, bool) or not isinstance(num_frames, int):
        raise ConfigError(f"num_frames must be an integer, got {num_frames!r}")
    if not 2 <= num_frames <= MAX_FRAMES:
        raise ConfigError(f"num_frames must be in [2, {MAX_FRAMES}], got {num_frames}")
    image_size = cfg.get("image_size")
    if (
        isinstance(image_size, bool)
        or not isinstance(image_size, int)
        or not (64 <= image_size <= 2048)
    ):
        raise ConfigError(f"image_size must be an integer in [64, 2048], got {image_size!r}")
    bvh_units = cfg.get("bvh_units", "cm")
    if bvh_units not in ("cm", "m"):
        raise ConfigError(
            f"bvh_units must be cm or m, got {bvh_units!r} (cm: Blender import scale 0.01; "
            "m: scale 1)"
        )
    seed = cfg.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ConfigError(f"seed must be an integer in [0, 2^32), got {seed!r}")
    if num_frames / fps > MAX_SECONDS:
        raise ConfigError(
            f"num_frames={num_frames} at fps={fps:g} is {num_frames / fps:.0f} s of motion; at "
            f"most {MAX_SECONDS:.0f} s: lower num_frames or raise fps"
        )
    if num_frames * image_size**2 > MAX_PIXELS:
        raise ConfigError(
            f"num_frames={num_frames} at image_size={image_size} is "
            f"{num_frames * image_size**2 / 1e9:.1f} G pixels to render (at most "
            f"{MAX_PIXELS / 1e9:.0f} G): lower num_frames or image_size"
        )
    crf = cfg.get("crf", 18)
    if isinstance(crf, bool) or not isinstance(crf, int | float) or not 0 <= crf <= 51:
        raise ConfigError(f"crf must be a number in [0, 51] (H.264 quality), got {crf!r}")
    blend_in = cfg.get("blend_in", 0.5)
    if (
        isinstance(blend_in, bool)
        or not isinstance(blend_in, int | float)
        or not 0 <= blend_in <= 10
    ):
        raise ConfigError(f"blend_in must be seconds in [0, 10], got {blend_in!r}")
    generator = cfg.get("generator")
    if generator not in (None, ""):
        generator = Path(str(generator)).expanduser()
        if not generator.is_file():
            raise FileNotFoundError(f"generator={generator} does not exist")
    else:
        generator = None
    framing = _choice(cfg, "framing", FRAMINGS, "full")
    root_motion = _choice(cfg, "root_motion", ROOT_MOTIONS, "in_place")
    appearance = _choice(cfg, "appearance", APPEARANCE_KINDS, "auto")
    personalize = _choice(cfg, "personalize", PERSONALIZE_MODES, "auto")
    if personalize == "always" and appearance == "warp":
        raise ConfigError(
            "personalize=always fine-tunes the Liquid Warping GAN, but appearance=warp uses none: "
            "set appearance=lwg (or auto) with generator=<weights>, or personalize=auto"
        )
    personalize_overrides = _check_personalize_overrides(cfg.get("personalize_overrides"))
    export = _check_export(cfg.get("export"))
    background = _check_background(cfg.get("background", "auto"))
    try:
        device = resolve_device(cfg.get("device", "auto"))
    except DeviceError as err:
        raise ConfigError(str(err)) from err
    subject = _check_subject(cfg, value("subject"))
    if subject is not None and images:
        raise ConfigError("give images=[...] or subject=<name>, not both")
    if motion_file is not None and not (images or subject) and suffix in VIDEO_SUFFIXES:
        raise ConfigError("motion_file animates a person: give images=[photo.jpg] too")
    request = InferRequest(
        prompts=prompts,
        images=images,
        image_paths=image_paths,
        out=out,
        num_frames=num_frames,
        fps=fps,
        image_size=image_size,
        seed=int(seed),
        bvh_units=str(bvh_units),
        motion_file=motion_file,
        framing=framing,
        root_motion=root_motion,
        export=export,
        background=background,
        appearance=appearance,
        device=device,
        subject=subject,
        blend_in=float(blend_in),
        generator=generator,
        personalize=personalize,
        personalize_overrides=personalize_overrides,
    )
    _check_outputs_are_not_inputs(request)
    _check_motion_options(cfg)
    for path in output_paths(request):
        try:
            check_writable(path)
        except OSError as err:
            raise ConfigError(str(err)) from None
    _check_disk_space(request)
    return request


def _check_motion_options(cfg: DictConfig) -> None:
    """``motion.*`` numbers (they reach the model only after it has loaded)."""
    noise = OmegaConf.select(cfg, "motion.latent_noise", default=0.0)
    if isinstance(noise, bool) or not isinstance(noise, int | float) or not 0 <= noise <= 10:
        raise ConfigError(f"motion.latent_noise must be a number in [0, 10], got {noise!r}")
    prior_k = OmegaConf.select(cfg, "motion.prior_k", default=0)
    if isinstance(prior_k, bool) or not isinstance(prior_k, int) or not 0 <= prior_k <= 1000:
        raise ConfigError(f"motion.prior_k must be an integer in [0, 1000], got {prior_k!r}")
    overlap = OmegaConf.select(cfg, "motion.overlap", default=None)
    if overlap is not None and (
        isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0
    ):
        raise ConfigError(f"motion.overlap must be null or an integer >= 0, got {overlap!r}")
    for key in ("plant_feet", "text_head", "caption_prior", "ballistic_flight"):
        value = OmegaConf.select(cfg, f"motion.{key}", default=True)
        if not isinstance(value, bool):
            raise ConfigError(f"motion.{key} must be true or false, got {value!r}")


def _check_disk_space(request: InferRequest) -> None:
    """About how much the outputs take (H.264 at ~0.1 byte per pixel, previews 3x, margin)."""
    needed = 50e6 + request.num_frames * request.image_size**2 * 0.4
    folder = request.out.expanduser().absolute().parent
    while not folder.exists():
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise ConfigError(
            f"not enough disk space in {folder}: about {needed / 1e6:.0f} MB needed for "
            f"out={request.out} and its previews, {free / 1e6:.0f} MB free"
        )


def _choice(cfg: DictConfig, key: str, choices: Sequence[str], default: str) -> str:
    value = cfg.get(key, default)
    if value not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(choices)}; got {value!r}")
    return str(value)


def _check_motion_file(value: object) -> Path | None:
    """``motion_file``: an existing AMASS-style ``.npz`` (ours, AMASS, or the folder format)."""
    if value in (None, ""):
        return None
    path = Path(str(value)).expanduser()
    if path.suffix.lower() == ".bvh":
        raise ConfigError(
            f"motion_file={path}: reading BVH is not supported yet; convert it to an AMASS-style "
            ".npz (poses [T,72], trans [T,3], mocap_framerate)"
        )
    if path.suffix.lower() != ".npz":
        raise ConfigError(f"motion_file={path} must be an AMASS-style .npz motion")
    if not path.is_file():
        raise FileNotFoundError(f"motion_file={path} does not exist")
    return path


def _check_subject(cfg: DictConfig, value: object) -> Path | None:
    """``subject``: a prepared subject's name (under ``paths.subjects_dir``) or folder."""
    if value in (None, ""):
        return None
    folder = subject_folder(str(value), subjects_dir_of(cfg.get("paths") or {}))
    if not (folder / "meta.json").is_file():
        raise FileNotFoundError(
            f"subject={value}: no prepared subject at {folder}; prepare it with "
            f"`python -m vmc subject prepare {value} photo.jpg` or pass images=[photo.jpg]"
        )
    return folder


def _check_personalize_overrides(value: object) -> tuple[str, ...]:
    """``personalize_overrides``: ``finetune.py`` overrides (``key=value`` strings) that compose
    (a mistyped key is named here, before any work)."""
    items = [value] if isinstance(value, str) else list(value or [])  # type: ignore[arg-type]
    if not all(isinstance(v, str) and "=" in v for v in items):
        raise ConfigError(
            "personalize_overrides takes finetune.py overrides, e.g. "
            f"'personalize_overrides=[trainer.max_steps=400]'; got {items!r}"
        )
    problem = command_line_problem("finetune", items) if items else None
    if problem:
        raise ConfigError(f"personalize_overrides: {problem}")
    return tuple(items)


def _check_export(value: object) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else list(value or [])  # type: ignore[arg-type]
    bad = [v for v in items if v not in ("npz", "bvh")]
    if bad:
        raise ConfigError(f"export takes npz and/or bvh, e.g. export=[npz,bvh]; got {bad}")
    return tuple(dict.fromkeys(str(v) for v in items))


def _check_background(value: object) -> str:
    """``auto``, ``inpaint``, a photo path (must exist) or a colour (name, ``#rrggbb``)."""
    text = str(value or "auto").strip()
    if text in ("auto", "inpaint") or _parse_colour(text) is not None:
        return text
    if not Path(text).expanduser().is_file():
        raise ConfigError(
            f"background={text} is neither auto, inpaint, a colour (white, #00ff00) nor an "
            "existing photo"
        )
    read_image(Path(text).expanduser())  # a clear error for a file that is not an image
    return text


def _parse_colour(text: str) -> tuple[int, int, int] | None:
    try:
        rgb = ImageColor.getrgb(text)
    except ValueError:
        return None
    return int(rgb[0]), int(rgb[1]), int(rgb[2])


def output_paths(request: InferRequest) -> list[Path]:
    """Every file this request will write: the main output and its companions."""
    out = request.out
    previews = [out.with_name(out.stem + ".preview.mp4"), out.with_name(out.stem + ".preview.png")]
    return [out, *previews, *(out.with_suffix(f".{kind}") for kind in request.export)]


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _check_outputs_are_not_inputs(request: InferRequest) -> None:
    """No output may overwrite an input (compared by resolved path and by inode)."""
    inputs = [Path(p).expanduser() for p in request.image_paths]
    if request.motion_file is not None:
        inputs.append(request.motion_file)
    for out in output_paths(request):
        if out.exists() and out.is_dir():
            raise ConfigError(f"output {out} is a folder; give out= another file name")
        for source in inputs:
            if _same_file(out, source):
                raise ConfigError(
                    f"output {out} would overwrite the input {source}: choose another out="
                )


def _select_stages(cfg: DictConfig):
    """Resolve every stage group once (:func:`vmc.io.stages.resolve_stages`), then build the
    body and the text → motion stage it chose; returns ``(body, stage, table rows)``."""
    request = motion_request(cfg.get("motion"), cfg.get("text_encoder"))
    request = dataclasses.replace(
        request,
        body=str(cfg.body.kind),
        smpl=cfg.body.get("smpl_path"),
        assets_dir=request.assets_dir or cfg.body.get("assets_dir"),
    )
    choices = resolve_stages(request)
    record_stages(cfg, choices)
    body = load_body(choices.body)
    stage = build_motion_stage(choices.motion, request, motion_options(cfg.get("motion")))
    rows = [
        ("text encoder", stage.encoder_name, "the one the text → motion model was trained with"),
        choices.motion.row(),
        choices.body.row(),
        ("person", "body render beside the photo", "person fit and appearance: not built yet"),
    ]
    return body, stage, rows


def infer(cfg: DictConfig) -> dict[str, str]:
    """Run one inference; returns ``{"out": path, ...}`` of the files written."""
    if cfg.get("prompts"):
        return infer_prompt_file(cfg)
    # 1. inputs
    request = check_inputs(cfg)
    torch.manual_seed(request.seed)
    if request.person:
        return infer_person(cfg, request)

    # 2. stages: chosen, and said, before any work
    body, stage, rows = _select_stages(cfg)
    print_stage_table(rows)

    # 3. text → motion
    motion = stage.generate(request.prompts, request.num_frames, request.fps, request.seed)
    if getattr(stage, "last_match", ""):
        console.print(f"caption retrieval {stage.last_match}")

    with result_set(request.out.expanduser().absolute().parent) as results:
        result = _write_outputs(cfg, request, motion, body, results)
    console.print(f"[green]wrote[/green] {result['out']}")
    return result


def _write_preview_staged(
    results: ResultSet, out: Path, frames: np.ndarray, fps: float, crf: float
) -> dict[str, str]:
    """``<out stem>.preview.mp4/.png`` through the result set (moved in with the rest)."""
    final = out.with_name(out.stem + ".preview")
    mp4 = results.path(final.with_name(final.name + ".mp4"))
    results.path(final.with_name(final.name + ".png"))
    write_preview(mp4.with_suffix(""), frames, fps, crf=crf)
    return {
        "preview_mp4": str(final.with_name(final.name + ".mp4")),
        "preview_png": str(final.with_name(final.name + ".png")),
    }


def _write_outputs(
    cfg: DictConfig, request: InferRequest, motion, body, results: ResultSet
) -> dict:
    """Pose the body, render, and write the video or motion file (+ previews) of one request;
    files go through ``results`` (companions first, the main output last)."""
    result: dict[str, str] = {}
    suffix = request.out.suffix.lower()
    # The stage's trans refers to its own rest pelvis: re-express it for this body (smplx:
    # pelvis = J0 + trans), for the file and for posing alike.
    rest_joints = body.shaped()[1][0].detach().cpu().numpy()  # [24, 3], betas = 0
    motion = motion.rebased(rest_joints[0])
    crf = cfg.get("crf", 18)
    if cfg.get("preview"):
        # 4. pose the body, 5. render the preview
        vertices = pose_body(body, motion.poses, motion.trans)
        body_frames = _render(vertices, body.faces, request.image_size)
        result.update(_write_preview_staged(results, request.out, body_frames, request.fps, crf))
    if suffix in MOTION_SUFFIXES:
        write_motion_files(
            results.path(request.out),
            motion,
            rest_joints=rest_joints,
            betas=np.zeros(body.num_betas, np.float32),
            bvh_units=request.bvh_units,
        )
        result["out"] = str(request.out)
        return result
    if not cfg.get("preview"):
        vertices = pose_body(body, motion.poses, motion.trans)
        body_frames = _render(vertices, body.faces, request.image_size)
    # A video with photos is the person's (infer_person): here the motion on the body alone.
    _write_frames(request, body_frames, crf, results.path(request.out))
    result["out"] = str(request.out)
    return result


def infer_prompt_file(cfg: DictConfig) -> dict[str, str]:
    """``prompts=<file>``: one motion file per prompt line into the folder ``out`` (with
    ``images`` or ``subject``: one video of the person per prompt).

    Each prompt gives ``<out>/<index>_<slug>.<prompts_format>`` (``npz`` or ``bvh``, plus its
    preview when ``preview=true``). The whole batch is all or nothing.
    """
    prompts = read_prompt_file(str(cfg.prompts))
    fmt = str(cfg.get("prompts_format", "npz")).lower().lstrip(".")
    if f".{fmt}" not in MOTION_SUFFIXES:
        raise ConfigError(f"prompts_format must be npz or bvh, got {fmt!r}")
    out_dir = Path(str(cfg.get("out") or "")).expanduser()
    if out_dir.suffix.lower() in VIDEO_SUFFIXES + MOTION_SUFFIXES or out_dir.is_file():
        raise ConfigError(f"with prompts=..., out must be a folder, got out={out_dir}")
    if cfg.get("images") or cfg.get("subject"):
        return infer_person_prompts(cfg, prompts, out_dir)
    request = check_inputs(cfg, text=prompts[0], images=[], out=str(out_dir / f"x.{fmt}"))
    body, stage, rows = _select_stages(cfg)
    print_stage_table(rows)
    width = max(3, len(str(len(prompts))))
    result: dict[str, str] = {}
    with result_set(out_dir.absolute()) as results:
        for index, prompt in enumerate(tqdm(prompts, desc="prompts", unit="prompt")):
            item = dataclasses.replace(
                request,
                prompts=[prompt],
                out=out_dir / f"{index:0{width}d}_{slugify(prompt)}.{fmt}",
            )
            motion = stage.generate(item.prompts, item.num_frames, item.fps, item.seed)
            result[prompt] = _write_outputs(cfg, item, motion, body, results)["out"]
    console.print(f"[green]wrote[/green] {len(prompts)} motions to {out_dir}")
    return {"out": str(out_dir), **result}


def _render(vertices: np.ndarray, faces, image_size: int) -> np.ndarray:
    return render_mesh_frames(vertices, faces, image_size=image_size, progress=True)


def _write_frames(request: InferRequest, frames: np.ndarray, crf: float, path: Path) -> Path:
    """The video (``.mp4`` H.264, or ``.gif`` by ``request.out``'s suffix) at ``path``."""
    if request.out.suffix.lower() == ".gif":
        return write_gif(path, frames, min(request.fps, 50))
    return write_video(path, frames, request.fps, crf=crf, progress=True)


# ------------------------------------------------------------------------------ the person


@dataclass
class PersonStages:
    """What a person video runs with: the stage table's choices, built.

    Attributes:
        body: the body model; stage: the text → motion stage (None with ``motion_file``).
        rows: the printed table's ``(group, implementation, why)`` rows.
        body_kind: ``"embedded"`` or ``"smpl"``.
        generator: the Liquid Warping GAN (None: texture warping). With ``personalize_from``
            it is the starting point, replaced by the fine-tuned one before the video.
        background: ``VideoMotionCLIP``'s ``background`` (``"plate"`` or ``"bgnet"``).
        personalize_from: fine-tune the generator on the subject first, from these weights.
        personalize_into: the subject folder that run writes into (a prepared subject, or
            ``<run folder>/subject`` for ``images=``).
    """

    body: BodyModel
    stage: MotionStage | None
    rows: list[tuple[str, str, str]]
    body_kind: str
    generator: AttentionLWBGenerator | None
    background: str = "plate"
    personalize_from: Path | None = None
    personalize_into: Path | None = None


def _generator_plan(
    cfg: DictConfig, request: InferRequest, official: GroupChoice
) -> tuple[Path | None, str, Path | None, Path | None, tuple[str, str, str]]:
    """Which generator weights the video uses, and whether to fine-tune them first.

    ``personalize`` (``docs/person_video.md#personalization``): ``auto`` fine-tunes a subject
    that has no ``generator.safetensors`` yet whenever a generator is used (the reference's
    rule: a new subject is always personalized), ``always`` fine-tunes again, ``never`` uses
    the weights as given (``generator=``, else the subject's own, else the official file).

    Args:
        official: the resolver's appearance group (``kind == "lwg"``: the official weights).

    Returns:
        ``(weights or None for texture warping, why, personalize_from, personalize_into,
        the table's personalize row)``.
    """
    own = None if request.subject is None else request.subject / GENERATOR_FILE
    has_own = own is not None and own.is_file()
    found = Path(official.files["generator"]) if official.kind == "lwg" else None
    given = [
        (path, why)
        for path, why in (
            (request.generator, "generator="),
            (own if has_own else None, "the subject's fine-tuned generator"),
            (found, official.why),
        )
        if path is not None
    ]
    mode = request.personalize
    if request.appearance == "warp" or not given:
        why = "appearance=warp" if request.appearance == "warp" else "no generator weights"
        if mode == "always":
            raise ConfigError(
                "personalize=always fine-tunes the Liquid Warping GAN, but there is none to start "
                "from: give generator=<weights> (a train.py experiment=lwg_pretrain export, or "
                "iPERCore's file: python -m vmc doctor) or use personalize=auto"
            )
        row = ("personalize", "off", f"{why}: texture warping has nothing to fine-tune")
        return None, "", None, None, row
    if mode == "never":
        return *given[0], None, None, ("personalize", "off", "personalize=never")
    if mode == "auto" and has_own:
        assert own is not None
        row = ("personalize", "off", "the subject has its fine-tuned generator (always: again)")
        return own, "the subject's fine-tuned generator", None, None, row
    # Fine-tune from generator= (or the official file; else the subject's own, once more).
    start = next((path for path, _ in given if path != own), given[0][0])
    into = request.subject
    if into is None:
        run_dir = OmegaConf.select(
            cfg, "paths.output_dir", default=None, throw_on_resolution_failure=False
        )
        if not run_dir:
            raise ConfigError("personalize needs a run folder for the subject: paths.output_dir")
        into = Path(str(run_dir)) / "subject"
    reason = "personalize=always" if mode == "always" else "personalize=auto: a new subject"
    row = ("personalize", f"fine-tune on the subject first (from {start.name})", reason)
    return into / GENERATOR_FILE, "fine-tuned on the subject first", start, into, row


def _subject_settings(request: InferRequest) -> dict[str, Any]:
    """How the request's prepared subject was made (``meta.json`` settings; {} for photos)."""
    if request.subject is None:
        return {}
    return dict(read_layout_meta(request.subject).get("settings") or {})


def _fit_row(request: InferRequest) -> tuple[str, str, str]:
    """The person-fit row: the keypoint fit here, or how the subject folder was fitted."""
    if request.subject is None:
        return ("person fit", "mediapipe keypoints + body fit", "the embedded default's fit")
    spin = _subject_settings(request).get("fit") == "spin"
    what = "SPIN regressor + refinement" if spin else "mediapipe keypoints + body fit"
    return ("person fit", what, f"as prepared in {request.subject}")


def _background_choice(request: InferRequest, gan: bool) -> GroupChoice:
    """The background group as it will run: a clean plate, BGNet, inpainting or a colour.

    ``auto``: the subject's clean plate (``--background`` at preparation, or a photo given
    here), else BGNet of the generator when the GAN renders the person, else the inpainted
    photo. BGNet runs the reference's way: photo 0's crop with the person masked out
    (:meth:`vmc.pipeline.lwg_appearance.LWGRenderer.background_photo`).
    """
    inpaint = "inpainted photo (OpenCV Telea)"
    if request.background == "inpaint":
        return GroupChoice("background", "inpaint", inpaint, "background=inpaint")
    if request.background != "auto":
        if _parse_colour(request.background) is not None:
            return GroupChoice(
                "background", "colour", f"solid colour {request.background}", "background=<colour>"
            )
        return GroupChoice(
            "background", "clean", f"clean plate {request.background}", "background=<photo>"
        )
    if _subject_settings(request).get("background") == "clean photo":
        return GroupChoice(
            "background", "clean", "the subject's clean plate", "background=auto: it wins"
        )
    if gan:
        return GroupChoice(
            "background",
            "bgnet",
            "BGNet of the generator (photo 0 with the person masked out)",
            "background=auto with the Liquid Warping GAN and no clean plate",
        )
    return GroupChoice(
        "background", "inpaint", inpaint, "no clean plate and no generator (BGNet comes with one)"
    )


def _person_stages(cfg: DictConfig, request: InferRequest) -> PersonStages:
    """Resolve every group for a person video (and whether to personalize the generator)."""
    motion_req = motion_request(cfg.get("motion"), cfg.get("text_encoder"))
    choices = resolve_stages(
        dataclasses.replace(
            motion_req,
            body=str(cfg.body.kind),
            smpl=cfg.body.get("smpl_path"),
            assets_dir=motion_req.assets_dir or cfg.body.get("assets_dir"),
            # A generator of your own (generator=) is used as given; else appearance=lwg asks
            # the resolver for the official weights (they need SMPL and its UV files).
            appearance="lwg" if request.appearance == "lwg" and request.generator is None
            else "warp",
            fit="keypoints",
        )
    )  # fmt: skip
    body = load_body(choices.body)
    weights, why, start, into, personalize_row = _generator_plan(cfg, request, choices.appearance)
    appearance_row = choices.appearance.row()
    generator = None
    if weights is not None:
        # A file of another model: one clear line (the starting point when personalizing).
        generator = load_generator(start if start is not None else weights)
        appearance_row = ("appearance", f"Liquid Warping GAN ({weights.name})", why)
        choices = dataclasses.replace(
            choices,
            appearance=GroupChoice(
                "appearance", "lwg", *appearance_row[1:], {"generator": weights}
            ),  # fmt: skip
        )
    background = _background_choice(request, generator is not None)
    choices = dataclasses.replace(choices, background=background)
    record_stages(cfg, choices)  # what runs, generator and background included
    rows = []
    stage = None
    if request.motion_file is None:
        stage = build_motion_stage(choices.motion, motion_req, motion_options(cfg.get("motion")))
        stage.to(request.device)
        rows.append(
            ("text encoder", stage.encoder_name, "the one the text → motion model was trained with")
        )
        rows.append(choices.motion.row())
    else:
        rows.append(("motion", f"motion file {request.motion_file.name}", "motion_file="))
    rows += [
        choices.body.row(),
        _fit_row(request),
        appearance_row,
        personalize_row,
        background.row(),
    ]
    return PersonStages(
        body=body,
        stage=stage,
        rows=rows,
        body_kind=choices.body.kind,
        generator=generator,
        background="bgnet" if background.kind == "bgnet" else "plate",
        personalize_from=start,
        personalize_into=into,
    )


def photo_panel(image: np.ndarray, height: int, width: int | None = None) -> np.ndarray:
    """``image`` letterboxed into ``uint8 [height, width, 3]`` (aspect kept, grey bars; a square
    panel when ``width`` is not given)."""
    width = height if width is None else width
    h, w = image.shape[:2]
    scale = min(height / h, width / w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.Resampling.LANCZOS))
    panel = np.full((height, width, 3), 40, dtype=np.uint8)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    panel[top : top + new_h, left : left + new_w] = resized
    return panel


def _person_subject(cfg: DictConfig, request: InferRequest, stages: PersonStages) -> Subject:
    """The request's person: its prepared subject folder, or prepared here from the photos;
    the generator personalized on it when planned (``stages.generator`` is then the fine-tuned
    one); the ``background`` key applied."""
    clean = None
    colour = _parse_colour(request.background)
    if request.background not in ("auto", "inpaint") and colour is None:
        clean = read_image(Path(request.background).expanduser())
    if request.subject is not None:
        subject = read_subject_folder(request.subject, expected_body=stages.body_kind)
        if clean is not None:
            subject.background_photo = align_background(clean, subject.photos[0].shape[:2])
        console.print(f"subject {subject.name} from {request.subject}")
    else:
        console.print(f"preparing the person from {len(request.images)} photo(s)")
        subject = prepare_subject(
            request.images,
            stages.body,
            name=request.out.stem,
            body_kind=stages.body_kind,
            image_size=min(512, request.image_size),
            background=clean,
            texture_size=512 if request.image_size > 256 else 256,
            progress=True,
        )
    for warning in subject.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    if stages.personalize_from is not None:
        stages.generator = _personalize(cfg, request, stages, subject)
    if colour is not None:
        subject.background_photo = np.empty_like(subject.background_photo)
        subject.background_photo[:] = colour
    return subject


def _personalize(
    cfg: DictConfig, request: InferRequest, stages: PersonStages, subject: Subject
) -> AttentionLWBGenerator:
    """Fine-tune the generator on the subject through ``finetune.py``'s code path
    (:func:`vmc.tasks.finetune.personalize`); photos are written as a subject folder first."""
    folder, start = stages.personalize_into, stages.personalize_from
    assert folder is not None and start is not None and stages.generator is not None
    if request.subject is None:
        write_subject_folder(subject, folder, stages.body, overwrite=True)
    run = personalize_config(
        folder,
        start,
        stages.generator.config.to_dict(),
        body_kind=stages.body_kind,
        smpl_path=cfg.body.get("smpl_path"),
        paths=cfg.get("paths"),
        overrides=request.personalize_overrides,
    )
    weights = personalize(run)
    if request.subject is None:
        console.print(f"the personalized subject is in {folder}: reuse it with subject={folder}")
    return load_generator(weights)


def _person_video(
    request: InferRequest, pipeline: VideoMotionCLIP, subject: Subject
) -> VideoOutput:
    """The pipeline on one request (its prompts, or its motion file)."""
    motion = load_motion_npz(request.motion_file) if request.motion_file is not None else None
    video = pipeline(
        subject,
        prompts=None if motion is not None else request.prompts,
        motion=motion,
        num_frames=request.num_frames,
        fps=request.fps,
        framing=request.framing,
        root_motion=request.root_motion,
        image_size=request.image_size,
        seed=request.seed,
        blend_in=request.blend_in,
        progress=True,
    )
    last_match = getattr(pipeline.text_to_motion, "last_match", "")
    if last_match and motion is None:
        console.print(f"caption retrieval {last_match}")
    return video


def _write_person(
    cfg: DictConfig,
    request: InferRequest,
    video: VideoOutput,
    subject: Subject,
    body,
    results: ResultSet,
) -> dict[str, str]:
    """The preview (photo | body | result), the motion exports and the video, into ``results``
    in that order (companions first, the video last)."""
    result: dict[str, str] = {}
    crf = cfg.get("crf", 18)
    if cfg.get("preview"):
        h, w = video.frames.shape[1:3]
        photo = photo_panel(subject.photos[0], h, w)
        side_by_side = np.concatenate(
            [np.broadcast_to(photo, video.frames.shape), video.body_frames, video.frames], 2
        )
        result.update(_write_preview_staged(results, request.out, side_by_side, request.fps, crf))
    rest_joints = body.shaped(torch.as_tensor(subject.betas)[None])[1][0].detach().numpy()
    for kind in request.export:
        final = request.out.with_suffix(f".{kind}")
        write_motion_files(
            results.path(final),
            video.motion,
            rest_joints=rest_joints,
            betas=subject.betas,
            bvh_units=request.bvh_units,
        )
        result[kind] = str(final)
    _write_frames(request, video.frames, crf, results.path(request.out))
    result["out"] = str(request.out)
    return result


def infer_person(cfg: DictConfig, request: InferRequest) -> dict[str, str]:
    """Photos (or a prepared subject) + text or a motion file → a video of that person."""
    # 2. stages
    stages = _person_stages(cfg, request)
    print_stage_table(stages.rows)
    timer = StepTimer()
    # 3. the person (and the generator personalized on it, when planned)
    subject = _person_subject(cfg, request, stages)
    timer.lap("prepare" if stages.personalize_from is None else "prepare + personalize")
    # 4. the video
    pipeline = VideoMotionCLIP(
        stages.stage, stages.body, device=request.device, generator=stages.generator,
        background=stages.background,
    )  # fmt: skip
    video = _person_video(request, pipeline, subject)
    # 5. write: companions first, the video last
    with result_set(request.out.expanduser().absolute().parent) as results:
        result = _write_person(cfg, request, video, subject, stages.body, results)
    seconds = {**timer.timings, **video.timings}
    console.print("seconds per stage: " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()))
    console.print(f"[green]wrote[/green] {result['out']}")
    return result


def infer_person_prompts(cfg: DictConfig, prompts: list[str], out_dir: Path) -> dict[str, str]:
    """``prompts=<file>`` with photos or a subject: one video per prompt into ``out_dir``.

    The person is prepared once; the prompts run as the predict items of the joint inference
    LightningModule (:mod:`vmc.systems.video_inference`), so a multi-device trainer spreads
    them; each video's files appear together, written by the process that made it.
    """
    request = check_inputs(cfg, text=prompts[0], out=str(out_dir / "x.mp4"))
    stages = _person_stages(cfg, request)
    print_stage_table(stages.rows)
    subject = _person_subject(cfg, request, stages)
    body = stages.body
    width = max(3, len(str(len(prompts))))
    jobs = [
        VideoJob("person", out_dir / f"{i:0{width}d}_{slugify(p)}.mp4", prompt=p)
        for i, p in enumerate(prompts)
    ]

    def write(job: VideoJob, video: VideoOutput) -> dict[str, str]:
        item = dataclasses.replace(request, prompts=[job.prompt], out=job.out)
        with result_set(out_dir.absolute()) as results:
            return _write_person(cfg, item, video, subject, body, results)

    system = VideoInferenceSystem(
        body, {"person": subject}, stages.stage, num_frames=request.num_frames, fps=request.fps,
        framing=request.framing, root_motion=request.root_motion,
        image_size=request.image_size, seed=request.seed, blend_in=request.blend_in,
        generator=stages.generator, background=stages.background, writer=write,
    )  # fmt: skip
    made = predict_videos(system, jobs)
    result = {job.prompt or "": str(job.out) for job in jobs}
    console.print(f"[green]wrote[/green] {len(made)} videos to {out_dir}")
    return {"out": str(out_dir), **result}
