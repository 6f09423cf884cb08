"""What every ``python -m vmc`` command shares: exit codes, error printing, the dispatcher.

A command handler takes the parsed ``argparse.Namespace`` and returns an exit code (``None``
counts as success). It reports a problem of the user's making (a missing file, an existing
output, a bad value) by raising one of :data:`USER_ERRORS`; :func:`run_command` turns those into
one ``error: ...`` line on stderr and :data:`EXIT_USAGE`, and any other exception propagates
with its traceback, since it is a bug rather than a bad command line.
"""

from __future__ import annotations

import argparse
import sys

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "USER_ERRORS",
    "print_error",
    "run_command",
]

#: Success.
EXIT_OK = 0
#: The command line asked for something impossible; argparse uses the same code for bad syntax.
EXIT_USAGE = 2
#: Ctrl-C: 128 + SIGINT, what a shell reports for a process killed by the signal.
EXIT_INTERRUPTED = 130

#: Exceptions that mean "the command line was wrong", reported without a traceback.
USER_ERRORS: tuple[type[Exception], ...] = (
    FileNotFoundError,
    FileExistsError,
    NotADirectoryError,
    ValueError,
)


def print_error(message: object) -> None:
    """Print ``error: <message>`` on stderr."""
    print(f"error: {message}", file=sys.stderr)


def run_command(args: argparse.Namespace) -> int:
    """Run the handler the parser attached (``args.func``) and map its outcome to an exit code."""
    try:
        return int(args.func(args) or EXIT_OK)
    except USER_ERRORS as err:
        print_error(err)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted: no partial outputs were kept", file=sys.stderr)
        return EXIT_INTERRUPTED
