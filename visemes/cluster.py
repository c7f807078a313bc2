"""Baking on a Ray cluster: the same jobs as a local batch, one Ray task per chunk of lines.

``visemes bake --manifest lines.csv --executor ray`` connects to the cluster
named by ``RAY_ADDRESS`` (or one started on this machine with ``ray start``,
else a new local one); ``--executor ray://HOST:10001`` uses Ray Client. Every
node needs visemes installed (``pip install visemes[ray]``) and must reach the
inputs and outputs at the same paths (a shared file system) or URIs (fsspec:
``s3://``, ``gs://``...). Each worker process keeps the audio model loaded
between tasks. A task whose worker dies is run again, up to ``TASK_RETRIES``
times; then its lines are reported as failed. Outputs are written atomically,
so a line is either whole or absent, whatever happens to the workers.

Clusters with token authentication (Ray 2.52 and later; ``ray start`` turns it on
whenever ``~/.ray/auth_token`` exists) are reached with the token Ray itself would
use: ``RAY_AUTH_TOKEN``, the file named by ``RAY_AUTH_TOKEN_PATH``, or ``~/.ray/auth_token``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from .errors import VisemesError

TASK_RETRIES = 3


def use_token_if_any() -> None:
    """Connect with token authentication when a token is at hand and RAY_AUTH_MODE is unset.

    A Ray client speaks token authentication only with ``RAY_AUTH_MODE=token``, while ``ray start`` turns it on
    for a cluster as soon as ``~/.ray/auth_token`` exists; a client in token mode still reaches a cluster without
    authentication, so using a token we have costs nothing. An explicit ``RAY_AUTH_MODE`` is left as it is."""
    if os.environ.get("RAY_AUTH_MODE"):
        return
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH") or \
            (Path.home() / ".ray" / "auth_token").is_file():
        os.environ["RAY_AUTH_MODE"] = "token"


def run_on_ray(items: list, executor: str) -> Iterator[tuple[int, str | None]]:
    """``(index, error or None)`` for each ``(job, settings)`` item, as the cluster finishes them."""
    use_token_if_any()  # before Ray is imported: it reads its authentication settings once
    try:
        import ray
    except ImportError:
        raise VisemesError("--executor ray needs Ray: pip install 'visemes[ray]'") from None
    from .batch import bake_chunk

    address = executor.removeprefix("ray") or None
    if address and not address.startswith("://"):
        raise VisemesError(f"unknown executor {executor!r} (use local, ray or ray://HOST:PORT)")
    target = f"ray{address}" if address else os.environ.get("RAY_ADDRESS")
    try:
        ray.init(address=f"ray{address}" if address else None, ignore_reinit_error=True, log_to_driver=False,
                 logging_level="ERROR")
    except ConnectionError as e:
        hint = ("its token (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token) was refused or is missing"
                if "auth" in str(e).lower() or os.environ.get("RAY_AUTH_MODE") == "token" else
                "is it running? ('ray status')")
        raise VisemesError(f"cannot connect to the Ray cluster at {target or 'this machine'}: {hint}") from None
    try:
        task = ray.remote(max_retries=TASK_RETRIES)(bake_chunk)
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        size = max(1, min(16, len(items) // (cpus * 4)))
        pending = {task.remote(items[i:i + size]): range(i, min(i + size, len(items)))
                   for i in range(0, len(items), size)}
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            lines = pending.pop(ref)
            try:
                errors = ray.get(ref)
            except ray.exceptions.RayError as e:
                reason = type(e).__name__
                errors = [f"{items[i][0].source}: lost on the cluster after {TASK_RETRIES + 1} tries ({reason})"
                          for i in lines]
            yield from zip(lines, errors, strict=True)
    finally:
        ray.shutdown()
