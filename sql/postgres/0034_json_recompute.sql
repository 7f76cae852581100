-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.
-- depends: 0033_stored_facts
-- pyreference 0034: the readers' recompute returns the documents it keeps as they are stored
-- (issue #15). `pyref_recompute_evidence_v1` returns pyref_evidence_source's rows, whose
-- documents are jsonb: every document it keeps from a connection's stored row (the stream
-- statistics, latest runs and stream facts of a row whose marks kept them: 0029, 0032,
-- 0033) is parsed from its stored json text into jsonb and printed back to the same text
-- for the reader. For 100 schedule-marked rows that was more than half of the statement
-- (13.5 -> 6.3 ms measured on 10,000 connections; the five stored documents alone: 0.8 ms
-- read as json, 5.2 ms as jsonb). `pyref_recompute_evidence_v2` is the same recompute
-- (same rows, same owner rule: the one `pyref.owner` names, same values) returning the
-- documents as json: the kept ones as stored, the computed ones converted (the text a jsonb
-- prints, which is what the evidence refresh stores). This library's reads call v2 where
-- the reading role may execute it, else v1, which stays as it was for older libraries.
-- Every role that may execute v1 is given v2 here (with the grant option where it has it);
-- `pyreference grants` gives both.
CREATE OR REPLACE FUNCTION pyref_recompute_evidence_v2(p_ids text[])
RETURNS TABLE (connector_instance_id text, expected_profile_key text, stream_stats json, latest_run json,
    latest_successful_run json, latest_settled_run json, failures_since_success bigint, stream_facts json,
    gap_counts json, schedule json, open_attention json)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    -- (the stored rows are read only for connections the final filter keeps: the owner's)
    WITH stale AS MATERIALIZED (
      SELECT ss.connector_instance_id, ss.run_id FROM pyref_stale_runs ss
       WHERE ss.connector_instance_id = ANY(p_ids)
      UNION ALL
      SELECT mf.connector_instance_id, mu.run_id
        FROM pyref_dirty_runs rm
       CROSS JOIN LATERAL unnest(rm.run_ids) AS mu(run_id)
        JOIN pyref_run_facts mf ON mf.run_id = mu.run_id
       WHERE mf.connector_instance_id = ANY(p_ids)
    ), delta AS MATERIALIZED (
      SELECT m.run_id, m.connector_instance_id,
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
             (m.collection_facts)::jsonb AS collection_facts, (m.known_gaps)::jsonb AS known_gaps,
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
                                                             f.connector_instance_id || '|' || f.connection_created_at::text AS key_,
                                                             e.event_type, e.status, e.occurred_at,
                                                             CASE WHEN e.event_type IN ('run.completed', 'run.failed', 'run.cancelled', 'run.abandoned', 'run.browser_surface_failed') THEN 1 ELSE 0 END AS terminal,
                                                             nullif((CASE jsonb_typeof(e.data_json->'failure_reason') WHEN 'string' THEN e.data_json->>'failure_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'failure_reason')::float8) < 9007199254740992 AND (e.data_json->'failure_reason')::float8 = trunc((e.data_json->'failure_reason')::float8)
                                                         THEN ((e.data_json->'failure_reason')::float8)::bigint::text END END), '') AS failure_reason,
                                                             coalesce(nullif((CASE jsonb_typeof(e.data_json->'terminal_reason') WHEN 'string' THEN e.data_json->>'terminal_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'terminal_reason')::float8) < 9007199254740992 AND (e.data_json->'terminal_reason')::float8 = trunc((e.data_json->'terminal_reason')::float8)
                                                         THEN ((e.data_json->'terminal_reason')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'reason') WHEN 'string' THEN e.data_json->>'reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'reason')::float8) < 9007199254740992 AND (e.data_json->'reason')::float8 = trunc((e.data_json->'reason')::float8)
                                                         THEN ((e.data_json->'reason')::float8)::bigint::text END END), '')) AS terminal_reason,
                                                             CASE WHEN jsonb_typeof(e.data_json->'collection_facts'->'streams') = 'array'
                                                                  THEN (e.data_json->'collection_facts'->'streams')::text END AS collection_facts,
                                                             CASE WHEN jsonb_typeof(e.data_json->'known_gaps') = 'array'
                                                                  THEN (e.data_json->'known_gaps')::text END AS known_gaps,
                                                             coalesce(nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'browser_surface_profile_key') WHEN 'string' THEN e.data_json->'browser_surface'->>'browser_surface_profile_key'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'browser_surface_profile_key')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'browser_surface_profile_key')::float8 = trunc((e.data_json->'browser_surface'->'browser_surface_profile_key')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'browser_surface_profile_key')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'profile_key') WHEN 'string' THEN e.data_json->'browser_surface'->>'profile_key'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'profile_key')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'profile_key')::float8 = trunc((e.data_json->'browser_surface'->'profile_key')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'profile_key')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface_profile_key') WHEN 'string' THEN e.data_json->>'browser_surface_profile_key'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface_profile_key')::float8) < 9007199254740992 AND (e.data_json->'browser_surface_profile_key')::float8 = trunc((e.data_json->'browser_surface_profile_key')::float8)
                                                         THEN ((e.data_json->'browser_surface_profile_key')::float8)::bigint::text END END), '')) AS surface_profile_key,
                                                             coalesce(nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'browser_surface_status') WHEN 'string' THEN e.data_json->'browser_surface'->>'browser_surface_status'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'browser_surface_status')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'browser_surface_status')::float8 = trunc((e.data_json->'browser_surface'->'browser_surface_status')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'browser_surface_status')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'status') WHEN 'string' THEN e.data_json->'browser_surface'->>'status'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'status')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'status')::float8 = trunc((e.data_json->'browser_surface'->'status')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'status')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface_status') WHEN 'string' THEN e.data_json->>'browser_surface_status'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface_status')::float8) < 9007199254740992 AND (e.data_json->'browser_surface_status')::float8 = trunc((e.data_json->'browser_surface_status')::float8)
                                                         THEN ((e.data_json->'browser_surface_status')::float8)::bigint::text END END), '')) AS surface_status,
                                                             coalesce(nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'browser_surface_wait_reason') WHEN 'string' THEN e.data_json->'browser_surface'->>'browser_surface_wait_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'browser_surface_wait_reason')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'browser_surface_wait_reason')::float8 = trunc((e.data_json->'browser_surface'->'browser_surface_wait_reason')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'browser_surface_wait_reason')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface'->'wait_reason') WHEN 'string' THEN e.data_json->'browser_surface'->>'wait_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface'->'wait_reason')::float8) < 9007199254740992 AND (e.data_json->'browser_surface'->'wait_reason')::float8 = trunc((e.data_json->'browser_surface'->'wait_reason')::float8)
                                                         THEN ((e.data_json->'browser_surface'->'wait_reason')::float8)::bigint::text END END), ''), nullif((CASE jsonb_typeof(e.data_json->'browser_surface_wait_reason') WHEN 'string' THEN e.data_json->>'browser_surface_wait_reason'
                                 WHEN 'number' THEN CASE WHEN abs((e.data_json->'browser_surface_wait_reason')::float8) < 9007199254740992 AND (e.data_json->'browser_surface_wait_reason')::float8 = trunc((e.data_json->'browser_surface_wait_reason')::float8)
                                                         THEN ((e.data_json->'browser_surface_wait_reason')::float8)::bigint::text END END), '')) AS surface_wait_reason
                                                        FROM pyref_run_facts f
                                                       CROSS JOIN unnest(f.event_seqs) AS fs(value)
                                                        JOIN spine_events e ON e.event_seq = fs.value
                                                       WHERE f.run_id IN (SELECT sr.run_id FROM stale sr WHERE sr.run_id IS NOT NULL
                                           UNION
                                           SELECT nf.run_id FROM pyref_run_facts nf
                                             JOIN stale sa ON sa.run_id IS NULL AND nf.connector_instance_id = sa.connector_instance_id)) u
                                              WINDOW per_run AS (PARTITION BY u.run_id)) v) r
                                JOIN connector_instances pci
                                  ON pci.connector_instance_id = r.conn AND pci.created_at = r.conn_born
                               WHERE (pci.connector_instance_id = ANY (p_ids) AND pci.owner_subject_id = pg_catalog.current_setting('pyref.owner', true)) AND ((pci.connector_instance_id, r.run_id) IN (SELECT sh.connector_instance_id, sh.run_id FROM stale sh WHERE sh.run_id IS NOT NULL)
                               OR pci.connector_instance_id IN (SELECT sw.connector_instance_id FROM stale sw WHERE sw.run_id IS NULL))) x) w
               GROUP BY w.run_id, w.connector_instance_id) m
       WHERE m.exists_ = 1
    ), fresh_runs AS NOT MATERIALIZED (
      SELECT u.run_id, u.connector_instance_id, u.status, u.started_at, u.completed_at, u.failure_reason, u.terminal_reason, u.surface_profile_key, u.surface_status, u.surface_wait_reason, u.collection_facts, u.known_gaps, u.settled_seq, u.order_at
        FROM (SELECT kr.run_id, kr.connector_instance_id, kr.status, kr.started_at, kr.completed_at, kr.failure_reason, kr.terminal_reason, kr.surface_profile_key, kr.surface_status, kr.surface_wait_reason, kr.collection_facts, kr.known_gaps, kr.settled_seq, kr.order_at,
                     CASE WHEN ((kr.connector_instance_id, kr.run_id) IN (SELECT sh.connector_instance_id, sh.run_id FROM stale sh WHERE sh.run_id IS NOT NULL)
       OR kr.connector_instance_id IN (SELECT sw.connector_instance_id FROM stale sw WHERE sw.run_id IS NULL)) THEN 1 ELSE 0 END AS stale_
                FROM pyref_runs kr
              UNION ALL
              SELECT dl.run_id, dl.connector_instance_id, dl.status, dl.started_at, dl.completed_at, dl.failure_reason, dl.terminal_reason, dl.surface_profile_key, dl.surface_status, dl.surface_wait_reason, dl.collection_facts, dl.known_gaps, dl.settled_seq, dl.order_at, 0 AS stale_ FROM delta dl) u
       WHERE u.stale_ = 0
    )
    SELECT s.* FROM (SELECT
                      ci.connector_instance_id,
                      CASE WHEN ci.connector_instance_id = ci.connector_id THEN g.profile_base
                         ELSE g.profile_base || ':' || ci.connector_instance_id END AS expected_profile_key,
                      CASE WHEN EXISTS (SELECT 1 FROM pyref_evidence se
                                       WHERE se.connector_instance_id = ci.connector_instance_id AND se.state = 'ok')
                              AND NOT EXISTS (SELECT 1 FROM pyref_dirty sq
                                               WHERE sq.connector_instance_id = ci.connector_instance_id AND NOT sq.runs_only)
                              AND NOT EXISTS (SELECT 1 FROM pyref_record_deltas sy WHERE sy.connector_instance_id = ci.connector_instance_id)
                         THEN (SELECT sv.stream_stats FROM pyref_evidence sv WHERE sv.connector_instance_id = ci.connector_instance_id)
                         WHEN EXISTS (SELECT 1 FROM pyref_evidence se
                                       WHERE se.connector_instance_id = ci.connector_instance_id AND se.state = 'ok')
                              AND NOT EXISTS (SELECT 1 FROM pyref_dirty sq
                                               WHERE sq.connector_instance_id = ci.connector_instance_id AND NOT sq.runs_only)
                         THEN ((SELECT coalesce(jsonb_agg(jsonb_build_object('stream', s.stream, 'live', s.live, 'rows', s.n, 'bytes', s.bytes, 'last_record_at', s.last_at) ORDER BY s.stream COLLATE "C"), '[]'::jsonb)
                                 FROM (SELECT u.stream, sum(u.live) AS live, sum(u.n) AS n, sum(u.bytes) AS bytes,
                                              max(u.last_at COLLATE "C") AS last_at
                                         FROM (SELECT x.value->>'stream' AS stream, (x.value->>'live')::bigint AS live,
                                                      (x.value->>'rows')::bigint AS n, (x.value->>'bytes')::bigint AS bytes,
                                                      x.value->>'last_record_at' AS last_at
                                                 FROM pyref_evidence xe, json_array_elements(xe.stream_stats::json) x
                                                WHERE xe.connector_instance_id = ci.connector_instance_id
                                               UNION ALL
                                               SELECT y.stream, y.live, y.n, y.bytes, pyref_iso(y.last_at)
                                                 FROM pyref_record_deltas y
                                                WHERE y.connector_instance_id = ci.connector_instance_id) u
                                        GROUP BY u.stream) s))::json
                         ELSE ((SELECT coalesce(jsonb_agg(jsonb_build_object('stream', s.stream, 'live', s.live, 'rows', s.n, 'bytes', s.bytes, 'last_record_at', s.last_at) ORDER BY s.stream COLLATE "C"), '[]'::jsonb)
                                   FROM (SELECT r.stream,
                                                count(*) FILTER (WHERE NOT r.deleted) AS live,
                                                count(*) AS n,
                                                coalesce(sum(octet_length(r.record_json::text)) FILTER (WHERE NOT r.deleted), 0) AS bytes,
                                                pyref_iso(max(r.emitted_at) FILTER (WHERE NOT r.deleted)) AS last_at
                                           FROM records r
                                          WHERE r.connector_instance_id = ci.connector_instance_id
                                          GROUP BY r.stream ORDER BY r.stream COLLATE "C") s))::json
                    END AS stream_stats,
                      CASE WHEN kr.connector_instance_id IS NOT NULL THEN kr.latest_run
                         ELSE ((SELECT jsonb_build_object('run_id', r.run_id, 'status', r.status,
                                'started_at', pyref_iso(r.started_at), 'finished_at', pyref_iso(r.completed_at),
                                'failure_reason', r.failure_reason, 'terminal_reason', r.terminal_reason,
                                'surface_profile_key', r.surface_profile_key, 'surface_status', r.surface_status,
                                'surface_wait_reason', r.surface_wait_reason,
                                'collection_facts', r.collection_facts,
                                'known_gaps', r.known_gaps) FROM fresh_runs r
                                WHERE r.connector_instance_id = ci.connector_instance_id
                                ORDER BY r.order_at DESC, r.run_id COLLATE "C" DESC LIMIT 1))::json END AS latest_run,
                      CASE WHEN kr.connector_instance_id IS NOT NULL THEN kr.latest_successful_run
                         ELSE ((SELECT jsonb_build_object('run_id', r.run_id, 'status', r.status,
                                'started_at', pyref_iso(r.started_at), 'finished_at', pyref_iso(r.completed_at),
                                'failure_reason', r.failure_reason, 'terminal_reason', r.terminal_reason,
                                'surface_profile_key', r.surface_profile_key, 'surface_status', r.surface_status,
                                'surface_wait_reason', r.surface_wait_reason,
                                'collection_facts', r.collection_facts,
                                'known_gaps', r.known_gaps) FROM fresh_runs r
                                WHERE r.connector_instance_id = ci.connector_instance_id AND r.status = 'succeeded'
                                ORDER BY r.order_at DESC, r.run_id COLLATE "C" DESC LIMIT 1))::json END AS latest_successful_run,
                      CASE WHEN kr.connector_instance_id IS NOT NULL THEN kr.latest_settled_run
                         ELSE ((SELECT jsonb_build_object('run_id', r.run_id, 'status', r.status,
                                'started_at', pyref_iso(r.started_at), 'finished_at', pyref_iso(r.completed_at),
                                'failure_reason', r.failure_reason, 'terminal_reason', r.terminal_reason,
                                'surface_profile_key', r.surface_profile_key, 'surface_status', r.surface_status,
                                'surface_wait_reason', r.surface_wait_reason,
                                'collection_facts', r.collection_facts,
                                'known_gaps', r.known_gaps) FROM fresh_runs r
                                WHERE r.connector_instance_id = ci.connector_instance_id AND r.settled_seq IS NOT NULL AND r.status <> 'skipped'
                                ORDER BY r.order_at DESC, r.run_id COLLATE "C" DESC LIMIT 1))::json END AS latest_settled_run,
                      CASE WHEN kr.connector_instance_id IS NOT NULL THEN kr.failures_since_success
                         ELSE (SELECT count(*) FROM fresh_runs r
                                  WHERE r.connector_instance_id = ci.connector_instance_id AND r.status = 'failed'
                                    AND NOT EXISTS (SELECT 1 FROM fresh_runs s
                                                     WHERE s.connector_instance_id = r.connector_instance_id
                                                       AND s.status = 'succeeded' AND s.order_at >= r.order_at)) END AS failures_since_success,CASE WHEN kr.connector_instance_id IS NOT NULL THEN kr.stream_facts
                         WHEN kf.connector_instance_id IS NOT NULL THEN kf.stream_facts
                         ELSE ((SELECT coalesce(jsonb_agg(jsonb_build_object('stream', x.value->>'stream', 'checkpoint', CASE WHEN jsonb_typeof(x.value->'checkpoint') = 'string' THEN nullif(x.value->>'checkpoint', '') END, 'collected', x.value->'collected', 'considered', x.value->'considered', 'covered', x.value->'covered', 'pending_detail_gaps', x.value->'pending_detail_gaps', 'skipped', x.value->'skipped', 'run_id', x.run_id, 'finished_at', pyref_iso(x.completed_at)) ORDER BY x.stream COLLATE "C"), '[]'::jsonb)
                                   FROM (SELECT e.value->>'stream' AS stream, e.value, r.run_id, r.completed_at,
                                                row_number() OVER (
                                                  PARTITION BY e.value->>'stream'
                                                  ORDER BY CASE WHEN e.value->>'checkpoint' IN ('committed', 'disabled') THEN 0 ELSE 1 END,
                                                           r.order_at DESC, r.run_id COLLATE "C" DESC, e.ord DESC) AS rn
                                           FROM fresh_runs r, jsonb_array_elements(r.collection_facts) WITH ORDINALITY AS e(value, ord)
                                          WHERE r.connector_instance_id = ci.connector_instance_id
                                            AND r.collection_facts IS NOT NULL AND r.settled_seq IS NOT NULL
                                            -- (a CASE, so no JSON function ever reads an element that is no object)
                                            AND CASE WHEN jsonb_typeof(e.value) = 'object'
                                                     THEN CASE WHEN jsonb_typeof(e.value->'stream') = 'string' THEN nullif(e.value->>'stream', '') END END IS NOT NULL) x
                                  WHERE x.rn = 1))::json END AS stream_facts,((SELECT coalesce(jsonb_agg(jsonb_build_object('stream', gs.stream, 'pending', gs.pending, 'in_progress', gs.in_progress, 'terminal', gs.terminal) ORDER BY gs.stream COLLATE "C"), '[]'::jsonb)
                         FROM (SELECT dg.stream,
                                      (SELECT coalesce(jsonb_agg(jsonb_build_object('after', p.after, 'reason', p.reason, 'n', p.n) ORDER BY p.after IS NOT NULL, p.after COLLATE "C", p.reason IS NOT NULL, p.reason COLLATE "C"), '[]'::jsonb)
                                         FROM (SELECT pyref_iso(pg.next_attempt_after) AS after, pg.reason, count(*) AS n
                                                 FROM connector_detail_gaps pg
                                                WHERE pg.connector_instance_id = ci.connector_instance_id
                                                  AND pg.stream = dg.stream AND pg.status = 'pending'
                                                GROUP BY pg.next_attempt_after, pg.reason
                                                ORDER BY pg.next_attempt_after IS NOT NULL, pg.next_attempt_after,
                                                         pg.reason IS NOT NULL, pg.reason COLLATE "C") p) AS pending,
                                      count(*) FILTER (WHERE dg.status = 'in_progress') AS in_progress,
                                      count(*) FILTER (WHERE dg.status = 'terminal') AS terminal
                                 FROM connector_detail_gaps dg
                                WHERE dg.connector_instance_id = ci.connector_instance_id
                                  AND dg.status IN ('pending', 'in_progress', 'terminal')
                                GROUP BY dg.stream ORDER BY dg.stream COLLATE "C") gs))::json AS gap_counts,
                      ((SELECT jsonb_build_object('interval_seconds', cs.interval_seconds, 'enabled', cs.enabled,
                                            'consecutive_failures', cs.consecutive_failures,
                                            'next_run_at', pyref_iso(cs.next_run_at))
                         FROM connector_schedules cs
                        WHERE cs.connector_instance_id = ci.connector_instance_id))::json AS schedule,
                      ((SELECT coalesce(jsonb_agg(jsonb_build_object('attention_id', a.attention_id, 'reason_code', a.reason_code, 'owner_action', a.owner_action, 'lifecycle', a.lifecycle, 'response_required', a.response_required, 'expires_at', a.expires_at, 'created_at', a.created_at) ORDER BY a.created_at, a.attention_id COLLATE "C"), '[]'::jsonb)
                         FROM (SELECT ar.attention_id, ar.reason_code, ar.owner_action, ar.lifecycle, ar.response_required,
                                      pyref_iso(ar.expires_at) AS expires_at, pyref_iso(ar.created_at) AS created_at
                                 FROM connector_attention_records ar
                                WHERE ar.connector_instance_id = ci.connector_instance_id
                                  AND ar.lifecycle IN ('open', 'acknowledged', 'in_progress')
                                ORDER BY ar.created_at, ar.attention_id COLLATE "C") a))::json AS open_attention
                    FROM connector_instances ci
                    JOIN pyref_connector_digest g ON g.connector_id = ci.connector_id
                    LEFT JOIN LATERAL (SELECT se.connector_instance_id, se.failures_since_success,
                                              se.latest_run AS latest_run,
                                              se.latest_successful_run AS latest_successful_run,
                                              se.latest_settled_run AS latest_settled_run,
                                              se.stream_facts AS stream_facts
                                         FROM pyref_evidence se
                                        WHERE se.connector_instance_id = ci.connector_instance_id
                                          AND se.state = 'ok'
                                          AND NOT EXISTS (SELECT 1 FROM pyref_dirty sq
                                                           WHERE sq.connector_instance_id = se.connector_instance_id AND NOT sq.keeps_runs)
                                          AND se.connector_instance_id NOT IN (SELECT st.connector_instance_id FROM stale st
                                                                                WHERE st.connector_instance_id IS NOT NULL)) kr ON true
                    LEFT JOIN LATERAL (SELECT se.connector_instance_id, se.stream_facts AS stream_facts
                                         FROM pyref_evidence se
                                        WHERE se.connector_instance_id = ci.connector_instance_id
                                          AND se.state = 'ok'
                                          AND NOT EXISTS (SELECT 1 FROM pyref_dirty sq
                                                           WHERE sq.connector_instance_id = se.connector_instance_id
                                                             AND NOT sq.keeps_runs AND NOT sq.runs_only)
                                          AND se.connector_instance_id NOT IN (
                                                -- (one hashed set: the connections of the stale runs that bear on stream facts)
                                                SELECT st.connector_instance_id FROM stale st
                                                 WHERE st.run_id IS NULL AND st.connector_instance_id IS NOT NULL
                                                UNION ALL
                                                SELECT sr.connector_instance_id
                                                  FROM stale st
                                                  JOIN pyref_runs sr ON sr.run_id = st.run_id AND sr.connector_instance_id = st.connector_instance_id
                                                 WHERE sr.collection_facts IS NOT NULL AND sr.settled_seq IS NOT NULL
                                                UNION ALL
                                                SELECT sd.connector_instance_id FROM delta sd
                                                 WHERE sd.collection_facts IS NOT NULL AND sd.settled_seq IS NOT NULL
                                                   AND sd.connector_instance_id IS NOT NULL)) kf ON true) s
     WHERE s.connector_instance_id = ANY (p_ids)
       AND s.connector_instance_id IN (SELECT ci.connector_instance_id FROM connector_instances ci
                                        WHERE ci.connector_instance_id = ANY (p_ids) AND ci.owner_subject_id = pg_catalog.current_setting('pyref.owner', true));
END
$$;

-- Seal every pyref_ function (the convention in sql/templates/_dialect.sql.j2), JIT off.
DO $$
DECLARE
    v_schema text := pg_catalog.current_schema();
    v_routine regprocedure;
BEGIN
    IF pg_catalog.to_regclass(pg_catalog.format('%I.pyref_evidence', v_schema)) IS NULL THEN
        RAISE EXCEPTION 'pyreference is not installed in schema "%" (the first schema on search_path)', v_schema
            USING HINT = 'migrate with the search_path pyreference was installed with';
    END IF;
    FOR v_routine IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = pg_catalog.quote_ident(v_schema)::regnamespace AND p.proname LIKE 'pyref\_%' AND p.prokind IN ('f', 'p')
           AND p.proname <> ALL (ARRAY['pyref_iso'])
    LOOP
        EXECUTE pg_catalog.format('ALTER ROUTINE %s SECURITY DEFINER SET search_path = pg_catalog, %I, pg_temp SET jit = off',
                                  v_routine, v_schema);
        EXECUTE pg_catalog.format('REVOKE ALL ON ROUTINE %s FROM PUBLIC', v_routine);
    END LOOP;
END
$$;

DO $$
DECLARE
    v_grant record;
BEGIN
    FOR v_grant IN
        SELECT a.grantee::regrole AS grantee, a.is_grantable
          FROM pg_catalog.pg_proc p
         CROSS JOIN LATERAL pg_catalog.aclexplode(p.proacl) a
         WHERE p.oid = 'pyref_recompute_evidence_v1(text[])'::pg_catalog.regprocedure
           AND a.privilege_type = 'EXECUTE' AND a.grantee NOT IN (0, p.proowner)
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION pyref_recompute_evidence_v2(text[]) TO %s%s',
                                  v_grant.grantee,
                                  CASE WHEN v_grant.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END
$$;
