"""A real `pyreference serve` process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from tests.support.processes import free_port, stop


@contextmanager
def running_server(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`pyreference serve ARGS --port FREE` until the block ends; yields its base URL."""
    port = free_port()
    # Output to a file, not a pipe: a full pipe would stall the server.
    with tempfile.TemporaryFile() as log:
        yield from _serve(args, env, port, log)


def _serve(args: tuple[str, ...], env: dict[str, str] | None, port: int, log: Any) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyreference.cli", "serve", *args, "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                log.seek(0)
                out = log.read().decode(errors="replace")
                raise RuntimeError(f"pyreference serve exited {proc.returncode}:\n{out}")
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break  # any answer: the server is up (it may require a token)
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("pyreference serve did not answer within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        stop(proc)
