"""Benchmark: a MotionCLIP training step with cached CLIP features vs running CLIP every step.

Both variants do the same full paper-model step on the same batch (B=20, T=60): MotionCLIP
forward (512-d, 8+8 layers), the paper losses (rc, rcxyz on 6,890 body vertices, vel, text and
image cosine), backward, AdamW step. They differ only in where the CLIP features come from:

* ``cached``: :class:`vmc.text.feature_cache.FeatureCache` (what ``MotionCLIPSystem`` does):
  in-memory lookup of the batch's labels and rendered-frame files (keyed once by their pixels);
* ``clip``: a full-size CLIP ViT-B/32 (``clip.model.CLIP`` with the official sizes, random
  weights: the cost does not depend on the values) encodes the 20 labels and the 20
  preprocessed 224² frames every step, as the reference training did (fp16 on CUDA, like the
  reference's ``convert_weights``; fp32 on CPU).

Prints the median milliseconds per step of each and their ratio (timed alternately, so machine
load hits both alike).

    python bench/bench_motionclip_step.py [--device cuda] [--steps 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from vmc.body.embedded import load_embedded_body
from vmc.data.motion_dataset import MotionWindowDataset
from vmc.data.motion_sources import load_procedural
from vmc.io.images import write_image
from vmc.motion.losses import LossWeights, PosedBody, motion_losses
from vmc.motion.model import MotionCLIP
from vmc.text.clip_encoder import ClipTextEncoder
from vmc.text.feature_cache import FeatureCache
from vmc.text.torchvision_compat import import_clip

#: OpenAI CLIP ViT-B/32 sizes (as read from the official state dict).
VIT_B_32 = dict(
    embed_dim=512,
    image_resolution=224,
    vision_layers=12,
    vision_width=768,
    vision_patch_size=32,
    context_length=77,
    vocab_size=49408,
    transformer_width=512,
    transformer_heads=8,
    transformer_layers=12,
)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--steps", type=int, default=10, help="timed steps of each variant")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--vertices", type=int, default=6890, help="vertices of the vertex loss")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    clip = import_clip()

    # ---- one batch of the paper setting: 20 windows of 60 frames, labels, rendered frames
    records = load_procedural(args.batch_size, num_frames=60, seed=0)
    ds = MotionWindowDataset(records, num_frames=60, translation="reference", up_axis="y")
    items = [ds[(i, 0)] for i in range(args.batch_size)]
    x = torch.stack([it["x"] for it in items]).to(device)
    mask = torch.stack([it["mask"] for it in items]).to(device)
    texts = [it["text"] for it in items]
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (224, 224, 3), dtype=np.uint8) for _ in texts]
    tmp = Path(tempfile.mkdtemp(prefix="bench_motionclip_"))
    paths = []
    for i, frame in enumerate(frames):
        write_image(tmp / f"frame{i:02d}.png", frame)
        paths.append(str(tmp / f"frame{i:02d}.png"))

    # ---- networks
    net = MotionCLIP().to(device)  # paper sizes
    net.decoder.actionBiases.requires_grad_(False)
    optimizer = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=1e-4)
    body = PosedBody(load_embedded_body(), num_vertices=args.vertices).to(device)
    clip_model = clip.model.CLIP(**VIT_B_32)
    encoder = ClipTextEncoder.from_model(clip_model, device=device, name="clip-vit-b-32-random")
    cache = FeatureCache(encoder)  # in memory: after the first epoch that is what a step sees
    cache.warm(texts, paths)
    fp16 = device.type == "cuda"
    live = clip_model.to(device)
    if fp16:
        clip.model.convert_weights(live)  # the reference's fp16 CLIP
    images = torch.stack([encoder.preprocess(encoder._to_pil(f)) for f in frames]).to(device)
    tokens = clip.tokenize(texts).to(device)
    weights = LossWeights()

    def step(features: Callable[[], tuple[torch.Tensor, torch.Tensor]]) -> None:
        text, image = features()
        mu, output = net(x, mask)
        terms = motion_losses(
            x, output, mask, mu, weights, body=body, text_features=text, image_features=image
        )
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimizer.step()
        _sync(device)

    def cached() -> tuple[torch.Tensor, torch.Tensor]:
        return cache.text_features(texts, device), cache.image_features(paths, device)

    def run_clip() -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            text = live.encode_text(tokens).float()
            image = live.encode_image(images.to(live.visual.conv1.weight.dtype)).float()
        return text, image

    variants = {"cached": lambda: step(cached), "clip": lambda: step(run_clip)}
    for _ in range(args.warmup):
        for fn in variants.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.steps):
        for name, fn in variants.items():
            _sync(device)
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1e3)
    ms = {k: statistics.median(v) for k, v in times.items()}

    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    threads = torch.get_num_threads()
    print(
        f"MotionCLIP paper-model training step, batch {args.batch_size} x 60 frames, "
        f"{body.num_vertices} loss vertices, on {where} ({threads} CPU threads)"
    )
    print(f"  cached features      : {ms['cached']:9.1f} ms/step")
    print(f"  CLIP ViT-B/32 / step : {ms['clip']:9.1f} ms/step ({'fp16' if fp16 else 'fp32'} CLIP)")
    print(f"  ratio (CLIP / cached): {ms['clip'] / ms['cached']:9.2f}x")
    print(f"  CLIP alone costs     : {ms['clip'] - ms['cached']:9.1f} ms/step")


if __name__ == "__main__":
    main()
