"""Page rows to prepared evidence, memoizing clean rows by their whole content."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Mapping
from typing import Any

from .reads import (
    PageDecoder,
    evidence_from_row,
    record_deltas,
    unreadable_evidence,
    with_deltas,
)
from .synthesis import Prepared, prepare, prepare_with_streams


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

    def peek(self, row: tuple[Any, ...]) -> Prepared | None:
        """The entry for `row` if kept, counted neither as a hit nor a miss."""
        with self._lock:
            return self._entries.get(row)

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
    recompute: Collection[str],
) -> list[Prepared]:
    """Prepared evidence of page rows through the memo; the rows the read chose to
    recompute (`recompute`, their ids) from their recomputation."""
    deltas, ident = columns.index("record_deltas"), columns.index("connector_instance_id")
    out = []
    if memo.size <= 0:  # nothing kept: no row is hashed for a lookup that cannot hit
        for row in rows:
            fresh = recomputed.get(row[ident]) if row[ident] in recompute else None
            out.append(_prepare_row(columns, row, decoder, fresh))
        return out
    for row in rows:
        stale = row[ident] in recompute
        fresh = recomputed.get(row[ident]) if stale else None
        if stale and fresh is None:  # its recompute failed: served, never kept
            out.append(_prepare_row(columns, row, decoder, None))
            continue
        # A dirty row is keyed by its recomputed evidence too: while it waits for a
        # reconcile, a reread whose recomputation came back the same is a hit, and a write
        # in between makes another key.
        key = row if fresh is None else (row, *fresh.values())
        found = memo.get(key)
        if found is None:
            found = None if stale else _with_deltas(memo, row, deltas, decoder)
            if found is None:
                found = _prepare_row(columns, row, decoder, fresh)
            memo.put(key, found)
        out.append(found)
    return out


def _with_deltas(
    memo: PreparedMemo, row: tuple[Any, ...], deltas: int, decoder: PageDecoder
) -> Prepared | None:
    """A row with pending record deltas (0020) prepared from the same row without them, if
    the memo holds it (its stored evidence, already decoded and prepared): only the deltas
    are decoded and added, and only what they change is prepared again. None when it does
    not, or the deltas cannot be read (then the row is prepared from scratch, which
    reports why)."""
    if row[deltas] is None:
        return None
    base = memo.peek((*row[:deltas], None, *row[deltas + 1 :]))
    if base is None or not base.evidence.available:
        return None
    try:
        return prepare_with_streams(
            base, with_deltas(base.evidence, record_deltas(row[deltas], decoder))
        )
    except Exception:
        return None


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
