"""A test-only reconcile fault: a trigger on pyref_evidence that refuses the 'ok' update for
one connection, with a message that deliberately holds SQL text and a secret (which no
error the library reports may repeat). Shared by the fault tests of reconcile (R9) and of
record deltas (0020)."""

from __future__ import annotations

from typing import Any

from pyreference.store import Store

SECRET = "sk_live_TOPSECRET_4242"


def _sql(store: Store, text: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    with store.database.session(transaction=True) as s:
        return s.execute(text, params)


def install_fault(store: Store, cid: str) -> None:
    """Make every reconcile of `cid` fail (as its evidence row turns `ok`)."""
    if store.dialect == "postgres":
        _sql(
            store,
            f"""
            CREATE FUNCTION pyref_test_fault() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.connector_instance_id = '{cid}' AND NEW.state = 'ok' THEN
                    RAISE EXCEPTION 'boom: SELECT record_json FROM records -- %',
                        (SELECT record_json::text FROM records
                          WHERE connector_instance_id = '{cid}' LIMIT 1);
                END IF;
                RETURN NEW;
            END $$""",
        )
        _sql(
            store,
            """CREATE TRIGGER pyref_test_fault BEFORE UPDATE ON pyref_evidence
                      FOR EACH ROW EXECUTE FUNCTION pyref_test_fault()""",
        )
    else:
        _sql(
            store,
            f"""
            CREATE TRIGGER pyref_test_fault BEFORE UPDATE ON pyref_evidence
            WHEN NEW.connector_instance_id = '{cid}' AND NEW.state = 'ok'
            BEGIN SELECT RAISE(ABORT, 'boom: SELECT record_json FROM records {SECRET}'); END""",
        )


def remove_fault(store: Store) -> None:
    """Undo `install_fault`."""
    _sql(
        store,
        "DROP TRIGGER pyref_test_fault"
        + (" ON pyref_evidence" if store.dialect == "postgres" else ""),
    )
    if store.dialect == "postgres":
        _sql(store, "DROP FUNCTION pyref_test_fault()")
