"""Safe checkpoint loading and inference exports.

* Every checkpoint is read with ``torch.load(..., weights_only=True)`` (no arbitrary unpickling) or
  from safetensors.
* Inference weights are exported as ``model.safetensors`` beside ``config.yaml`` (the resolved
  config), so a run can be rebuilt without re-typing hyperparameters and without pickle.
* Strict state-dict loading reports every missing, unexpected and mis-shaped key at once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vmc.io.atomic import atomic_path

StateDict = dict[str, torch.Tensor]


class CheckpointError(ValueError):
    """A checkpoint cannot be loaded; the message lists exactly what is wrong."""


def load_checkpoint_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a ``.pt/.pth/.ckpt/.tar`` (weights_only) or ``.safetensors`` file into a dict.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: the file is not a safe checkpoint (e.g. a pickle with arbitrary classes).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(path), device="cpu"))
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises UnpicklingError / RuntimeError variants
        raise CheckpointError(
            f"{path} cannot be loaded safely (torch.load weights_only=True refused it: "
            f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}). "
            "vmc never unpickles arbitrary objects; re-save the file as a plain state dict "
            "or safetensors."
        ) from err
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, expected a dict")
    return dict(obj)


def extract_state_dict(obj: Mapping[str, Any], prefix: str = "") -> StateDict:
    """Return the tensors of a checkpoint dict under ``prefix`` (stripped).

    Accepts a flat state dict, a Lightning checkpoint (``state_dict`` key) or a ``{"model": ...}``
    wrapper, and strips a DataParallel ``module.`` prefix.
    """
    for wrapper in ("state_dict", "model", "net"):
        inner = obj.get(wrapper)
        if isinstance(inner, Mapping) and inner and all(isinstance(k, str) for k in inner):
            obj = inner
            break
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if tensors and all(k.startswith("module.") for k in tensors):
        tensors = {k[len("module.") :]: v for k, v in tensors.items()}
    if prefix:
        tensors = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    return tensors


def diff_state_dict(module: nn.Module, state: Mapping[str, torch.Tensor]) -> list[str]:
    """List the differences between ``module.state_dict()`` and ``state`` (empty when equal)."""
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
    """Load ``state`` into ``module``; on any difference raise one error listing all of them."""
    problems = diff_state_dict(module, state)
    if problems:
        raise CheckpointError(
            f"{source} does not match {type(module).__name__}: " + "; ".join(problems)
        )
    module.load_state_dict(dict(state), strict=True)


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
    import yaml
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {}
    for key, value in module.state_dict().items():
        tensor = value.detach().cpu().contiguous().clone()
        if half and tensor.is_floating_point():
            tensor = tensor.half()
        state[key] = tensor
    weights = out / "model.safetensors"
    with atomic_path(weights) as tmp:
        save_file(state, str(tmp), metadata=dict(metadata or {}))
    if config is not None:
        with atomic_path(out / "config.yaml") as tmp:
            Path(tmp).write_text(yaml.safe_dump(dict(config), sort_keys=False))
    return weights


def _abbrev(items: list[str], limit: int = 12) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... (+{len(items) - limit} more)" if len(items) > limit else "")
