"""The ``device`` key resolves to a device that exists, or one clear error."""

from __future__ import annotations

import pytest
import torch

from vmc.utils import device as dev
from vmc.utils.device import DeviceError, resolve_device


@pytest.fixture
def cpu_only(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: False)


@pytest.fixture
def two_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(dev, "_mps_available", lambda: False)


def test_cpu_machine(cpu_only):
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("CPU") == torch.device("cpu")
    for spec, present in (("cuda", "present: cpu"), ("cuda:7", "present: cpu"), ("mps", "MPS")):
        with pytest.raises(DeviceError, match=present):
            resolve_device(spec)


@pytest.mark.parametrize("spec", ["banana", "gpu", "cuda:x", "", 3, None])
def test_unknown_values_list_the_choices(cpu_only, spec):
    with pytest.raises(DeviceError, match="auto, cpu, cuda, cuda:N, mps"):
        resolve_device(spec)


def test_gpu_machine(two_gpus):
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(DeviceError, match="cuda:0, cuda:1"):
        resolve_device("cuda:7")


def test_mps_is_picked_by_auto_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
