"""R57: classifying the known gaps a run reported (retryable, terminal or ignored).

The input is C's ``known_gaps`` minus gaps on declared-optional or dormant streams;
a gap naming no stream is kept. Upstream: ``server/connector-gap-classification.ts``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from pyreference.evidence import KnownGap

RETRYABLE, TERMINAL, IGNORED = "retryable", "terminal", "ignored"
_RETRY_ACTIONS = ("manual_action_required", "retry_by_runtime")
_OWNER_WORDS = ("otp", "mfa", "2fa", "manual", "captcha", "anti bot")
_OWNER_PHRASES = (
    "assistance timed out",
    "assistance timeout",
    "owner assistance timed out",
    "finish login",
    "streaming companion",
    "source unavailable",
)
_SOFT_SEVERITIES = ("informational", "recoverable")
_OTHER = re.compile(r"[^a-z0-9]+")


def gap_text(gap: KnownGap) -> str:
    """``kind``, ``reason`` and ``message`` joined, lowercased, other runs made one space."""
    parts = " ".join(p for p in (gap.kind, gap.reason, gap.message) if p)
    return _OTHER.sub(" ", parts.lower()).strip()


def classify(gap: KnownGap, eligible_streams: Collection[str] = ()) -> str:
    """R57 class of one gap; ``eligible_streams`` have an eligible pending detail gap."""
    if not gap.is_object:
        return TERMINAL
    if (
        gap.kind == "skip_result"
        and gap.stream in eligible_streams
        and gap.action in (None, "unknown", "retry_by_runtime")
    ):
        return IGNORED  # the runtime already retries this stream
    padded = f" {gap_text(gap)} "
    if (
        gap.action in _RETRY_ACTIONS
        or any(f" {word} " in padded for word in _OWNER_WORDS)
        or any(phrase in padded for phrase in _OWNER_PHRASES)
        or gap.severity == "transient"
    ):
        return RETRYABLE
    if gap.severity in _SOFT_SEVERITIES:
        return IGNORED
    return TERMINAL


def counted_gaps(gaps: Iterable[KnownGap], required: Collection[str]) -> tuple[KnownGap, ...]:
    """The gaps that count: those naming no stream, or a required declared stream."""
    return tuple(g for g in gaps if not g.is_object or g.stream is None or g.stream in required)


def known_gap_axis(
    gaps: Iterable[KnownGap], required: Collection[str], eligible_streams: Collection[str] = ()
) -> str | None:
    """``terminal_gap`` or ``retryable_gap`` when a counted gap says so (R18.2–3), else None."""
    if not gaps:
        return None
    classes = {classify(g, eligible_streams) for g in counted_gaps(gaps, required)}
    if TERMINAL in classes:
        return "terminal_gap"
    if RETRYABLE in classes:
        return "retryable_gap"
    return None
