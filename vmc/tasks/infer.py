"""``infer(cfg)``: the body of ``python infer.py text="..." images=[photo.jpg]``.

Numbered steps (each a separate, tested unit):

1. check the inputs (text, photos, output path and sizes) before any heavy work;
2. pick each stage's implementation and print the table of what was chosen and why;
3. text → motion;
4. pose the body with the motion;
5. render the frames and write the outputs atomically (all of them or none: an error or Ctrl-C
   removes what this run had written).

What each stage is today: the text→motion stage retrieves the procedural motion whose caption is
nearest to the text in the text encoder's space (the MotionCLIP stage replaces it when a trained
model is configured); the person stage renders the body model, shown beside the photo (person fit
and appearance transfer come with their issues). The output extension decides what is written:
``.mp4``/``.gif`` a video, ``.npz`` (AMASS-style SMPL) or ``.bvh`` the motion alone.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from vmc.utils.config import ConfigError, as_path_list, check_positive

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".gif")
MOTION_SUFFIXES = (".npz", ".bvh")
MAX_FRAMES = 3600


@dataclass
class InferRequest:
    """Validated inputs of one inference run."""

    text: str
    images: list[np.ndarray]  # uint8 [H,W,3] each
    image_paths: list[str]
    out: Path
    num_frames: int
    fps: float
    image_size: int
    seed: int


def check_inputs(cfg: DictConfig) -> InferRequest:
    """Validate everything a run needs, with errors that name the key and the fix."""
    from vmc.io.images import read_image

    text = cfg.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ConfigError('text must be a non-empty description, e.g. text="a person jumps"')
    image_paths = as_path_list(cfg.get("images"), "images")
    images = [read_image(path) for path in image_paths]  # clear error naming a bad file
    out = Path(str(cfg.get("out") or "")).expanduser()
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
    return InferRequest(
        text=text.strip(),
        images=images,
        image_paths=image_paths,
        out=out,
        num_frames=num_frames,
        fps=fps,
        image_size=image_size,
        seed=int(cfg.get("seed") or 0),
    )


@dataclass
class OutputSet:
    """Files written by one run; removed together if the run fails or is interrupted."""

    written: list[Path] = field(default_factory=list)

    def add(self, path: Path) -> Path:
        self.written.append(Path(path))
        return Path(path)


@contextlib.contextmanager
def all_or_nothing() -> Iterator[OutputSet]:
    """Yield an :class:`OutputSet`; on any exception (Ctrl-C included) delete its files."""
    outputs = OutputSet()
    try:
        yield outputs
    except BaseException:
        for path in outputs.written:
            path.unlink(missing_ok=True)
        raise


@dataclass
class MotionChoice:
    """Result of the text → motion stage."""

    poses: np.ndarray  # float32 [T,24,3] axis-angle, Y-up world facing +z at frame 0
    trans: np.ndarray  # float32 [T,3] metres
    description: str
    why: str


def text_to_motion_by_retrieval(
    text: str, encoder, num_frames: int, fps: float, seed: int
) -> MotionChoice:
    """Retrieve the procedural action whose training captions best match ``text``, generate it.

    Args:
        text: the user's description.
        encoder: a ``vmc.text.TextEncoder``.
        num_frames, fps, seed: passed to the procedural generator.
    """
    from vmc.motion.procedural import generate_motion, list_actions
    from vmc.motion.retrieval import CaptionIndex

    captions, labels = [], []
    for action in list_actions():
        sample = generate_motion(action, num_frames=2, fps=fps, seed=0)
        captions += sample.captions
        labels += [action] * len(sample.captions)
    match = CaptionIndex(captions, labels, encoder).query([text])[0]
    motion = generate_motion(match.label, num_frames=num_frames, fps=fps, seed=seed)
    return MotionChoice(
        poses=motion.poses,
        trans=motion.trans,
        description=f"caption retrieval over {len(list_actions())} procedural actions",
        why=f"no trained MotionCLIP configured; matched '{match.caption}' (cos {match.score:.2f})",
    )


def pose_body(body, poses: np.ndarray, trans: np.ndarray, batch: int = 32) -> np.ndarray:
    """Vertices of ``body`` for each frame: ``float32 [T,V,3]`` (body space, metres, Y up)."""
    import torch

    frames = []
    with torch.no_grad():
        for start in range(0, len(poses), batch):
            aa = torch.from_numpy(np.ascontiguousarray(poses[start : start + batch])).float()
            tr = torch.from_numpy(np.ascontiguousarray(trans[start : start + batch])).float()
            out = body(pose_axis_angle=aa.reshape(len(aa), 72), transl=tr)
            frames.append(out.vertices.numpy())
    return np.concatenate(frames).astype(np.float32)


def photo_panel(image: np.ndarray, size: int) -> np.ndarray:
    """Fit a photo into a ``size``² panel (aspect kept, letterboxed in grey): ``uint8 [S,S,3]``."""
    from PIL import Image

    h, w = image.shape[:2]
    scale = size / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.Resampling.LANCZOS))
    panel = np.full((size, size, 3), 40, dtype=np.uint8)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    panel[top : top + new_h, left : left + new_w] = resized
    return panel


def infer(cfg: DictConfig) -> dict[str, str]:
    """Run one inference; returns ``{"out": path, ...}`` of the files written."""
    import torch

    from vmc.body.select import select_body
    from vmc.text import build_text_encoder
    from vmc.utils.console import console, print_stage_table

    # 1. inputs
    request = check_inputs(cfg)
    torch.manual_seed(request.seed)

    # 2. stages
    body, body_desc, body_why = select_body(
        cfg.body.kind, cfg.body.get("smpl_path"), cfg.body.get("assets_dir")
    )
    encoder = build_text_encoder(
        cfg.text_encoder.kind, cfg.text_encoder.get("clip_path"), cfg.text_encoder.get("assets_dir")
    )

    # 3. text → motion
    motion = text_to_motion_by_retrieval(
        request.text, encoder, request.num_frames, request.fps, request.seed
    )
    rows = [
        ("text encoder", encoder.name, getattr(encoder, "selection_reason", "")),
        ("text → motion", motion.description, motion.why),
        ("body", body_desc, body_why),
        ("person", "body render beside the photo", "person fit and appearance transfer: later"),
    ]
    print_stage_table(rows)

    suffix = request.out.suffix.lower()
    with all_or_nothing() as outputs:
        if suffix in MOTION_SUFFIXES:
            return _write_motion(request, motion, outputs)
        # 4. pose the body
        vertices = pose_body(body, motion.poses, motion.trans)
        # 5. render and write
        body_frames = _render(vertices, body.faces, request.image_size)
        result = {}
        if cfg.get("preview"):
            from vmc.render.preview import write_preview

            stem = request.out.with_name(request.out.stem + ".preview")
            mp4, png = write_preview(stem, body_frames, request.fps, crf=cfg.get("crf", 18))
            result.update(preview_mp4=str(outputs.add(mp4)), preview_png=str(outputs.add(png)))
        frames = body_frames
        if request.images:
            panel = photo_panel(request.images[0], request.image_size)
            frames = np.concatenate([np.broadcast_to(panel, body_frames.shape), body_frames], 2)
        result["out"] = str(outputs.add(_write_frames(request, frames, cfg.get("crf", 18))))
    console.print(f"[green]wrote[/green] {result['out']}")
    return result


def _render(vertices: np.ndarray, faces, image_size: int) -> np.ndarray:
    from vmc.render.preview import render_mesh_frames

    return render_mesh_frames(vertices, faces, image_size=image_size, progress=True)


def _write_frames(request: InferRequest, frames: np.ndarray, crf: float) -> Path:
    from vmc.io.video import write_gif, write_video

    if request.out.suffix.lower() == ".gif":
        return write_gif(request.out, frames, min(request.fps, 50))
    return write_video(request.out, frames, request.fps, crf=crf, progress=True)


def _write_motion(request: InferRequest, motion: MotionChoice, outputs: OutputSet) -> dict:
    from vmc.motion.export import save_amass_npz, save_bvh

    if request.out.suffix.lower() == ".bvh":
        path = save_bvh(request.out, motion.poses, motion.trans, request.fps)
    else:
        path = save_amass_npz(
            request.out, motion.poses, motion.trans, fps=request.fps, texts=[request.text]
        )
    return {"out": str(outputs.add(Path(path)))}
