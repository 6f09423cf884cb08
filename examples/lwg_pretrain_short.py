"""A short LWG pretraining run on synthetic clips: validation L1 / PSNR / SSIM before and after.

The issue's "done when" check: over its first hundred iterations on the CPU, pretraining on
synthetic clips (rendered on the fly, procedural clothes and backgrounds) lowers the validation
L1 and raises the SSIM of the generated target frames. Validation uses fixed clips that are never
trained on. The run is the ``lwg_pretrain_tiny`` experiment (all six loss terms; VGG19 and
SphereFace with RANDOM weights since no files are needed here) with the overrides below.

    python examples/lwg_pretrain_short.py                       # tiny widths, 64 px, 100 its
    python examples/lwg_pretrain_short.py --widths paper        # the released generator widths
    python examples/lwg_pretrain_short.py --iterations 20 --size 64 --threads 2

One iteration = one generator step + one discriminator step (Lightning counts 2 optimizer steps).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("WANDB_MODE", "offline")

REPO = Path(__file__).resolve().parents[1]

#: Generator / discriminator widths of the released model (conf/model/lwg_pretrain.yaml).
PAPER_WIDTHS = [
    "model.generator.bg_filters=[64,128,128,256]",
    "model.generator.bg_res_blocks=6",
    "model.generator.src_filters=[64,128,256]",
    "model.generator.src_res_blocks=6",
    "model.generator.tsf_filters=[64,128,256]",
    "model.generator.tsf_res_blocks=6",
    "model.generator.spade_hidden=128",
    "model.discriminator.ndf=64",
    "model.discriminator.max_nf_mult=8",
]


def compose(overrides: list[str], output_dir: Path):
    """The ``train`` config with ``experiment=lwg_pretrain_tiny`` and ``overrides``."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import open_dict

    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(REPO / "conf")):
        cfg = hydra_compose("train", overrides=["experiment=lwg_pretrain_tiny", *overrides])
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        cfg.paths.log_dir = str(output_dir / "logs")
    return cfg


def run(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    import lightning.pytorch as pl
    import torch
    from hydra.utils import instantiate

    if args.threads:
        torch.set_num_threads(args.threads)
    # The D needs (head crop side) >= 3 * 2**n_layers; the head crop is a quarter of the image.
    n_layers = max(1, min(4, int(args.size // 4 / 3).bit_length() - 1))
    overrides = [
        f"data.image_size={args.size}",
        f"data.val_length={args.val_length}",
        f"data.train_length={args.iterations * args.batch_size}",
        f"data.batch_size={args.batch_size}",
        f"model.lr_g={args.lr}",
        f"model.lr_d={args.lr}",
        f"model.discriminator.n_layers={n_layers}",
        f"seed={args.seed}",
    ]
    if args.widths == "paper":
        overrides += PAPER_WIDTHS
    cfg = compose(overrides, Path(args.out))
    pl.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data)
    model = instantiate(cfg.model)
    n_params = sum(p.numel() for p in model.generator.parameters())
    common = {
        "accelerator": "cpu",
        "devices": 1,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "default_root_dir": args.out,
    }
    # Validation only before and after training, on the fixed validation clips.
    evaluator = pl.Trainer(**common)
    trainer = pl.Trainer(
        max_steps=2 * args.iterations,  # G + D optimizer steps per iteration
        max_epochs=-1,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        **common,
    )
    results: dict[str, dict[str, float]] = {}

    def validate(label: str) -> None:
        metrics = evaluator.validate(model, datamodule=datamodule, verbose=False)[0]
        results[label] = {k: float(v) for k, v in metrics.items()}

    print(
        f"generator {args.widths} widths ({n_params:,} parameters), {args.size} px, "
        f"batch {args.batch_size}, lr {args.lr}, {torch.get_num_threads()} threads"
    )
    t0 = time.perf_counter()
    validate("iteration 0")
    t1 = time.perf_counter()
    trainer.fit(model, datamodule=datamodule)
    train_s = time.perf_counter() - t1
    validate(f"iteration {args.iterations}")
    total_s = time.perf_counter() - t0
    keys = ("val/l1", "val/psnr", "val/ssim")
    print(f"{'':>14} " + " ".join(f"{k:>10}" for k in keys))
    for label, m in results.items():
        print(f"{label:>14} " + " ".join(f"{m.get(k, float('nan')):>10.4f}" for k in keys))
    first, last = results["iteration 0"], results[f"iteration {args.iterations}"]
    print(
        f"change: L1 {last['val/l1'] - first['val/l1']:+.4f}, PSNR "
        f"{last['val/psnr'] - first['val/psnr']:+.2f} dB, SSIM "
        f"{last['val/ssim'] - first['val/ssim']:+.4f}; training {train_s:.0f} s "
        f"({1e3 * train_s / args.iterations:.0f} ms/iteration), total {total_s:.0f} s"
    )
    results["timing"] = {"train_s": train_s, "total_s": total_s}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--widths", choices=("tiny", "paper"), default="tiny")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--val-length", type=int, default=8, help="fixed validation clips")
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default="outputs/lwg_pretrain_short")
    parser.add_argument("--json", default=None, help="also write the metrics to this file")
    args = parser.parse_args()
    results = run(args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
