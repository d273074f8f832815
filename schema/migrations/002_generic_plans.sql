-- durastate schema, version 2: the hot functions keep their plans.
-- Measured with pg_stat_statements (track = all, track_planning) on an idle wake-up: most of a turn's
-- database time was planning, not executing. plpgsql re-plans a statement with parameters for every
-- call while it judges a custom plan cheaper than the generic one (it did, every time: the fetch's
-- claim statement planned 0.70 ms to run 0.27 ms, the ack's writes 0.07-0.16 ms each), and a
-- LANGUAGE sql function with a SET clause is planned anew on every call (lock_acked_work: 0.50 ms
-- planning, 0.03 ms running, on every ack). So:
-- * every provider entry point runs with plan_cache_mode = force_generic_plan: each statement is
--   planned once per connection, and again only when the tables' statistics change (autoanalyze
--   invalidates the cached plans), not per call. The setting reaches the functions they call.
-- * a generic plan is made without the parameter values, and possibly while the tables are still
--   small; the acks therefore plan without seq scans and without JIT, as the fetches already did
--   (every statement here is meant to use an index; stress/explain-plans.ts checks generic plans).
-- * lock_acked_work becomes plpgsql, whose plans are cached (a SQL function's are not).

ALTER FUNCTION enqueue_orchestrator_message(bigint, jsonb, bigint) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION fetch_orchestration_items(bigint, bigint, integer, text) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION fetch_work_items(bigint, bigint, integer, text) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION abandon_orchestration_item(bigint, uuid, bigint, boolean) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION renew_orchestration_lock(bigint, uuid, bigint) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION abandon_work_item(bigint, uuid, bigint, boolean) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION renew_work_item_lock(bigint, uuid, bigint) SET plan_cache_mode = force_generic_plan;

ALTER FUNCTION ack_orchestration_items(jsonb)
  SET plan_cache_mode = force_generic_plan SET jit = off SET enable_seqscan = off;
ALTER FUNCTION ack_work_items(jsonb)
  SET plan_cache_mode = force_generic_plan SET jit = off SET enable_seqscan = off;

-- The same statement as in version 1, now cached. Column references are all qualified; the
-- directive settles the OUT parameters (n, items, all_taken) against same-named columns anyway.
CREATE OR REPLACE FUNCTION lock_acked_work(p_acks ack_entry[]) RETURNS TABLE (n integer, items jsonb, all_taken boolean)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH wanted AS (
    SELECT a.n, a.now, a.lock_work, w.id
    FROM unnest(p_acks) a
    CROSS JOIN LATERAL (
      SELECT q.id FROM worker_queue q
      JOIN jsonb_to_recordset(a.delta->'workItems') AS x("instanceId" text, "executionId" integer, "activityId" text)
        ON q.instance_id = x."instanceId" AND q.execution_id = x."executionId" AND q.activity_id = x."activityId"
      WHERE q.lock_token IS NULL AND q.visible_at <= a.now
      ORDER BY q.visible_at, q.id
      LIMIT (a.lock_work->>'max')::integer
    ) w
    WHERE jsonb_typeof(a.lock_work) = 'object' AND jsonb_array_length(a.delta->'workItems') > 0
  ), locked AS (
    UPDATE worker_queue q
    SET lock_token = gen_random_uuid(), locked_until = wanted.now + (wanted.lock_work->>'lockMs')::bigint,
        attempt = q.attempt + 1, owner = wanted.lock_work->>'owner'
    FROM wanted WHERE q.id = wanted.id
    RETURNING wanted.n, wanted.now, q AS item
  ), per_ack AS (
    SELECT l.n, jsonb_agg(work_item_json(l.item, l.now) ORDER BY (l.item).visible_at, (l.item).id) AS items, count(*) AS taken
    FROM locked l GROUP BY l.n
  )
  SELECT a.n, coalesce(p.items, '[]'), coalesce(p.taken = jsonb_array_length(a.delta->'workItems'), false)
  FROM unnest(p_acks) a LEFT JOIN per_ack p ON p.n = a.n;
END $$;
