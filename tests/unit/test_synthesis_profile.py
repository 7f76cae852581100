"""What synthesis derives from a connector profile, once per profile object."""

from __future__ import annotations

from datetime import timedelta

from pyreference.evidence import ConnectorProfile, DeclaredStream, RefreshPolicy
from pyreference.synthesis import profile as profile_module
from pyreference.synthesis.profile import profile_facts


def _profile(usable: bool = True, window: float | None = 3600.0) -> ConnectorProfile:
    return ConnectorProfile(
        connector_id="c",
        declared_streams=(
            DeclaredStream("a"),
            DeclaredStream("b", required=False),
            DeclaredStream("a", coverage_policy="deferred"),  # a repeated name: the last wins
        ),
        manifest_usable=usable,
        refresh_policy=RefreshPolicy(maximum_staleness_seconds=window),
    )


def test_facts_are_the_profile_derived() -> None:
    facts = profile_facts(_profile())
    assert facts.names == ("a", "b", "a")
    assert facts.declared["a"].coverage_policy == "deferred"
    assert facts.required == frozenset({"a"})
    assert facts.usable_declared is facts.declared
    assert facts.window == timedelta(hours=1)


def test_an_unusable_manifest_requires_nothing_and_declares_nothing_to_the_report() -> None:
    facts = profile_facts(_profile(usable=False, window=float("nan")))
    assert facts.required == frozenset()
    assert dict(facts.usable_declared) == {}
    assert set(facts.declared) == {"a", "b"}
    assert facts.window is None


def test_equal_profiles_are_derived_alike_and_a_full_cache_empties() -> None:
    first, second = _profile(), _profile(window=60.0)
    assert profile_facts(first) is profile_facts(first)
    assert profile_facts(second).window == timedelta(minutes=1)
    for _ in range(profile_module._SIZE + 1):
        profile_facts(_profile())
    assert len(profile_module._cache) <= profile_module._SIZE
    assert profile_facts(first).window == timedelta(hours=1)
