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
    ), keyed AS (
      -- Version 8: a plain result's group is its instance, execution and hundred; any other message is alone.
      SELECT c.n, c.now, c.result, m.mergeable,
             CASE WHEN m.mergeable THEN (row_number() OVER (PARTITION BY m.mergeable, c.result->>'instanceId', c.result->>'executionId' ORDER BY c.n) - 1) / 100 END AS hundred
      FROM consumed c
      CROSS JOIN LATERAL (SELECT c.result->>'kind' IN ('activityCompleted', 'activityFailed')
                                 AND c.result->>'visibleAt' IS NULL AND c.result->>'timerId' IS NULL AS mergeable) m
    ), grouped AS (
      SELECT min(k.n) AS n, min(k.now) AS now, count(*) AS size, (array_agg(k.result ORDER BY k.n))[1] AS first,
             jsonb_agg(jsonb_build_object('kind', k.result->'kind', 'payload', k.result->'payload') ORDER BY k.n) AS results
      FROM keyed k
      GROUP BY CASE WHEN k.mergeable THEN k.result->>'instanceId' END, CASE WHEN k.mergeable THEN k.result->>'executionId' END,
               k.hundred, CASE WHEN NOT k.mergeable THEN k.n END
    ), enqueued AS (
      INSERT INTO orchestrator_queue (instance_id, kind, payload, execution_id, timer_id, enqueued_at, visible_at)
      SELECT g.first->>'instanceId',
             CASE WHEN g.size = 1 THEN g.first->>'kind' ELSE 'activityResults' END,
             CASE WHEN g.size = 1 THEN g.first->'payload' ELSE jsonb_build_object('results', g.results) END,
             (g.first->>'executionId')::integer, g.first->>'timerId', g.now, coalesce((g.first->>'visibleAt')::bigint, g.now)
      FROM grouped g ORDER BY g.n
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
