"""Run the same work on several threads at once (real concurrency, not assumed)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


def together(
    n: int, work: Callable[[int], Any], timeout: float = 120
) -> tuple[list[Any], list[BaseException]]:
    """`work(i)` on `n` threads released at one barrier; their results (by i) and errors.

    A thread still running after `timeout` seconds is an error too (`TimeoutError`): a
    hung worker must fail the test, not pass it with no error recorded.
    """
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
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    hung = [i for i, t in enumerate(threads) if t.is_alive()]
    errors.extend(TimeoutError(f"worker {i} still running after {timeout:g} s") for i in hung)
    return results, errors
