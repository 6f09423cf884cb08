"""Benchmark: SPIN person fit per photo (crop + ResNet-50 + IEF head + camera conversion).

Random weights (26,977,501 parameters), a random 1080x1920 photo, ``eval()`` and ``no_grad``.
Reports the median time per image of :func:`vmc.lwg.spin.spin_crop`, of the regressor forward
at several batch sizes, and of :func:`vmc.lwg.spin.fit_person` end to end.

    python bench/bench_spin.py                      # CPU, batches 1 and 8
    python bench/bench_spin.py --device cuda --batches 1 8 32 --repeats 10
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from vmc.lwg.spin import SPINRegressor, fit_person, spin_crop


def _median_s(fn: Callable[[], object], repeats: int, sync: Callable[[], None]) -> float:
    fn()  # warm-up
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    torch.manual_seed(0)
    model = SPINRegressor().eval().to(device)
    photo = (np.random.default_rng(0).random((1080, 1920, 3)) * 255).astype(np.uint8)
    bbox = (800.0, 150.0, 1100.0, 1000.0)
    results: dict[str, object] = {
        "device": str(device),
        "torch": torch.__version__,
        "machine": platform.machine(),
        "threads": torch.get_num_threads(),
    }
    results["crop_ms"] = 1e3 * _median_s(lambda: spin_crop(photo, bbox), args.repeats, sync)
    with torch.no_grad():
        for b in args.batches:
            x = torch.randn(b, 3, 224, 224, device=device)
            t = _median_s(lambda x=x: model(x), args.repeats, sync)
            results[f"forward_b{b}_ms_per_image"] = 1e3 * t / b
    results["fit_person_ms"] = 1e3 * _median_s(
        lambda: fit_person(model, photo, bbox, (420, 0, 1080)), args.repeats, sync
    )
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in results.items()}))


if __name__ == "__main__":
    main()
