"""Timestamp helpers: canonical ISO-8601 UTC text in, aware datetimes for arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime

from pyreference.errors import InvalidInput


def check_now(now: object) -> datetime:
    """Return ``now`` in UTC; a naive or non-datetime value is refused (no guessing a zone)."""
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise InvalidInput(f"now must be a timezone-aware datetime, got {now!r}")
    return now.astimezone(UTC)


def parse_ts(text: str) -> datetime:
    """Parse evidence timestamp text; naive text is UTC by the evidence contract."""
    try:
        parsed = datetime.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"not an ISO-8601 timestamp: {text!r}") from exc
    if parsed.utcoffset() is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def at_or_after(later: str | None, earlier: str | None) -> bool:
    """True when ``later`` >= ``earlier``; an unknown time compares as not ordered (False)."""
    if later is None or earlier is None:
        return False
    return parse_ts(later) >= parse_ts(earlier)


def is_after(moment: str | None, now: datetime) -> bool:
    """True when ``moment`` is strictly later than ``now``."""
    return moment is not None and parse_ts(moment) > now
