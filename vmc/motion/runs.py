"""Load MotionCLIP models trained by this project (exports, run directories, checkpoints).

Accepted inputs of :func:`load_motionclip_run`:

* an **export directory**: ``model.safetensors`` + ``config.yaml`` (written by
  ``MotionCLIPSystem.export_inference``; ``format: vmc-motionclip/1``);
* a ``model.safetensors`` file (its sibling ``config.yaml`` is read);
* a **run directory** (``python train.py`` output): its ``export/`` when present, else
  ``checkpoints/last.ckpt``;
* a Lightning ``.ckpt`` (read with ``weights_only=True``): the ``net.*`` weights and the
  ``net_config`` / ``text_encoder_info`` hyperparameters the system stores.

Loading is strict (every missing, unexpected or mis-shaped key is listed); fp16 exports are cast
back to float32. The model is returned in eval mode on the CPU with an ``info`` dict:
``model`` (sizes), ``text_encoder`` (``kind``, ``name``, ``dim``, ``cache_id``),
``translation`` (row 24's meaning), ``up_axis``, ``num_frames``, ``fps``, ``text_scale``,
``text_center``, ``latent_bank`` (``[N, D]`` from ``latent_bank.safetensors`` beside an export,
else ``None``; ``vmc.motion.prior``), ``text_head`` (``[D, D]`` from ``text_head.safetensors``
beside an export, else ``None``; ``vmc.motion.text_head``), ``caption_prior`` (a
:class:`~vmc.motion.caption_prior.CaptionPrior` from ``caption_prior.safetensors`` beside an
export, else ``None``), ``source`` (the file read).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import yaml

from vmc.io.checkpoints import (
    CheckpointError,
    extract_state_dict,
    load_checkpoint_file,
    load_state_dict_strict,
)
from vmc.motion.caption_prior import CAPTION_PRIOR_FILENAME, load_caption_prior
from vmc.motion.model import MotionCLIP, MotionCLIPConfig
from vmc.motion.prior import BANK_FILENAME, load_latent_bank
from vmc.motion.text_head import HEAD_FILENAME, load_text_head

__all__ = ["EXPORT_FORMAT", "load_motionclip_run"]

EXPORT_FORMAT = "vmc-motionclip/1"
_DEFAULT_INFO: dict[str, Any] = {
    "translation": "reference",
    "up_axis": "z",
    "num_frames": 60,
    "fps": 30.0,
    "text_encoder": {"kind": "unknown"},
    "text_scale": None,
    "text_center": None,
    "latent_bank": None,
    "text_head": None,
    "caption_prior": None,
}


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping, got {type(data).__name__}")
    return data


def _model_from(config: dict[str, Any], source: str) -> MotionCLIP:
    fields = set(MotionCLIPConfig.__dataclass_fields__)
    unknown = sorted(set(config) - fields)
    if unknown:
        raise ValueError(f"{source}: unknown model settings {unknown}; known: {sorted(fields)}")
    return MotionCLIP(**config)


def _finish(model: MotionCLIP, state: dict[str, torch.Tensor], source: str) -> MotionCLIP:
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}
    load_state_dict_strict(model, state, source=source)
    return model.eval()


def _load_export(weights: Path) -> tuple[MotionCLIP, dict[str, Any]]:
    config_path = weights.parent / "config.yaml"
    if not config_path.is_file():
        raise FileNotFoundError(
            f"{weights} has no config.yaml beside it: it says how to rebuild the model "
            "(re-export the run, or pass the run directory)"
        )
    config = _read_yaml(config_path)
    if config.get("format") != EXPORT_FORMAT or not isinstance(config.get("model"), dict):
        raise ValueError(
            f"{config_path} is not a MotionCLIP export config (format {config.get('format')!r}, "
            f"expected {EXPORT_FORMAT!r} with a 'model' mapping)"
        )
    model = _model_from(config["model"], str(config_path))
    model = _finish(
        model, extract_state_dict(load_checkpoint_file(weights), source=str(weights)), str(weights)
    )
    info = {**_DEFAULT_INFO, **{k: v for k, v in config.items() if k != "format"}}
    info["source"] = str(weights)
    bank = weights.parent / BANK_FILENAME
    if bank.is_file():
        info["latent_bank"] = load_latent_bank(bank)
    head = weights.parent / HEAD_FILENAME
    if head.is_file():
        info["text_head"] = load_text_head(head)
    captions = weights.parent / CAPTION_PRIOR_FILENAME
    if captions.is_file():
        info["caption_prior"] = load_caption_prior(captions)
    return model, info


def _load_lightning(path: Path) -> tuple[MotionCLIP, dict[str, Any]]:
    ckpt = load_checkpoint_file(path)
    hparams = ckpt.get("hyper_parameters")
    if not isinstance(hparams, dict) or not isinstance(hparams.get("net_config"), dict):
        raise CheckpointError(
            f"{path} is not a MotionCLIP training checkpoint (no hyper_parameters.net_config)"
        )
    model = _model_from(dict(hparams["net_config"]), str(path))
    state = extract_state_dict(ckpt, "net.", source=str(path))
    model = _finish(model, state, str(path))
    info = dict(_DEFAULT_INFO)
    info.update(
        model=dict(hparams["net_config"]),
        text_encoder=dict(hparams.get("text_encoder_info") or {"kind": "unknown"}),
        translation=hparams.get("translation", _DEFAULT_INFO["translation"]),
        up_axis=hparams.get("up_axis", _DEFAULT_INFO["up_axis"]),
        num_frames=int(hparams.get("num_frames", 60)),
        fps=float(hparams.get("fps", 30.0)),
        epoch=ckpt.get("epoch"),
        text_scale=_text_scale(ckpt, hparams),
        text_center=_text_center(ckpt, hparams),
        source=str(path),
    )
    return model, info


def rescales_text(hparams: Any) -> bool:
    """Whether generation rescales text features to the motion latents' norm: for models trained
    with ``text_rc`` (decoder fed rescaled text latents) or ``text_center`` (centred features
    are far shorter than the motion latents the decoder knows)."""
    losses = hparams.get("losses") or {}
    return float(losses.get("text_rc", 0.0)) > 0 or bool(hparams.get("text_center"))


def _text_scale(ckpt: dict[str, Any], hparams: dict[str, Any]) -> float | None:
    """The norm text features are rescaled to at generation (models trained with text_rc)."""
    norm = ckpt.get("state_dict", {}).get("latent_norm")
    if norm is None or not rescales_text(hparams):
        return None
    return float(norm)


def _text_center(ckpt: dict[str, Any], hparams: dict[str, Any]) -> list[float] | None:
    """The mean text feature subtracted before use (models trained with text_center)."""
    mean = ckpt.get("state_dict", {}).get("text_mean")
    if mean is None or not hparams.get("text_center"):
        return None
    return [float(v) for v in mean]


def load_motionclip_run(path: str | os.PathLike[str]) -> tuple[MotionCLIP, dict[str, Any]]:
    """Load one of our MotionCLIP models (accepted inputs in the module docstring).

    Returns:
        ``(model in eval mode on the CPU, info dict)``.

    Raises:
        FileNotFoundError: nothing loadable at ``path`` (the message lists what was looked for).
        ValueError / CheckpointError: a config or weights file that does not fit.
    """
    p = Path(path)
    if p.is_dir():
        for weights in (p / "model.safetensors", p / "export" / "model.safetensors"):
            if weights.is_file():
                return _load_export(weights)
        last = p / "checkpoints" / "last.ckpt"
        if last.is_file():
            return _load_lightning(last)
        raise FileNotFoundError(
            f"{p} holds no MotionCLIP model: looked for model.safetensors, "
            "export/model.safetensors and checkpoints/last.ckpt"
        )
    if not p.is_file():
        raise FileNotFoundError(f"MotionCLIP run not found: {p}")
    if p.suffix == ".safetensors":
        return _load_export(p)
    if p.suffix == ".ckpt":
        return _load_lightning(p)
    raise ValueError(
        f"{p}: expected an export directory, a run directory, model.safetensors or a .ckpt "
        "(for the paper checkpoint use MotionCLIP.from_official)"
    )
