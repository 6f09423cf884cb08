"""Benchmark of vmc.render.rasterize: pure-PyTorch backend vs the OpenGL (moderngl/EGL) backend.

Prints milliseconds per map (median of several repeats after warm-up; the two backends are timed
alternately in the same run so that machine load affects both alike) for a SMPL-size mesh
(6,890 vertices, 13,776 faces, a closed body-like surface covering about a third of the image)
at 256² and 512², the torch/GL ratio, the agreement of the face-index maps, and two scaling
series: the same mesh drawn smaller/larger (cost vs covered pixels) and denser meshes over the
same area (cost vs faces). On a machine with CUDA the torch backend is also timed on the GPU.

    python bench/bench_rasterizer.py [--threads 2] [--repeats 21]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch

from vmc.render import gl_available, rasterize
from vmc.render._synthetic_mesh import make_body_like_mesh


def _time_alternating(
    fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 3
) -> dict[str, float]:
    """Median wall time in ms of each function, calling them in turn ``repeats`` times."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1e3)
    return {k: statistics.median(v) for k, v in times.items()}


def _row(label: str, pts: torch.Tensor, faces: torch.Tensor, size: int, args, use_gl: bool) -> None:
    def torch_one_thread() -> None:
        torch.set_num_threads(1)
        try:
            rasterize(pts, faces, size, backend="torch")
        finally:
            torch.set_num_threads(args.threads)

    fns: dict[str, Callable[[], object]] = {
        "torch": lambda: rasterize(pts, faces, size, backend="torch"),
        "torch1": torch_one_thread,
    }
    if use_gl:
        fns["gl"] = lambda: rasterize(pts, faces, size, backend="gl")
    ms = _time_alternating(fns, args.repeats)
    ref = rasterize(pts, faces, size)
    covered = int((ref.fim >= 0).sum())
    line = (
        f"{label:<28} {size:>4}²  faces {faces.shape[0]:>6}  covered px {covered:>7}  "
        f"torch {ms['torch']:6.2f} ms (1 thread {ms['torch1']:6.2f})"
    )
    if use_gl:
        agree = (rasterize(pts, faces, size, backend="gl").fim == ref.fim).float().mean()
        line += (
            f"  gl {ms['gl']:6.2f} ms  torch/gl {ms['torch'] / ms['gl']:4.2f} "
            f"(1 thread {ms['torch1'] / ms['gl']:4.2f})  fim agreement {100 * float(agree):.3f}%"
        )
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--repeats", type=int, default=21, help="timed repeats per backend")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    use_gl = gl_available()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads "
        f"({os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start); "
        f"OpenGL backend: {'available' if use_gl else 'NOT available (torch only)'}"
    )
    if use_gl:
        from vmc.render._raster_gl import gl_context_state

        info = gl_context_state().ctx.info
        print(f"GL renderer: {info['GL_RENDERER']} / {info['GL_VERSION']}")

    pts, faces = make_body_like_mesh()  # SMPL size: 6,890 vertices, 13,776 faces
    body = pts[None]
    print("\n== SMPL-size body-like mesh (6,890 vertices, 13,776 faces), batch 1 ==")
    for size in (256, 512):
        _row("body", body, faces, size, args, use_gl)

    print("\n== cost vs covered pixels (same 13,776-face mesh scaled, 512²) ==")
    for scale in (0.25, 0.5, 1.0):
        scaled, _ = make_body_like_mesh(scale=scale)
        _row(f"body scale {scale}", scaled[None], faces, 512, args, use_gl)

    print("\n== cost vs faces (same area, denser meshes, 512²) ==")
    for n_lat, n_lon in ((42, 42), (83, 84), (166, 168)):
        dense, dense_faces = make_body_like_mesh(n_lat=n_lat, n_lon=n_lon)
        _row(f"body {n_lat}x{n_lon}", dense[None], dense_faces, 512, args, use_gl)

    print("\n== batch of 8 (512²), per map ==")
    batch = body.repeat(8, 1, 1) * torch.linspace(0.6, 1.0, 8)[:, None, None]
    ms = _time_alternating(
        {
            "torch": lambda: rasterize(batch, faces, 512),
            **({"gl": lambda: rasterize(batch, faces, 512, backend="gl")} if use_gl else {}),
        },
        max(3, args.repeats // 3),
    )
    print("  ".join(f"{k} {v / 8:.2f} ms/map" for k, v in ms.items()))

    print(f"\nload average at end: {os.getloadavg()[0]:.2f} (other processes distort timings)")
    if torch.cuda.is_available():
        print(f"\n== CUDA ({torch.cuda.get_device_name()}), torch backend ==")
        dev_faces = faces.cuda()
        for size in (256, 512):
            for bsz in (1, 8):
                dev_pts = body.repeat(bsz, 1, 1).cuda()

                def run(p=dev_pts, s=size) -> None:
                    rasterize(p, dev_faces, s)
                    torch.cuda.synchronize()

                ms = _time_alternating({"cuda": run}, args.repeats)["cuda"]
                print(f"{size:>4}²  batch {bsz}:  {ms:7.2f} ms per call, {ms / bsz:6.2f} ms/map")


if __name__ == "__main__":
    main()
