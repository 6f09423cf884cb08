"""Per-subject fine-tuning of the LWG generator, measured: novel-pose PSNR/SSIM before and after.

1. A named ``lwg_pretrain_tiny`` pretraining run (tiny widths; VGG19 and SphereFace losses with
   RANDOM weights, as ``conf/model/lwg_tiny.yaml`` says) on synthetic clips of the embedded body;
   made by the printed ``python train.py experiment=lwg_pretrain_tiny ...`` command when its
   ``export/model.safetensors`` is missing, reused otherwise.
2. Synthetic subjects with ground truth (``vmc.data.synthetic_clips``): each is photographed in a
   standing source pose (``bench_subject_appearance.photograph``: front, or front + back) and
   re-posed into ``--frames`` frames of a procedural motion whose true renders are known. The
   subject folder is written from the photos and the ground-truth body parameters (no fit: only
   the generator is judged), exactly as ``finetune.py`` reads it.
3. BEFORE: the pretrained generator renders the subject in the novel poses
   (:class:`vmc.pipeline.lwg_appearance.LWGRenderer`). AFTER: ``finetune.py``'s task
   (:func:`vmc.tasks.finetune.finetune`, the ``lwg_finetune`` schedule: Adam 1e-4, batch 1, a
   fresh discriminator) fine-tunes it on the subject's photos from ``init_from=<the run
   folder>``; its ``generator.safetensors`` renders the same poses. Reference: texture warping
   (the embedded default) from the same photos.

The loss networks of the fine-tuning (``--loss-nets``): ``missing`` (default) is what a user
without the VGG19 / SphereFace files gets from ``finetune.py`` (``lwg_finetune`` sets
``model.losses.when_missing=pixel``: the perceptual term runs as a pixel L1 on the target frames,
the face term is off; with the files under the assets they are used and the table says so);
``random`` keeps the tiny model's random-weight networks (before ``when_missing`` existed).

Frames are composited over the true background with the method's own person alpha and scored on
the person's bounding box (+4 px) against the true render, as ``bench_subject_appearance.py``
does. Pretraining, fine-tuning and evaluation share one image size (``--size``).

    python bench/bench_finetune_quality.py [--size 64] [--pretrain-iterations 300]
        [--subjects 4] [--frames 12] [--iterations 100] [--photos 1] [--threads 2]
        [--set KEY=VALUE ...] [--loss-nets missing|random]
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shlex
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from bench_subject_appearance import ACTIONS, SHADING, bbox, photograph, psnr, ssim
from hydra.utils import instantiate
from omegaconf import open_dict

from vmc.body.embedded import load_embedded_body
from vmc.data.synthetic_clips import render_synthetic_clip
from vmc.lwg.loading import generator_file, load_generator
from vmc.pipeline.lwg_appearance import LWGRenderer
from vmc.render.correspondence import UVLayout
from vmc.render.texture import UVRender, uv_render
from vmc.subject.crop import CropBox
from vmc.subject.fit import PhotoReport
from vmc.subject.folder import write_subject_folder
from vmc.subject.prepare import Subject
from vmc.subject.texture import TextureAtlas, texture_from_photos
from vmc.subject.warp import SubjectRenderer, composite
from vmc.tasks.entry import compose_config
from vmc.tasks.finetune import GENERATOR_FILE, finetune

ROOT = Path(__file__).resolve().parents[1]
PAD = 4  # person box padding (px), as bench_subject_appearance.py
EXPORT = Path("export") / "model.safetensors"


# ------------------------------------------------------------------------------ pretraining
def pretrain_command(run: Path, size: int, iterations: int) -> list[str]:
    """The ``train.py`` command of the named pretraining run (one iteration = G + D step).

    The embedded body (the subjects' body; ``lwg_pretrain_tiny`` defaults to the tiny one), one
    epoch of ``iterations`` batches of 2 items, validation on 4 fixed clips at its end.
    """
    return [
        "python", "train.py", "experiment=lwg_pretrain_tiny", "data.body.kind=embedded",
        f"data.image_size={size}", f"data.train_length={2 * iterations}", "data.val_length=4",
        f"trainer.max_steps={2 * iterations}", "callbacks.media=null",
        "callbacks.progress_bar=null", "logger=csv", f"hydra.run.dir={run}",
    ]  # fmt: skip


def ensure_pretraining(run: Path, size: int, iterations: int) -> tuple[Path, dict[str, float]]:
    """The run's exported generator, made by :func:`pretrain_command` when missing.

    Args:
        run: the run folder (``hydra.run.dir``), relative to the repository or absolute.

    Returns:
        The run folder (absolute) and its timing (``wall_s``, ``cpu_s``: user + system seconds of
        the training process; read back from ``bench_timing.json`` when the run exists).
    """
    cmd = pretrain_command(run, size, iterations)  # run as given: relative to the repository
    run = run if run.is_absolute() else ROOT / run
    weights = run / EXPORT
    timing_file = run / "bench_timing.json"
    if weights.is_file():
        timing = json.loads(timing_file.read_text()) if timing_file.is_file() else {}
        print(f"pretraining run {run} exists: reusing {weights}", flush=True)
        return run, timing
    print(f"pretraining ({iterations} iterations at {size} px): {shlex.join(cmd)}", flush=True)
    log = run.with_name(run.name + ".log")
    run.parent.mkdir(parents=True, exist_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.run(
            [sys.executable, *cmd[1:]], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode or not weights.is_file():
        tail = "\n".join(log.read_text().splitlines()[-20:])
        raise SystemExit(f"pretraining failed (exit {proc.returncode}); {log}:\n{tail}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    timing = {"wall_s": time.perf_counter() - t0, "cpu_s": cpu, "iterations": iterations}
    timing_file.write_text(json.dumps(timing, indent=1) + "\n")
    return run, timing


# ------------------------------------------------------------------------------ subjects
@dataclass
class SyntheticSubject:
    """A subject with ground truth.

    Attributes:
        subject: the prepared subject (photos = crops, ground-truth body parameters).
        poses: ``float32 [nt, 72]`` novel poses (root in the HMR image frame).
        cams: ``float32 [nt, 3]`` their weak-perspective cameras (the photo's NDC).
        truth: ``float32 [nt, S, S, 3]`` in [0, 1], the true renders over the background.
        masks: ``bool [nt, S, S]`` the true person masks.
        action: the procedural motion of the novel poses.
    """

    subject: Subject
    poses: np.ndarray
    cams: np.ndarray
    truth: np.ndarray
    masks: np.ndarray
    action: str


def make_subject(
    body: torch.nn.Module,
    layout: UVLayout,
    uv: UVRender,
    atlas: TextureAtlas,
    index: int,
    *,
    size: int,
    frames: int,
    photos: int,
    seed: int = 500,
) -> SyntheticSubject:
    """Synthetic subject ``index``: ``photos`` standing photos (yaw 0, then pi) at ``size``²
    and ``frames`` novel poses of ``ACTIONS[index]`` (every other frame of a
    ``2 * frames``-frame motion), all over one procedural background."""
    action = ACTIONS[index % len(ACTIONS)]
    clip = render_synthetic_clip(
        body, num_frames=2 * frames, image_size=size, seed=seed + index, layout=layout, uv=uv,
        action=action, frame_ids=list(range(0, 2 * frames, 2)), shading=SHADING,
    )  # fmt: skip
    yaws = [0.0, math.pi][:photos]
    images, masks, poses, cams, _ = photograph(body, layout, clip, yaws, size)
    betas = torch.from_numpy(clip.betas).float()
    alphas = masks.astype(np.float32)
    texture = texture_from_photos(
        body, list(images), betas, poses, cams, alphas=list(alphas), atlas=atlas
    )
    reports = [
        PhotoReport(
            keypoints_found=0,
            keypoint_error_px=0.0,
            silhouette_iou=1.0,
            facing="front" if y == 0 else "back",
            landmark_set=0,
            losses={},
        )
        for y in yaws
    ]
    subject = Subject(
        name=f"synthetic{index}",
        body_kind="embedded",
        photos=list(images),
        crops=images,
        alphas=alphas,
        boxes=[CropBox(0.0, 0.0, float(size), size) for _ in yaws],
        betas=clip.betas.astype(np.float32),
        poses=poses.numpy().astype(np.float32),
        cams=cams.numpy().astype(np.float32),
        background=clip.background,
        background_photo=clip.background,
        texture=texture,
        reports=reports,
        settings={"fit": "ground truth (bench_finetune_quality)", "texture_size": atlas.size},
    )
    return SyntheticSubject(
        subject=subject,
        poses=clip.poses.astype(np.float32),
        cams=clip.cams.astype(np.float32),
        truth=clip.frames.astype(np.float32) / 255,
        masks=clip.masks,
        action=action,
    )


# ------------------------------------------------------------------------------ scoring
def score(pred: np.ndarray, truth: np.ndarray, masks: np.ndarray) -> dict[str, float]:
    """Mean PSNR / SSIM over frames on the true person's box (+``PAD`` px).

    Args:
        pred: ``float32 [N, S, S, 3]`` in [0, 1], frames over the true background.
        truth: ``float32 [N, S, S, 3]`` in [0, 1], the true frames.
        masks: ``bool [N, S, S]`` the true person masks (the boxes).
    """
    size = truth.shape[1]
    p, s = [], []
    for f in range(len(pred)):
        ys, xs = bbox(masks[f], PAD, size)
        p.append(psnr(pred[f, ys, xs], truth[f, ys, xs]))
        s.append(ssim(pred[f, ys, xs], truth[f, ys, xs]))
    return {"psnr": float(np.mean(p)), "ssim": float(np.mean(s))}


def score_lwg(weights: Path, body: torch.nn.Module, case: SyntheticSubject) -> dict[str, float]:
    """The generator in ``weights`` (a file or a run folder) renders the subject, composited
    over the true background with its own mask; scores of the novel poses (``psnr``, ``ssim``)
    and of the source photos re-rendered in their own poses (``photo_psnr``, ``photo_ssim``:
    what fine-tuning trains on)."""
    s = case.subject
    renderer = LWGRenderer(load_generator(generator_file(weights)), body, s, s.image_size)

    def frames(poses: np.ndarray, cams: np.ndarray) -> np.ndarray:
        rgb, alpha = renderer.render(poses, cams, s.image_size)
        return composite(rgb, alpha, s.background).numpy()

    out = score(frames(case.poses, case.cams), case.truth, case.masks)
    photo = score(frames(s.poses, s.cams), s.crops.astype(np.float32) / 255, s.alphas > 0.5)
    return out | {f"photo_{k}": v for k, v in photo.items()}


def render_warp(body: torch.nn.Module, case: SyntheticSubject) -> np.ndarray:
    """Texture warping (the embedded default) of the same subject in the novel poses:
    ``float32 [nt, S, S, 3]`` in [0, 1] over the true background."""
    s = case.subject
    r = SubjectRenderer(body, s.betas, s.texture)
    rgb, alpha = r.render(case.poses, case.cams, s.image_size)
    return composite(rgb, alpha, s.background).numpy()


# ------------------------------------------------------------------------------ fine-tuning
def finetune_overrides(
    folder: Path, init_from: Path, size: int, iterations: int, loss_nets: str = "missing"
) -> list[str]:
    """``finetune.py`` overrides of one subject, starting from ``init_from`` (the pretraining
    run's folder or a weights file): the tiny model the run was pretrained with, the run's
    image size, ``iterations`` iterations (a G and a D step each), no validation, CSV logs;
    ``loss_nets="missing"`` looks the VGG19 / SphereFace files up as a user's run does (module
    docstring), ``"random"`` keeps the tiny model's random-weight networks."""
    nets = (
        ["model.losses.vgg_weights=null", "model.losses.face_weights=null"]
        if loss_nets == "missing"
        else []
    )
    return [
        f"subject={folder}", f"init_from={init_from}", "model=lwg_tiny",
        f"data.image_size={size}", f"trainer.max_steps={2 * iterations}",
        f"data.train_length={max(iterations, 1)}", "data.val_length=0", "logger=csv",
        "callbacks.progress_bar=null", *nets,
    ]  # fmt: skip


def loss_sources(args: argparse.Namespace) -> str:
    """What computes the fine-tuning's perceptual and face terms with these settings (the
    ``LWGLosses.sources`` of the composed ``finetune.py`` config)."""
    overrides = finetune_overrides(Path("x"), Path("x"), args.size, 1, args.loss_nets)
    losses = instantiate(compose_config("finetune", overrides).model.losses)
    return ", ".join(f"{term}: {src}" for term, src in losses.sources.items())


def run_finetune(overrides: Sequence[str], work: Path) -> dict[str, float]:
    """:func:`vmc.tasks.finetune.finetune` on the composed ``finetune`` config (logs and caches
    under ``work``); its wall and CPU seconds (this process, all threads)."""
    cfg = compose_config("finetune", list(overrides))
    with open_dict(cfg):
        cfg.paths.log_dir = str(work / "logs")
        cfg.paths.cache_dir = str(work / "cache")
    t0, c0 = time.perf_counter(), time.process_time()
    finetune(cfg)
    return {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}


# ------------------------------------------------------------------------------ main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=Path("outputs/lwg_pretrain_tiny_embedded64"))
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--pretrain-iterations", type=int, default=300)
    ap.add_argument("--subjects", type=int, default=4)
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--photos", type=int, choices=(1, 2), default=1)
    ap.add_argument("--iterations", type=int, default=100, help="fine-tuning iterations")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--set",
        dest="extra",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an extra finetune.py override (repeatable), e.g. model.lr_g=1e-5",
    )
    ap.add_argument(
        "--loss-nets",
        choices=("missing", "random"),
        default="missing",
        help="the fine-tuning's VGG19/SphereFace: looked up as a user's run (default) or random",
    )
    ap.add_argument("--work", type=Path, default=None, help="subject folders (default: temp)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    run, pre = ensure_pretraining(args.run, args.size, args.pretrain_iterations)
    body = load_embedded_body()
    layout = UVLayout.from_body(body)
    tex = max(128, args.size)  # the synthetic clips' clothing texture size at this image size
    uv = uv_render(layout, tex)
    atlas = TextureAtlas.from_body(body, tex, layout=layout)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_ft_"))
    rows = []
    for i in range(args.subjects):
        case = make_subject(
            body, layout, uv, atlas, i, size=args.size, frames=args.frames, photos=args.photos
        )
        folder = write_subject_folder(case.subject, work / f"subject{i}", body, overwrite=True)
        warp = score(render_warp(body, case), case.truth, case.masks)
        row = {"subject": f"{i} ({case.action})", "warp": warp}
        row["before"] = score_lwg(run, body, case)
        tune = finetune_overrides(folder, run, args.size, args.iterations, args.loss_nets)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            row["time"] = run_finetune([*tune, *args.extra], work)
        row["after"] = score_lwg(folder / GENERATOR_FILE, body, case)
        rows.append(row)
        print(
            f"subject {row['subject']}: before {row['before']['psnr']:.2f} dB / "
            f"{row['before']['ssim']:.3f}, after {row['after']['psnr']:.2f} dB / "
            f"{row['after']['ssim']:.3f} ({row['time']['wall_s']:.0f} s)",
            flush=True,
        )
    print_table(rows, args, pre)
    if args.json:
        settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        figures = {"settings": settings, "pretraining": pre, "subjects": rows}
        args.json.write_text(json.dumps(figures, indent=1))


def print_table(rows: list[dict], args: argparse.Namespace, pre: dict[str, float]) -> None:
    """The markdown table: per subject and mean, before/after PSNR, SSIM, fine-tuning time."""
    print()
    cmd = shlex.join(pretrain_command(args.run, args.size, args.pretrain_iterations))
    took = (
        f"{pre['wall_s']:.0f} s wall, {pre['cpu_s']:.0f} s CPU" if "cpu_s" in pre else "not timed"
    )
    print(
        f"Pretraining: `{cmd}` ({args.pretrain_iterations} iterations, {took}); VGG19 and "
        "SphereFace losses with RANDOM weights (conf/model/lwg_tiny.yaml)."
    )
    tune = [
        *finetune_overrides(
            Path("<subject folder>"), args.run, args.size, args.iterations, args.loss_nets
        ),
        *args.extra,
    ]
    print(f"Fine-tuning, per subject: `{shlex.join(['python', 'finetune.py', *tune])}`.")
    print(
        f"{len(rows)} synthetic subjects, {args.photos} photo(s) each, {args.frames} novel poses "
        f"at {args.size}²; fine-tuning {args.iterations} iterations (lwg_finetune: Adam 1e-4, "
        "batch 1); PSNR/SSIM on the person's box (+4 px) over the true background."
    )
    print(f"Fine-tuning loss networks: {loss_sources(args)}.")
    print()
    print(
        "| subject (motion) | PSNR before (dB) | PSNR after (dB) | SSIM before | SSIM after "
        "| source photo PSNR before → after | fine-tuning s (wall / CPU) | warp PSNR / SSIM |"
    )
    print("|---|---|---|---|---|---|---|---|")

    def line(name: str, r: dict) -> str:
        return (
            f"| {name} | {r['before']['psnr']:.2f} | {r['after']['psnr']:.2f} | "
            f"{r['before']['ssim']:.3f} | {r['after']['ssim']:.3f} | "
            f"{r['before']['photo_psnr']:.2f} → {r['after']['photo_psnr']:.2f} | "
            f"{r['time']['wall_s']:.0f} / {r['time']['cpu_s']:.0f} | "
            f"{r['warp']['psnr']:.2f} / {r['warp']['ssim']:.3f} |"
        )

    for r in rows:
        print(line(r["subject"], r))
    mean = {
        k: {m: float(np.mean([r[k][m] for r in rows])) for m in rows[0][k]}
        for k in ("before", "after", "time", "warp")
    }
    print(line("**mean**", mean))


if __name__ == "__main__":
    main()
