"""Reader of the released MotionCLIP checkpoint (``checkpoint_0100.pth.tar`` + ``opt.yaml``).

The released file is a flat state dict (249 keys, float32) written with ``torch.save`` after
removing every ``clip_model.*`` key; the configuration lives in the sibling ``opt.yaml`` (the
reference's command-line options). This module only reads and checks them -- it builds no
network: :func:`read_official_checkpoint` returns the configuration, the state dict and the
options, and :meth:`vmc.motion.model.MotionCLIP.from_official` builds and loads the model (one
direction, as ``from_pretrained`` does in the Hugging Face libraries). Here:

* the file is read with ``torch.load(weights_only=True)`` or safetensors (never plain pickle);
* sizes the weights imply (``latent_dim``, ``ff_size``, ``num_layers``, ``njoints * nfeats``,
  the positional-table length) are taken from the weights; everything else from ``opt.yaml``
  (``yaml.safe_load``) and keyword overrides that use opt.yaml's key names;
* an opt.yaml or override that contradicts the weights is one error listing every difference
  (``from_official`` then loads strictly: missing, extra or mis-shaped keys, all listed);
* the ``pe`` buffers are checked against their formula when present (``from_official`` takes the
  model's own, built from the formula, when absent).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import torch
import yaml

from vmc.io.checkpoints import CheckpointError, StateDict, extract_state_dict, load_checkpoint_file
from vmc.motion.positional import sinusoidal_table

#: Keys of opt.yaml (and of ``from_official`` overrides) that configure the networks.
OPT_MODEL_KEYS: tuple[str, ...] = (
    "njoints",
    "nfeats",
    "latent_dim",
    "ff_size",
    "num_layers",
    "num_heads",
    "dropout",
    "activation",
)
#: Extra override (not an opt.yaml key): rows of the positional table when the file has no ``pe``.
EXTRA_OVERRIDE_KEYS: tuple[str, ...] = ("max_positions",)
#: Prefix removed from the released file (the frozen CLIP, re-created separately).
EXCLUDED_PREFIXES: tuple[str, ...] = ("clip_model.",)
PE_KEYS: tuple[str, ...] = ("encoder.sequence_pos_encoder.pe", "decoder.sequence_pos_encoder.pe")
#: Saved ``pe`` tables may differ from ours only by float32 sin/cos rounding (~1e-7).
PE_ATOL = 1e-4

_ENC_LAYER = re.compile(r"^encoder\.seqTransEncoder\.layers\.(\d+)\.")
_DEC_LAYER = re.compile(r"^decoder\.seqTransDecoder\.layers\.(\d+)\.")


def read_opt_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a MotionCLIP ``opt.yaml`` with ``yaml.safe_load``.

    Raises:
        ValueError: the file is not valid YAML or not a mapping.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not a valid YAML file ({err})") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of options, got {type(data).__name__}")
    return data


def sizes_from_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, int]:
    """Sizes implied by a MotionCLIP state dict.

    Returns:
        ``latent_dim``, ``ff_size``, ``num_layers``, ``num_features`` (= njoints * nfeats) and,
        when a ``pe`` buffer is present, ``max_positions``.

    Raises:
        CheckpointError: a key needed to read the sizes is missing, or encoder and decoder
            disagree (the reference uses one ``num_layers`` for both).
    """
    needed = (
        "encoder.muQuery",
        "encoder.skelEmbedding.weight",
        "encoder.seqTransEncoder.layers.0.linear1.weight",
        "decoder.finallayer.weight",
    )
    absent = [k for k in needed if k not in state]
    if absent:
        raise CheckpointError(
            "not a MotionCLIP state dict: missing "
            + ", ".join(absent)
            + f" (found {len(state)} keys, e.g. {', '.join(list(state)[:3])})"
        )
    enc_layers = {int(m.group(1)) for k in state if (m := _ENC_LAYER.match(k))}
    dec_layers = {int(m.group(1)) for k in state if (m := _DEC_LAYER.match(k))}
    if enc_layers != dec_layers:
        raise CheckpointError(
            f"encoder has layers {sorted(enc_layers)} but decoder has {sorted(dec_layers)}; "
            "MotionCLIP uses the same num_layers for both"
        )
    if enc_layers != set(range(len(enc_layers))):
        raise CheckpointError(f"layer indices are not contiguous: {sorted(enc_layers)}")
    sizes = {
        "latent_dim": int(state["encoder.muQuery"].shape[-1]),
        "ff_size": int(state["encoder.seqTransEncoder.layers.0.linear1.weight"].shape[0]),
        "num_layers": len(enc_layers),
        "num_features": int(state["encoder.skelEmbedding.weight"].shape[1]),
    }
    pe = [state[k] for k in PE_KEYS if k in state]
    if pe:
        sizes["max_positions"] = int(pe[0].shape[0])
    return sizes


def resolve_official_config(
    state: Mapping[str, torch.Tensor],
    defaults: Mapping[str, Any],
    opt: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    source: str = "checkpoint",
) -> dict[str, Any]:
    """Combine ``defaults`` <- opt.yaml <- overrides, then check them against the weights.

    Args:
        state: the MotionCLIP state dict (``clip_model.*`` removed).
        defaults: a value for every key of :data:`OPT_MODEL_KEYS` and ``max_positions`` (the
            model's own defaults, e.g. ``MotionCLIPConfig().to_dict()``).
        opt: opt.yaml contents; ``overrides``: keyword overrides with opt.yaml's key names.
        source: the file(s), for error messages.

    Returns:
        The constructor kwargs of the model (sizes taken from the weights).

    Raises:
        ValueError: unknown override keys, unsupported opt.yaml options, or any value that
            contradicts the sizes implied by the weights (all listed at once).
    """
    opt = dict(opt or {})
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(OPT_MODEL_KEYS) - set(EXTRA_OVERRIDE_KEYS))
    if unknown:
        raise ValueError(
            f"unknown MotionCLIP option(s) {unknown}; allowed: "
            f"{list(OPT_MODEL_KEYS + EXTRA_OVERRIDE_KEYS)}"
        )
    unsupported = []
    if opt.get("archiname", "transformer") != "transformer":
        unsupported.append(f"archiname={opt['archiname']!r} (only 'transformer')")
    if opt.get("ablation") not in (None, "", "None"):
        unsupported.append(f"ablation={opt['ablation']!r} (only none)")
    if opt.get("normalize_encoder_output"):
        unsupported.append("normalize_encoder_output=true")
    if unsupported:
        raise ValueError(f"{source}: opt.yaml uses unsupported options: " + "; ".join(unsupported))

    sizes = sizes_from_state_dict(state)
    chosen: dict[str, Any] = dict(defaults)
    origin = {key: "default" for key in chosen}
    for layer_name, layer in (("opt.yaml", opt), ("override", overrides)):
        for key in OPT_MODEL_KEYS + EXTRA_OVERRIDE_KEYS:
            # opt.yaml's max_len is a data option, never the positional table.
            if key in layer and not (layer_name == "opt.yaml" and key in EXTRA_OVERRIDE_KEYS):
                chosen[key] = layer[key]
                origin[key] = layer_name

    conflicts = []
    for key in ("latent_dim", "ff_size", "num_layers", "max_positions"):
        if key not in sizes:
            continue
        if origin[key] != "default" and chosen[key] != sizes[key]:
            conflicts.append(
                f"{key}: {origin[key]} says {chosen[key]!r}, weights have {sizes[key]}"
            )
        chosen[key] = sizes[key]
    if int(chosen["njoints"]) * int(chosen["nfeats"]) != sizes["num_features"]:
        conflicts.append(
            f"njoints*nfeats: {chosen['njoints']}*{chosen['nfeats']} "
            f"({origin['njoints']}/{origin['nfeats']}) != {sizes['num_features']} input features "
            "in encoder.skelEmbedding.weight"
        )
    if conflicts:
        raise ValueError(
            f"{source}: configuration contradicts the weights: " + "; ".join(conflicts)
        )
    return chosen


def check_positional_buffers(
    state: Mapping[str, torch.Tensor], *, source: str = "checkpoint"
) -> None:
    """Check saved ``pe`` buffers against the sinusoidal formula.

    Raises:
        CheckpointError: a buffer has the wrong layout or values (max difference reported).
    """
    for key in PE_KEYS:
        if key not in state:
            continue
        pe = state[key]
        if pe.ndim != 3 or pe.shape[1] != 1:
            raise CheckpointError(f"{source}: {key} has shape {tuple(pe.shape)}, expected [L,1,D]")
        expected = sinusoidal_table(pe.shape[0], pe.shape[2])
        diff = float((pe[:, 0].float() - expected).abs().max())
        if not diff <= PE_ATOL:  # also catches NaN
            raise CheckpointError(
                f"{source}: {key} is not the sinusoidal table (max difference {diff:.3g} > "
                f"{PE_ATOL}); the file is corrupt or from a different model"
            )


class OfficialCheckpoint(NamedTuple):
    """What :func:`read_official_checkpoint` found (nothing built yet)."""

    config: dict[str, Any]  # constructor kwargs: defaults <- opt.yaml <- overrides, sizes checked
    state_dict: StateDict  # without clip_model.*; pe buffers checked when present
    opt: dict[str, Any]  # opt.yaml contents ({} when there was none)
    source: str  # "<file>" or "<file> (+ opt.yaml)", for messages


def read_official_checkpoint(
    path: str | os.PathLike[str], defaults: Mapping[str, Any], **overrides: Any
) -> OfficialCheckpoint:
    """Read a released MotionCLIP checkpoint and its sibling ``opt.yaml``, and check them.

    Args:
        path: checkpoint file: a flat state dict saved by ``torch.save`` (``.pth.tar``/``.pt``)
            or a ``.safetensors`` file. ``clip_model.*`` keys, if any, are dropped (that is the
            frozen CLIP, which the reference strips before saving).
        defaults: the model's defaults for every configurable key (see
            :func:`resolve_official_config`).
        **overrides: opt.yaml keys (``num_heads``, ``dropout``, ``activation``, ``njoints``,
            ``nfeats``; size keys must agree with the weights) and ``max_positions``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError / ValueError: the file, opt.yaml or overrides do not match (all
            differences listed).
    """
    path = Path(path)
    state = extract_state_dict(load_checkpoint_file(path), source=str(path))
    state = {k: v for k, v in state.items() if not k.startswith(EXCLUDED_PREFIXES)}
    opt_path = path.parent / "opt.yaml"
    opt = read_opt_yaml(opt_path) if opt_path.is_file() else {}
    source = str(path) + (f" (+ {opt_path.name})" if opt else "")
    config = resolve_official_config(state, defaults, opt, overrides, source=source)
    check_positional_buffers(state, source=source)
    return OfficialCheckpoint(config=config, state_dict=state, opt=opt, source=source)
