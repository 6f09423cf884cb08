"""``python -m vmc demo``: the browser demo (a Gradio page on this machine).

``pip install -e ".[demo]"`` first (Gradio is optional). The page listens on ``127.0.0.1:7860``
(``--host``/``--port``); ``--share`` asks Gradio for a public link, which is never made
otherwise. The address is printed once the page answers; Ctrl-C stops it and removes the
temporary folder of uploads and results. The page itself is :mod:`vmc.demo.app`.

Like every ``vmc.cli`` module, this one imports only the standard library at module level: the
handler imports the demo (torch, Gradio) when it runs, so ``python -m vmc --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib.util

from vmc.cli.common import EXIT_USAGE, print_error

__all__ = ["register"]


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"a port is between 1 and 65535, got {value}")
    return value


def _megabytes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected megabytes, got {text!r}") from None
    if not 0 < value <= 1000:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 1000, got {value:g}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``demo`` to the ``python -m vmc`` parser."""
    demo = subparsers.add_parser(
        "demo", help="the browser demo: photos + text -> video in a local web page"
    )
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    demo.add_argument("--port", type=_port, default=7860, help="port to listen on (7860)")
    demo.add_argument(
        "--share", action="store_true", help="also make a public Gradio link (off by default)"
    )
    demo.add_argument(
        "--max-upload-mb", type=_megabytes, default=20.0, help="largest upload, in MB (20)"
    )
    demo.add_argument(
        "--no-warm-up",
        dest="warm_up",
        action="store_false",
        help="load the models at the first request instead of at start",
    )
    demo.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("gradio") is None:
        print_error('the demo needs Gradio: pip install -e ".[demo]"')
        return EXIT_USAGE
    # Lazy: the demo loads torch and Gradio; `--help` needs neither.
    from vmc.demo.app import serve

    try:
        return serve(
            args.host, args.port, share=args.share, max_upload_mb=args.max_upload_mb,
            warm_up=args.warm_up,
        )  # fmt: skip
    except OSError as err:  # the port is taken, or the address is not this machine's
        print_error(f"cannot serve on {args.host}:{args.port}: {err}")
        return EXIT_USAGE
