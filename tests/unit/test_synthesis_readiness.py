"""R58: the run reason, the credential reason, and the readiness conditions."""

from __future__ import annotations

import pytest
from synthesis_builders import run

from pyreference.evidence import BrowserSurface, KnownGap
from pyreference.synthesis.readiness import (
    credential_reason,
    normalize,
    readiness,
    run_reason,
)


def gaps(*known: KnownGap, failure: str | None = None):  # type: ignore[no-untyped-def]
    return run("r", "failed", failure_reason=failure, known_gaps=known)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("HTTP 401 Unauthorized", "credential_rejected"),
        ("403 forbidden: session_expired", "session_expired"),
        ("invalid_token session_required", "session_required"),
        ("auth_missing", "credentials_required"),
        ("please reauth", "credentials_required"),
        ("credential store empty; session_expired", "session_expired"),
        ("nothing to see", None),
    ],
)
def test_credential_reason_from_messages(message: str, reason: str | None) -> None:
    assert credential_reason(gaps(KnownGap(severity="actionable", message=message))) == reason


def test_credential_reason_rules() -> None:
    hint = KnownGap(severity="actionable", action="refresh_credentials", message="x")
    assert credential_reason(gaps(hint)) == "credentials_required"
    # Soft gaps and source-unavailable messages are skipped.
    soft = KnownGap(severity="informational", message="401")
    unavailable = KnownGap(severity="actionable", message="401 source_unavailable")
    assert credential_reason(gaps(soft, unavailable)) is None
    # An interaction gap: only a rejected credential still counts.
    interaction = KnownGap(kind="interaction_required", message="otp needed")
    assert credential_reason(gaps(interaction, hint)) is None
    assert credential_reason(gaps(interaction, KnownGap(message="401"))) == "credential_rejected"
    # Only when the failure reason says nothing specific.
    for vague in (None, "connector_reported_failed", "connector_exited", "unknown"):
        assert credential_reason(gaps(hint, failure=vague)) == "credentials_required"
    assert credential_reason(gaps(hint, failure="timeout")) is None


def test_run_reason_order() -> None:
    hint = KnownGap(severity="actionable", action="refresh_credentials", message="x")
    assert run_reason(gaps(hint), "gap", "att") == "credentials_required"
    assert run_reason(gaps(failure="timeout"), "gap", "att") == "timeout"
    reasoned = (KnownGap(severity="informational", reason="soft"), KnownGap(reason="hard"))
    assert run_reason(gaps(*reasoned), "gap", "att") == "hard"
    stopped = (KnownGap(is_object=False), KnownGap(reason="hard"))
    assert run_reason(gaps(*stopped), "gap", "att") == "gap"
    assert run_reason(None, None, "att") == "att"
    assert run_reason(None, None, None) is None
    surface = run("r", "surface_failed", browser_surface=BrowserSurface(wait_reason="w"))
    assert run_reason(surface, None, None) == "w"


def test_normalize() -> None:
    assert normalize("  Login--Rejected!! ") == "login_rejected"


@pytest.mark.parametrize(
    ("reason", "capable", "code"),
    [
        ("login_rejected", False, "login_rejected"),
        ("oauth_grant_expired", False, "oauth_grant_expired"),
        ("invalid_grant", False, "invalid_grant"),
        ("HTTP 401", False, "http_401"),
        ("session_expired", False, None),  # session-shaped: needs browser-session capability
        ("session_expired", True, "session_expired"),
        ("session_failed", True, "session_failed"),
        ("credential_rejected", True, "session_required"),
        ("bad_credentials", True, "session_required"),
        ("credential_rejected", False, "credential_rejected"),
        ("timeout", True, None),
    ],
)
def test_credentials_invalid(reason: str, capable: bool, code: str | None) -> None:
    found = readiness(reason, capable).credentials
    assert (found.reason_code if found else None) == code


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("browser_runtime_not_configured", "browser_runtime_not_configured"),
        ("missing_browser_surface", "missing_browser_surface"),
        ("missing_runtime_binding", "runtime_binding_missing"),
        ("runtime_binding_missing", "runtime_binding_missing"),
        ("binary_missing", "external_tool_unavailable"),
        ("external_tool_missing", "external_tool_unavailable"),
        ("external_tool_unavailable", "external_tool_unavailable"),
    ],
)
def test_runtime_unavailable(reason: str, code: str) -> None:
    ready = readiness(reason, False)
    assert ready.runtime is not None and ready.runtime.reason_code == code
    assert ready.credentials is None and ready.fails


def test_no_reason_is_ready() -> None:
    assert not readiness(None, True).fails
    assert readiness("", True).conditions() == ()
