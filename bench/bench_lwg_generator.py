"""Benchmark: LWG generator forward per frame (paper widths, random weights).

Measures the inference split used by the pipeline: BGNet and the SIDNet encoder once per source
set, then the TSFNet transfer for batches of ``nt`` frames. Prints ms per frame for the transfer
and the one-off cost of background + sources.

    python bench/bench_lwg_generator.py                      # CPU, 256 and 512 px, ns=1, nt=4
    python bench/bench_lwg_generator.py --device cuda --repeats 10
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from vmc.lwg import AttentionLWBGenerator


def _inputs(ns: int, nt: int, size: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    bg = torch.rand(1, 1, 4, size, size, generator=g) * 2 - 1
    src = torch.rand(1, ns, 6, size, size, generator=g) * 2 - 1
    tsf = torch.rand(1, nt, 6, size, size, generator=g) * 2 - 1
    # Flows: a jittered identity on the central half, the (-2, -2) sentinel elsewhere.
    lin = (2 * torch.arange(size) + 1) / size - 1
    grid = torch.stack(torch.meshgrid(lin, lin, indexing="xy"), dim=-1)
    tst = grid.expand(1, nt, ns, size, size, 2) + 0.05 * torch.randn(
        1, nt, ns, size, size, 2, generator=g
    )
    body = (grid.abs() < 0.5).all(-1)[..., None]
    tst = torch.where(body, tst, torch.full_like(tst, -2.0))
    return tuple(x.to(device) for x in (bg, src, tsf, tst))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


@torch.inference_mode()
def bench_size(
    g: AttentionLWBGenerator, size: int, ns: int, nt: int, repeats: int, device: torch.device
) -> dict[str, float]:
    bg_in, src_in, tsf_in, tst = _inputs(ns, nt, size, device)
    # Warm-up (allocator, kernels / cudnn autotune) on the full batch shape.
    feats = g.encode_sources(src_in)
    g.forward_bg(bg_in)
    g.forward_transfer(tsf_in, tst, feats)
    once = [
        _timed(lambda: (g.forward_bg(bg_in), g.encode_sources(src_in)), device)
        for _ in range(max(1, repeats // 2))
    ]
    per_call = [
        _timed(lambda: g.forward_transfer(tsf_in, tst, feats), device) for _ in range(repeats)
    ]
    return {
        "size": size,
        "ns": ns,
        "nt": nt,
        "transfer_ms_per_frame": 1000 * statistics.median(per_call) / nt,
        "transfer_ms_per_frame_min": 1000 * min(per_call) / nt,
        "bg_and_sources_ms_once": 1000 * statistics.median(once),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--ns", type=int, default=1, help="number of source images")
    parser.add_argument("--nt", type=int, default=4, help="frames per transfer batch")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    g = AttentionLWBGenerator().eval().to(device)  # paper widths (36.3 M parameters)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    print(
        f"LWG generator (AttLWB-SPADE, {sum(p.numel() for p in g.parameters()):,} params) on "
        f"{device} [{name or platform.machine()}], torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    header = ("size", "ns", "nt", "transfer ms/frame", "(min)", "bg+src once ms")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (6, 3, 3, 18, 9, 15), strict=True)))
    results = []
    for size in args.sizes:
        r = bench_size(g, size, args.ns, args.nt, args.repeats, device)
        results.append(r)
        print(
            f"{size:>6} {args.ns:>3} {args.nt:>3} {r['transfer_ms_per_frame']:>18.1f} "
            f"{r['transfer_ms_per_frame_min']:>9.1f} {r['bg_and_sources_ms_once']:>15.1f}",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": str(device), "name": name, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
