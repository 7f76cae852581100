"""R58: readiness: credentials (``reauth``) and runtime dependencies, from run evidence.

There is no credential store here (SPEC-SEMANTICS §3): the run's known gaps, its
failure reason, eligible detail gaps and relevant attention are the only evidence,
so ``reauth`` appears only after evidence says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pyreference.evidence import KnownGap, RunEvidence
from pyreference.synthesis.model import HealthCondition
from pyreference.synthesis.runs import shown_failure_reason

# C's failure reasons that say nothing specific: the known gaps may say more.
_VAGUE_FAILURES = (None, "connector_reported_failed", "connector_exited", "unknown")
_SOFT = ("informational", "recoverable")
_REJECTED = (
    "401",
    "403",
    "authentication_error",
    "credential_rejected",
    "invalid_token",
    "unauthorized",
    "forbidden",
)
_CREDENTIAL_HINTS = (
    "401",
    "403",
    "auth_missing",
    "authentication_error",
    "credential",
    "session_expired",
    "session_required",
    "reauth",
    "unauthorized",
    "forbidden",
    "invalid_token",
)
_CREDENTIALS_INVALID = (
    "auth",
    "credential",
    "login",
    "reauth",
    "session_expired",
    "session_required",
    "session_failed",
    "token",
    "bad_credentials",
    "invalid_grant",
    "invalid_client",
    "invalid_token",
    "401",
)
_SESSION_SHAPED = ("session_required", "session_failed", "session_expired")
_REJECTED_ON_SESSION = (
    "credential_rejected",
    "bad_credentials",
    "invalid_password",
    "wrong_password",
    "401",
    "403",
)
_RUNTIME = (
    (("browser_runtime_not_configured",), "browser_runtime_not_configured"),
    (("missing_browser_surface",), "missing_browser_surface"),
    (("missing_runtime_binding", "runtime_binding_missing"), "runtime_binding_missing"),
    (
        ("binary_missing", "external_tool_missing", "external_tool_unavailable"),
        "external_tool_unavailable",
    ),
)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def normalize(reason: str) -> str:
    """Lowercased, runs of non-alphanumerics made ``_``, ``_`` trimmed from both ends."""
    return _NON_ALNUM.sub("_", reason.lower()).strip("_")


def _session_flavour(message: str, default: str) -> str:
    if "session_required" in message:
        return "session_required"
    if "session_expired" in message:
        return "session_expired"
    return default


def credential_reason(run: RunEvidence) -> str | None:
    """R58: what C's known gaps say about credentials, when its failure reason is vague."""
    if run.failure_reason not in _VAGUE_FAILURES:
        return None
    gaps = [g for g in run.known_gaps if g.is_object]
    interaction = any(
        g.kind == "interaction_required" or g.action == "manual_action_required" for g in gaps
    )
    for gap in gaps:
        message = (gap.message or "").lower()
        if gap.severity in _SOFT or "source_unavailable" in message:
            continue
        if any(text in message for text in _REJECTED):
            return _session_flavour(message, "credential_rejected")
        if interaction:
            continue  # the owner is being asked for something else (an OTP, a click)
        if gap.action == "refresh_credentials" or any(t in message for t in _CREDENTIAL_HINTS):
            return _session_flavour(message, "credentials_required")
    return None


def _known_gap_reason(gaps: Sequence[KnownGap]) -> str | None:
    for gap in gaps:
        if not gap.is_object:
            return None
        if gap.severity not in _SOFT and gap.reason:
            return gap.reason
    return None


def run_reason(
    run: RunEvidence | None, gap_reason: str | None, attention_reason: str | None
) -> str | None:
    """R58's run reason: C's credential reason, its shown failure reason, its first
    non-soft known-gap reason, then the first eligible detail gap's, then attention's."""
    if run is not None:
        for reason in (
            credential_reason(run),
            shown_failure_reason(run),
            _known_gap_reason(run.known_gaps),
        ):
            if reason:
                return reason
    return gap_reason or attention_reason or None


@dataclass(frozen=True, slots=True)
class Readiness:
    """The readiness conditions that hold (R58); ``credentials`` gives ``reauth``."""

    credentials: HealthCondition | None = None
    runtime: HealthCondition | None = None

    @property
    def fails(self) -> bool:
        return self.credentials is not None or self.runtime is not None

    def conditions(self) -> tuple[HealthCondition, ...]:
        credentials, runtime = self.credentials, self.runtime
        if credentials is None:
            return () if runtime is None else (runtime,)
        return (credentials,) if runtime is None else (credentials, runtime)


READY = Readiness()


def readiness(reason: str | None, session_capable: bool) -> Readiness:
    """R58: ``CredentialsInvalid`` and ``RuntimeUnavailable`` from a run reason.

    A session-shaped reason counts only on a connection with browser-session
    capability (``session_capable``); there, a rejected-password reason reads as
    ``session_required``.
    """
    if not reason:
        return READY
    code = normalize(reason)
    credentials = None
    session = any(s in code for s in _SESSION_SHAPED)
    if any(t in code for t in _CREDENTIALS_INVALID) and (session_capable or not session):
        shown = code
        if session_capable and not session and any(t in code for t in _REJECTED_ON_SESSION):
            shown = "session_required"
        credentials = HealthCondition("CredentialsInvalid", "True", "error", shown)
    runtime = None
    for texts, runtime_code in _RUNTIME:
        if any(t in code for t in texts):
            runtime = HealthCondition("RuntimeUnavailable", "True", "error", runtime_code)
            break
    if credentials is None and runtime is None:
        return READY
    return Readiness(credentials, runtime)
