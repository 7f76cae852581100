-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- Roll back pyreference 0017: the child tables' update triggers watch the columns 0003
-- chose again (a gap's retry time and reason, an attention record's id: unwatched), and
-- the functions and SQLite's spine trigger use 0016's projection (SQLite reads JSON
-- true/false as 1/0 and other numbers in its own notation); every run and evidence row is
-- recomputed by it. Facts recorded meanwhile stay.

DROP TRIGGER IF EXISTS pyref_500_connector_schedules_update;
CREATE TRIGGER IF NOT EXISTS pyref_500_connector_schedules_update AFTER UPDATE ON connector_schedules
WHEN (OLD.interval_seconds IS DISTINCT FROM NEW.interval_seconds OR OLD.enabled IS DISTINCT FROM NEW.enabled OR OLD.consecutive_failures IS DISTINCT FROM NEW.consecutive_failures OR OLD.next_run_at IS DISTINCT FROM NEW.next_run_at OR OLD.connector_instance_id IS DISTINCT FROM NEW.connector_instance_id)
BEGIN
    INSERT INTO pyref_dirty (connector_instance_id)
SELECT m.id FROM (SELECT NEW.connector_instance_id AS id) m
 WHERE m.id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
    INSERT INTO pyref_dirty (connector_instance_id)
SELECT m.id FROM (SELECT OLD.connector_instance_id AS id) m
 WHERE m.id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
END;

DROP TRIGGER IF EXISTS pyref_500_connector_detail_gaps_update;
CREATE TRIGGER IF NOT EXISTS pyref_500_connector_detail_gaps_update AFTER UPDATE ON connector_detail_gaps
WHEN (OLD.connector_instance_id IS DISTINCT FROM NEW.connector_instance_id OR OLD.stream IS DISTINCT FROM NEW.stream OR OLD.status IS DISTINCT FROM NEW.status OR OLD.connector_instance_id IS DISTINCT FROM NEW.connector_instance_id)
BEGIN
    INSERT INTO pyref_dirty (connector_instance_id)
SELECT m.id FROM (SELECT NEW.connector_instance_id AS id) m
 WHERE m.id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
    INSERT INTO pyref_dirty (connector_instance_id)
SELECT m.id FROM (SELECT OLD.connector_instance_id AS id) m
 WHERE m.id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
END;

DROP TRIGGER IF EXISTS pyref_500_connector_attention_records_update;
CREATE TRIGGER IF NOT EXISTS pyref_500_connector_attention_records_update AFTER UPDATE ON connector_attention_records
WHEN (OLD.connector_instance_id IS DISTINCT FROM NEW.connector_instance_id OR OLD.reason_code IS DISTINCT FROM NEW.reason_code OR OLD.owner_action IS DISTINCT FROM NEW.owner_action OR OLD.lifecycle IS DISTINCT FROM NEW.lifecycle OR OLD.response_required IS DISTINCT FROM NEW.response_required OR OLD.expires_at IS DISTINCT FROM NEW.expires_at OR OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.connector_instance_id IS DISTINCT FROM NEW.connector_instance_id)
BEGIN
    INSERT INTO pyref_dirty (connector_instance_id)
SELECT m.id FROM (SELECT NEW.connector_instance_id AS id) m
 WHERE m.id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
    INSERT INTO pyref_dirty (connector_instance_id)
SELECT m.id FROM (SELECT OLD.connector_instance_id AS id) m
 WHERE m.id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = m.id);
END;

DROP TRIGGER IF EXISTS pyref_500_spine_insert;
CREATE TRIGGER IF NOT EXISTS pyref_500_spine_insert AFTER INSERT ON spine_events
WHEN substr(NEW.event_type, 1, 4) = 'run.' AND NEW.run_id IS NOT NULL
BEGIN
    INSERT INTO pyref_run_facts (run_id, event_seq, event_seqs, carried, connector_instance_id, connection_created_at)
    SELECT a.run_id, min(a.event_seq), json_group_array(a.event_seq), a.carried, ci.connector_instance_id, ci.created_at
      FROM (SELECT k.event_seq, k.run_id,
                   (k.profile_key IS NOT NULL OR coalesce(k.id1, k.id2, k.id3) IS NOT NULL) AS carried,
                   coalesce(
                     CASE WHEN k.profile_key IS NOT NULL THEN
                       (SELECT CASE WHEN count(*) = 1 THEN max(pi.connector_instance_id) END
                          FROM pyref_connector_digest pg
                          JOIN connector_instances pi ON pi.connector_id = pg.connector_id
                           AND pi.connector_instance_id = CASE
                                 WHEN k.profile_key = pg.profile_base THEN pg.connector_id
                                 WHEN substr(k.profile_key, 1, length(pg.profile_base) + 1) = pg.profile_base || ':'
                                   THEN substr(k.profile_key, length(pg.profile_base) + 2) END
                         WHERE (pi.connector_instance_id = pi.connector_id) = (k.profile_key = pg.profile_base))
                     END,
                     CASE
                       WHEN k.profile_key IS NOT NULL AND coalesce(k.id1, k.id2, k.id3) IS NULL THEN
                         (SELECT si.connector_instance_id FROM connector_instances si
                           WHERE si.connector_instance_id = substr(k.profile_key, length(rtrim(k.profile_key, replace(k.profile_key, ':', ''))) + 1)
                             AND (k.connector IS NULL OR si.connector_id = k.connector))
                       WHEN coalesce(k.id1, k.id2, k.id3) IS NOT NULL THEN
                         CASE WHEN k.id1 <> coalesce(k.id2, k.id1) OR k.id1 <> coalesce(k.id3, k.id1)
                                   OR k.id2 <> coalesce(k.id3, k.id2) THEN NULL
                              ELSE (SELECT xi.connector_instance_id FROM connector_instances xi WHERE xi.connector_instance_id = coalesce(k.id1, k.id2, k.id3)) END
                       WHEN k.connector IS NOT NULL THEN (SELECT CASE WHEN count(*) = 1 THEN max(si.connector_instance_id) END
                            FROM (SELECT sa.connector_instance_id FROM connector_instances sa
                                   WHERE sa.connector_id = k.connector AND sa.status = 'active' LIMIT 2) si)
                     END) AS cid
              FROM (SELECT ev.event_seq, ev.run_id, coalesce(nullif(CASE WHEN typeof(ev.data_json->'browser_surface'->>'browser_surface_profile_key') IN ('integer', 'real') THEN CAST(ev.data_json->'browser_surface'->>'browser_surface_profile_key' AS TEXT) ELSE ev.data_json->'browser_surface'->>'browser_surface_profile_key' END, ''), nullif(CASE WHEN typeof(ev.data_json->'browser_surface'->>'profile_key') IN ('integer', 'real') THEN CAST(ev.data_json->'browser_surface'->>'profile_key' AS TEXT) ELSE ev.data_json->'browser_surface'->>'profile_key' END, ''), nullif(CASE WHEN typeof(ev.data_json->>'browser_surface_profile_key') IN ('integer', 'real') THEN CAST(ev.data_json->>'browser_surface_profile_key' AS TEXT) ELSE ev.data_json->>'browser_surface_profile_key' END, '')) AS profile_key,
                           nullif(ev.connector_instance_id, '') AS id1,
                           nullif(CASE WHEN typeof(ev.data_json->>'connection_id') IN ('integer', 'real') THEN CAST(ev.data_json->>'connection_id' AS TEXT) ELSE ev.data_json->>'connection_id' END, '') AS id2,
                           nullif(CASE WHEN typeof(ev.data_json->>'connector_instance_id') IN ('integer', 'real') THEN CAST(ev.data_json->>'connector_instance_id' AS TEXT) ELSE ev.data_json->>'connector_instance_id' END, '') AS id3,
                           coalesce(nullif(ev.connector_id, ''), nullif(CASE WHEN ev.source_kind = 'connector' THEN ev.source_id END, ''), nullif(CASE WHEN typeof(CASE WHEN ev.data_json->'source'->>'kind' = 'connector' THEN CASE WHEN typeof(ev.data_json->'source'->>'id') IN ('integer', 'real') THEN CAST(ev.data_json->'source'->>'id' AS TEXT) ELSE ev.data_json->'source'->>'id' END END) IN ('integer', 'real') THEN CAST(CASE WHEN ev.data_json->'source'->>'kind' = 'connector' THEN CASE WHEN typeof(ev.data_json->'source'->>'id') IN ('integer', 'real') THEN CAST(ev.data_json->'source'->>'id' AS TEXT) ELSE ev.data_json->'source'->>'id' END END AS TEXT) ELSE CASE WHEN ev.data_json->'source'->>'kind' = 'connector' THEN CASE WHEN typeof(ev.data_json->'source'->>'id') IN ('integer', 'real') THEN CAST(ev.data_json->'source'->>'id' AS TEXT) ELSE ev.data_json->'source'->>'id' END END END, ''), nullif(CASE WHEN typeof(ev.data_json->>'connector_id') IN ('integer', 'real') THEN CAST(ev.data_json->>'connector_id' AS TEXT) ELSE ev.data_json->>'connector_id' END, '')) AS connector
                      FROM spine_events AS ev WHERE ev.event_seq = NEW.event_seq) k) a
      LEFT JOIN connector_instances ci ON ci.connector_instance_id = a.cid
     WHERE true
     GROUP BY a.run_id, a.carried, ci.connector_instance_id, ci.created_at
    ON CONFLICT (run_id, event_seq) DO NOTHING;
    INSERT INTO pyref_dirty (connector_instance_id)
    SELECT DISTINCT f.connector_instance_id FROM pyref_run_facts f
     WHERE f.run_id = NEW.run_id AND f.connector_instance_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM pyref_dirty q WHERE q.connector_instance_id = f.connector_instance_id);
    INSERT INTO pyref_stale_runs (connector_instance_id, run_id)
    SELECT DISTINCT f.connector_instance_id, NEW.run_id FROM pyref_run_facts f
     WHERE f.run_id = NEW.run_id AND f.connector_instance_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM pyref_stale_runs t
                        WHERE t.connector_instance_id = f.connector_instance_id AND t.run_id = NEW.run_id);
END;

DELETE FROM pyref_runs;
INSERT INTO pyref_runs (run_id, connector_instance_id, status, started_at, completed_at, failure_reason, terminal_reason, surface_profile_key, surface_status, surface_wait_reason, collection_facts, known_gaps, settled_seq)
SELECT run_id, connector_instance_id, status, started_at, completed_at, failure_reason, terminal_reason, surface_profile_key, surface_status, surface_wait_reason, collection_facts, known_gaps, settled_seq
  FROM (SELECT m.run_id, m.connector_instance_id,
               CASE m.settle_type
                 WHEN 'run.completed' THEN coalesce(nullif(m.settle_status, ''), 'succeeded')
                 WHEN 'run.failed' THEN 'failed'
                 WHEN 'run.cancelled' THEN 'cancelled'
                 WHEN 'run.abandoned' THEN 'abandoned'
                 WHEN 'run.browser_surface_failed' THEN coalesce(nullif(m.settle_status, ''), 'surface_failed')
                 ELSE 'running' END AS status,
               coalesce(m.started_min, m.settled_at) AS started_at,
               m.settled_at AS completed_at,
               m.failure_reason, m.terminal_reason,
               m.surface_profile_key, m.surface_status, m.surface_wait_reason,
               m.collection_facts AS collection_facts, m.known_gaps AS known_gaps,
               m.settled_seq,
               coalesce(m.settled_at, m.started_min) AS order_at
          FROM (SELECT w.run_id, w.connector_instance_id,
                       min(CASE WHEN w.event_type = 'run.started' THEN w.occurred_at END) AS started_min,
                       max(CASE WHEN w.settle_rank = 1 THEN w.event_type END) AS settle_type,
                       max(CASE WHEN w.settle_rank = 1 THEN w.status END) AS settle_status,
                       max(CASE WHEN w.settle_rank = 1 THEN w.occurred_at END) AS settled_at,
                       max(CASE WHEN w.settle_rank = 1 THEN w.event_seq END) AS settled_seq,
                       max(CASE WHEN w.settle_rank = 1 THEN w.failure_reason END) AS failure_reason,
                       max(CASE WHEN w.settle_rank = 1 THEN w.terminal_reason END) AS terminal_reason,
                       max(CASE WHEN w.settle_rank = 1 THEN w.collection_facts END) AS collection_facts,
                       max(CASE WHEN w.settle_rank = 1 THEN w.known_gaps END) AS known_gaps,
                       max(CASE WHEN w.surface_rank = 1 THEN w.surface_profile_key END) AS surface_profile_key,
                       max(CASE WHEN w.surface_rank = 1 THEN w.surface_status END) AS surface_status,
                       max(CASE WHEN w.surface_rank = 1 THEN w.surface_wait_reason END) AS surface_wait_reason,
                       max(CASE WHEN w.event_type = 'run.started' OR w.terminal = 1 THEN 1 ELSE 0 END) AS exists_
                  FROM (SELECT x.*,
                               CASE WHEN x.terminal = 1 THEN row_number() OVER (
                                 PARTITION BY x.run_id, x.connector_instance_id, x.terminal
                                 ORDER BY x.occurred_at, x.event_seq) END AS settle_rank,
                               CASE WHEN coalesce(x.surface_profile_key, x.surface_status, x.surface_wait_reason) IS NOT NULL
                                    THEN row_number() OVER (
                                 PARTITION BY x.run_id, x.connector_instance_id,
                                              coalesce(x.surface_profile_key, x.surface_status, x.surface_wait_reason) IS NULL
                                 ORDER BY x.occurred_at DESC, x.event_seq DESC) END AS surface_rank
                          FROM (SELECT r.run_id, pci.connector_instance_id, r.event_seq, r.event_type, r.status,
                                       r.occurred_at, r.terminal, r.failure_reason, r.terminal_reason,
                                       r.collection_facts, r.known_gaps,
                                       r.surface_profile_key, r.surface_status, r.surface_wait_reason
                                  FROM (SELECT v.*,
                                               CASE WHEN v.carried = 1 THEN v.cid
                                                    WHEN v.any_carried = 1 THEN CASE WHEN v.ik_min = v.ik_max THEN v.ik_cid END
                                                    ELSE CASE WHEN v.sk_min = v.sk_max THEN v.sk_cid END END AS conn,
                                               CASE WHEN v.carried = 1 THEN v.born
                                                    WHEN v.any_carried = 1 THEN CASE WHEN v.ik_min = v.ik_max THEN v.ik_born END
                                                    ELSE CASE WHEN v.sk_min = v.sk_max THEN v.sk_born END END AS conn_born
                                          FROM (SELECT u.*,
                                                       max(u.carried) OVER per_run AS any_carried,
                                                       min(CASE WHEN u.carried = 1 THEN u.key_ END) OVER per_run AS ik_min,
                                                       max(CASE WHEN u.carried = 1 THEN u.key_ END) OVER per_run AS ik_max,
                                                       min(CASE WHEN u.carried = 1 THEN u.cid END) OVER per_run AS ik_cid,
                                                       min(CASE WHEN u.carried = 1 THEN u.born END) OVER per_run AS ik_born,
                                                       min(CASE WHEN u.carried = 0 THEN u.key_ END) OVER per_run AS sk_min,
                                                       max(CASE WHEN u.carried = 0 THEN u.key_ END) OVER per_run AS sk_max,
                                                       min(CASE WHEN u.carried = 0 THEN u.cid END) OVER per_run AS sk_cid,
                                                       min(CASE WHEN u.carried = 0 THEN u.born END) OVER per_run AS sk_born
                                                  FROM (SELECT f.run_id, fs.value AS event_seq,
                                                               CASE WHEN f.carried THEN 1 ELSE 0 END AS carried,
                                                               f.connector_instance_id AS cid, f.connection_created_at AS born,
                                                               f.connector_instance_id || '|' || f.connection_created_at AS key_,
                                                               e.event_type, e.status, e.occurred_at,
                                                               CASE WHEN e.event_type IN ('run.completed', 'run.failed', 'run.cancelled', 'run.abandoned', 'run.browser_surface_failed') THEN 1 ELSE 0 END AS terminal,
                                                               nullif(CASE WHEN typeof(e.data_json->>'failure_reason') IN ('integer', 'real') THEN CAST(e.data_json->>'failure_reason' AS TEXT) ELSE e.data_json->>'failure_reason' END, '') AS failure_reason,
                                                               coalesce(nullif(CASE WHEN typeof(e.data_json->>'terminal_reason') IN ('integer', 'real') THEN CAST(e.data_json->>'terminal_reason' AS TEXT) ELSE e.data_json->>'terminal_reason' END, ''), nullif(CASE WHEN typeof(e.data_json->>'reason') IN ('integer', 'real') THEN CAST(e.data_json->>'reason' AS TEXT) ELSE e.data_json->>'reason' END, '')) AS terminal_reason,
                                                               CASE WHEN json_type(e.data_json->'collection_facts'->'streams') = 'array'
                                                                    THEN json(e.data_json->'collection_facts'->'streams') END AS collection_facts,
                                                               CASE WHEN json_type(e.data_json->'known_gaps') = 'array'
                                                                    THEN json(e.data_json->'known_gaps') END AS known_gaps,
                                                               coalesce(nullif(CASE WHEN typeof(e.data_json->'browser_surface'->>'browser_surface_profile_key') IN ('integer', 'real') THEN CAST(e.data_json->'browser_surface'->>'browser_surface_profile_key' AS TEXT) ELSE e.data_json->'browser_surface'->>'browser_surface_profile_key' END, ''), nullif(CASE WHEN typeof(e.data_json->'browser_surface'->>'profile_key') IN ('integer', 'real') THEN CAST(e.data_json->'browser_surface'->>'profile_key' AS TEXT) ELSE e.data_json->'browser_surface'->>'profile_key' END, ''), nullif(CASE WHEN typeof(e.data_json->>'browser_surface_profile_key') IN ('integer', 'real') THEN CAST(e.data_json->>'browser_surface_profile_key' AS TEXT) ELSE e.data_json->>'browser_surface_profile_key' END, '')) AS surface_profile_key,
                                                               coalesce(nullif(CASE WHEN typeof(e.data_json->'browser_surface'->>'browser_surface_status') IN ('integer', 'real') THEN CAST(e.data_json->'browser_surface'->>'browser_surface_status' AS TEXT) ELSE e.data_json->'browser_surface'->>'browser_surface_status' END, ''), nullif(CASE WHEN typeof(e.data_json->'browser_surface'->>'status') IN ('integer', 'real') THEN CAST(e.data_json->'browser_surface'->>'status' AS TEXT) ELSE e.data_json->'browser_surface'->>'status' END, ''), nullif(CASE WHEN typeof(e.data_json->>'browser_surface_status') IN ('integer', 'real') THEN CAST(e.data_json->>'browser_surface_status' AS TEXT) ELSE e.data_json->>'browser_surface_status' END, '')) AS surface_status,
                                                               coalesce(nullif(CASE WHEN typeof(e.data_json->'browser_surface'->>'browser_surface_wait_reason') IN ('integer', 'real') THEN CAST(e.data_json->'browser_surface'->>'browser_surface_wait_reason' AS TEXT) ELSE e.data_json->'browser_surface'->>'browser_surface_wait_reason' END, ''), nullif(CASE WHEN typeof(e.data_json->'browser_surface'->>'wait_reason') IN ('integer', 'real') THEN CAST(e.data_json->'browser_surface'->>'wait_reason' AS TEXT) ELSE e.data_json->'browser_surface'->>'wait_reason' END, ''), nullif(CASE WHEN typeof(e.data_json->>'browser_surface_wait_reason') IN ('integer', 'real') THEN CAST(e.data_json->>'browser_surface_wait_reason' AS TEXT) ELSE e.data_json->>'browser_surface_wait_reason' END, '')) AS surface_wait_reason
                                                          FROM pyref_run_facts f
                                                         CROSS JOIN json_each(f.event_seqs) AS fs
                                                          JOIN spine_events e ON e.event_seq = fs.value
                                                         WHERE true) u
                                                WINDOW per_run AS (PARTITION BY u.run_id)) v) r
                                  JOIN connector_instances pci
                                    ON pci.connector_instance_id = r.conn AND pci.created_at = r.conn_born
                                 WHERE true) x) w
                 GROUP BY w.run_id, w.connector_instance_id) m
         WHERE m.exists_ = 1) p;
INSERT INTO pyref_evidence AS e (connector_instance_id, expected_profile_key, stream_stats, latest_run, latest_successful_run, latest_settled_run, failures_since_success, stream_facts, gap_counts, schedule, open_attention,
                                 state, computed_at, revision, last_error)
SELECT s.connector_instance_id, s.expected_profile_key, s.stream_stats, s.latest_run, s.latest_successful_run, s.latest_settled_run, s.failures_since_success, s.stream_facts, s.gap_counts, s.schedule, s.open_attention, 'ok', strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'), 1, NULL
  FROM pyref_evidence_source s
 WHERE true
ON CONFLICT (connector_instance_id) DO UPDATE SET
  expected_profile_key = excluded.expected_profile_key,
  stream_stats = excluded.stream_stats,
  latest_run = excluded.latest_run,
  latest_successful_run = excluded.latest_successful_run,
  latest_settled_run = excluded.latest_settled_run,
  failures_since_success = excluded.failures_since_success,
  stream_facts = excluded.stream_facts,
  gap_counts = excluded.gap_counts,
  schedule = excluded.schedule,
  open_attention = excluded.open_attention,
  state = 'ok', computed_at = excluded.computed_at, revision = e.revision + 1, last_error = NULL;
