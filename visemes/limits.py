"""Limits on what an input may ask of the machine.

Times and sizes come from files, and files may be hostile or broken: a timing file that ends at 1e9 s
or a WAV header that says 1 Hz would otherwise ask for gigabytes. Anything longer than
:func:`max_duration` is refused with a one-line error that names the limit and how to raise it
(``--max-duration`` on the command line, ``VISEMES_MAX_DURATION`` in the environment, in seconds).
"""

from __future__ import annotations

import math
import os

from .errors import VisemesError

DEFAULT_MAX_DURATION_S = 6 * 3600.0
ENV = "VISEMES_MAX_DURATION"


def max_duration() -> float:
    """The longest input, in seconds, that a run accepts (6 hours unless ``VISEMES_MAX_DURATION`` says)."""
    raw = os.environ.get(ENV)
    if not raw:
        return DEFAULT_MAX_DURATION_S
    try:
        value = float(raw)
    except ValueError:
        raise VisemesError(f"{ENV}={raw!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise VisemesError(f"{ENV}={raw!r} must be a positive number of seconds")
    return value


def check_duration(seconds: float, what: str) -> None:
    """Refuse a length that is not finite or longer than :func:`max_duration`.

    Raises
    ------
    VisemesError
        ``what`` followed by the problem and the way to raise the limit.
    """
    if not math.isfinite(seconds):
        raise VisemesError(f"{what} has a time that is not a number ({seconds})")
    limit = max_duration()
    if seconds > limit:
        raise VisemesError(f"{what} lasts {seconds:.7g} s, more than the {limit:.7g} s limit (raise it with "
                           f"--max-duration or {ENV})")
