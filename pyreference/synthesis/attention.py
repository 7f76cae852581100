"""R54: which attention records are relevant at ``now``, and in what order."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pyreference.evidence import Attention
from pyreference.synthesis._time import is_after

LIVE_LIFECYCLES = ("open", "acknowledged", "in_progress")
# Owner actions that ask nothing of the owner here (`act_elsewhere` only with a deadline).
_NO_ACTION = (None, "", "none")


def is_relevant(record: Attention, now: datetime) -> bool:
    """R54: live, not expired at ``now``, and asking something of the owner."""
    if record.lifecycle not in LIVE_LIFECYCLES:
        return False
    if record.expires_at is not None and not is_after(record.expires_at, now):
        return False
    if record.response_required:
        return True
    if record.owner_action == "act_elsewhere":
        return record.expires_at is not None
    return record.owner_action not in _NO_ACTION


def urgency_key(record: Attention) -> tuple[bool, bool, str, bool, str, str]:
    """R54 order: response required first, then earliest expiry (none last), then
    earliest creation (none last), then id."""
    return (
        not record.response_required,
        record.expires_at is None,
        record.expires_at or "",
        record.created_at is None,
        record.created_at or "",
        record.attention_id,
    )


def relevant_attention(records: Iterable[Attention], now: datetime) -> tuple[Attention, ...]:
    """The records relevant at ``now``, most urgent first (R54)."""
    if not records:  # most rows have none: no generator, no sort
        return ()
    return tuple(sorted((a for a in records if is_relevant(a, now)), key=urgency_key))
