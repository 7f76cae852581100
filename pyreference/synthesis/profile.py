"""What synthesis derives from a connector profile alone, derived once per profile.

Every connection of a connector shares its decoded profile (the reader caches it by the
digest's content), so the lookups a row needs from it (declarations by name, required
streams, the staleness window as a ``timedelta``) are computed once per profile object,
not once per row. A pure function of the profile, memoized by identity: an entry holds
its profile, so an id is never reused while its entry lives.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, NamedTuple

from pyreference.evidence import ConnectorProfile, DeclaredStream
from pyreference.timeutil import DOMAIN_SPAN_SECONDS

_SIZE = 1024  # profiles kept; emptied when full (connectors are few)


class ProfileFacts(NamedTuple):
    declared: Mapping[str, DeclaredStream]  # every declaration by name (read-only)
    names: tuple[str, ...]  # declared stream names, in manifest order
    required: frozenset[str]  # R18: declared with `required` absent or true; none if unusable
    usable_declared: Mapping[str, DeclaredStream]  # `declared` when the manifest is usable
    window: timedelta | None  # the usable staleness window (R16), else None


def staleness_seconds(value: Any) -> float | None:
    """A refresh policy's `maximum_staleness_seconds` when it is a usable window: a number
    greater than 0 and at most the span of the timestamp domain (years 0001-9999). Anything
    else (not a number, NaN, zero or negative, 1e14, 10**400) counts as no window."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if not 0 < value <= DOMAIN_SPAN_SECONDS:
        return None
    return float(value)


_cache: dict[int, tuple[ConnectorProfile, ProfileFacts]] = {}


def profile_facts(profile: ConnectorProfile) -> ProfileFacts:
    """The profile's derived facts (see the module)."""
    found = _cache.get(id(profile))
    if found is not None and found[0] is profile:
        return found[1]
    facts = _derive(profile)
    if len(_cache) >= _SIZE:
        _cache.clear()
    _cache[id(profile)] = (profile, facts)
    return facts


def _derive(profile: ConnectorProfile) -> ProfileFacts:
    streams = profile.declared_streams
    declared = {s.name: s for s in streams}
    usable = profile.manifest_usable
    window = staleness_seconds(profile.refresh_policy.maximum_staleness_seconds)
    return ProfileFacts(
        declared=declared,
        names=tuple(s.name for s in streams),
        required=frozenset(s.name for s in streams if s.required) if usable else frozenset(),
        usable_declared=declared if usable else {},
        window=timedelta(seconds=window) if window is not None else None,
    )
