"""The one exception type users see.

Anything wrong with a user's input (a file, a profile, an option) is raised as
:class:`VisemesError` with a message that names the file and the problem on one
line. The CLI prints that line and exits non-zero; it never shows a traceback
for these.
"""

from __future__ import annotations

from pathlib import Path


class VisemesError(Exception):
    """A problem with the user's input, explained in one line."""


def file_error(path: str | Path, problem: str) -> VisemesError:
    """Build the standard ``PATH: problem`` error."""
    return VisemesError(f"{path}: {problem}")
