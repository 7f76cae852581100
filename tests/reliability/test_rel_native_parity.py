"""The compiled read path gives what its Python sources give (pyreference/native.py).

Compiled by mypyc, a function checks its arguments' declared types and a module's
classes change kind, so hostile evidence is where the two could part. Real page rows
(the demo fleet, read whole as the SQLite store reads them) and thousands of copies with
one value of one document replaced by something hostile (wrong types, negative, huge and
fractional numbers, empty and non-canonical text, impossible dates, missing keys,
malformed JSON), and some with a scalar column replaced too, are decoded, prepared and
synthesized at two `now`s, compiled and from source, in two processes; every
`to_dict()` must be the same, as JSON text. Scoped rows (with the deep documents: recent
runs, open gaps, attention history) are mutated alike and read into diagnostics.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyreference
from pyreference import native
from pyreference.demo import build_demo_fleet
from pyreference.read_path import page_statement

ROOT = Path(native.__file__).resolve().parent.parent
HOSTILE: list[Any] = [
    None, -1, 0, 2**70, -(2**70), 1.5, -0.0, 1e308, True, False, "", "x", "-3", "12",
    [], {}, [None], {"x": 1}, "2026-02-30T00:00:00.000000Z", "2026-06-01T12:00:00Z",
    "9999-12-31T23:59:59.999999Z", "0001-01-01T00:00:00.000000Z", "2026-06-01 12:00:00",
]  # fmt: skip
SCALARS: list[Any] = [
    None, 0, 1, -1, 2**63, 1.5, -0.0, "", "x", "0", "1", "2026-02-30T00:00:00.000000Z",
    "2026-06-01T12:00:00Z", "9999-12-31T23:59:59.999999Z",
]  # fmt: skip
MALFORMED = ["{", "null", "[1, 2]", '"text"', "1e999", '{"a": NaN}', "[" * 50 + "]" * 50]


def _rows(tmp_path: Path) -> tuple[list[str], list[list[Any]], list[str], list[list[Any]]]:
    """The demo fleet's page rows and scoped rows (columns, rows of each)."""
    store = pyreference.connect(sqlite3.connect(tmp_path / "demo.db", check_same_thread=False))
    store.migrate()
    ids = build_demo_fleet(store, datetime(2026, 6, 1, 11, 0, tzinfo=UTC))
    store.rebuild()  # every row current: the documents a reconcile writes
    name, params = page_statement("owner_local", 1000, None, None, keys=False)
    scoped: list[list[Any]] = []
    with store.database.session(owner="owner_local") as s:
        columns, rows = s.rows(name, params)
        for cid in ids:
            scoped_columns, found = s.rows("scoped_summary", {"owner": "owner_local", "id": cid})
            scoped += [list(r) for r in found]
    store.close()
    return list(columns), [list(r) for r in rows], list(scoped_columns), scoped


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a decoded document, as a path of keys and indexes."""
    found = [at]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*at, i))
    return found


def _hostile(document: str, rnd: random.Random) -> str:
    if rnd.random() < 0.08:
        return rnd.choice(MALFORMED)
    value = json.loads(document)
    path = rnd.choice(_paths(value))
    if not path:
        return json.dumps(rnd.choice(HOSTILE))
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    if isinstance(parent, dict) and rnd.random() < 0.2:
        del parent[path[-1]]
    else:
        parent[path[-1]] = rnd.choice(HOSTILE)
    return json.dumps(value)


def _mutations(columns: list[str], rows: list[list[Any]], count: int) -> list[list[Any]]:
    rnd = random.Random(20261201)
    documents = [
        i
        for i, c in enumerate(columns)
        if any(isinstance(r[i], str) and r[i][:1] in "[{" for r in rows)
    ]
    scalars = [i for i in range(len(columns)) if i not in documents]
    out = []
    for _ in range(count):
        row = list(rnd.choice(rows))
        candidates = [i for i in documents if isinstance(row[i], str)]
        for i in rnd.sample(candidates, k=min(len(candidates), rnd.choice([1, 1, 2]))):
            row[i] = _hostile(row[i], rnd)
        if rnd.random() < 0.3:  # a column as SQLite could hand it back: any scalar
            row[rnd.choice(scalars)] = rnd.choice(SCALARS)
        out.append(row)
    return out


def _run(path: Path, pure: bool) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.native_parity", str(path)],
        env=native.environment(pure),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_compiled_and_source_read_hostile_rows_alike(tmp_path: Path) -> None:
    columns, rows, scoped_columns, scoped = _rows(tmp_path)
    assert len(rows) >= 20 and len(scoped) >= 20
    count = int(os.environ.get("PYREF_PARITY_ROWS", "3000"))
    mutated = _mutations(columns, rows, count)
    deep = [
        dict(zip(scoped_columns, row, strict=True))
        for row in scoped + _mutations(scoped_columns, scoped, count // 3)
    ]
    path = tmp_path / "rows.json"
    path.write_text(json.dumps({"columns": columns, "rows": rows + mutated, "scoped": deep}))
    source = _run(path, pure=True)
    compiled = _run(path, pure=False)
    assert source["compiled"] == 0
    built = [m for m in native.MODULES if m in native.built()]
    assert compiled["compiled"] == len(built)
    if os.environ.get("PYREFERENCE_REQUIRE_NATIVE") == "1":
        assert compiled["compiled"] == len(native.MODULES)
    assert len(compiled["summaries"]) == 4 * (len(rows) + len(mutated))
    # Hostile rows do reach the rules that set them apart (unknown, undecodable...).
    healths = {s["connection_health"]["state"] for s in source["summaries"]}
    assert {"healthy", "unknown"} <= healths
    assert len(compiled["diagnostics"]) == 4 * len(deep)
    assert {d["summary"]["connection_health"]["state"] for d in source["diagnostics"]} >= {
        "healthy",
        "unknown",
    }
    # As text: `==` would take True for 1 and 1 for 1.0.
    for kind in ("summaries", "diagnostics"):
        for i, (a, b) in enumerate(zip(source[kind], compiled[kind], strict=True)):
            assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True), (
                f"{kind} {i} (row {i // 4}) differs"
            )
