"""Timestamps in and out: aware datetimes or ISO-8601 text in, canonical UTC text out."""

from __future__ import annotations

from datetime import UTC, datetime

from .errors import InvalidInput


def to_utc(value: datetime | str, what: str = "timestamp") -> datetime:
    """An aware UTC datetime from an aware datetime or ISO-8601 text with an offset."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput(f"{what} is not ISO-8601: {str(value)[:64]!r}") from None
    if not isinstance(value, datetime):
        raise InvalidInput(
            f"{what} must be a datetime or ISO-8601 text, not {type(value).__name__}"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{what} must be timezone-aware: {value.isoformat()!r}")
    return value.astimezone(UTC)


def iso(value: datetime) -> str:
    """Canonical text `YYYY-MM-DDTHH:MM:SS.ffffffZ`: text order is time order."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def optional_utc(value: datetime | str | None, what: str) -> datetime | None:
    return None if value is None else to_utc(value, what)


def now_utc() -> datetime:
    return datetime.now(UTC)
