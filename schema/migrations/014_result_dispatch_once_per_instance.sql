-- durastate schema, version 14: result dispatch looks for an instance's other work items once per
-- instance, not once per ack. ack_work_items_locking (versions 9 and 12) asked, for every ack of a
-- group that asked to lock its instance, whether that instance still had a work item of the
-- execution queued, and only then kept one ack per instance. In a fan-out every ack of a group is for
-- the same instance: ~150 looks per group, each walking the instance's work items in the unique
-- index's order past those already acked (deleted, and dead until vacuumed). pg_stat_statements on
-- the fan-out benchmark (1,000 activities, groups of up to 150): that one statement took 4.9-5.0 ms
-- of the group ack's 7.9-8.2 ms. Now the first asking ack of each instance is kept first and the look
-- is made for it alone; which ack is kept is unchanged unless one group holds acks of two executions
-- of one instance, where at worst an instance is not dispatched and its result is fetched as usual.
-- Version 12's function otherwise, restated whole (a function is replaced whole); the changed lines
-- are marked "Version 14".
CREATE OR REPLACE FUNCTION ack_work_items_locking(p_acks jsonb) RETURNS json
LANGUAGE plpgsql SET search_path FROM CURRENT SET plan_cache_mode = force_generic_plan SET jit = off AS $$
DECLARE
  v_clock bigint;
  v_results jsonb;
  v_items json[] := '{}';
  v_item_ids text[] := '{}';
  v_found json[];
  v_found_ids text[];
  v_group record;
  v_unlocked boolean;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  PERFORM set_config('durastate.notify_held', 'on', true);
  v_results := ack_work_items(p_acks);
  PERFORM set_config('durastate.notify_held', '', true);
  -- Version 12: the clock for acks without a "now" is read after the ack, not before it. The ack reads
  -- its own (ack_work_items), and queues each result visible at that moment; a clock read earlier
  -- could fall in the millisecond before it, and then no result was visible to the lock it asked
  -- for: nothing dispatched (every first call of a connection, whose compiling takes milliseconds).
  v_clock := ds_now(NULL);

  -- Per lock request (the same for every ack of a process), the instances to try, each once.
  -- Version 14: an instance's first asking ack is chosen before its work items are looked for, so
  -- the look (and the try) happens once per instance, not once per ack.
  FOR v_group IN
    SELECT a.now, a.lock_ms, a.owner, array_agg(a.instance_id) AS ids
    FROM (SELECT DISTINCT ON (t.x->'result'->>'instanceId') t.x->'result'->>'instanceId' AS instance_id,
                 (t.x->'result'->>'executionId')::integer AS execution_id,
                 coalesce((t.x->>'now')::bigint, v_clock) AS now, (t.x->'lockInstance'->>'lockMs')::bigint AS lock_ms,
                 t.x->'lockInstance'->>'owner' AS owner
          FROM jsonb_array_elements(p_acks) WITH ORDINALITY AS t(x, n)
          WHERE jsonb_typeof(t.x->'lockInstance') = 'object' AND v_results->(t.n::integer - 1) = '{}'::jsonb
            AND t.x->'result'->>'visibleAt' IS NULL
          ORDER BY t.x->'result'->>'instanceId', t.n) a
    WHERE NOT EXISTS (SELECT 1 FROM worker_queue w WHERE w.instance_id = a.instance_id AND w.execution_id = a.execution_id)
      AND ds_try_instance(a.instance_id, a.now)
    GROUP BY a.now, a.lock_ms, a.owner
  LOOP
    SELECT h.items, h.item_ids INTO v_found, v_found_ids
    FROM ds_lock_instances(v_group.ids, v_group.now, v_group.now + v_group.lock_ms, v_group.owner) h;
    v_items := v_items || v_found;
    v_item_ids := v_item_ids || v_found_ids;
  END LOOP;

  -- Nothing locked (most acks of a fan-out, acks that asked for nothing): the ack's own answer and wake-up.
  IF cardinality(v_items) = 0 THEN
    PERFORM ds_flush_notify();
    RETURN v_results::json;
  END IF;

  -- Wake fetchers only if a result of this group is still waiting for one.
  SELECT EXISTS (
    SELECT 1 FROM jsonb_array_elements(p_acks) WITH ORDINALITY AS t(x, n)
    WHERE v_results->(t.n::integer - 1) = '{}'::jsonb
      AND t.x->'result'->>'instanceId' <> ALL (v_item_ids)
  ) INTO v_unlocked;
  IF NOT v_unlocked THEN
    PERFORM set_config('durastate.notify_orchestrator', '9223372036854775807', true);
  END IF;
  PERFORM ds_flush_notify();

  RETURN (
    SELECT json_agg(CASE WHEN i.item IS NULL THEN r.result::json ELSE json_build_object('item', i.item) END ORDER BY r.n)
    FROM jsonb_array_elements(v_results) WITH ORDINALITY AS r(result, n)
    LEFT JOIN (SELECT DISTINCT ON (t.x->'result'->>'instanceId') t.n, v.item
               FROM unnest(v_items, v_item_ids) AS v(item, instance_id)
               JOIN jsonb_array_elements(p_acks) WITH ORDINALITY AS t(x, n)
                 ON t.x->'result'->>'instanceId' = v.instance_id AND jsonb_typeof(t.x->'lockInstance') = 'object'
                AND v_results->(t.n::integer - 1) = '{}'::jsonb
               ORDER BY t.x->'result'->>'instanceId', t.n) i ON i.n = r.n
  );
END $$;
