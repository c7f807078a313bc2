"""The installed package's version, for --version and for the generator fields of the files we write."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _installed


def version() -> str:
    """``"0.1.0"``, or ``"unknown"`` when the package is run from a tree that was never installed."""
    try:
        return _installed("visemes")
    except PackageNotFoundError:
        return "unknown"
