"""Fit the text head of an existing MotionCLIP export on its experiment's training captions.

    python bench/fit_text_head.py EXPORT_DIR [--experiment motionclip_procedural_onset]

Exports made by ``train.py`` with ``model.text_head: true`` already hold
``text_head.safetensors``; this rebuilds it for an export made before the head existed (the
embedded model's stage 3 was): the experiment's training clips (its ``data`` config) in the
bank's order, the export's latent bank and text encoder, the same fitting code as the export
(:func:`vmc.motion.text_head.build_text_head`). It checks that the recomputed clip latents match
the bank before writing.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from hydra.utils import instantiate

from vmc.motion.prior import compute_latent_bank
from vmc.motion.runs import load_motionclip_run
from vmc.motion.stage import encoder_for_run
from vmc.motion.text_head import (
    HEAD_FILENAME,
    TEXT_HEAD_SETTINGS,
    build_text_head,
    save_text_head,
)
from vmc.tasks.entry import compose_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", type=Path)
    parser.add_argument("--experiment", default="motionclip_procedural_onset")
    args = parser.parse_args()
    torch.set_num_threads(2)

    model, info = load_motionclip_run(args.export)
    if info.get("latent_bank") is None:
        raise SystemExit(f"{args.export}: no latent_bank.safetensors to fit a text head on")
    encoder = encoder_for_run(info)
    # No Hydra run here: the datamodule's data summary goes to a scratch folder.
    with tempfile.TemporaryDirectory() as scratch:
        cfg = compose_config(
            "train", [f"experiment={args.experiment}", f"paths.output_dir={scratch}"]
        )
        datamodule = instantiate(cfg.data)
        datamodule.setup("fit")
    dataset = datamodule.train_set
    bank = info["latent_bank"]
    again = compute_latent_bank(model, dataset)
    agreement = float(F.cosine_similarity(again, bank, dim=1).min())
    if again.shape != bank.shape or agreement < 0.99:
        raise SystemExit(
            f"the experiment's training clips do not match the export's bank (min cosine "
            f"{agreement:.3f}): wrong --experiment?"
        )
    center = info.get("text_center")

    def text_latents(captions: list[str]) -> torch.Tensor:
        feats = encoder.encode(captions).float()
        return feats - torch.tensor(center).to(feats) if center is not None else feats

    clip_texts = [list(record.motion.texts) for record in dataset.records]
    head, num_captions = build_text_head(clip_texts, bank, text_latents)
    path = save_text_head(args.export / HEAD_FILENAME, head, TEXT_HEAD_SETTINGS)
    print(f"bank matches the experiment's clips (min cosine {agreement:.4f})")
    print(f"text head fit on {num_captions} training captions -> {path}")


if __name__ == "__main__":
    main()
