"""Atomic file output: a reader never sees a half-written file.

Every file the package writes goes through :func:`atomic_write`: the content is
written to a temporary file in the destination folder and renamed over the
destination only once it is complete, so an interrupted run leaves either the
old file or the new one, never a truncated one. Destinations may also be
fsspec URIs (``s3://bucket/key``, ``gs://``, ``file://``...; the backend's
package must be installed): the content goes to a temporary object first and is
then moved into place.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .errors import file_error


def is_uri(path: str | Path) -> bool:
    """Whether ``path`` is a URL-style location (``scheme://...``) rather than a local path."""
    return isinstance(path, str) and "://" in path and not path.startswith("-")


def mtime(path: str | Path) -> float | None:
    """Modification time (seconds since the epoch) of a local file or URI, or None when it does not exist."""
    if not is_uri(path):
        try:
            return Path(path).stat().st_mtime
        except OSError:
            return None
    import fsspec

    fs, p = fsspec.core.url_to_fs(path)
    try:
        return fs.modified(p).timestamp()
    except (FileNotFoundError, OSError):
        return None


@contextlib.contextmanager
def _atomic_uri(uri: str, mode: str, encoding: str | None) -> Iterator[IO]:
    import uuid

    import fsspec

    fs, target = fsspec.core.url_to_fs(uri)
    tmp = f"{target}.{uuid.uuid4().hex}.tmp"
    try:
        fs.makedirs(fs._parent(target), exist_ok=True)
        with fs.open(tmp, "wb") as raw:
            if "b" in mode:
                yield raw
            else:
                import io

                text = io.TextIOWrapper(raw, encoding=encoding or "utf-8", newline="")
                yield text
                text.flush()
                text.detach()
        fs.mv(tmp, target)
    except BaseException:
        with contextlib.suppress(Exception):
            fs.rm(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8", private: bool = False
                 ) -> Iterator[IO]:
    """Open a temporary file that replaces ``path`` when the block ends without error.

    Only regular files are replaced: a device or a FIFO (``-o /dev/null``, ``-o /dev/stdout``) is
    written straight into, and a symbolic link is followed, so its target is replaced and the link kept.

    Raises :class:`~visemes.errors.VisemesError` naming ``path`` when its folder
    cannot be made or written to.

    Parameters
    ----------
    path : str or Path
        Destination. Its folder is created if missing.
    mode : {"w", "wb"}
        Text or binary.
    encoding : str, optional
        Text encoding (ignored for binary mode).
    private : bool
        Readable by its owner only (0600): for secrets such as tokens.
    """
    if is_uri(path):
        with _atomic_uri(str(path), mode, encoding) as f:
            yield f
        return
    path = Path(path)
    kwargs = {} if "b" in mode else {"encoding": encoding, "newline": ""}
    if _is_stream(path):  # a device, FIFO or socket, or a link to one (/dev/stdout): nothing to replace
        try:
            with open(path, mode, **kwargs) as f:
                yield f
        except OSError as e:
            raise file_error(path, f"cannot write ({e.strerror or e})") from None
        return
    if path.is_symlink():  # replace the file the link points to, and keep the link
        path = Path(os.path.realpath(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.name), suffix=".tmp", dir=path.parent)
    except OSError as e:
        blocking = next((p for p in path.parents if p.exists()), None)
        why = f"{blocking} is not a folder" if blocking and not blocking.is_dir() else (e.strerror or str(e))
        raise file_error(path, f"cannot write here ({why})") from None
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if not private:
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def text_name(path: str | Path) -> str:
    """A file's name as text that any output can carry: bytes that are not UTF-8 (``\\xff`` in a Linux file
    name) become U+FFFD instead of surrogates that no encoder accepts."""
    return Path(path).name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _is_stream(path: Path) -> bool:
    """Whether ``path`` (links followed) is something other than a regular file or a folder."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def temp_prefix(name: str) -> str:
    """The start of a temporary file's name beside ``name``: short enough that the whole temporary name
    fits the usual 255-byte limit however long ``name`` is (the byte budget counts UTF-8, and names that
    are not UTF-8 keep their escapes)."""
    head = name.encode("utf-8", "surrogateescape")[:96].decode("utf-8", "ignore")
    return f".{head}."


def read_input(path: str | Path, what: str, limit: int = 512 << 20) -> bytes:
    """The bytes of an input file, which must be a regular file of at most ``limit`` bytes.

    Devices, FIFOs and sockets are refused before they are opened, so ``/dev/zero`` cannot eat memory
    and a FIFO nobody writes to cannot hang the run.

    Raises
    ------
    VisemesError
        ``PATH: problem`` naming ``what`` the file was meant to be.
    """
    path = Path(path)
    try:
        st = path.stat()
    except OSError as e:
        raise file_error(path, f"cannot read the {what} ({e.strerror or e})") from None
    if stat.S_ISDIR(st.st_mode):
        raise file_error(path, f"is a folder, not a {what}")
    if not stat.S_ISREG(st.st_mode):
        raise file_error(path, f"not a regular file (a device, FIFO or socket cannot be a {what})")
    if st.st_size > limit:
        raise file_error(path, f"{st.st_size / 2**20:.0f} MiB is too large for a {what} (at most "
                               f"{limit / 2**20:.0f} MiB)")
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise file_error(path, f"cannot read the {what} ({e.strerror or e})") from None
    if len(data) > limit:  # it grew after the check
        raise file_error(path, f"larger than a {what} may be (at most {limit / 2**20:.0f} MiB)")
    return data


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text(path: str | Path, text: str, private: bool = False) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8); ``private`` makes it readable by its owner only."""
    with atomic_write(path, private=private) as f:
        f.write(text)


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, "wb") as f:
        f.write(data)
