"""Every key of ``conf/`` is read by some code: a key that nothing reads is a silent no-op.

Rules (checked statically, without running the tasks):

* a node with ``_target_``: each key is a parameter of the target (or it takes ``**kwargs``);
* any other key: its name is read in the code (``cfg.key``, ``.get("key")``, ``["key"]``,
  ``select(..., "a.key")``, ``_get(x, "key")``) or feeds an interpolation (``${paths.key}``);
* keys inside a plain dict handed to a target (``net``, ``losses``): named in the code.
"""

from __future__ import annotations

import inspect
import re
from functools import cache
from pathlib import Path

import pytest
from conftest import CONF_DIR, REPO_ROOT, compose_config
from hydra.utils import get_object
from omegaconf import DictConfig, ListConfig

HYDRA_KEYS = {"_target_", "_partial_", "_recursive_", "_convert_", "_args_"}
SCRIPTS = ("train.py", "infer.py", "finetune.py")


@cache
def _code() -> str:
    files = sorted((REPO_ROOT / "vmc").rglob("*.py")) + [REPO_ROOT / s for s in SCRIPTS]
    return "\n".join(p.read_text() for p in files)


@cache
def _conf_text() -> str:
    return "\n".join(p.read_text() for p in CONF_DIR.rglob("*.yaml"))


def _read_in_code(key: str) -> bool:
    k = re.escape(key)
    patterns = (
        rf"(?:get|select|_get|pop|require|setdefault)\([^()]*?[\"'](?:[\w.]*\.)?{k}[\"']",
        rf"\[[\"']{k}[\"']\]",
        rf"\b(?:cfg|config|conf)\w*(?:\.\w+)*\.{k}\b",
        rf"[\"']{k}[\"']\s*(?:,|\)|in\b)",  # a key name handed to a helper or tested with `in`
    )
    return any(re.search(p, _code()) for p in patterns)


def _named_in_code(key: str) -> bool:
    return re.search(rf"\b{re.escape(key)}\b", _code()) is not None


def _interpolated(path: str) -> bool:
    return re.search(r"\$\{" + re.escape(path) + r"\}", _conf_text()) is not None


def _target_params(target: str) -> set[str] | None:
    """Parameter names of the target's constructor; None when it accepts **kwargs."""
    obj = get_object(target)
    sig = inspect.signature(obj)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()):
        return None
    return set(sig.parameters)


def _unread(node: DictConfig, path: str, problems: list[str], inside_target: bool) -> None:
    target = node.get("_target_") if isinstance(node, DictConfig) else None
    params = _target_params(str(target)) if target else None
    for key in node:
        key = str(key)
        if key in HYDRA_KEYS:
            continue
        dotted = f"{path}.{key}" if path else key
        child = node._get_node(key)
        if target:
            if params is not None and key not in params:
                problems.append(f"{dotted}: not a parameter of {target}")
            if isinstance(child, DictConfig) and "_target_" not in child:
                _unread(child, dotted, problems, inside_target=True)
            elif isinstance(child, DictConfig):
                _unread(child, dotted, problems, inside_target=False)
            continue
        if path in ("callbacks", "logger"):
            continue  # name → config maps, every entry instantiated (instantiate_group)
        if isinstance(child, DictConfig):
            _unread(child, dotted, problems, inside_target)
            continue
        if isinstance(child, ListConfig) and inside_target:
            continue
        ok = _named_in_code(key) if inside_target else (_read_in_code(key) or _interpolated(dotted))
        if not ok:
            problems.append(f"{dotted}: read by no code")


CONFIGS = [
    ("infer", []),
    ("finetune", []),
    *[("train", [f"experiment={p.stem}"])
      for p in sorted((CONF_DIR / "experiment").glob("*.yaml"))],
    *[("train", ["experiment=motionclip_procedural", f"data={p.stem}"])
      for p in sorted((CONF_DIR / "data").glob("*.yaml")) if p.stem.startswith("motion_")],
    *[("train", ["experiment=lwg_pretrain_tiny", f"data={p.stem}"])
      for p in sorted((CONF_DIR / "data").glob("*.yaml")) if p.stem.startswith("lwg_")],
    ("train", ["experiment=motionclip_procedural", "logger=many", "trainer=ddp_gan"]),
    ("infer", ["motion=run", "body=smpl", "text_encoder=clip"]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "overrides"), CONFIGS, ids=lambda x: str(x))
def test_every_key_is_read(name, overrides):
    cfg = compose_config(name, overrides, output_dir=Path("/tmp/vmc-config-keys"))
    problems: list[str] = []
    _unread(cfg, "", problems, inside_target=False)
    assert not problems, "config keys that no code reads:\n" + "\n".join(problems)


def test_the_check_can_fail():
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"seed": 1, "nobody_reads_this_key": 3})
    problems: list[str] = []
    _unread(cfg, "", problems, inside_target=False)
    assert problems == ["nobody_reads_this_key: read by no code"]
    target = OmegaConf.create(
        {"_target_": "vmc.utils.device.resolve_device", "spec": "cpu", "x": 1}
    )
    problems = []
    _unread(target, "", problems, inside_target=False)
    assert problems == ["x: not a parameter of vmc.utils.device.resolve_device"]
