"""Safe, strict loading and saving of LWG generator / discriminator weights.

Readable files (never unpickled without restriction):

* iPERCore's ``AttLWB-SPADE_id_G_*.pth`` (a bare ``state_dict``; keys with or without the
  ``module.`` prefix of DataParallel/DDP), read with ``torch.load(weights_only=True)``;
* **vmc checkpoints** (this module's format, written by :func:`save_generator` /
  :func:`save_discriminator`)::

      {"format": "vmc.lwg.generator" | "vmc.lwg.discriminator", "format_version": 1,
       "config": {...constructor kwargs, informative only...},
       "state_dict": {"generator.<key>": tensor, ...}}   # or "discriminator.<key>"

  This is deliberately the layout of a Lightning checkpoint of a module holding the networks
  as attributes ``generator`` / ``discriminator``, so the same loader reads both (other
  entries of a wrapped ``state_dict``, e.g. the discriminator beside the generator, are
  ignored). Lightning checkpoints must hold only plain Python / tensors to pass
  ``weights_only=True``;
* ``.safetensors`` files (keys optionally prefixed the same way);
* ``.npz`` archives such as the parity fixtures (``w::<key>`` arrays; non-weight arrays ignored).

The key prefix is found automatically from an anchor key (``tsf_net_enc.layers.0.0.weight`` for
the generator, ``global_model.model.0.weight`` for discriminators); pass ``prefix=`` when a file
holds several candidates. Architectures are rebuilt from the weight shapes alone, then loaded
strictly: missing, unexpected or mis-shaped keys raise :class:`StateDictMismatchError` listing
them.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vmc.lwg.discriminator import GlobalBodyHeadDiscriminator, GlobalDiscriminator
from vmc.lwg.generator import AttentionLWBGenerator, GeneratorConfig

__all__ = [
    "GENERATOR_FORMAT",
    "DISCRIMINATOR_FORMAT",
    "StateDictMismatchError",
    "discriminator_kwargs_from_state_dict",
    "extract_state_dict",
    "generator_config_from_state_dict",
    "load_discriminator",
    "load_generator",
    "load_state_dict_strict",
    "read_checkpoint",
    "save_discriminator",
    "save_generator",
]

GENERATOR_FORMAT = "vmc.lwg.generator"
DISCRIMINATOR_FORMAT = "vmc.lwg.discriminator"
FORMAT_VERSION = 1
_GENERATOR_ANCHOR = "tsf_net_enc.layers.0.0.weight"
_DISCRIMINATOR_ANCHOR = "global_model.model.0.weight"
_MAX_LISTED = 25

StateDict = dict[str, torch.Tensor]


class StateDictMismatchError(ValueError):
    """Weights do not fit the architecture; the message lists every difference."""


# --------------------------------------------------------------------------- reading
def read_checkpoint(path: str | os.PathLike[str]) -> tuple[StateDict, bool]:
    """Read tensors from a checkpoint file without executing arbitrary pickled code.

    Args:
        path: ``.pth``/``.pt``/``.ckpt`` (torch, ``weights_only=True``), ``.safetensors`` or
            ``.npz`` (``allow_pickle=False``).

    Returns:
        ``(tensors, wrapped)``: ``wrapped`` is True when the tensors came from a container that
        may hold other modules' weights too (a ``{"state_dict": ...}`` checkpoint or an ``.npz``
        archive); keys outside the selected prefix are then ignored rather than reported.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unreadable, unsafe or not a mapping of tensors.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint not found: {p}")
    suffix = p.suffix.lower()
    if suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return dict(load_file(str(p), device="cpu")), False
        except Exception as err:  # safetensors raises its own error types
            raise ValueError(f"{p}: not a readable safetensors file ({err})") from err
    if suffix == ".npz":
        try:
            with np.load(p, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            tensors = {k: torch.from_numpy(a) for k, a in arrays.items() if a.dtype.kind in "fiub"}
        except Exception as err:
            raise ValueError(f"{p}: not a readable .npz archive ({err})") from err
        return tensors, True
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(
            f"{p}: refused to unpickle (weights_only=True): it stores Python objects besides "
            f"tensors. Re-save only the state_dict (e.g. with vmc.lwg.save_generator). ({err})"
        ) from err
    except Exception as err:
        raise ValueError(f"{p}: not a readable torch checkpoint ({err})") from err
    wrapped = False
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj, wrapped = obj["state_dict"], True
    if not isinstance(obj, Mapping) or not obj:
        raise ValueError(f"{p}: expected a state_dict (mapping of names to tensors)")
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not wrapped and len(tensors) != len(obj):
        others = sorted(str(k) for k, v in obj.items() if not isinstance(v, torch.Tensor))
        raise ValueError(f"{p}: state_dict entries that are not tensors: {others[:_MAX_LISTED]}")
    return {str(k): v for k, v in tensors.items()}, wrapped


def extract_state_dict(
    tensors: Mapping[str, torch.Tensor],
    anchor: str,
    *,
    prefix: str | None = None,
    wrapped: bool = False,
    source: str = "checkpoint",
) -> StateDict:
    """Select one network's weights and strip their key prefix.

    Args:
        tensors: all tensors of a file (see :func:`read_checkpoint`).
        anchor: a key every candidate network has (its prefix is what precedes it).
        prefix: explicit prefix (``""`` for none); found from ``anchor`` when ``None``.
        wrapped: keys outside the prefix are ignored (True) or an error (False).
        source: file name for error messages.
    """
    if prefix is None:
        found = sorted({k[: -len(anchor)] for k in tensors if k.endswith(anchor)})
        if not found:
            raise ValueError(f"{source}: no key ending in {anchor!r}; is this the right network?")
        if len(found) > 1:
            raise ValueError(
                f"{source}: several candidate networks (key prefixes {found}); pass prefix=..."
            )
        prefix = found[0]
    selected = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    if not selected:
        raise ValueError(f"{source}: no key starts with prefix {prefix!r}")
    if not wrapped:
        outside = sorted(k for k in tensors if not k.startswith(prefix))
        if outside:
            raise StateDictMismatchError(
                f"{source}: keys without the prefix {prefix!r}: {_listing(outside)}"
            )
    return selected


def _listing(keys: list[str]) -> str:
    shown = ", ".join(keys[:_MAX_LISTED])
    more = f" ... and {len(keys) - _MAX_LISTED} more" if len(keys) > _MAX_LISTED else ""
    return f"[{shown}{more}] ({len(keys)} in all)"


def load_state_dict_strict(
    module: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = "checkpoint"
) -> None:
    """``module.load_state_dict(strict=True)`` with one error listing every difference.

    Raises:
        StateDictMismatchError: missing, unexpected and mis-shaped keys, all listed.
    """
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = sorted(
        f"{k}: file {tuple(state_dict[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(expected) & set(state_dict)
        if tuple(state_dict[k].shape) != tuple(expected[k].shape)
    )
    problems = []
    if missing:
        problems.append(f"missing keys {_listing(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {_listing(unexpected)}")
    if mismatched:
        problems.append(f"mis-shaped keys {_listing(mismatched)}")
    if problems:
        raise StateDictMismatchError(
            f"{source} does not fit {type(module).__name__}: " + "; ".join(problems)
        )
    module.load_state_dict(dict(state_dict), strict=True)


def _indexed(sd: Mapping[str, torch.Tensor], pattern: str) -> dict[int, torch.Tensor]:
    rx = re.compile(pattern)
    out = {}
    for k, v in sd.items():
        m = rx.fullmatch(k)
        if m:
            out[int(m.group(1))] = v
    return dict(sorted(out.items()))


def _contiguous(found: dict[int, torch.Tensor], what: str) -> list[torch.Tensor]:
    if list(found) != list(range(len(found))):
        raise StateDictMismatchError(f"{what}: indices {list(found)} are not 0..n-1")
    return list(found.values())


# --------------------------------------------------------------------------- generator
def generator_config_from_state_dict(sd: Mapping[str, torch.Tensor]) -> GeneratorConfig:
    """Infer :class:`GeneratorConfig` from weight shapes (prefix already stripped).

    Raises:
        StateDictMismatchError: an anchor weight is missing or the layout is inconsistent.
    """
    try:
        stem = sd["bg_net.main.0.weight"]
        src_enc = _contiguous(
            _indexed(sd, r"src_net\.encoders\.layers\.(\d+)\.0\.weight"), "src_net.encoders"
        )
        tsf_enc = _contiguous(_indexed(sd, r"tsf_net_enc\.layers\.(\d+)\.0\.weight"), "tsf_net_enc")
        spade = sd["enc_attlwbs.0.spade.mlp_shared.0.weight"]
    except KeyError as err:
        raise StateDictMismatchError(
            f"not an AttLWB-SPADE generator state_dict: missing {err.args[0]!r}"
        ) from err
    if not src_enc or not tsf_enc:
        raise StateDictMismatchError("no SIDNet/TSFNet encoder weights found")
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
        FileNotFoundError, ValueError, StateDictMismatchError.
    """
    tensors, wrapped = read_checkpoint(path)
    sd = extract_state_dict(
        tensors, _GENERATOR_ANCHOR, prefix=prefix, wrapped=wrapped, source=str(path)
    )
    cfg = generator_config_from_state_dict(sd)
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(GeneratorConfig)})
    if unknown:
        raise ValueError(f"load_generator: unknown GeneratorConfig fields {unknown}")
    cfg = dataclasses.replace(cfg, **overrides)
    model = AttentionLWBGenerator.from_config(cfg)
    load_state_dict_strict(model, sd, source=str(path))
    return model.eval()


def _atomic_save(obj: Any, path: Path, saver) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        saver(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _save(
    module: nn.Module, path: str | os.PathLike[str], key: str, fmt: str, config: dict[str, Any]
) -> Path:
    p = Path(path)
    sd = {f"{key}.{k}": v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    if p.suffix.lower() == ".safetensors":
        import json

        from safetensors.torch import save_file

        meta = {"format": fmt, "format_version": str(FORMAT_VERSION), "config": json.dumps(config)}
        _atomic_save(sd, p, lambda obj, f: save_file(obj, f, metadata=meta))
    else:
        payload = {
            "format": fmt,
            "format_version": FORMAT_VERSION,
            "config": config,
            "state_dict": sd,
        }
        _atomic_save(payload, p, torch.save)
    return p


def save_generator(model: AttentionLWBGenerator, path: str | os.PathLike[str]) -> Path:
    """Write a vmc generator checkpoint (``.safetensors`` by suffix, else torch) atomically."""
    return _save(model, path, "generator", GENERATOR_FORMAT, model.config.to_dict())


# --------------------------------------------------------------------------- discriminators
def _patch_kwargs(sd: Mapping[str, torch.Tensor], head: str) -> dict[str, int]:
    convs = list(_indexed(sd, rf"{head}\.model\.(\d+)\.weight").values())
    if len(convs) < 3:
        raise StateDictMismatchError(f"{head}: expected >= 3 conv layers, found {len(convs)}")
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
    sd: Mapping[str, torch.Tensor],
) -> tuple[type[nn.Module], dict[str, Any]]:
    """Pick the discriminator class and constructor kwargs from weight names and shapes."""
    kw = _patch_kwargs(sd, "global_model")
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
    tensors, wrapped = read_checkpoint(path)
    sd = extract_state_dict(
        tensors, _DISCRIMINATOR_ANCHOR, prefix=prefix, wrapped=wrapped, source=str(path)
    )
    cls, kwargs = discriminator_kwargs_from_state_dict(sd)
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
