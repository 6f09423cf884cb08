"""Checks of a script's command line before Hydra sees it: one clear line for each mistake.

Hydra's own messages for two common mistakes mislead: a mistyped key (``frames=10``) gets
"To append to your config use +frames=10", which would be silently ignored by every task, and a
prompt with a comma or parentheses gets a grammar error about sweeps. :func:`check_command_line`
composes the config the way Hydra will and, on such an error, prints the closest real keys or
the quoting that works, then exits with status 2.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, ListConfig, OmegaConf

from vmc.tasks.common import RUN_STARTED_ENV
from vmc.utils.console import console

__all__ = [
    "CONF_DIR",
    "check_command_line",
    "command_line_problem",
    "compose_config",
    "config_keys",
]

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"

#: Flags that make Hydra print something and stop: nothing to check.
_INFO_FLAGS = ("--help", "-h", "--hydra-help", "--info", "-i", "--version", "--shell-completion")


def config_keys(cfg: DictConfig, prefix: str = "") -> Iterator[str]:
    """Every dotted key of ``cfg`` (containers and leaves), without resolving interpolations."""
    for key in cfg:
        dotted = f"{prefix}{key}"
        yield dotted
        node = cfg._get_node(key)  # reading the node does not resolve `${...}`
        if isinstance(node, DictConfig):
            yield from config_keys(node, dotted + ".")


def compose_config(config_name: str, overrides: Sequence[str] = ()) -> DictConfig:
    """``conf/<config_name>.yaml`` composed with ``overrides``, outside or inside a running Hydra
    app (``infer.py`` composes the fine-tuning config of ``personalize`` from within its own run;
    Hydra refuses a second initialisation there, and its search path is this ``conf/`` already).

    Raises:
        hydra.errors.ConfigCompositionException: an override names no key or group option.
    """
    if GlobalHydra.instance().is_initialized():
        return compose(config_name=config_name, overrides=list(overrides))
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides))


def _closest(key: str, keys: Sequence[str]) -> list[str]:
    """Real keys a mistyped ``key`` probably meant: close spellings of its last part, or a key
    sharing a word with it, under the same parent when the key names one."""
    parent, _, leaf = key.lower().rpartition(".")
    siblings = [k for k in keys if k.lower().rpartition(".")[0] == parent] or list(keys)
    scored: dict[str, float] = {}
    for candidate in siblings:
        c_leaf = candidate.lower().rpartition(".")[2]
        ratio = difflib.SequenceMatcher(None, leaf, c_leaf).ratio()
        words = set(c_leaf.split("_"))
        if leaf in words or (len(leaf) >= 3 and any(w.startswith(leaf) for w in words)):
            ratio = max(ratio, 0.8)  # `size` → image_size
        if ratio >= 0.6:
            scored[candidate] = ratio
    return sorted(scored, key=lambda k: (-scored[k], len(k)))[:3]


def _quoting_hint(override: str) -> str:
    key, _, value = override.partition("=")
    value = value.strip().strip("'\"")
    return (
        f"'{key}' holds characters Hydra's grammar reserves (, ( ) [ ] {{ }} = spaces): quote "
        f"the value inside the argument, e.g. '{key}=\"{value}\"' (shell: single quotes outside, "
        "double quotes inside)"
    )


def command_line_problem(config_name: str, overrides: Sequence[str]) -> str | None:
    """The one-line problem with ``overrides`` for ``conf/<config_name>.yaml``, or None if fine.

    Hydra's own keys (``hydra.*``, ``--multirun`` and other flags) are left to Hydra.
    """
    items = [o for o in overrides if not o.startswith("-") and not o.startswith("hydra.")]
    parser = OverridesParser.create()
    for item in items:
        try:
            parser.parse_overrides([item])
        except OverrideParseException:
            return _quoting_hint(item)
    stages = _recipe_stages(config_name, items)
    if stages is not None:  # each stage composes the typed keys with its own overrides
        problems = (_composition_problem(config_name, stage) for stage in stages)
        return next((p for p in problems if p), None)
    return _composition_problem(config_name, items)


def _recipe_stages(config_name: str, items: Sequence[str]) -> list[list[str]] | None:
    """For a recipe experiment (:mod:`vmc.tasks.recipe`), each stage's overrides after the
    typed ones (unresolved); ``None`` for any other config."""
    chosen = [i for i in items if i.startswith("experiment=")]
    try:
        recipe = compose_config(config_name, chosen).get("recipe")
    except (ConfigCompositionException, MissingConfigException):
        return None
    if not isinstance(recipe, ListConfig):
        return None
    typed = [i for i in items if not i.startswith(("experiment=", "recipe"))]
    stages = OmegaConf.to_container(recipe, resolve=False)
    return [typed + list(s.get("overrides") or []) for s in stages if isinstance(s, dict)]


def _composition_problem(config_name: str, items: Sequence[str]) -> str | None:
    """The one-line problem composing ``items`` onto ``conf/<config_name>.yaml``, or None."""
    try:
        compose_config(config_name, items)
    except ConfigCompositionException as err:
        match = re.search(r"Could not override '([^']+)'", str(err))
        if match is None:
            match = re.search(r"Could not (?:append|delete)[^']*'([^']+)'", str(err))
        if match is None:
            ambiguous = re.search(r"Ambiguous value for argument '([^']+)'", str(err))
            return _quoting_hint(ambiguous.group(1)) if ambiguous else str(err).splitlines()[0]
        key = match.group(1)
        # The keys of the config as the typed group choices (experiment=...) make it.
        groups = [i for i in items if "." not in i.partition("=")[0].lstrip("+~")]
        try:
            keys = list(config_keys(compose_config(config_name, groups)))
        except (ConfigCompositionException, MissingConfigException):
            keys = list(config_keys(compose_config(config_name)))
        close = _closest(key, keys)
        hint = f"did you mean {' or '.join(close)}?" if close else "no key of that name exists"
        return (
            f"unknown config key '{key}': {hint} (python {config_name}.py --help lists the keys; "
            "a '+' prefix would add a key that no code reads)"
        )
    except MissingConfigException as err:
        return str(err).splitlines()[0]
    return None


def check_command_line(config_name: str, argv: Sequence[str] | None = None) -> None:
    """Exit with status 2 and one line when the command line of a script has a mistake."""
    args = list(sys.argv[1:] if argv is None else argv)
    # Before Hydra makes the run folder: a run that then fails on a user error removes only a
    # folder whose files are all newer than this (vmc.tasks.common.discard_failed_run_dir).
    os.environ.setdefault(RUN_STARTED_ENV, repr(time.time()))
    if any(a in _INFO_FLAGS for a in args) or any(a.startswith("--cfg") for a in args):
        return  # --help and --cfg show the config; Hydra handles them
    problem = command_line_problem(config_name, args)
    if problem:
        console.print(f"[bold red]error:[/bold red] {problem}", soft_wrap=True)
        raise SystemExit(2)
