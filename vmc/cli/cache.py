"""``python -m vmc cache clear``: the on-disk text/image feature cache of training.

Handlers import their work inside the function, so that ``python -m vmc --help`` stays instant.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["default_feature_cache_dir", "register"]


def default_feature_cache_dir() -> Path:
    """The training runs' feature cache: ``model.feature_cache_dir`` of the configs.

    Mirrors ``conf/model/motionclip_paper.yaml`` (``${paths.cache_dir}/features``) and
    ``conf/paths/default.yaml`` (``cache_dir: ${paths.root_dir}/.vmc_cache`` with
    ``root_dir: .``, the working directory since Hydra does not change it): no environment
    variable is involved, so it is ``./.vmc_cache/features``.
    """
    return Path(".") / ".vmc_cache" / "features"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``cache clear`` to the ``python -m vmc`` parser."""
    cache = subparsers.add_parser("cache", help="the on-disk feature cache of training")
    cache_sub = cache.add_subparsers(dest="cache_command", metavar="cache-command", required=True)
    clear = cache_sub.add_parser(
        "clear", help="delete every cached CLIP/sentence feature (they are recomputed on demand)"
    )
    clear.add_argument(
        "--cache-dir",
        default=None,
        help="feature cache folder (default: ./.vmc_cache/features, the configs' "
        "model.feature_cache_dir = ${paths.cache_dir}/features)",
    )
    clear.set_defaults(func=_clear)


def _clear(args: argparse.Namespace) -> int:
    # Lazy: vmc.text imports torch, which `python -m vmc --help` must not load.
    from vmc.text.feature_cache import clear_feature_cache

    cache_dir = Path(args.cache_dir) if args.cache_dir else default_feature_cache_dir()
    if not cache_dir.exists():
        print(f"no feature cache at {cache_dir}: removed 0 entries")
        return 0
    cleared = clear_feature_cache(cache_dir)  # a file, or a folder vmc did not mark: an error
    for path in cleared.files:
        print(f"  {path}")
    n = len(cleared)
    print(
        f"removed {n} cached feature{'s' if n != 1 else ''} from {cache_dir} "
        f"({cleared.bytes_freed / 1e6:.2f} MB freed)"
    )
    return 0
