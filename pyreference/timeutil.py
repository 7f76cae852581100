"""Timestamps in and out: aware datetimes or ISO-8601 text in, canonical UTC text out.

One timestamp domain on both backends: instants from 0001-01-01T00:00:00Z to
9999-12-31T23:59:59.999999Z (UTC), microsecond precision. Anything else (a year
outside it once converted to UTC, an impossible date, a leap second, infinity,
naive text) is refused with `InvalidInput` naming the argument.
"""

from __future__ import annotations

from datetime import UTC, datetime

from .errors import InvalidInput

# Seconds between the first and the last instant of the domain: a duration
# longer than this cannot separate two timestamps.
DOMAIN_SPAN_SECONDS = (datetime.max - datetime.min).total_seconds()
_MAX_TEXT = 64


def to_utc(value: datetime | str, what: str = "timestamp") -> datetime:
    """An aware UTC datetime from an aware datetime or ISO-8601 text with an offset.

    Raises `InvalidInput` (naming `what`) for anything outside the domain above."""
    if isinstance(value, str):
        shown = value.strip()
        text = shown
        if len(text) > _MAX_TEXT:
            raise InvalidInput(f"{what} is not ISO-8601 (longer than {_MAX_TEXT} characters)")
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput(
                f"{what} is not an ISO-8601 date and time in years 0001-9999: {shown!r}"
            ) from None
    if not isinstance(value, datetime):
        raise InvalidInput(
            f"{what} must be a datetime or ISO-8601 text, not {type(value).__name__}"
        )
    try:
        offset = value.utcoffset()
    except Exception:  # a tzinfo whose utcoffset() itself fails
        raise InvalidInput(f"{what} has an unusable time zone") from None
    if value.tzinfo is None or offset is None:
        raise InvalidInput(f"{what} must be timezone-aware: {value.replace(tzinfo=None)}")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # e.g. 0001-01-01T00:00:00+14:00 is in year 0 UTC.
        raise InvalidInput(f"{what} is outside years 0001-9999 once converted to UTC") from None


def iso(value: datetime) -> str:
    """Canonical text `YYYY-MM-DDTHH:MM:SS.ffffffZ` (year zero-padded): text order is time order."""
    v = value.astimezone(UTC)
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d}T"
        f"{v.hour:02d}:{v.minute:02d}:{v.second:02d}.{v.microsecond:06d}Z"
    )


def optional_utc(value: datetime | str | None, what: str) -> datetime | None:
    return None if value is None else to_utc(value, what)


def now_utc() -> datetime:
    return datetime.now(UTC)
