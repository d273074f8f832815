-- durastate schema, version 15: result dispatch answers without copying the item it hands out once
-- per ack. ack_work_items_locking (version 14) matched each locked instance's item to its first asking
-- ack by joining the item to every asking ack of the instance and sorting the lot for DISTINCT ON: in a
-- fan-out, the group's ~150 acks are all of one instance, whose item carries the instance's snapshot
-- and every result queued for it, so the sort held ~150 copies of it and spilled to disk.
-- auto_explain on the fan-out benchmark (1,000 activities): 10 MB of temporary file written and read
-- by a group ack near a round's end (~70 kB per copy), 15 ms in all; such acks took 19-21 ms where
-- the others take 3-6, on the round's critical path (the turn that completes the fan-out waits).
-- Now the first asking ack of each instance is chosen from the acks alone, and joined to the item
-- after: the same ack gets the same item.
-- Version 14's function otherwise, restated whole (a function is replaced whole); the changed lines
-- are marked "Version 15".
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
    -- Version 15: each instance's first asking ack is chosen first, and only then joined to its item.
    LEFT JOIN (SELECT f.n, v.item
               FROM (SELECT DISTINCT ON (t.x->'result'->>'instanceId') t.n, t.x->'result'->>'instanceId' AS instance_id
                     FROM jsonb_array_elements(p_acks) WITH ORDINALITY AS t(x, n)
                     WHERE jsonb_typeof(t.x->'lockInstance') = 'object' AND v_results->(t.n::integer - 1) = '{}'::jsonb
                     ORDER BY t.x->'result'->>'instanceId', t.n) f
               JOIN unnest(v_items, v_item_ids) AS v(item, instance_id) ON v.instance_id = f.instance_id) i ON i.n = r.n
  );
END $$;
