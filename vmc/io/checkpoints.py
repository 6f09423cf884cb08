"""Checkpoints: safe reading, state-dict extraction, strict loading, atomic saving, exports.

The one home for weight files in vmc; model-specific loaders (``vmc.lwg.loading``,
``vmc.motion.official``, ``vmc.motion.runs``, the loss backbones, CLIP) build on it.

* **Reading** never unpickles arbitrary objects: ``.pt/.pth/.ckpt/.tar`` files go through
  ``torch.load(..., weights_only=True)``, ``.safetensors`` through safetensors and ``.npz`` through
  ``numpy.load(allow_pickle=False)``.
* **Extraction** finds the tensors of one network in what was read: a flat state dict, a Lightning
  checkpoint (``state_dict``), a ``{"model": ...}``/``{"net": ...}``/``{"netG": ...}`` wrapper,
  DataParallel's ``module.`` prefix, and an optional key prefix (given, or found from an anchor
  key every candidate network has).
* **Strict loading** reports every missing, unexpected and mis-shaped key at once.
* **Saving** is atomic (``vmc.io.atomic``): a crash leaves the previous file or none.
* **Inference exports** are ``model.safetensors`` beside ``config.yaml`` (the resolved config), so
  a run can be rebuilt without re-typing hyperparameters and without pickle.

Every failure is a :class:`CheckpointError` whose one-line message names the file, the cause and
the fix (a missing file stays a ``FileNotFoundError``).
"""

from __future__ import annotations

import json
import os
import pickle
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from vmc.io.atomic import atomic_path

__all__ = [
    "LIGHTNING_VERSION_KEY",
    "STATE_DICT_WRAPPERS",
    "CheckpointError",
    "StateDict",
    "check_lightning_checkpoint",
    "diff_state_dict",
    "export_inference",
    "extract_state_dict",
    "load_checkpoint_file",
    "load_state_dict_strict",
    "save_checkpoint",
]

StateDict = dict[str, torch.Tensor]

#: Keys under which checkpoints commonly nest their state dict (first match wins): Lightning's
#: ``state_dict``, ``{"model": ...}``/``{"net": ...}`` exports, GAN trainers' ``netG``/``netD``.
STATE_DICT_WRAPPERS: tuple[str, ...] = ("state_dict", "model", "net", "netG", "netD")
#: Every checkpoint Lightning writes has this key; Lightning fails with a bare ``KeyError`` on it.
LIGHTNING_VERSION_KEY = "pytorch-lightning_version"
_MAX_LISTED = 12
_RESAVE = "re-save only the tensors (torch.save(model.state_dict(), path)) or as .safetensors"


class CheckpointError(ValueError):
    """A checkpoint cannot be read or does not fit; the one-line message says which file, why,
    and what to do about it."""


# --------------------------------------------------------------------------- reading
def load_checkpoint_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint file into a dict without executing pickled code.

    Args:
        path: ``.safetensors`` (tensors by name), ``.npz`` (numeric arrays as tensors; others
            dropped) or anything else, read by ``torch.load(weights_only=True)``
            (``.pt/.pth/.ckpt/.pth.tar``).

    Returns:
        The top-level mapping of the file (a state dict, a Lightning checkpoint, a wrapper ...).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: the file is truncated, corrupt, refused by ``weights_only=True`` (it
            stores Python objects besides tensors) or not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        try:
            return dict(load_file(str(path), device="cpu"))
        except (SafetensorError, OSError) as err:
            raise CheckpointError(
                f"{path}: not a readable safetensors file, it is truncated or corrupt "
                f"({_cause(err)}); fix: download or export it again"
            ) from err
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {k: archive[k] for k in archive.files}
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
            raise CheckpointError(
                f"{path}: not a readable .npz archive of numeric arrays ({_cause(err)}); "
                "fix: write it again with numpy.savez (no object arrays)"
            ) from err
        return {k: torch.from_numpy(a) for k, a in arrays.items() if a.dtype.kind in "fiub"}
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        refused = _weights_only_cause(err)
        if refused and refused.startswith("Unsupported global"):
            raise CheckpointError(
                f"{path}: refused by torch.load(weights_only=True), it stores Python objects "
                f"besides tensors ({refused}); vmc never unpickles arbitrary objects; "
                f"fix: {_RESAVE}"
            ) from err
        if refused:  # an opcode the restricted unpickler lacks: a plain pickle, or noise
            raise CheckpointError(
                f"{path}: not a torch checkpoint, but a plain pickle or corrupt bytes that "
                f"torch.load(weights_only=True) cannot read ({refused}); fix: {_RESAVE}"
            ) from err
        raise CheckpointError(
            f"{path}: not a torch checkpoint, the file is corrupt ({_cause(err)}); "
            "fix: download or copy it again"
        ) from err
    except RuntimeError as err:  # torch's zip reader: PytorchStreamReader failed ...
        raise CheckpointError(
            f"{path}: truncated or corrupt torch checkpoint ({_cause(err)}); "
            "fix: download or copy it again (an interrupted save or transfer leaves this)"
        ) from err
    except (EOFError, KeyError, ValueError, OSError) as err:  # legacy reader on foreign bytes
        raise CheckpointError(
            f"{path}: not a torch checkpoint ({_cause(err)}); fix: pass a file written by "
            "torch.save or safetensors"
        ) from err
    if not isinstance(obj, Mapping):
        raise CheckpointError(
            f"{path}: holds a {type(obj).__name__}, expected a mapping (a state dict or a "
            f"checkpoint wrapping one); fix: {_RESAVE}"
        )
    return dict(obj)


def check_lightning_checkpoint(path: str | os.PathLike[str]) -> None:
    """Check that ``path`` is a Lightning training checkpoint a ``Trainer`` can resume from.

    Lightning itself fails on other files with a bare ``KeyError: 'pytorch-lightning_version'``
    (or ``'state_dict'``) deep inside ``fit``; this says what the file is instead.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: unreadable (see :func:`load_checkpoint_file`), or not a Lightning
            checkpoint (no ``pytorch-lightning_version`` / no ``state_dict``).
    """
    ckpt = load_checkpoint_file(path)
    absent = [k for k in (LIGHTNING_VERSION_KEY, "state_dict") if k not in ckpt]
    if absent:
        raise CheckpointError(
            f"{path}: not a Lightning training checkpoint (no {' / '.join(map(repr, absent))}; "
            f"top-level keys: {_abbrev(sorted(map(str, ckpt)))}); fix: resume from the run's "
            "checkpoints/last.ckpt (exports and plain state dicts hold no trainer state)"
        )


# --------------------------------------------------------------------------- extraction
def extract_state_dict(
    obj: Mapping[str, Any],
    prefix: str | None = None,
    *,
    anchor: str | None = None,
    wrappers: tuple[str, ...] = STATE_DICT_WRAPPERS,
    source: str = "checkpoint",
) -> StateDict:
    """Return the tensors of one network in a checkpoint, keys relative to that network.

    Steps: unwrap the first of ``wrappers`` that holds a non-empty mapping of names; keep the
    tensors (other entries such as ``epoch`` are dropped); strip a DataParallel ``module.``
    prefix carried by every key; then keep only the keys under ``prefix`` (stripped).

    Args:
        obj: what :func:`load_checkpoint_file` returned.
        prefix: key prefix of the network (``"net."``, ``"generator."``); ``None`` or ``""``
            keeps every key, unless ``anchor`` is given.
        anchor: with ``prefix=None``, a key every candidate network ends in (e.g.
            ``"tsf_net_enc.layers.0.0.weight"``); the prefix is what precedes it, and exactly
            one candidate must exist.
        wrappers: keys that may nest the state dict.
        source: the file, for error messages.

    Raises:
        CheckpointError: no tensors (e.g. a Lightning checkpoint without ``state_dict``), no key
            ending in ``anchor``, several candidates for it, or nothing under ``prefix``.
    """
    for wrapper in wrappers:
        inner = obj.get(wrapper)
        if isinstance(inner, Mapping) and inner and all(isinstance(k, str) for k in inner):
            obj = inner
            break
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        if LIGHTNING_VERSION_KEY in obj:
            raise CheckpointError(
                f"{source}: a Lightning checkpoint without 'state_dict' holds no weights; "
                "fix: use a checkpoint saved by Trainer/ModelCheckpoint or the run's "
                "export/model.safetensors"
            )
        raise CheckpointError(
            f"{source}: no tensors found (top-level keys: {_abbrev(sorted(map(str, obj)))}); "
            f"fix: pass a state dict or a checkpoint nesting one under one of {list(wrappers)}"
        )
    if all(k.startswith("module.") for k in tensors):
        tensors = {k[len("module.") :]: v for k, v in tensors.items()}
    if prefix is None and anchor is not None:
        found = sorted({k[: -len(anchor)] for k in tensors if k.endswith(anchor)})
        if not found:
            raise CheckpointError(
                f"{source}: no key ends in {anchor!r}, so it holds no network of this kind "
                f"(keys: {_abbrev(sorted(tensors))}); fix: pass the right checkpoint file"
            )
        if len(found) > 1:
            raise CheckpointError(
                f"{source}: several candidate networks (key prefixes {found}); "
                "fix: pass prefix=... to choose one"
            )
        prefix = found[0]
    if prefix:
        tensors = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        if not tensors:
            raise CheckpointError(
                f"{source}: no key starts with prefix {prefix!r}; fix: pass the prefix the "
                "file uses (or prefix=None to find it)"
            )
    return tensors


# --------------------------------------------------------------------------- strict loading
def diff_state_dict(module: nn.Module, state: Mapping[str, torch.Tensor]) -> list[str]:
    """List the differences between ``module.state_dict()`` and ``state`` (empty when equal).

    Returns:
        Up to three entries: ``missing keys (n): ...``, ``unexpected keys (n): ...`` and
        ``mis-shaped keys (n): key: file (shape) vs model (shape), ...``.
    """
    expected = module.state_dict()
    problems: list[str] = []
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing:
        problems.append(f"missing keys ({len(missing)}): {_abbrev(missing)}")
    if unexpected:
        problems.append(f"unexpected keys ({len(unexpected)}): {_abbrev(unexpected)}")
    shapes = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if shapes:
        problems.append(f"mis-shaped keys ({len(shapes)}): {_abbrev(shapes)}")
    return problems


def load_state_dict_strict(
    module: nn.Module, state: Mapping[str, torch.Tensor], source: str = "checkpoint"
) -> None:
    """``module.load_state_dict(strict=True)``, but one error lists every difference at once.

    Raises:
        CheckpointError: missing, unexpected and mis-shaped keys, all listed.
    """
    problems = diff_state_dict(module, state)
    if problems:
        raise CheckpointError(
            f"{source} does not match {type(module).__name__}: "
            + "; ".join(problems)
            + "; fix: load the checkpoint written for this model, or build the model with the "
            "settings it was trained with"
        )
    module.load_state_dict(dict(state), strict=True)


# --------------------------------------------------------------------------- saving
def save_checkpoint(
    state: Mapping[str, torch.Tensor],
    path: str | os.PathLike[str],
    info: Mapping[str, Any] | None = None,
) -> Path:
    """Write a state dict atomically; the format follows the suffix.

    * ``.safetensors``: the tensors, with ``info`` as string metadata (non-strings JSON-encoded);
    * otherwise ``torch.save({**info, "state_dict": state})`` -- the layout of a Lightning
      checkpoint, so :func:`extract_state_dict` reads both. ``info`` must hold plain Python
      values only, or ``weights_only=True`` will refuse the file.

    Tensors are moved to the CPU and made contiguous. Returns ``path``.
    """
    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    info = dict(info or {})
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".safetensors":
            meta = {k: v if isinstance(v, str) else json.dumps(v) for k, v in info.items()}
            save_file(tensors, str(tmp), metadata=meta)
        else:
            torch.save({**info, "state_dict": tensors}, tmp)
    return path


def export_inference(
    module: nn.Module,
    out_dir: str | os.PathLike[str],
    config: Mapping[str, Any] | None = None,
    *,
    half: bool = False,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write ``model.safetensors`` (+ ``config.yaml`` with the resolved config) into ``out_dir``.

    Shared tensors are cloned so safetensors accepts them; ``half`` stores floats as fp16.
    Returns the path of the weights file.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {}
    for key, value in module.state_dict().items():
        tensor = value.detach().cpu().contiguous().clone()
        if half and tensor.is_floating_point():
            tensor = tensor.half()
        state[key] = tensor
    weights = save_checkpoint(state, out / "model.safetensors", metadata)
    if config is not None:
        with atomic_path(out / "config.yaml") as tmp:
            Path(tmp).write_text(yaml.safe_dump(dict(config), sort_keys=False))
    return weights


# --------------------------------------------------------------------------- messages
def _abbrev(items: list[str], limit: int = _MAX_LISTED) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... (+{len(items) - limit} more)" if len(items) > limit else "")


def _cause(err: BaseException) -> str:
    """``Type: first line of the message`` (low-level messages run over many lines)."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def _weights_only_cause(err: BaseException) -> str | None:
    """What torch's restricted unpickler refused (``Unsupported global: GLOBAL pkg.Class`` or
    ``Unsupported operand 149``), or None for other unpickling errors."""
    match = re.search(r"WeightsUnpickler error:\s*(.+?)(?:\s+was not an allowed|\n|$)", str(err))
    return match.group(1).strip() if match else None
