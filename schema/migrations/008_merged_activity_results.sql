-- durastate schema, version 8: the results of one instance's activities acknowledged in one group
-- commit are enqueued as ONE orchestrator message of kind 'activityResults', payload
-- { "results": [{ "kind": "activityCompleted" | "activityFailed", "payload": {...} }, ...] } in ack
-- order, instead of one message each. A fan-out's results reach its instance in groups (the worker
-- runs a fetched batch and acks it together), and each queued message cost an insert into the queue
-- and its three indexes, a mark when it was handed out, a delete when its turn committed, and its
-- own entry in the fetch's reply: a third of the database's work per fan-out activity. The engine
-- applies a group as its results one by one, in order, each recorded in history as if it had come
-- alone, so histories, replays and every check on them are unchanged.
-- Only the set-based part of the batch merges (the usual acks: live lock, no dead letter), only
-- plain results (no visibleAt, no timerId), only of the same instance and execution, and at most
-- 100 per message, which bounds its size. A lone result is enqueued as before.

ALTER TABLE orchestrator_queue DROP CONSTRAINT orchestrator_queue_kind_check;
ALTER TABLE orchestrator_queue ADD CONSTRAINT orchestrator_queue_kind_check
  CHECK (kind IN ('start', 'event', 'activityCompleted', 'activityFailed', 'activityResults', 'timerFired',
                  'childCompleted', 'childFailed', 'terminate', 'suspend', 'resume'));

-- As version 1 left it, but for the statement marked "Version 8". Its SET clauses are version 2's.
CREATE OR REPLACE FUNCTION ack_work_items(p_acks jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT
SET plan_cache_mode = force_generic_plan SET jit = off SET enable_seqscan = off AS $$
DECLARE
  v_count integer := jsonb_array_length(p_acks);
  v_results jsonb[] := array_fill(NULL::jsonb, ARRAY[v_count]);
  v_clock bigint := ds_now(NULL);
  v_done integer[];
  v_n integer;
  v_visible bigint;
  a jsonb;
  v_code text; v_message text; v_detail text; v_constraint text;
BEGIN
  PERFORM ds_defer_notify();
  BEGIN
    WITH entries AS (
      SELECT t.n::integer AS n, (t.x->>'token')::uuid AS token, coalesce((t.x->>'now')::bigint, v_clock) AS now,
             t.x->'result' AS result, t.x->>'deadLetterReason' AS dead_letter_reason,
             row_number() OVER (PARTITION BY t.x->>'token' ORDER BY t.n) AS nth
      FROM jsonb_array_elements(p_acks) WITH ORDINALITY AS t(x, n)
    ), consumed AS (
      DELETE FROM worker_queue w USING entries e
      WHERE e.nth = 1 AND e.dead_letter_reason IS NULL AND e.result->>'kind' IS DISTINCT FROM 'start'
        AND w.lock_token = e.token AND w.locked_until > e.now
      RETURNING e.n, e.now, e.result
    ), ranked AS (
      -- Version 8: a plain result's group is its instance, execution and hundred; a group of one, or
      -- any other message, is enqueued alone. Only real groups are aggregated: an ordered aggregate
      -- over a lone row copied its payload twice (a fan-out batch's 25 results: 0.2 ms per ack).
      SELECT c.n, c.now, c.result, m.mergeable, row_number() OVER w AS nth, count(*) OVER w AS size
      FROM consumed c
      CROSS JOIN LATERAL (SELECT c.result->>'kind' IN ('activityCompleted', 'activityFailed')
                                 AND c.result->>'visibleAt' IS NULL AND c.result->>'timerId' IS NULL AS mergeable) m
      WINDOW w AS (PARTITION BY m.mergeable, c.result->>'instanceId', c.result->>'executionId' ORDER BY c.n
                   ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
    ), keyed AS (
      SELECT r.n, r.now, r.result, (r.nth - 1) / 100 AS hundred,
             NOT r.mergeable OR least(100, r.size - 100 * ((r.nth - 1) / 100)) = 1 AS alone
      FROM ranked r
    ), enqueued AS (
      INSERT INTO orchestrator_queue (instance_id, kind, payload, execution_id, timer_id, enqueued_at, visible_at)
      SELECT x.instance_id, x.kind, x.payload, x.execution_id, x.timer_id, x.now, x.visible_at FROM (
        SELECT k.n, k.result->>'instanceId' AS instance_id, k.result->>'kind' AS kind, k.result->'payload' AS payload,
               (k.result->>'executionId')::integer AS execution_id, k.result->>'timerId' AS timer_id, k.now,
               coalesce((k.result->>'visibleAt')::bigint, k.now) AS visible_at
        FROM keyed k WHERE k.alone
        UNION ALL
        SELECT min(k.n), min(k.result->>'instanceId'), 'activityResults',
               jsonb_build_object('results', jsonb_agg(jsonb_build_object('kind', k.result->'kind', 'payload', k.result->'payload') ORDER BY k.n)),
               min((k.result->>'executionId')::integer), NULL, min(k.now), min(k.now)
        FROM keyed k WHERE NOT k.alone
        GROUP BY k.result->>'instanceId', k.result->>'executionId', k.hundred
      ) x ORDER BY x.n
      RETURNING visible_at
    )
    SELECT (SELECT array_agg(c.n) FROM consumed c), (SELECT min(q.visible_at) FROM enqueued q)
    INTO v_done, v_visible;
    PERFORM ds_notify('orchestrator', v_visible);
    FOREACH v_n IN ARRAY coalesce(v_done, '{}') LOOP
      v_results[v_n] := '{}';
    END LOOP;
  EXCEPTION WHEN OTHERS THEN
    v_results := array_fill(NULL::jsonb, ARRAY[v_count]);
  END;

  FOR i IN 1 .. v_count LOOP
    CONTINUE WHEN v_results[i] IS NOT NULL;
    a := p_acks->(i - 1);
    BEGIN
      PERFORM ack_work_item((a->>'now')::bigint, (a->>'token')::uuid, a->'result', a->>'deadLetterReason');
      v_results[i] := '{}';
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS v_code = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL,
                              v_constraint = CONSTRAINT_NAME;
      v_results[i] := jsonb_build_object('error', ds_error_json(v_code, v_message, v_detail, v_constraint));
    END;
  END LOOP;
  PERFORM ds_flush_notify();
  RETURN to_jsonb(v_results);
END $$;
