"""Decode, prepare and synthesize page rows from a file; print every summary's `to_dict()`.

Run as ``python -m tests.support.native_parity ROWS.json`` once compiled and once with
``PYREFERENCE_PURE_PYTHON=1``: the outputs must be identical (tests/reliability/
test_rel_native_parity.py). ROWS.json is ``{"columns": [...], "rows": [[...], ...],
"scoped": [{...}, ...]}``: whole page rows as the SQLite store reads them (JSON documents
as text), and scoped rows (`scoped_summary`, with the deep documents) as dicts, read into
diagnostics as `connection_diagnostics` reads them.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyreference
from pyreference import native
from pyreference.memo import PreparedMemo, prepare_rows
from pyreference.read_path import _summary, diagnostics_of, scoped_evidence
from pyreference.reads import PageDecoder
from pyreference.synthesis import Runtime

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
RUNTIMES = (Runtime(), Runtime(live_run_ids=frozenset()))


def main(path: str) -> None:
    data = json.loads(Path(path).read_text())
    columns = tuple(data["columns"])
    rows = [tuple(r) for r in data["rows"]]
    store = pyreference.connect(sqlite3.connect(":memory:"))  # its JSON decoding, as it reads
    decoder = PageDecoder(store.database.loads)
    prepared = prepare_rows(columns, rows, PreparedMemo(0), decoder, {}, [], None)
    out = [
        _summary(p, now, runtime).to_dict()
        for p in prepared
        for now in (NOW, datetime(2027, 1, 1, tzinfo=UTC))
        for runtime in RUNTIMES
    ]
    diagnostics = [
        diagnostics_of(*scoped_evidence(row, None, decoder), now, runtime).to_dict()
        for row in data.get("scoped", [])
        for now in (NOW, datetime(2027, 1, 1, tzinfo=UTC))
        for runtime in RUNTIMES
    ]
    print(
        json.dumps(
            {"compiled": len(native.compiled()), "summaries": out, "diagnostics": diagnostics},
            sort_keys=True,
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
