"""The summary's top-level keys (R21, amended by SPEC-SEMANTICS R21), and its JSON shape."""

from typing import Any

R21_KEYS = {
    "connection_id", "connector_id", "display_name", "connector_display_name",
    "manifest_version", "status", "source_kind", "revoked_at", "streams", "stream_records",
    "total_records", "total_records_state", "stream_count", "retained_bytes", "freshness",
    "connection_health", "rendered_verdict", "next_action", "owner_state", "source_work",
    "collection_report", "coverage", "last_run", "last_successful_run", "schedule", "evidence",
}  # fmt: skip


def assert_plain_json(value: Any) -> None:
    """Fail on anything that is not plain JSON data (and on JSON text in disguise)."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str)
            assert_plain_json(item)
    elif isinstance(value, list):
        for item in value:
            assert_plain_json(item)
    elif isinstance(value, str):
        assert not value.lstrip().startswith(("{", "[")), value
    else:
        assert value is None or isinstance(value, bool | int | float), value
