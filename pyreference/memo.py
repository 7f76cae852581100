"""Page rows to prepared evidence, memoizing clean rows by their whole content."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from .reads import PageDecoder, evidence_from_row, unreadable_evidence
from .synthesis import Prepared, prepare


class PreparedMemo:
    """Prepared evidence of page rows, keyed by the whole row (and, for a dirty row, its
    recomputed evidence); least recently used out.

    A row's values are its evidence: the same values always decode to equal, immutable
    objects, so a hit is never stale (a changed row is another key, and the old entry
    ages out). Reads that repeat rows, such as a console refreshing its first pages,
    skip decoding and the ``now``-free half of synthesis.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple[Any, ...], Prepared] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, row: tuple[Any, ...]) -> Prepared | None:
        with self._lock:
            found = self._entries.get(row)
            if found is None:
                self.misses += 1
            else:
                self.hits += 1
                self._entries.move_to_end(row)
            return found

    def put(self, row: tuple[Any, ...], prepared: Prepared) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._entries[row] = prepared
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def prepare_page(
    columns: tuple[str, ...],
    rows: list[tuple[Any, ...]],
    memo: PreparedMemo,
    decoder: PageDecoder,
    recomputed: Mapping[str, Mapping[str, Any]],
) -> list[Prepared]:
    """Prepared evidence of page rows through the memo; dirty ones from their recomputation."""
    dirty = columns.index("dirty")
    ident = columns.index("connector_instance_id")
    out = []
    if memo.size <= 0:  # nothing kept: no row is hashed for a lookup that cannot hit
        for row in rows:
            fresh = recomputed.get(row[ident]) if row[dirty] else None
            out.append(_prepare_row(columns, row, decoder, fresh))
        return out
    for row in rows:
        fresh = recomputed.get(row[ident]) if row[dirty] else None
        if row[dirty] and fresh is None:  # its recompute failed: served, never kept
            out.append(_prepare_row(columns, row, decoder, None))
            continue
        # A dirty row is keyed by its recomputed evidence too: while it waits for a
        # reconcile, a reread whose recomputation came back the same is a hit, and a write
        # in between makes another key.
        key = row if fresh is None else (row, *fresh.values())
        found = memo.get(key)
        if found is None:
            found = _prepare_row(columns, row, decoder, fresh)
            memo.put(key, found)
        out.append(found)
    return out


def _prepare_row(
    columns: tuple[str, ...],
    row: tuple[Any, ...],
    decoder: PageDecoder,
    fresh: Mapping[str, Any] | None,
) -> Prepared:
    """One row's prepared evidence; a row that cannot be decoded or prepared degrades
    only its own connection (health unknown, the problem named), never the page."""
    named = _named(columns, row)
    try:
        return prepare(evidence_from_row(named, decoder, fresh))
    except Exception as exc:
        return prepare(unreadable_evidence(named, decoder, exc))


def _named(columns: tuple[str, ...], row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(columns, row, strict=True))
