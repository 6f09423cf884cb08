"""Seconds per fine-tuning iteration (G + D step) of the generator on one subject, on this CPU.

    python bench/bench_finetune_step.py [--sizes 256 512] [--widths paper|tiny]

Runs ``finetune.py``'s task twice per size (2 and 6 iterations) on a subject prepared from
``examples/person.jpg`` and reports the difference per iteration, so start-up costs (data
module, loss networks, first batch) cancel. Random VGG19/SphereFace weights (their values do not
change the cost). Figures vary with the machine's load.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from vmc.tasks.finetune import finetune

ROOT = Path(__file__).resolve().parents[1]


def _run(size: int, iterations: int, widths: str, work: Path) -> float:
    model = "lwg_pretrain" if widths == "paper" else "lwg_tiny"
    overrides = [
        "subject=bench", f"images=[{ROOT / 'examples' / 'person.jpg'}]",
        f"paths.subjects_dir={work}", f"model={model}", f"data.image_size={size}",
        f"trainer.max_steps={2 * iterations}", "data.train_length=100", "data.val_length=0",
        "logger=csv", "callbacks.progress_bar=null", "export=false",
        "model.losses.vgg_weights=random", "model.losses.face_weights=random",
    ]  # fmt: skip
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("finetune", overrides=overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(work / "hydra")
    t0 = time.perf_counter()
    finetune(cfg)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--widths", choices=("paper", "tiny"), default="paper")
    args = parser.parse_args()
    print(f"{args.widths} widths, CPU, one subject photo", file=sys.stderr)
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            short = _run(size, 2, args.widths, work)
            (work / "bench" / "finetune").rename(work / "bench" / "finetune-2")
            long = _run(size, 6, args.widths, work)
        print(f"{size}^2: {(long - short) / 4:.2f} s per iteration (G + D)")


if __name__ == "__main__":
    main()
