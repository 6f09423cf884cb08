"""Benchmark of the subject's appearance: background inpainting and texture warping.

Synthetic subjects with ground truth (``vmc.data.synthetic_clips``: the embedded body in procedural
clothes over procedural backgrounds, known betas/poses/cameras and clean background plates):

1. Inpainting (512x512): the dilated person region of a rendered photo is inpainted with every
   method; PSNR/SSIM of the hole against the true background, seconds per photo.
2. Texture warping (256x256): the subject is photographed in a standing source pose (front; and
   front + back), the UV texture is built from the photo(s) with the ground-truth body parameters,
   and re-rendered in 20 frames of a procedural motion; PSNR/SSIM on the person's bounding box
   against the true renders (composited over the true background, so only the person differs), and
   the person pixels whose texel was never filled. "+ photo colours" is the pipeline's renderer:
   what photo 0 saw is read from the photo itself (``vmc.subject.warp.source_view``). Baselines:
   LWG's parity texture path
   (``make_uv_texture`` + ``synthesize_target`` = ``I_syn``, hard mask, no fill) and the LWG
   generator with random weights (tiny widths) fed through ``vmc.lwg.inputs``.
3. Speed: texture build and ms per rendered frame at 256x256.

Writes a markdown table to stdout and PNGs to ``--out`` (default ``docs/``).

    python bench/bench_subject_appearance.py [--subjects 6] [--inpaint-subjects 4] [--threads 2]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torchmetrics.functional import structural_similarity_index_measure as ssim_fn

from vmc.body.embedded import load_embedded_body
from vmc.data.synthetic_clips import render_synthetic_clip
from vmc.geometry.camera import cam_from_bbox
from vmc.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from vmc.io.images import write_image
from vmc.render.body_render import render_smpl_params, render_textured
from vmc.render.correspondence import UVLayout
from vmc.render.texture import uv_render
from vmc.subject.background import hole_mask, inpaint_background
from vmc.subject.texture import TextureAtlas, texture_from_photos
from vmc.subject.warp import SubjectRenderer, composite, source_view

ACTIONS = ("turn_around", "walk_circle", "jumping_jacks", "dance_twist", "kick", "punch", "squat")
SHADING = 0.3  # the synthetic clips' Lambert shading (baked into the photos, as light is)


# ------------------------------------------------------------------------------------ metrics
def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of float arrays in [0, 1]."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * math.log10(1 / max(mse, 1e-12))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two float ``[H, W, 3]`` images in [0, 1] (torchmetrics, 11x11 Gaussian)."""
    ta = torch.from_numpy(np.ascontiguousarray(a)).float().permute(2, 0, 1)[None]
    tb = torch.from_numpy(np.ascontiguousarray(b)).float().permute(2, 0, 1)[None]
    return float(ssim_fn(ta, tb, data_range=1.0))


def bbox(mask: np.ndarray, pad: int, size: int) -> tuple[slice, slice]:
    ys, xs = np.nonzero(mask)
    y0, y1 = max(0, ys.min() - pad), min(size, ys.max() + 1 + pad)
    x0, x1 = max(0, xs.min() - pad), min(size, xs.max() + 1 + pad)
    # SSIM's 11x11 window needs at least 11 pixels per side.
    if y1 - y0 < 11:
        y0, y1 = max(0, min(y0, size - 11)), max(0, min(y0, size - 11)) + 11
    if x1 - x0 < 11:
        x0, x1 = max(0, min(x0, size - 11)), max(0, min(x0, size - 11)) + 11
    return slice(y0, y1), slice(x0, x1)


# ------------------------------------------------------------------------------------ inpainting
def bench_inpainting(body, layout, uv, n: int, size: int) -> tuple[list[str], dict]:
    variants = [
        ("telea", 1.0), ("ns", 1.0), ("fsr_fast", 1.0), ("fsr_fast", 0.5),
        ("fsr_best", 0.25), ("shiftmap", 1.0), ("shiftmap", 0.5),
    ]  # fmt: skip
    rows = {f"{m}@{s}": {"psnr": [], "ssim": [], "sec": []} for m, s in variants}
    examples = []
    for i in range(n):
        clip = render_synthetic_clip(
            body, num_frames=2, image_size=size, seed=100 + i, layout=layout, uv=uv, frame_ids=[0]
        )
        img, mask, bg = clip.frames[0], clip.masks[0], clip.background
        alpha = mask.astype(np.float32)
        hole = hole_mask(alpha)
        ys, xs = bbox(hole, 0, size)
        for m, s in variants:
            t = time.perf_counter()
            out = inpaint_background(img, alpha, m, scale=s)
            sec = time.perf_counter() - t
            assert np.array_equal(out[~hole], img[~hole])
            key = f"{m}@{s}"
            r = rows[key]
            r["psnr"].append(psnr(out[hole] / 255, bg[hole] / 255))
            r["ssim"].append(ssim(out[ys, xs] / 255, bg[ys, xs] / 255))
            r["sec"].append(sec)
            if i == 0:
                examples.append((key, out))
        if i == 0:
            examples = [("photo", img), ("true background", bg), *examples]
    lines = [
        f"Inpainting at {size}x{size}, {n} synthetic photos (hole = person dilated by "
        f"{max(2, round(0.015 * size))} px); PSNR over hole pixels, SSIM over the hole's bbox.",
        "",
        "| method@scale | PSNR hole (dB) | SSIM hole bbox | s / photo |",
        "|---|---|---|---|",
    ]
    for key, r in rows.items():
        if not r["sec"]:
            continue
        lines.append(
            f"| {key} | {np.mean(r['psnr']):.2f} | {np.mean(r['ssim']):.3f} | "
            f"{np.mean(r['sec']):.2f} |"
        )
    return lines, {"examples": examples}


# ------------------------------------------------------------------------------------ subjects
def source_pose(yaw: float) -> torch.Tensor:
    """A relaxed standing pose (arms ~60 degrees down from T), turned by ``yaw`` about the
    vertical; root in the HMR image frame (upright facing the camera = R_x(pi))."""
    p = torch.zeros(72)
    r = axis_angle_to_matrix(torch.tensor([0.0, yaw, 0.0])) @ axis_angle_to_matrix(
        torch.tensor([math.pi, 0.0, 0.0])
    )
    p[:3] = matrix_to_axis_angle(r)
    p[16 * 3 + 2], p[17 * 3 + 2] = -1.1, 1.1  # shoulders: bring the T-pose arms down
    p[1 * 3 + 2], p[2 * 3 + 2] = 0.08, -0.08  # feet a little apart
    return p


def photograph(body, layout, clip, yaws: list[float], size: int):
    """Render the clip's subject in the standing source pose at each yaw (same background)."""
    poses = torch.stack([source_pose(y) for y in yaws])
    betas = torch.from_numpy(clip.betas)[None].expand(len(yaws), -1)
    with torch.no_grad():
        verts = body(betas=betas, pose_axis_angle=poses).vertices
    box = torch.tensor([[-1.0, -1.0, 1.0, 1.0]]).expand(len(yaws), -1)
    cams = cam_from_bbox(verts, box, fill=0.85)
    pts, frags = render_smpl_params(body, betas, poses, cams, size)
    bg = torch.from_numpy(clip.background).float().permute(2, 0, 1) / 127.5 - 1
    img = render_textured(clip.texture, layout, pts.float(), frags, bg, SHADING)
    photos = ((img + 1) * 127.5).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
    return photos, (frags.fim >= 0).numpy(), poses, cams, frags


def unfilled_pixels(tex, renderer, poses, cams, size, covered) -> int:
    """Person pixels whose UV lookup lands on an unfilled texel (nearest texel; off-island
    texels count as filled within 2 texels of a filled island texel, the bleed's reach)."""
    from scipy import ndimage

    filled = (tex.source.numpy() != 0) & covered
    dist = ndimage.distance_transform_edt(~filled)
    ok = torch.from_numpy((dist <= 2.0).astype(np.float32))
    r = SubjectRenderer(renderer.body, renderer.betas, np.repeat(ok.numpy()[..., None], 3, -1))
    r.supersample = 1
    val, alpha = r.render(poses, cams, size)
    return int(((val[..., 0] < 0.5) & (alpha > 0)).sum())


def lwg_baselines(body, layout, uv, photos, frags_src, tgt_frags, bg, size, gen=None):
    """LWG's parity I_syn (no fill) and the random-weight generator over the true background."""
    from vmc.lwg.generator import AttentionLWBGenerator, GeneratorConfig
    from vmc.lwg.inputs import prepare_sources, prepare_targets
    from vmc.render.flow import source_to_target_flows

    src = torch.from_numpy(photos).float().permute(0, 3, 1, 2)[None] / 127.5 - 1
    s = prepare_sources(
        src,
        frags_src.fim[None],
        frags_src.f2pts.float()[None],
        layout,
        uv.fim,
        uv.wim.float(),
        out_dilate_ks=9,
    )
    tgt_fim, tgt_wim = tgt_frags.fim[None], tgt_frags.wim.float()[None]
    syn = prepare_targets(s.uv_texture, tgt_fim, tgt_wim, layout)[:, :, :3]  # [1, nt, 3, H, W]
    body_mask = (tgt_frags.fim >= 0)[:, None].float()
    bgt = torch.from_numpy(bg).float().permute(2, 0, 1)[None] / 255
    isyn = body_mask * (syn[0] + 1) / 2 + (1 - body_mask) * bgt
    if gen is None:
        torch.manual_seed(0)
        cfg = GeneratorConfig(
            bg_filters=(8, 16, 16, 32),
            bg_res_blocks=1,
            src_filters=(8, 16, 32),
            src_res_blocks=1,
            tsf_filters=(8, 16, 32),
            tsf_res_blocks=1,
            spade_hidden=16,
        )
        gen = AttentionLWBGenerator.from_config(cfg).eval()
    tsf = prepare_targets(s.uv_texture, tgt_fim, tgt_wim, layout)
    tst = source_to_target_flows(s.f2pts, tgt_fim, tgt_wim)
    with torch.no_grad():
        feats = gen.encode_sources(s.src_inputs)
        frames = []
        for i in range(tsf.shape[1]):  # one target at a time keeps memory flat
            img, mask = gen.forward_transfer(tsf[:, i : i + 1], tst[:, i : i + 1], feats)
            # Composite over the true plate (BGNet is not what is compared here).
            frames.append(mask[0, 0] * bgt[0] + (1 - mask[0, 0]) * (img[0, 0] + 1) / 2)
    gan = torch.stack(frames)
    return isyn.permute(0, 2, 3, 1).numpy(), gan.clamp(0, 1).permute(0, 2, 3, 1).numpy(), gen


def bench_texture(body, layout, uv, atlas, n: int, size: int, nt: int, out: Path):
    results: dict[str, dict[str, list[float]]] = {}
    times = {"build": [], "render_ms": [], "render_photo_ms": []}
    gen = None
    for i in range(n):
        action = ACTIONS[i % len(ACTIONS)]
        clip = render_synthetic_clip(
            body,
            num_frames=2 * nt,
            image_size=size,
            seed=200 + i,
            layout=layout,
            uv=uv,
            action=action,
            frame_ids=list(range(0, 2 * nt, 2)),
            shading=SHADING,
        )
        photos, masks, sposes, scams, sfr = photograph(body, layout, clip, [0.0, math.pi], size)
        gt = clip.frames.astype(np.float32) / 255
        tposes, tcams = torch.from_numpy(clip.poses), torch.from_numpy(clip.cams)
        betas = torch.from_numpy(clip.betas)
        preds = {}
        for k, name in ((1, "warp, 1 photo"), (2, "warp, 2 photos")):
            t = time.perf_counter()
            tex = texture_from_photos(
                body,
                list(photos[:k]),
                betas,
                sposes[:k],
                scams[:k],
                alphas=[m.astype(np.float32) for m in masks[:k]],
                atlas=atlas,
            )
            times["build"].append(time.perf_counter() - t)
            r = SubjectRenderer(body, betas, tex, layout=layout)
            t = time.perf_counter()
            rgb, alpha = r.render(tposes, tcams, size)
            times["render_ms"].append(1000 * (time.perf_counter() - t) / nt)
            preds[name] = composite(rgb, alpha, clip.background).numpy()
            # Hard edges like the ground truth's rasterizer (the default anti-aliases them).
            r.supersample = 1
            rgb1, alpha1 = r.render(tposes, tcams, size)
            preds[name + ", hard edges"] = composite(rgb1, alpha1, clip.background).numpy()
            # The pipeline's renderer: colours photo 0 saw read from it, the rest from the texture.
            view = source_view(
                body, betas, sposes[0], scams[0], photos[0], masks[0].astype(np.float32)
            )
            direct = SubjectRenderer(body, betas, tex, layout=layout, source=view)
            t = time.perf_counter()
            rgb2, alpha2 = direct.render(tposes, tcams, size)
            times["render_photo_ms"].append(1000 * (time.perf_counter() - t) / nt)
            preds[name + " + photo colours"] = composite(rgb2, alpha2, clip.background).numpy()
            unf = unfilled_pixels(tex, r, tposes, tcams, size, atlas.covered.numpy())
            results.setdefault(name, {}).setdefault("unfilled", []).append(unf)
            if i == 0:
                write_image(out / f"appearance_texture_{k}photo.png", tex.to_uint8()[::2, ::2])
                conf = (tex.confidence.numpy()[::2, ::2] * 255).astype(np.uint8)
                write_image(out / f"appearance_confidence_{k}photo.png", conf)
        for k, name in ((1, "LWG I_syn (no fill), 1 photo"), (2, "LWG I_syn (no fill), 2 photos")):
            isyn, gan, gen = lwg_baselines(
                body,
                layout,
                uv,
                photos[:k],
                _take(sfr, k),
                clip.fragments,
                clip.background,
                size,
                gen,
            )
            preds[name] = isyn
            if k == 2:
                preds["LWG generator, random weights, 2 photos"] = gan
        for name, pred in preds.items():
            r = results.setdefault(name, {})
            for f in range(nt):
                ys, xs = bbox(clip.masks[f], 4, size)
                r.setdefault("psnr", []).append(psnr(pred[f, ys, xs], gt[f, ys, xs]))
                r.setdefault("ssim", []).append(ssim(pred[f, ys, xs], gt[f, ys, xs]))
        if i < 2:
            pick = [0, nt // 3, 2 * nt // 3, nt - 1]
            rows = [np.concatenate(list(photos), 1)]
            rows[0] = np.concatenate([rows[0], np.zeros((size, size * 2, 3), np.uint8)], 1)
            for name in ("warp, 1 photo", "warp, 1 photo + photo colours", "warp, 2 photos"):
                rows.append((np.concatenate(list(preds[name][pick]), 1) * 255).astype(np.uint8))
            rows.append((np.concatenate(list(gt[pick]), 1) * 255).round().astype(np.uint8))
            write_image(out / f"appearance_novel_pose_{i}.png", np.concatenate(rows, 0))
        print(f"  subject {i} ({action}) done", flush=True)
    lines = [
        f"Texture warping at {size}x{size}: {n} synthetic subjects x {nt} novel-pose frames "
        "(ground-truth body parameters), PSNR/SSIM on the person's bounding box (+4 px) over the "
        "true background; unfilled = person pixels whose texel was never filled (all frames).",
        "",
        "| method | PSNR bbox (dB) | SSIM bbox | unfilled px |",
        "|---|---|---|---|",
    ]
    for name, r in results.items():
        unf = str(int(np.sum(r["unfilled"]))) if "unfilled" in r else "n/a"
        lines.append(f"| {name} | {np.mean(r['psnr']):.2f} | {np.mean(r['ssim']):.3f} | {unf} |")
    lines += [
        "",
        f"Texture build (UV {atlas.size}x{atlas.size}, per call, 1-2 photos): "
        f"{np.mean(times['build']):.2f} s; render: {np.mean(times['render_ms']):.1f} ms/frame "
        f"at {size}x{size} (supersample 2, batch 8); with photo colours: "
        f"{np.mean(times['render_photo_ms']):.1f} ms/frame (ratio "
        f"{np.mean(times['render_photo_ms']) / np.mean(times['render_ms']):.2f}).",
    ]
    return lines


def _take(frags, k):
    """The first ``k`` sources' fragments as ``[1, k, ...]``-ready tensors."""
    from vmc.render.rasterizer import Fragments

    return Fragments(
        fim=frags.fim[:k], wim=frags.wim[:k], f2pts=frags.f2pts[:k], zbuf=frags.zbuf[:k]
    )


def bench_speed(body, layout, atlas, size: int) -> list[str]:
    """ms per frame of the renderer alone, 32 frames of a random pose sequence."""
    clip = render_synthetic_clip(body, num_frames=32, image_size=size, seed=7, layout=layout)
    rng = np.random.default_rng(0)
    tex = rng.uniform(0, 1, (atlas.size, atlas.size, 3)).astype(np.float32)
    out = []
    for ss in (1, 2):
        r = SubjectRenderer(body, clip.betas, tex, layout=layout, supersample=ss)
        r.render(clip.poses[:8], clip.cams[:8], size)  # warm-up
        t = time.perf_counter()
        r.render(clip.poses, clip.cams, size)
        out.append(f"supersample {ss}: {1000 * (time.perf_counter() - t) / 32:.1f} ms/frame")
    return [f"Renderer alone at {size}x{size}, 32 frames, batch 8: " + "; ".join(out) + "."]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=6)
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--inpaint-subjects", type=int, default=4)
    ap.add_argument("--inpaint-size", type=int, default=512)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--uv-size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip", nargs="*", default=[], choices=["inpaint", "texture", "speed"])
    ap.add_argument("--out", type=Path, default=Path("docs"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    body = load_embedded_body()
    layout = UVLayout.from_body(body)
    uv = uv_render(layout, args.uv_size)
    atlas = TextureAtlas.from_body(body, args.uv_size, layout=layout)
    lines: list[str] = []
    if "inpaint" not in args.skip:
        uv_in = uv_render(layout, 2 * args.inpaint_size)
        inp, extra = bench_inpainting(body, layout, uv_in, args.inpaint_subjects, args.inpaint_size)
        lines += inp + [""]
        ex = extra["examples"]
        tiles = [
            F.interpolate(torch.from_numpy(im).permute(2, 0, 1)[None].float(), size=192)[0]
            for _, im in ex
        ]
        grid = torch.cat(tiles, 2).permute(1, 2, 0).round().clamp(0, 255).byte().numpy()
        write_image(args.out / "appearance_inpainting.png", grid)
        print("inpainting columns:", ", ".join(k for k, _ in ex), flush=True)
        print("\n".join(inp), flush=True)
    if "texture" not in args.skip:
        lines += bench_texture(
            body, layout, uv, atlas, args.subjects, args.size, args.frames, args.out
        ) + [""]
    if "speed" not in args.skip:
        lines += bench_speed(body, layout, atlas, args.size)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
