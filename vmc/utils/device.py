"""The ``device`` key: which device a stage runs on, checked against what this machine has.

``auto`` picks CUDA, then Apple's MPS, then the CPU. An explicit accelerator that is not there is
an error, never a silent CPU run: a user who asked for ``cuda`` and got a CPU run would wait
hours without knowing why.
"""

from __future__ import annotations

import re

import torch

__all__ = ["DEVICE_CHOICES", "DeviceError", "available_devices", "resolve_device"]

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N", "mps")


class DeviceError(ValueError):
    """A ``device`` value that is malformed or names a device this machine does not have."""


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> list[str]:
    """The devices present: ``cpu``, ``cuda:0`` ... ``cuda:N-1``, ``mps``."""
    found = ["cpu"]
    if torch.cuda.is_available():
        found += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _mps_available():
        found.append("mps")
    return found


def resolve_device(spec: object, key: str = "device") -> torch.device:
    """Turn a ``device`` config value into a :class:`torch.device` that exists here.

    Args:
        spec: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (a ``torch.device`` passes).
        key: the config key, for the message.

    Raises:
        DeviceError: an unknown value (the choices are listed) or a device that is not present
            (the present ones are listed).
    """
    if isinstance(spec, torch.device):
        spec = str(spec)
    if not isinstance(spec, str):
        raise DeviceError(f"{key} must be one of {', '.join(DEVICE_CHOICES)}; got {spec!r}")
    value = spec.strip().lower()
    present = available_devices()
    if value == "auto":
        for preferred in ("cuda:0", "mps"):
            if preferred in present:
                return torch.device(preferred)
        return torch.device("cpu")
    if value == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", value)
    if match:
        index = int(match.group(1) or 0)
        if f"cuda:{index}" not in present:
            have = ", ".join(present)
            raise DeviceError(
                f"{key}={spec}: no such CUDA device on this machine (present: {have}); use "
                f"{key}=auto or {key}=cpu"
            )
        return torch.device("cuda", index)
    if value == "mps":
        if "mps" not in present:
            raise DeviceError(
                f"{key}=mps: Apple's MPS is not available here (present: {', '.join(present)})"
            )
        return torch.device("mps")
    raise DeviceError(f"{key} must be one of {', '.join(DEVICE_CHOICES)}; got {spec!r}")
