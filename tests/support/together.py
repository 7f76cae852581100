"""Run the same work on several threads at once (real concurrency, not assumed)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def together(
    n: int, work: Callable[[int], Any], timeout: float = 120
) -> tuple[list[Any], list[BaseException]]:
    """`work(i)` on `n` threads released at one barrier; their results (by i) and errors."""
    results: list[Any] = [None] * n
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return results, errors
