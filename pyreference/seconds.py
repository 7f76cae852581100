"""The one rule for every argument or option given in seconds.

Timeouts, waits, retries, intervals and heartbeats of the API (`connect(timeout=)`,
`Router(replica_wait=…)`, `migrate(lock_wait=)`) and of the CLI (`--lock-wait`,
`--interval`, …) are all checked here, so each refuses the same values with the same
words: a real number (not a bool), finite, at least `low` (or, with `exclusive`, more
than it) and at most `MAX_SECONDS`. NaN, infinity or `1e300` is refused rather than
ending in an endless wait, an overflow in `time.sleep` or `select()`, or a crash.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import InvalidInput, shown

MAX_SECONDS = 24 * 3600.0  # a day: far beyond any sensible wait, far below what sleep() takes


def seconds(value: Any, name: str, *, low: float = 0.0, exclusive: bool = False) -> float:
    """`value` as a float number of seconds, checked.

    Args:
        value: the caller's value (an int or float; bools are refused).
        name: the argument's name, for the message (e.g. "timeout", "--interval").
        low: the least value accepted (seconds).
        exclusive: refuse `low` itself too (a timeout of 0 means nothing).

    Returns:
        The value as a float, in [`low`, `MAX_SECONDS`] (or (`low`, …] with `exclusive`).

    Raises:
        InvalidInput: not a number, NaN, infinite, or out of that range; the message
            names `name`, the range and the value.
    """
    bound = f"more than {low:g}" if exclusive else f"at least {low:g}"
    words = f"{name} must be a number of seconds {bound} and at most {MAX_SECONDS:g} (a day)"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{words}, not {shown(value)}")
    # A huge int would overflow float(); NaN fails every comparison.
    if isinstance(value, int) and not -MAX_SECONDS <= value <= MAX_SECONDS:
        raise InvalidInput(f"{words}, not {shown(value)}")
    number = float(value)
    below = number <= low if exclusive else number < low
    if not math.isfinite(number) or below or number > MAX_SECONDS:
        raise InvalidInput(f"{words}, not {shown(value)}")
    return number
