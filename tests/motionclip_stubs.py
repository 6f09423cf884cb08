"""A real, tiny :class:`vmc.text.TextEncoder` for MotionCLIP tests (no model files needed).

``HashTextEncoder`` maps every text to a fixed unit vector drawn from a generator seeded by the
text's SHA-256, so equal texts give equal features and different texts nearly orthogonal ones.
It goes through the base class's ``encode`` (argument checks, batching, truncation warning) and
counts how many texts reached ``_encode_batch`` — the feature-cache tests rely on that count.
Importable by Hydra as ``motionclip_stubs.HashTextEncoder`` (pytest puts ``tests/`` on the path).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch import nn

from vmc.text.base import TextEncoder

#: Texts encoded by any HashTextEncoder in this process (Hydra builds its own instances).
ENCODED_TEXTS: list[str] = []


class HashTextEncoder(TextEncoder):
    """Deterministic hashing embeddings: ``encode(list[str]) -> float32 [B, dim]``, unit norm.

    Args:
        dim: feature size.
        salt: changes every embedding (and the ``cache_id``).
        image_tower: pretend to have an image encoder (features hashed from the pixels).
        **_: accepted and ignored (``kind``, ``clip_path`` ... of the text-encoder config).
    """

    max_tokens = 64

    def __init__(self, dim: int = 32, salt: int = 0, image_tower: bool = False, **_: Any) -> None:
        module = nn.Module()
        # The base class hashes the module's state for cache_id: make it depend on dim and salt.
        module.register_buffer("identity", torch.tensor([float(dim), float(salt)]))
        super().__init__(module)
        self.name = f"hash-{dim}"
        self.dim = int(dim)
        self.salt = int(salt)
        self.has_image_encoder = bool(image_tower)
        self.calls = 0
        self.texts_encoded: list[str] = []
        self.images_encoded = 0

    def _vector(self, payload: bytes) -> torch.Tensor:
        seed = int.from_bytes(hashlib.sha256(payload + str(self.salt).encode()).digest()[:8], "big")
        vec = np.random.default_rng(seed).standard_normal(self.dim)
        return torch.from_numpy(vec / np.linalg.norm(vec)).float()

    def _encode_batch(self, texts: list[str]) -> torch.Tensor:
        self.calls += 1
        self.texts_encoded += texts
        ENCODED_TEXTS.extend(texts)
        return torch.stack([self._vector(t.encode()) for t in texts]).to(self.device)

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) + 2 for t in texts]

    def encode_image(self, images: Any) -> torch.Tensor:
        if not self.has_image_encoder:
            return super().encode_image(images)
        self.images_encoded += len(images)
        arrays = [np.ascontiguousarray(im, dtype=np.uint8) for im in images]
        return torch.stack([self._vector(b"img" + a.tobytes()) for a in arrays]).to(self.device)


class FeatureCallRecorder(pl.Callback):
    """Records the system's feature-cache encoder calls at the end of every training epoch."""

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        EPOCH_ENCODER_CALLS.append(int(pl_module.features.encoder_calls))


#: ``features.encoder_calls`` at the end of every training epoch (FeatureCallRecorder).
EPOCH_ENCODER_CALLS: list[int] = []


#: Overrides that shrink a MotionCLIP experiment's model to a tiny one with the stub encoder.
TINY_MODEL_OVERRIDES = [
    "model.net.latent_dim=32",
    "model.net.ff_size=64",
    "model.net.num_layers=1",
    "model.net.max_positions=100",
    "model.body.kind=tiny",
    "model.num_loss_vertices=null",
    "model.text_encoder._target_=motionclip_stubs.HashTextEncoder",
    "+model.text_encoder.dim=32",
]
