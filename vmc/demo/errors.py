"""A failed demo job as one message for the page: the user's mistake in their words, a bug
without its traceback (that goes to the server's log).

The checks the demo shares with ``infer.py`` (:func:`vmc.tasks.infer.check_inputs`, the
subject's preparation, the device) raise ``ValueError`` subclasses or ``FileNotFoundError``
naming the problem, as every ``vmc`` command does (:data:`vmc.cli.common.USER_ERRORS`). Their
messages name files by path: an uploaded file's path is a temporary one, so the page names it
by the file name the user uploaded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["USER_ERRORS", "DemoInputError", "internal_message", "page_message"]


class DemoInputError(ValueError):
    """A bad input in the page (no photo, empty text, a file too large): the message is
    written for the page."""


#: What counts as the user's mistake (ConfigError, DeviceError, NoPersonError and
#: DemoInputError are ValueErrors).
USER_ERRORS: tuple[type[Exception], ...] = (ValueError, FileNotFoundError)

#: ``photo 0: ...``: how the subject's preparation names a photo given as pixels.
_PHOTO_INDEX = re.compile(r"^photo (\d+): ")


def page_message(err: BaseException, names: Mapping[str, str] | None = None) -> str | None:
    """The page's message for a user error, or ``None`` when ``err`` is a bug.

    Args:
        err: the exception the job raised.
        names: uploaded file path -> the name the user knows it by; the paths (and ``photo i``
            of the preparation, in upload order) are replaced by those names.
    """
    if not isinstance(err, USER_ERRORS):
        return None
    text = str(err).strip() or type(err).__name__
    names = dict(names or {})
    for path, name in names.items():
        text = text.replace(repr(path), repr(name)).replace(path, name)
    match = _PHOTO_INDEX.match(text)
    ordered = list(names.values())
    if match and int(match.group(1)) < len(ordered):
        text = f"{ordered[int(match.group(1))]}: {text[match.end() :]}"
    return text


def internal_message(err: BaseException) -> str:
    """The page's message for a bug: what kind, and where the details are."""
    return (
        f"Something went wrong on the server ({type(err).__name__}); the details are in its "
        "log. Nothing was kept. Try again, or with other settings."
    )
