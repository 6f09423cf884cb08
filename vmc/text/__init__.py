"""Text encoders behind one interface (:class:`TextEncoder`: ``encode(list[str]) -> [B, D]``).

* :class:`ClipTextEncoder`: OpenAI CLIP ViT-B/32 from a local file (paper mode; also images).
* :class:`SentenceEncoder`: all-MiniLM-L6-v2 shipped in a PyPI wheel (embedded default, 384-d,
  no image tower).

Importing them is cheap: the heavy packages behind them (``clip``, ``sentence_transformers``
with ``transformers``) are imported only when an encoder is built.
"""

from __future__ import annotations

import os

import torch

from vmc.io.stages import GroupChoice
from vmc.text.base import NoImageEncoderError, TextEncoder, TextTruncationWarning
from vmc.text.clip_encoder import ClipTextEncoder, find_clip_weights
from vmc.text.sentence_encoder import SentenceEncoder

#: The stage group's name in stage tables and ``stages.yaml``.
GROUP = "text encoder"

__all__ = [
    "ClipTextEncoder",
    "build_text_encoder",
    "resolve_text_encoder",
    "NoImageEncoderError",
    "SentenceEncoder",
    "TextEncoder",
    "TextTruncationWarning",
]


def build_text_encoder(
    kind: str = "auto",
    clip_path: str | os.PathLike[str] | None = None,
    assets_dir: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
) -> TextEncoder:
    """Build the text encoder a config asks for (``conf/text_encoder``: ``kind``, ``clip_path``).

    Args:
        kind: ``"clip"`` (CLIP ViT-B/32 required; a missing file is an error saying where to put
            it), ``"sentence"`` (the offline sentence encoder) or ``"auto"`` (CLIP when its weights
            are found, else the sentence encoder).
        clip_path: explicit CLIP weights file.
        assets_dir: extra assets root searched before ``$VMC_ASSETS`` and ``./assets``.
        device: where the encoder runs.

    Returns:
        The encoder; its ``selection_reason`` says which one was chosen and why (for the
        run's stage table).
    """
    choice = resolve_text_encoder(kind, clip_path, assets_dir)
    encoder: TextEncoder
    if choice.kind == "sentence":
        encoder = SentenceEncoder(device=device)
    else:
        encoder = ClipTextEncoder(choice.files["clip"], device=device)
    encoder.selection_reason = choice.why
    return encoder


def resolve_text_encoder(
    kind: str = "auto",
    clip_path: str | os.PathLike[str] | None = None,
    assets_dir: str | os.PathLike[str] | None = None,
) -> GroupChoice:
    """Which encoder :func:`build_text_encoder` builds, from the files present (loads nothing).

    Returns:
        The ``text encoder`` group's :class:`~vmc.io.stages.GroupChoice`: kind ``clip`` (with
        the weights file) or ``sentence``.

    Raises:
        ValueError: an unknown kind. FileNotFoundError: ``kind="clip"`` and no CLIP weights (the
        message says where they go).
    """
    if kind not in ("auto", "clip", "sentence"):
        raise ValueError(f"text encoder kind must be 'auto', 'clip' or 'sentence', got {kind!r}")
    clip = "CLIP ViT-B/32"
    sentence = "all-MiniLM-L6-v2 sentence encoder (offline)"
    if kind == "sentence":
        return GroupChoice(GROUP, "sentence", sentence, "configured: text_encoder=sentence")
    if kind == "auto":
        try:
            weights = find_clip_weights(clip_path, assets_dir)
        except FileNotFoundError:
            why = "CLIP ViT-B/32 weights not found: offline sentence encoder"
            return GroupChoice(GROUP, "sentence", sentence, why)
        why = f"CLIP weights found at {weights}"
    else:
        weights = find_clip_weights(clip_path, assets_dir)
        why = f"configured: text_encoder=clip ({weights})"
    return GroupChoice(GROUP, "clip", clip, why, {"clip": weights})
