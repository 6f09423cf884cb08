"""LWG generator / discriminator weights: widths read from shapes, rebuilt, loaded strictly.

Reading, extraction, strict loading and atomic saving are :mod:`vmc.io.checkpoints`; this module
adds what is specific to the generator and discriminators. Readable files:

* iPERCore's ``AttLWB-SPADE_id_G_*.pth`` (a bare ``state_dict``; keys with or without the
  ``module.`` prefix of DataParallel/DDP);
* **vmc checkpoints** written by :func:`save_generator` / :func:`save_discriminator`::

      {"format": "vmc.lwg.generator" | "vmc.lwg.discriminator", "format_version": 1,
       "config": {...constructor kwargs, informative only...},
       "state_dict": {"generator.<key>": tensor, ...}}   # or "discriminator.<key>"

  This is deliberately the layout of a Lightning checkpoint of a module holding the networks
  as attributes ``generator`` / ``discriminator``, so the same loader reads both (other
  entries of the ``state_dict``, e.g. the discriminator beside the generator, are ignored);
* ``.safetensors`` files (keys optionally prefixed the same way);
* ``.npz`` archives such as the parity fixtures (``w::<key>`` arrays; non-weight arrays ignored).

The key prefix is found automatically from an anchor key (``tsf_net_enc.layers.0.0.weight`` for
the generator, ``global_model.model.0.weight`` for discriminators); pass ``prefix=`` when a file
holds several candidates. Architectures are rebuilt from the weight shapes alone, then loaded
strictly: missing, unexpected or mis-shaped keys raise one
:class:`~vmc.io.checkpoints.CheckpointError` listing them.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vmc.io.checkpoints import (
    CheckpointError,
    StateDict,
    extract_state_dict,
    load_checkpoint_file,
    load_state_dict_strict,
    save_checkpoint,
)
from vmc.lwg.discriminator import GlobalBodyHeadDiscriminator, GlobalDiscriminator
from vmc.lwg.generator import AttentionLWBGenerator, GeneratorConfig

__all__ = [
    "DISCRIMINATOR_FORMAT",
    "GENERATOR_FORMAT",
    "discriminator_kwargs_from_state_dict",
    "generator_config_from_state_dict",
    "generator_file",
    "load_discriminator",
    "load_generator",
    "save_discriminator",
    "save_generator",
]

GENERATOR_FORMAT = "vmc.lwg.generator"
DISCRIMINATOR_FORMAT = "vmc.lwg.discriminator"
FORMAT_VERSION = 1
_GENERATOR_ANCHOR = "tsf_net_enc.layers.0.0.weight"
_DISCRIMINATOR_ANCHOR = "global_model.model.0.weight"
# Wrappers that may nest each network: Lightning/vmc "state_dict", GAN trainers' netG / netD.
_GENERATOR_WRAPPERS = ("state_dict", "model", "net", "netG")
_DISCRIMINATOR_WRAPPERS = ("state_dict", "model", "net", "netD")
#: Where a folder keeps its generator, in the order :func:`generator_file` looks: an export
#: folder, a ``train.py`` run folder (its export, else its last training checkpoint).
RUN_GENERATOR_FILES = ("model.safetensors", "export/model.safetensors", "checkpoints/last.ckpt")


def _read(
    path: str | os.PathLike[str], anchor: str, prefix: str | None, wrappers: tuple[str, ...]
) -> StateDict:
    return extract_state_dict(
        load_checkpoint_file(path), prefix, anchor=anchor, wrappers=wrappers, source=str(path)
    )


def _indexed(sd: Mapping[str, torch.Tensor], pattern: str) -> dict[int, torch.Tensor]:
    rx = re.compile(pattern)
    out = {}
    for k, v in sd.items():
        m = rx.fullmatch(k)
        if m:
            out[int(m.group(1))] = v
    return dict(sorted(out.items()))


def _contiguous(found: dict[int, torch.Tensor], what: str, source: str) -> list[torch.Tensor]:
    if list(found) != list(range(len(found))):
        raise CheckpointError(
            f"{source}: {what} layer indices {list(found)} are not 0..n-1, so the widths cannot "
            "be read; fix: pass an unmodified generator checkpoint"
        )
    return list(found.values())


# --------------------------------------------------------------------------- generator
def generator_config_from_state_dict(
    sd: Mapping[str, torch.Tensor], *, source: str = "state dict"
) -> GeneratorConfig:
    """Infer :class:`GeneratorConfig` from weight shapes (prefix already stripped).

    Args:
        sd: the generator's weights, e.g. ``bg_net.main.0.weight`` ``[C0, C_in, 7, 7]``.
        source: the file, for error messages.

    Raises:
        CheckpointError: an anchor weight is missing or the layout is inconsistent.
    """
    try:
        stem = sd["bg_net.main.0.weight"]
        src_enc = _contiguous(
            _indexed(sd, r"src_net\.encoders\.layers\.(\d+)\.0\.weight"), "src_net.encoders", source
        )
        tsf_enc = _contiguous(
            _indexed(sd, r"tsf_net_enc\.layers\.(\d+)\.0\.weight"), "tsf_net_enc", source
        )
        spade = sd["enc_attlwbs.0.spade.mlp_shared.0.weight"]
    except KeyError as err:
        raise CheckpointError(
            f"{source}: not an AttLWB-SPADE generator state dict (missing {err.args[0]!r}); "
            "fix: pass an iPERCore AttLWB-SPADE or vmc generator checkpoint"
        ) from err
    if not src_enc or not tsf_enc:
        raise CheckpointError(
            f"{source}: no SIDNet/TSFNet encoder weights found; fix: pass an iPERCore "
            "AttLWB-SPADE or vmc generator checkpoint"
        )
    top = _indexed(sd, r"bg_net\.main\.(\d+)\.weight")
    # Top-level BGNet 3x3 convs are the down-samplings (stem 7x7, up-convs 4x4, output 7x7).
    downs = [w for i, w in top.items() if i > 0 and w.dim() == 4 and w.shape[-1] == 3]
    return GeneratorConfig(
        bg_filters=(stem.shape[0], *(w.shape[0] for w in downs)),
        bg_res_blocks=len(_indexed(sd, r"bg_net\.main\.(\d+)\.main\.0\.weight")),
        bg_in_channels=stem.shape[1],
        src_filters=tuple(w.shape[0] for w in src_enc),
        src_res_blocks=len(_indexed(sd, r"src_net\.res_blocks\.(\d+)\.main\.0\.weight")),
        src_in_channels=src_enc[0].shape[1],
        tsf_filters=tuple(w.shape[0] for w in tsf_enc),
        tsf_res_blocks=len(_indexed(sd, r"res_blocks\.(\d+)\.main\.0\.weight")),
        tsf_in_channels=tsf_enc[0].shape[1],
        spade_hidden=spade.shape[0],
    )


def generator_file(path: str | os.PathLike[str]) -> Path:
    """The generator weights that ``path`` names: the file itself, or in a folder (an export
    folder, a ``train.py experiment=lwg_pretrain...`` run folder) the first of
    :data:`RUN_GENERATOR_FILES` that exists.

    Raises:
        FileNotFoundError: no such path, or a folder holding none of those files.
    """
    p = Path(path)
    if p.is_dir():
        for name in RUN_GENERATOR_FILES:
            if (p / name).is_file():
                return p / name
        raise FileNotFoundError(
            f"{p} holds no generator: looked for {', '.join(RUN_GENERATOR_FILES)}"
        )
    if not p.is_file():
        raise FileNotFoundError(f"{p} does not exist (a run folder or a weights file)")
    return p


def load_generator(
    path: str | os.PathLike[str], *, prefix: str | None = None, **overrides: Any
) -> AttentionLWBGenerator:
    """Build an :class:`AttentionLWBGenerator` from a checkpoint file alone.

    Args:
        path: iPERCore ``.pth``, a vmc/Lightning checkpoint, ``.safetensors`` or ``.npz``.
        prefix: key prefix of the generator's weights (auto-detected when ``None``).
        **overrides: :class:`GeneratorConfig` fields that replace the inferred ones (the
            strict load then checks them against the weights).

    Returns:
        The generator on the CPU in ``eval()`` mode.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: unreadable file, no (or several) generators in it, or weights that do
            not fit (every difference listed).
        ValueError: an override that is not a :class:`GeneratorConfig` field.
    """
    sd = _read(path, _GENERATOR_ANCHOR, prefix, _GENERATOR_WRAPPERS)
    cfg = generator_config_from_state_dict(sd, source=str(path))
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(GeneratorConfig)})
    if unknown:
        raise ValueError(f"load_generator: unknown GeneratorConfig fields {unknown}")
    cfg = dataclasses.replace(cfg, **overrides)
    model = AttentionLWBGenerator.from_config(cfg)
    load_state_dict_strict(model, sd, source=str(path))
    return model.eval()


def _save(
    module: nn.Module, path: str | os.PathLike[str], key: str, fmt: str, config: dict[str, Any]
) -> Path:
    state = {f"{key}.{k}": v for k, v in module.state_dict().items()}
    info = {"format": fmt, "format_version": FORMAT_VERSION, "config": config}
    return save_checkpoint(state, path, info)


def save_generator(model: AttentionLWBGenerator, path: str | os.PathLike[str]) -> Path:
    """Write a vmc generator checkpoint (``.safetensors`` by suffix, else torch) atomically."""
    return _save(model, path, "generator", GENERATOR_FORMAT, model.config.to_dict())


# --------------------------------------------------------------------------- discriminators
def _patch_kwargs(sd: Mapping[str, torch.Tensor], head: str, source: str) -> dict[str, int]:
    convs = list(_indexed(sd, rf"{head}\.model\.(\d+)\.weight").values())
    if len(convs) < 3:
        raise CheckpointError(
            f"{source}: {head} has {len(convs)} conv layers, a patch discriminator has >= 3; "
            "fix: pass an LWG discriminator checkpoint"
        )
    ndf, n_layers = convs[0].shape[0], len(convs) - 2
    widths = [w.shape[0] for w in convs[1:-1]]
    max_mult = 2**n_layers
    for k, width in enumerate(widths, start=1):
        if width < ndf * 2**k:  # the multiplier hit its cap here
            max_mult = width // ndf
            break
    return {
        "in_channels": convs[0].shape[1],
        "ndf": ndf,
        "n_layers": n_layers,
        "max_nf_mult": max_mult,
    }


def discriminator_kwargs_from_state_dict(
    sd: Mapping[str, torch.Tensor], *, source: str = "state dict"
) -> tuple[type[nn.Module], dict[str, Any]]:
    """Pick the discriminator class and constructor kwargs from weight names and shapes.

    Raises:
        CheckpointError: fewer than three ``global_model`` conv layers.
    """
    kw = _patch_kwargs(sd, "global_model", source)
    if not any(k.startswith("body_model.") or k.startswith("head_model.") for k in sd):
        return GlobalDiscriminator, kw
    use_bg = any(k.startswith("bg_model.") for k in sd)
    bg_in = sd["bg_model.model.0.weight"].shape[1] if use_bg else 4
    return GlobalBodyHeadDiscriminator, {**kw, "bg_in_channels": bg_in, "use_bg": use_bg}


def load_discriminator(
    path: str | os.PathLike[str], *, prefix: str | None = None
) -> GlobalDiscriminator | GlobalBodyHeadDiscriminator:
    """Build the single- or four-head discriminator from a checkpoint file alone (strict).

    Same file kinds and prefix rules as :func:`load_generator`. Returns it on the CPU, ``eval()``.
    """
    sd = _read(path, _DISCRIMINATOR_ANCHOR, prefix, _DISCRIMINATOR_WRAPPERS)
    cls, kwargs = discriminator_kwargs_from_state_dict(sd, source=str(path))
    model = cls(**kwargs)
    load_state_dict_strict(model, sd, source=str(path))
    return model.eval()


def save_discriminator(
    model: GlobalDiscriminator | GlobalBodyHeadDiscriminator, path: str | os.PathLike[str]
) -> Path:
    """Write a vmc discriminator checkpoint (``.safetensors`` by suffix, else torch) atomically."""
    cls, kwargs = discriminator_kwargs_from_state_dict(model.state_dict())
    return _save(
        model, path, "discriminator", DISCRIMINATOR_FORMAT, {"class": cls.__name__, **kwargs}
    )
