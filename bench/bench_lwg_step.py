"""Benchmark: the whole per-frame LWG step against the generator forward alone.

Per generated frame, with the paper widths (36.3 M parameters, random weights) and the embedded
body (13,718 vertices, 27,420 faces, its own UV layout):

* **generator**: ``G.forward_transfer`` (TSFNet with the 9 AttLWBs) for a batch of ``nt`` frames
  against cached source features;
* **whole step**: pose the target bodies (source betas, target pose), project them with the
  weak-perspective camera, rasterize them (``vmc.render.rasterizer``), the flows ``Tst``
  (``vmc.render.flow``), ``I_syn`` and the target correspondence maps (``vmc.render.texture`` via
  ``vmc.lwg.inputs.prepare_targets``), the same transfer branch, and the composition over the
  background.

What happens once per source set (BGNet, SIDNet features, source render, morph image, UV
texture) is timed separately and not counted per frame. Frames of one motion go through the
transfer branch in batches of ``nt``. The issue's target: whole step <= 1.3x the generator.

    python bench/bench_lwg_step.py                          # CPU, 256 and 512 px, nt=4
    python bench/bench_lwg_step.py --sizes 256 --repeats 3 --device cuda
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
from collections.abc import Callable

import torch

from vmc.body.embedded import load_embedded_body
from vmc.geometry.camera import project_weak_perspective
from vmc.geometry.rotations import axis_angle_to_matrix, rotation_about_x
from vmc.lwg import AttentionLWBGenerator, composite
from vmc.lwg.inputs import prepare_sources, prepare_targets
from vmc.render.correspondence import UVLayout
from vmc.render.flow import source_to_target_flows
from vmc.render.rasterizer import rasterize

# Weak-perspective camera (s, tx, ty) that puts the ~1.7 m embedded body inside the frame.
CAM = (0.9, 0.0, 0.1)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_ms(fn: Callable[[], object], repeats: int, device: torch.device) -> list[float]:
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(1e3 * (time.perf_counter() - t0))
    return times


def _poses(n: int, seed: int) -> torch.Tensor:
    """``[n, 24, 3, 3]`` rotations: upright in the image frame (root R_x(pi)), random limbs."""
    g = torch.Generator().manual_seed(seed)
    aa = 0.35 * torch.randn(n, 24, 3, generator=g)
    aa[:, 0] = 0.0
    rot = axis_angle_to_matrix(aa)
    rot[:, 0] = rotation_about_x(torch.tensor(math.pi)) @ rot[:, 0]
    return rot


class Scene:
    """The embedded body, its UV layout and the once-per-source work (not timed per frame)."""

    def __init__(self, size: int, ns: int, device: torch.device) -> None:
        self.size, self.device = size, device
        self.body = load_embedded_body().to(device)
        self.layout = UVLayout.from_body(load_embedded_body())
        self.faces = self.body.faces.to(device)
        self.cam = torch.tensor([CAM], device=device)
        g = torch.Generator().manual_seed(1)
        self.betas = (0.5 * torch.randn(1, 10, generator=g)).to(device)
        # UV-space render of the layout (once per body).
        uv = rasterize(self.layout.uv_points().to(device), self.layout.enc_ft.to(device), size)
        self.uv_fim, self.uv_wim = uv.fim[0], uv.wim[0]
        # Sources: the body in random poses over a random image.
        src = self._render(_poses(ns, seed=2).to(device), self.betas.expand(ns, -1))
        img = (torch.rand(1, ns, 3, size, size, generator=g) * 2 - 1).to(device)
        self.sources = prepare_sources(
            img,
            src.fim[None],
            src.f2pts[None],
            self.layout,
            self.uv_fim,
            self.uv_wim,
            out_dilate_ks=9,  # the training value; the deploy value (51) costs only setup time
        )

    def _render(self, rotations: torch.Tensor, betas: torch.Tensor):
        verts = self.body(betas=betas, rotations=rotations).vertices
        pts = project_weak_perspective(verts, self.cam.expand(verts.shape[0], -1))
        return rasterize(pts, self.faces, self.size)

    def target_inputs(self, rotations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Everything before the generator for ``nt`` target poses -> ``(tsf_inputs, Tst)``."""
        nt = rotations.shape[0]
        frag = self._render(rotations, self.betas.expand(nt, -1))
        tst = source_to_target_flows(self.sources.f2pts, frag.fim[None], frag.wim[None])
        tsf = prepare_targets(self.sources.uv_texture, frag.fim[None], frag.wim[None], self.layout)
        return tsf, tst


@torch.inference_mode()
def bench_size(
    g: AttentionLWBGenerator, size: int, ns: int, nt: int, repeats: int, device: torch.device
) -> dict[str, float]:
    t0 = time.perf_counter()
    scene = Scene(size, ns, device)
    setup_scene_ms = 1e3 * (time.perf_counter() - t0)
    t0 = time.perf_counter()
    bg = g.forward_bg(scene.sources.bg_inputs)
    feats = g.encode_sources(scene.sources.src_inputs)
    _sync(device)
    setup_net_ms = 1e3 * (time.perf_counter() - t0)
    rotations = _poses(nt, seed=3).to(device)
    tsf, tst = scene.target_inputs(rotations)  # warm-up of the geometry path

    def generator_only() -> torch.Tensor:
        return g.forward_transfer(tsf, tst, feats)

    def whole_step() -> torch.Tensor:
        tsf_in, flows = scene.target_inputs(rotations)
        img, mask = g.forward_transfer(tsf_in, flows, feats)
        return composite(img, mask, bg)

    generator_only()  # warm-up
    gen_ms, step_ms, geo_ms = [], [], []
    for _ in range(repeats):  # alternate so machine load affects both alike
        gen_ms += _median_ms(generator_only, 1, device)
        step_ms += _median_ms(whole_step, 1, device)
        geo_ms += _median_ms(lambda: scene.target_inputs(rotations), 1, device)
    body_cover = float((tst[..., 0] > -2).float().mean())
    gen = statistics.median(gen_ms) / nt
    step = statistics.median(step_ms) / nt
    return {
        "size": size,
        "ns": ns,
        "nt": nt,
        "generator_ms_per_frame": gen,
        "step_ms_per_frame": step,
        "geometry_ms_per_frame": statistics.median(geo_ms) / nt,
        "ratio": step / gen,
        # Less sensitive to machine load than step/gen: the step is generator + geometry.
        "ratio_from_parts": 1 + statistics.median(geo_ms) / statistics.median(gen_ms),
        "setup_scene_ms": setup_scene_ms,
        "setup_bg_sources_ms": setup_net_ms,
        "body_pixel_fraction": body_cover,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--ns", type=int, default=2, help="number of source images")
    parser.add_argument("--nt", type=int, default=4, help="frames per transfer batch")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    g = AttentionLWBGenerator().eval().to(device)  # paper widths
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    print(
        f"LWG per-frame step (AttLWB-SPADE, {sum(p.numel() for p in g.parameters()):,} params, "
        f"embedded body) on {device} [{name or platform.machine()}], torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, ns={args.ns}, nt={args.nt}, {args.repeats} repeats"
    )
    header = (
        "size",
        "generator ms/fr",
        "step ms/fr",
        "geometry ms/fr",
        "ratio",
        "1+geo/gen",
        "once ms",
    )
    widths = (6, 16, 12, 15, 7, 10, 9)
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)))
    results = []
    for size in args.sizes:
        r = bench_size(g, size, args.ns, args.nt, args.repeats, device)
        results.append(r)
        once = r["setup_scene_ms"] + r["setup_bg_sources_ms"]
        print(
            f"{size:>6} {r['generator_ms_per_frame']:>16.1f} {r['step_ms_per_frame']:>12.1f} "
            f"{r['geometry_ms_per_frame']:>15.1f} {r['ratio']:>6.2f}x "
            f"{r['ratio_from_parts']:>9.2f}x {once:>9.0f}",
            flush=True,
        )
    print(
        "target: step <= 1.3x generator;",
        "met" if all(r["ratio"] <= 1.3 for r in results) else "NOT met",
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": str(device), "name": name, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
