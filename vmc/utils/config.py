"""Config helpers used by ``vmc.tasks``: validation with actionable messages, plain containers.

Nothing here runs as an import side effect (no resolver registration at import time).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf


class ConfigError(ValueError):
    """A config value is missing or invalid; the message names the key and how to fix it."""


def to_plain(obj: Any) -> Any:
    """Convert OmegaConf containers (possibly nested in dicts/lists) to plain Python containers.

    Checkpoints must hold only plain types: an OmegaConf object inside a checkpoint makes
    ``torch.load(..., weights_only=True)`` refuse the file.
    """
    if isinstance(obj, DictConfig | ListConfig):
        return OmegaConf.to_container(obj, resolve=True)
    if isinstance(obj, Mapping):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return tuple(to_plain(v) for v in obj)
    if isinstance(obj, list):
        return [to_plain(v) for v in obj]
    return obj


def require(cfg: DictConfig, key: str, hint: str) -> Any:
    """Return ``cfg[key]`` (dotted) or raise ConfigError with ``hint`` when it is missing/None."""
    value = OmegaConf.select(cfg, key, default=None)
    if value is None or value == "???":
        raise ConfigError(f"config key '{key}' is required: {hint}")
    return value


def as_path_list(value: Any, key: str) -> list[str]:
    """Accept one path or a list of paths from the command line (``images=a.jpg`` or ``[a,b]``)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence | ListConfig):
        items = [str(v) for v in value]
        if not all(items):
            raise ConfigError(f"'{key}' contains an empty path: {items}")
        return items
    raise ConfigError(f"'{key}' must be a path or a list of paths, got {value!r}")


def check_positive(value: float, key: str, *, maximum: float | None = None) -> float:
    """Raise ConfigError unless ``0 < value (<= maximum)``."""
    try:
        number = float(value)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"'{key}' must be a number, got {value!r}") from err
    if not number > 0 or (maximum is not None and number > maximum):
        bound = f" and at most {maximum}" if maximum is not None else ""
        raise ConfigError(f"'{key}' must be > 0{bound}, got {value!r}")
    return number
