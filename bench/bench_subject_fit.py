"""Benchmark the embedded-default person fit (mediapipe landmarks + mask -> SMPLify-style fit).

(a) Synthetic: the embedded body with known pose, shape and camera, dressed in procedural
    clothes over procedural backgrounds (``vmc.data.synthetic_clips``), front/side/back views, full
    body and upper-body crops. Detect + crop + fit, then compare in the rendered image:
    silhouette IoU (fitted render vs true render) and 2-D joint error (24 SMPL joints, % of
    the person's projected height; upper-body cases: joints inside the image).
(b) Real photos: ``examples/person.jpg`` (a render) and ``examples/astronaut.jpg``
    (scikit-image's public-domain ``data.astronaut()``): landmark reprojection error against
    mediapipe's visible landmarks and IoU of the fitted silhouette with mediapipe's mask;
    previews ``docs/fit_person.png`` and ``docs/fit_astronaut.png``.

    python bench/bench_subject_fit.py [--cases 13] [--size 512] [--out-dir docs] [--no-previews]
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from vmc.body.embedded import load_embedded_body
from vmc.data.backgrounds import procedural_background
from vmc.data.synthetic_clips import sample_outfit
from vmc.geometry.camera import cam_from_bbox, cam_pixels_to_ndc, project_weak_perspective
from vmc.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle, rotation_about_y
from vmc.io.images import read_image
from vmc.motion.procedural import generate_motion
from vmc.render.body_render import motion_to_image_frame, render_smpl_params, render_textured
from vmc.render.clothing import make_clothing_texture
from vmc.render.correspondence import UVLayout
from vmc.render.shading import face_normals
from vmc.render.texture import uv_render
from vmc.subject.crop import crop_person
from vmc.subject.detect import NoPersonError, PoseDetector, SubjectWarning, detect_person
from vmc.subject.fit import BodyFit, FitConfig, fit_body
from vmc.subject.keypoint_map import body_keypoints, build_keypoint_map

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Case:
    """One synthetic photo: action frame, body yaw (deg, 0 = facing the camera), framing."""

    name: str
    action: str
    frame: int
    yaw: float
    upper: bool = False


CASES = (
    Case("stand front", "stand_still", 10, 0.0),
    Case("walk front", "walk_forward", 12, 0.0),
    Case("wave 20deg", "wave", 20, 20.0),
    Case("raise arms", "raise_arms", 30, -15.0),
    Case("squat 30deg", "squat", 25, 30.0),
    Case("walk side", "walk_forward", 8, 90.0),
    Case("punch side", "punch", 15, -90.0),
    Case("jumping jacks", "jumping_jacks", 10, 0.0),
    Case("lunge 45deg", "lunge", 30, 45.0),
    Case("dance 10deg", "dance_groove", 20, 10.0),
    Case("back view", "stand_still", 5, 180.0),
    Case("upper clap", "clap", 15, 0.0, upper=True),
    Case("upper wave", "wave", 25, 15.0, upper=True),
)


def render_case(body, layout, uv, case: Case, size: int, seed: int) -> dict:
    """Render one case: image uint8 [S,S,3], true betas/pose/cam (photo NDC), the true mask,
    and what made the image: its clothing ``texture [3, Hu, Wu]`` in [-1, 1] and the
    ``background`` uint8 [S,S,3] (``bench/bench_pipeline_synthetic.py`` re-poses the truth)."""
    rng = np.random.default_rng(seed)
    motion = generate_motion(case.action, 40, 30.0, seed).motion
    poses, _ = motion_to_image_frame(motion.poses[case.frame : case.frame + 1], motion.trans[:1])
    root = rotation_about_y(torch.tensor(math.radians(case.yaw))) @ axis_angle_to_matrix(
        poses[:, :3]
    )
    # R_y in the image frame turns the body about the vertical axis (y is vertical there too).
    poses[:, :3] = matrix_to_axis_angle(root)
    betas = torch.zeros(1, body.num_betas)
    betas[0, :10] = torch.from_numpy(np.clip(rng.normal(0, 0.8, 10), -2, 2)).float()
    with torch.no_grad():
        out = body(betas=betas, pose_axis_angle=poses)
    verts = out.vertices
    if case.upper:
        # Frame head to a little below the pelvis: the legs leave the image.
        cut = float(out.joints[0, 0, 1]) + 0.12  # y down: below the pelvis
        keep = verts[0, :, 1] < cut
        part = verts[:, keep]
        top = float(part[0, :, 1].min())
        s = 2.0 * 0.92 / (cut - top)
        cx = float(0.5 * (part[0, :, 0].min() + part[0, :, 0].max()))
        cam = torch.tensor([[s, -cx, -cut + 1.0 / s]])
    else:
        fill = float(rng.uniform(0.7, 0.85))
        off = rng.uniform(-0.08, 0.08, 2)
        box = torch.tensor([[-fill + off[0], -fill + off[1], fill + off[0], fill + off[1]]])
        cam = cam_from_bbox(verts, box.float())
    points, frags = render_smpl_params(body, betas, poses, cam, size)
    texture = make_clothing_texture(body, layout, sample_outfit(rng), uv, rng)
    bg = procedural_background(size, rng)
    bg_t = torch.from_numpy(bg).float().permute(2, 0, 1) / 127.5 - 1
    img = render_textured(texture, layout, points.float(), frags, bg_t, 0.3)
    img_u8 = ((img[0] + 1) * 127.5).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()
    joints2d = project_weak_perspective(out.joints, cam)[0, :, :2]
    height = float((points[0, :, 1].max() - points[0, :, 1].min()) * size / 2)
    return {
        "image": img_u8,
        "mask": (frags.fim[0] >= 0).numpy(),
        "betas": betas,
        "poses": poses,
        "cam": cam,
        "joints2d": joints2d,
        "height_px": height,
        "texture": texture,
        "background": bg,
    }


def fit_in_photo(body, fit: BodyFit, i: int, photo_size: int) -> tuple[torch.Tensor, ...]:
    """The fitted body of photo ``i`` projected into the (square) photo's NDC.

    Returns ``(cam_ndc [1,3], points [1,V,3], joints2d [24,2], mask bool [S,S])``.
    """
    box = fit.crops[i].box
    cam_px = box.cam_to_photo_pixels(torch.from_numpy(fit.cams[i : i + 1]))
    cam = cam_pixels_to_ndc(cam_px, photo_size)
    betas = torch.from_numpy(fit.betas)[None]
    pose = torch.from_numpy(fit.poses[i : i + 1])
    points, frags = render_smpl_params(body, betas, pose, cam, photo_size)
    with torch.no_grad():
        j = project_weak_perspective(body(betas=betas, pose_axis_angle=pose).joints, cam)
    return cam, points, j[0, :, :2], (frags.fim[0] >= 0).numpy()


def iou(a: np.ndarray, b: np.ndarray) -> float:
    u = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / u) if u else 0.0


def overlay(body, fit: BodyFit, i: int) -> np.ndarray:
    """Crop | fitted mesh over the crop (mediapipe landmarks green, fitted ones red)."""
    c = fit.crops[i]
    betas = torch.from_numpy(fit.betas)[None]
    pose = torch.from_numpy(fit.poses[i : i + 1])
    cam = torch.from_numpy(fit.cams[i : i + 1])
    pts, fr = render_smpl_params(body, betas, pose, cam, c.size)
    lam = (-face_normals(pts, body.faces)[0][:, 2]).clamp(0, 1) * 0.7 + 0.3
    fim = fr.fim[0]
    img = c.image.astype(np.float32) / 255
    cov = (fim >= 0).numpy()
    col = np.array([0.55, 0.7, 1.0]) * lam[fim.clamp(min=0)].numpy()[..., None]
    out = img.copy()
    out[cov] = 0.3 * img[cov] + 0.7 * col[cov]
    im = Image.fromarray((out * 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    kmap = build_keypoint_map(body)
    with torch.no_grad():
        o = body(betas=betas, pose_axis_angle=pose)
        v = project_weak_perspective(o.vertices, cam)
        j = project_weak_perspective(o.joints, cam)
    lm = (body_keypoints(v, j, kmap)[0, :, :2].numpy() + 1) * c.size / 2
    for (x, y, vis), (fx, fy) in zip(c.keypoints, lm, strict=True):
        if vis >= 0.5:
            d.line([x, y, fx, fy], fill=(255, 255, 0))
            d.ellipse([x - 3, y - 3, x + 3, y + 3], outline=(0, 255, 0))
            d.ellipse([fx - 2, fy - 2, fx + 2, fy + 2], fill=(255, 0, 0))
    return np.concatenate([c.image, np.asarray(im)], 1)


def save_preview(arr: np.ndarray, path: Path, max_kb: int = 300) -> None:
    """Save a PNG, halving its size until it is under ``max_kb``."""
    im = Image.fromarray(arr)
    while True:
        im.save(path, optimize=True)
        if path.stat().st_size <= max_kb * 1024 or im.width < 200:
            return
        im = im.resize((im.width * 3 // 4, im.height * 3 // 4), Image.LANCZOS)


def bench_synthetic(body, args, detector: PoseDetector) -> list[dict]:
    layout = UVLayout.from_body(body)
    uv = uv_render(layout, 512)
    kmap = build_keypoint_map(body)
    rows = []
    cases = CASES[: args.cases]
    for k, case in enumerate(cases):
        gt = render_case(body, layout, uv, case, args.size, seed=100 + k)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SubjectWarning)
                det = detect_person(gt["image"], detector)
        except NoPersonError:
            rows.append({"case": case.name, "detected": False})
            continue
        crop = crop_person(gt["image"], det, size=512)
        t0, c0 = time.perf_counter(), time.process_time()
        fit = fit_body(body, [crop], keypoint_map=kmap)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        _, _, j2d, fmask = fit_in_photo(body, fit, 0, args.size)
        err_px = (j2d - gt["joints2d"]).norm(dim=-1) * args.size / 2
        inside = (gt["joints2d"].abs() <= 1).all(-1)
        err = float(err_px[inside].mean()) / gt["height_px"] * 100
        rows.append(
            {
                "case": case.name,
                "detected": True,
                "iou": iou(fmask, gt["mask"]),
                "joint_err_pct": err,
                "mp_mask_iou": iou(det.mask > 0.5, gt["mask"]),
                "facing": fit.reports[0].facing,
                "flags": ",".join(sorted(det.flags)) or "-",
                "wall_s": wall,
                "cpu_s": cpu,
            }
        )
        if args.case_previews:
            save_preview(overlay(body, fit, 0), Path(args.case_previews) / f"case_{k:02d}.png")
    return rows


def bench_real(body, args, detector: PoseDetector) -> list[dict]:
    rows = []
    for name, path in (
        ("person.jpg", "examples/person.jpg"),
        ("astronaut", "examples/astronaut.jpg"),
    ):
        img = read_image(REPO / path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SubjectWarning)
            det = detect_person(img, detector)
        crop = crop_person(img, det, size=512)
        t0, c0 = time.perf_counter(), time.process_time()
        fit = fit_body(body, [crop])
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rep = fit.reports[0]
        # Pixels of the photo: crop pixels / crop scale.
        rows.append(
            {
                "photo": name,
                "landmarks": rep.keypoints_found,
                "kp_err_px": rep.keypoint_error_px / crop.box.scale,
                "kp_err_pct": rep.keypoint_error_px / crop.box.scale / img.shape[0] * 100,
                "mask_iou": rep.silhouette_iou,
                "facing": rep.facing,
                "warnings": "; ".join(rep.warnings) or "-",
                "wall_s": wall,
                "cpu_s": cpu,
            }
        )
        if not args.no_previews:
            out = Path(args.out_dir) / f"fit_{Path(path).stem}.png"
            save_preview(overlay(body, fit, 0), out)
            print(f"wrote {out} ({out.stat().st_size // 1024} KB)")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=len(CASES))
    ap.add_argument("--size", type=int, default=512, help="synthetic photo side")
    ap.add_argument("--out-dir", default=str(REPO / "docs"))
    ap.add_argument("--no-previews", action="store_true")
    ap.add_argument("--case-previews", default=None, help="folder for per-case overlays")
    ap.add_argument("--skip-synthetic", action="store_true")
    args = ap.parse_args()
    if args.case_previews:
        Path(args.case_previews).mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    body = load_embedded_body()
    cfg = FitConfig()
    print(f"torch threads during the fit: {cfg.num_threads}")
    with PoseDetector() as detector:
        if not args.skip_synthetic:
            rows = bench_synthetic(body, args, detector)
            print("\n(a) synthetic (embedded body, procedural outfits/backgrounds)")
            print(
                f"{'case':16s} {'IoU':>6s} {'joint err %h':>12s} {'mp mask IoU':>11s} "
                f"{'facing':>7s} {'wall s':>7s} {'cpu s':>6s}  flags"
            )
            for r in rows:
                if not r["detected"]:
                    print(f"{r['case']:16s} no person detected")
                    continue
                print(
                    f"{r['case']:16s} {r['iou']:6.3f} {r['joint_err_pct']:12.2f} "
                    f"{r['mp_mask_iou']:11.3f} {r['facing']:>7s} {r['wall_s']:7.1f} "
                    f"{r['cpu_s']:6.1f}  {r['flags']}"
                )
            ok = [r for r in rows if r["detected"]]
            mean = {k: np.mean([r[k] for r in ok]) for k in ("wall_s", "cpu_s")}
            print(
                f"{'mean':16s} {np.mean([r['iou'] for r in ok]):6.3f} "
                f"{np.mean([r['joint_err_pct'] for r in ok]):12.2f} "
                f"{np.mean([r['mp_mask_iou'] for r in ok]):11.3f} {'':>7s} "
                f"{mean['wall_s']:7.1f} {mean['cpu_s']:6.1f}"
            )
        rows = bench_real(body, args, detector)
    print("\n(b) real photos (against mediapipe's own landmarks and mask)")
    print(
        f"{'photo':12s} {'landmarks':>9s} {'kp err px':>9s} {'% of H':>7s} {'mask IoU':>8s} "
        f"{'facing':>7s} {'wall s':>7s} {'cpu s':>6s}  warnings"
    )
    for r in rows:
        print(
            f"{r['photo']:12s} {r['landmarks']:9d} {r['kp_err_px']:9.1f} {r['kp_err_pct']:7.2f} "
            f"{r['mask_iou']:8.3f} {r['facing']:>7s} {r['wall_s']:7.1f} {r['cpu_s']:6.1f}  "
            f"{r['warnings']}"
        )


if __name__ == "__main__":
    main()
