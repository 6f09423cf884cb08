"""``infer(cfg)``: the body of ``python infer.py text="..." images=[photo.jpg]``.

Numbered steps (each a separate, tested unit):

1. check the inputs (text, photos, output path and sizes) before any heavy work;
2. pick each stage's implementation and print the table of what was chosen and why;
3. text → motion;
4. pose the body with the motion;
5. render the frames and write the outputs atomically (all of them or none: an error or Ctrl-C
   removes what this run had written).

What each stage is today: text → motion is MotionCLIP (the paper checkpoint with CLIP when its
files are found, a run of yours with ``motion.run=...``, else the embedded model trained on the
procedural library; ``vmc.motion.stage``); the person stage renders the body model, shown beside
the photo (person fit and appearance transfer come with their issues). The output extension
decides what is written: ``.mp4``/``.gif`` a video, ``.npz`` (AMASS-style SMPL, Z-up) or ``.bvh``
(Y-up, ``bvh_units`` cm or m) the motion alone (with a ``<stem>.preview.mp4`` beside it), through
:func:`vmc.motion.writing.write_motion_files` for the selected body (its rest joints and betas:
smplx's ``J0 + trans`` convention). ``text`` may be a list: the prompts are
performed one after the other. ``prompts=<file>`` runs every line of a text file, one motion
file each, into the folder ``out``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from omegaconf import DictConfig, OmegaConf
from PIL import Image
from tqdm.auto import tqdm

from vmc.body.posing import pose_body
from vmc.body.select import load_body
from vmc.io.atomic import all_or_nothing, atomic_path
from vmc.io.images import read_image
from vmc.io.stages import StageChoices, resolve_stages
from vmc.io.video import write_gif, write_video
from vmc.motion.generate import read_prompt_file, slugify
from vmc.motion.limits import MAX_FRAMES
from vmc.motion.stage import build_motion_stage, motion_request
from vmc.motion.writing import write_motion_files
from vmc.render.preview import render_mesh_frames, write_preview
from vmc.utils.config import ConfigError, as_path_list, check_positive
from vmc.utils.console import console, print_stage_table

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".gif")
MOTION_SUFFIXES = (".npz", ".bvh")


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

    prompts = _check_prompts(value("text"))
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
    num_frames = cfg.get("num_frames")
    if isinstance(num_frames, bool) or not isinstance(num_frames, int):
        raise ConfigError(f"num_frames must be an integer, got {num_frames!r}")
    if not 2 <= num_frames <= MAX_FRAMES:
        raise ConfigError(f"num_frames must be in [2, {MAX_FRAMES}], got {num_frames}")
    fps = check_positive(cfg.get("fps"), "fps", maximum=240)
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
    return InferRequest(
        prompts=prompts,
        images=images,
        image_paths=image_paths,
        out=out,
        num_frames=num_frames,
        fps=fps,
        image_size=image_size,
        seed=int(cfg.get("seed") or 0),
        bvh_units=str(bvh_units),
    )


def photo_panel(image: np.ndarray, size: int) -> np.ndarray:
    """Fit a photo into a ``size``² panel (aspect kept, letterboxed in grey): ``uint8 [S,S,3]``."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.Resampling.LANCZOS))
    panel = np.full((size, size, 3), 40, dtype=np.uint8)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    panel[top : top + new_h, left : left + new_w] = resized
    return panel


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
    _record_stages(cfg, choices)
    body = load_body(choices.body)
    stage = build_motion_stage(choices.motion, cfg.get("motion"), cfg.get("text_encoder"))
    rows = [
        ("text encoder", stage.encoder_name, "the one the text → motion model was trained with"),
        choices.motion.row(),
        choices.body.row(),
        ("person", "body render beside the photo", "person fit and appearance: not built yet"),
    ]
    return body, stage, rows


def _record_stages(cfg: DictConfig, choices: StageChoices) -> None:
    """Keep the resolved choices in the run folder (``stages.yaml``) beside Hydra's config."""
    out = OmegaConf.select(cfg, "paths.output_dir", default=None, throw_on_resolution_failure=False)
    if out and Path(str(out)).is_dir():
        with atomic_path(Path(str(out)) / "stages.yaml") as tmp:
            tmp.write_text(yaml.safe_dump(choices.to_dict(), sort_keys=False))


def infer(cfg: DictConfig) -> dict[str, str]:
    """Run one inference; returns ``{"out": path, ...}`` of the files written."""
    if cfg.get("prompts"):
        return infer_prompt_file(cfg)
    # 1. inputs
    request = check_inputs(cfg)
    torch.manual_seed(request.seed)

    # 2. stages: chosen, and said, before any work
    body, stage, rows = _select_stages(cfg)
    print_stage_table(rows)

    # 3. text → motion
    motion = stage.generate(request.prompts, request.num_frames, request.fps, request.seed)
    if getattr(stage, "last_match", ""):
        console.print(f"caption retrieval {stage.last_match}")

    with all_or_nothing() as outputs:
        result = _write_outputs(cfg, request, motion, body, outputs)
    console.print(f"[green]wrote[/green] {result['out']}")
    return result


def _write_outputs(cfg: DictConfig, request: InferRequest, motion, body, outputs) -> dict:
    """Pose the body, render, and write the video or motion file (+ previews) of one request."""
    result: dict[str, str] = {}
    suffix = request.out.suffix.lower()
    # The stage's trans refers to its own rest pelvis: re-express it for this body (smplx:
    # pelvis = J0 + trans), for the file and for posing alike.
    rest_joints = body.shaped()[1][0].detach().cpu().numpy()  # [24, 3], betas = 0
    motion = motion.rebased(rest_joints[0])
    if suffix in MOTION_SUFFIXES:
        written = write_motion_files(
            request.out,
            motion,
            rest_joints=rest_joints,
            betas=np.zeros(body.num_betas, np.float32),
            bvh_units=request.bvh_units,
            outputs=outputs,
        )
        result["out"] = str(written[0])
        if not cfg.get("preview"):
            return result
    # 4. pose the body
    vertices = pose_body(body, motion.poses, motion.trans)
    # 5. render and write
    body_frames = _render(vertices, body.faces, request.image_size)
    if cfg.get("preview"):
        stem = request.out.with_name(request.out.stem + ".preview")
        mp4, png = write_preview(stem, body_frames, request.fps, crf=cfg.get("crf", 18))
        result.update(preview_mp4=str(outputs.add(mp4)), preview_png=str(outputs.add(png)))
    if suffix in MOTION_SUFFIXES:
        return result
    frames = body_frames
    if request.images:
        panel = photo_panel(request.images[0], request.image_size)
        frames = np.concatenate([np.broadcast_to(panel, body_frames.shape), body_frames], 2)
    result["out"] = str(outputs.add(_write_frames(request, frames, cfg.get("crf", 18))))
    return result


def infer_prompt_file(cfg: DictConfig) -> dict[str, str]:
    """``prompts=<file>``: one motion file per prompt line into the folder ``out``.

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
    request = check_inputs(cfg, text=prompts[0], images=[], out=str(out_dir / f"x.{fmt}"))
    body, stage, rows = _select_stages(cfg)
    print_stage_table(rows)
    width = max(3, len(str(len(prompts))))
    result: dict[str, str] = {}
    with all_or_nothing() as outputs:
        out_dir.mkdir(parents=True, exist_ok=True)
        for index, prompt in enumerate(tqdm(prompts, desc="prompts", unit="prompt")):
            item = dataclasses.replace(
                request,
                prompts=[prompt],
                out=out_dir / f"{index:0{width}d}_{slugify(prompt)}.{fmt}",
            )
            motion = stage.generate(item.prompts, item.num_frames, item.fps, item.seed)
            result[prompt] = _write_outputs(cfg, item, motion, body, outputs)["out"]
    console.print(f"[green]wrote[/green] {len(prompts)} motions to {out_dir}")
    return {"out": str(out_dir), **result}


def _render(vertices: np.ndarray, faces, image_size: int) -> np.ndarray:
    return render_mesh_frames(vertices, faces, image_size=image_size, progress=True)


def _write_frames(request: InferRequest, frames: np.ndarray, crf: float) -> Path:
    if request.out.suffix.lower() == ".gif":
        return write_gif(request.out, frames, min(request.fps, 50))
    return write_video(request.out, frames, request.fps, crf=crf, progress=True)
