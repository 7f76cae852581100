"""Helpers for tests that start servers of their own (PgBouncer, `pyreference serve`)."""

from __future__ import annotations

import subprocess
from typing import Any

from pyreference.devcluster import free_port

__all__ = ["free_port", "stop"]


def stop(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    """Terminate `process`, killing it if it has not ended after `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
