"""Page rows to prepared evidence, memoized by their key columns (see `PageKeys`)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Mapping
from operator import itemgetter
from typing import Any, TypeVar

from .reads import (
    DocumentCache,
    PageDecoder,
    evidence_from_row,
    record_deltas,
    unreadable_evidence,
    with_deltas,
)
from .synthesis import Prepared, prepare, prepare_with_streams

# The most rows a page holds (`read_path.list_request`'s limit).
MAX_PAGE_ROWS = 1000
# A dirty row's version (what its recompute reads, 0025) and its evidence recomputed then.
Recomputed = tuple[str, Mapping[str, Any]]
V = TypeVar("V")


class PreparedMemo:
    """Prepared evidence of page rows, keyed by the row's key columns (and, for a dirty
    row, its recomputed evidence); least recently used out. Beside it, up to as many
    recomputations of dirty rows with the version they were made at, keyed by the
    row's key columns (`recomputed`).

    The key columns are every value of the row but its evidence documents (`DOCUMENTS`)
    and its connector's digest (`PROFILE`): the documents change only with the evidence
    row's `revision` and `computed_at`, the digest only with its own revision
    (`digest_revision`), and those are key columns (`key_columns` in
    sql/templates/queries.sql.j2). The same key always
    stands for the same evidence, which decodes to equal, immutable objects, so a hit is
    never stale (a changed row is another key, and the old entry ages out). Reads that repeat
    rows, such as a console refreshing its first pages, read no documents and skip
    decoding and the ``now``-free half of synthesis. A row that changed (a new key) is
    prepared again, its unchanged documents built once for all reads (`documents`, up
    to `size` of each kind, at least a page's; none when the memo keeps nothing).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        # Dirty rows of list pages: recomputed by the read, served from a kept recomputation.
        self.recomputes_made = 0
        self.recomputes_saved = 0
        self._entries: OrderedDict[tuple[Any, ...], Prepared] = OrderedDict()
        self._recomputed: OrderedDict[tuple[Any, ...], Recomputed] = OrderedDict()
        self._lock = threading.Lock()
        self.documents = DocumentCache(max(size, MAX_PAGE_ROWS)) if size > 0 else None

    def get_many(self, rows: list[tuple[Any, ...] | None]) -> list[Prepared | None]:
        """The entry kept for each key, made the most recently used, or None (a None key:
        no lookup); each lookup counted as a hit or a miss. Under one lock for a page."""
        out: list[Prepared | None] = []
        with self._lock:
            entries = self._entries
            for row in rows:
                found = None
                if row is not None:
                    found = self._touch(entries, row)
                    if found is None:
                        self.misses += 1
                    else:
                        self.hits += 1
                out.append(found)
        return out

    def peek(self, row: tuple[Any, ...]) -> Prepared | None:
        """The entry for `row` if kept, counted neither as a hit nor a miss."""
        with self._lock:
            return self._entries.get(row)

    def put(self, row: tuple[Any, ...], prepared: Prepared) -> None:
        self._keep(self._entries, row, prepared)

    def __len__(self) -> int:
        return len(self._entries)

    def recomputed(self, key: tuple[Any, ...]) -> Recomputed | None:
        """A dirty row's recomputation kept under its key columns (`keep_recomputed`)."""
        with self._lock:
            return self._touch(self._recomputed, key)

    def keep_recomputed(self, key: tuple[Any, ...], kept: Recomputed) -> None:
        """Keep a dirty row's recomputation and the version it was made at (see
        `read_path._recompute_cached`) under its key columns."""
        self._keep(self._recomputed, key, kept)

    def count_recomputes(self, made: int, saved: int) -> None:
        """Count a page's dirty rows: recomputed, and served from kept recomputations."""
        with self._lock:
            self.recomputes_made += made
            self.recomputes_saved += saved

    @staticmethod
    def _touch(entries: OrderedDict[tuple[Any, ...], V], key: tuple[Any, ...]) -> V | None:
        """The entry for `key`, made the most recently used (the caller holds the lock)."""
        found = entries.get(key)
        if found is not None:
            entries.move_to_end(key)
        return found

    def _keep(self, entries: OrderedDict[tuple[Any, ...], V], key: Any, value: V) -> None:
        if self.size <= 0:
            return
        with self._lock:
            entries[key] = value
            if len(entries) > self.size:
                entries.popitem(last=False)


# The evidence documents: the page columns that are not key columns (DOCUMENT_COLUMNS in
# sql/templates/_read_model.sql.j2; tests/integration/test_reads.py holds the two together).
DOCUMENTS = frozenset(
    (
        "stream_stats",
        "latest_run",
        "latest_successful_run",
        "latest_settled_run",
        "stream_facts",
        "gap_counts",
        "schedule",
        "open_attention",
    )
)


# The connector's digest on a whole row (a profile's inputs, `reads.profile_from_row`): a
# key row (`list_keys`) carries its revision (`digest_revision`) instead.
PROFILE = frozenset(
    (
        "has_digest",
        "connector_display_name",
        "manifest_version",
        "browser_required",
        "declared_streams",
        "refresh_policy",
    )
)
UNKEYED = DOCUMENTS | PROFILE


class PageKeys:
    """Where a page row's key sits among the columns of the statement that read it: every
    column but the evidence documents, the digest and the cursor key, in statement order,
    so a key row (`list_keys`) and a whole row (`list_page`, `page_rows`) of one row give
    one key."""

    def __init__(self, columns: tuple[str, ...]) -> None:
        named = [c for c in columns if c not in UNKEYED and c != "cursor_key"]
        self._pick = itemgetter(*(columns.index(c) for c in named))
        self.deltas = named.index("record_deltas")

    def of(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        return self._pick(row)  # type: ignore[no-any-return]


def from_memo(
    keys: PageKeys,
    rows: list[tuple[Any, ...]],
    ident: int,
    memo: PreparedMemo,
    decoder: PageDecoder,
    recomputed: Mapping[str, Mapping[str, Any]],
    recompute: Collection[str],
) -> list[Prepared | None]:
    """Prepared evidence of page rows (key rows or whole rows) that the memo holds: each
    from the memo (a row with record deltas also from the memoized row without them),
    else None (to be prepared from its row: `prepare_rows`)."""
    wanted: list[tuple[Any, ...] | None] = []
    for row in rows:
        stale = row[ident] in recompute
        fresh = recomputed.get(row[ident]) if stale else None
        # A row whose recompute failed is looked up nowhere: it is served from its whole row.
        wanted.append(None if stale and fresh is None else _key(keys.of(row), fresh))
    out = memo.get_many(wanted)
    for i, key in enumerate(wanted):
        if out[i] is None and key is not None and rows[i][ident] not in recompute:
            found = _with_deltas(memo, key, keys.deltas, decoder)
            if found is not None:
                memo.put(key, found)
                out[i] = found
    return out


def prepare_rows(
    columns: tuple[str, ...],
    rows: list[tuple[Any, ...]],
    memo: PreparedMemo,
    decoder: PageDecoder,
    recomputed: Mapping[str, Mapping[str, Any]],
    recompute: Collection[str],
    keys: PageKeys | None,
) -> list[Prepared]:
    """Prepared evidence of whole page rows (the rows the read chose to recompute,
    `recompute`, their ids, from their recomputation), each kept in the memo under its
    key (`keys`; None: nothing is kept)."""
    ident = columns.index("connector_instance_id")
    out = []
    for row in rows:
        stale = row[ident] in recompute
        fresh = recomputed.get(row[ident]) if stale else None
        prepared = _prepare_row(columns, row, decoder, fresh)
        # A row whose recompute failed is served, never kept.
        if keys is not None and memo.size > 0 and not (stale and fresh is None):
            memo.put(_key(keys.of(row), fresh), prepared)
        out.append(prepared)
    return out


def as_keyed(
    columns: tuple[str, ...],
    whole: list[tuple[Any, ...]],
    key_columns: tuple[str, ...],
    key_rows: list[tuple[Any, ...]],
) -> list[tuple[Any, ...]]:
    """Whole rows (`page_rows`) of rows read clean by the key statement, each as the key
    statement saw it where a write between the two statements marked it or gave it
    deltas: unless its documents changed (another revision), a row keeps the key
    statement's `dirty` and `record_deltas`, so its documents are never served with
    another moment's mark or deltas (see `read_path._prepare_memoized`)."""
    at = key_columns.index("connector_instance_id")
    seen = {row[at]: row for row in key_rows}
    flags = [key_columns.index(c) for c in ("revision", "dirty", "record_deltas")]
    mine = [
        columns.index(c) for c in ("connector_instance_id", "revision", "dirty", "record_deltas")
    ]
    out = []
    for row in whole:
        key = seen.get(row[mine[0]])
        if key is None or key[flags[0]] != row[mine[1]]:
            out.append(row)
            continue
        patched = list(row)
        patched[mine[2]], patched[mine[3]] = key[flags[1]], key[flags[2]]
        out.append(tuple(patched))
    return out


def _key(key: tuple[Any, ...], fresh: Mapping[str, Any] | None) -> tuple[Any, ...]:
    # A dirty row is keyed by its recomputed evidence too: while it waits for a reconcile,
    # a reread whose recomputation came back the same is a hit, and a write in between
    # makes another key.
    return key if fresh is None else (key, *fresh.values())


def _with_deltas(
    memo: PreparedMemo, key: tuple[Any, ...], deltas: int, decoder: PageDecoder
) -> Prepared | None:
    """A row with pending record deltas (0020) prepared from the same row without them, if
    the memo holds it (its stored evidence, already decoded and prepared): only the deltas
    are decoded and added, and only what they change is prepared again. None when it does
    not, or the deltas cannot be read (then the whole row is read and prepared, which
    reports why)."""
    if key[deltas] is None:
        return None
    base = memo.peek((*key[:deltas], None, *key[deltas + 1 :]))
    if base is None or not base.evidence.available:
        return None
    try:
        return prepare_with_streams(
            base, with_deltas(base.evidence, record_deltas(key[deltas], decoder))
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
