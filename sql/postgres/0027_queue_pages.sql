-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0026_cached_cursor_key
-- pyreference 0027: a read's plan stays right when a drained queue fills again (issue #15).
-- A page asks two queues about each of its rows: is it marked (`pyref_dirty`), has it
-- record deltas (`pyref_record_deltas`). A reader's session plans its page statement once
-- (0025's functions, and psycopg's prepared statements) with the queues' sizes as they are
-- then. A drained queue, once vacuumed, is truncated to no pages at all, and a plan made
-- then scans the whole queue for every row of the page. When writers fill it again, that
-- plan stays until the next (auto)analyze: measured on 10,000 connections, a first page
-- took 37 ms instead of 4.5 ms with 2,000 deltas and 500 marks on other connections, and
-- under a steady write load the reconciler drains the queues again and again. Vacuum now
-- leaves the queues their pages (`vacuum_truncate = false`): a plan made on a drained queue
-- sees a table of the size it had and looks each row up in its index. The pages are empty
-- and reused by the next writes; a queue that once grew large (a bulk load) keeps its size
-- on disk. A queue left with no pages (`VACUUM (TRUNCATE)`, `VACUUM FULL`, `TRUNCATE`, a
-- fresh install vacuumed before any write) still gets such plans until it is analyzed
-- again; 0028 makes the page functions' plans independent of it (docs/dba-guide.md).
ALTER TABLE pyref_dirty SET (vacuum_truncate = false);
ALTER TABLE pyref_record_deltas SET (vacuum_truncate = false);
