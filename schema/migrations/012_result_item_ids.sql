-- durastate schema, version 12: result dispatch knows which instance each item it locked is for without
-- reading the item. ack_work_items_locking found it with ->> on each handed-out item's json text,
-- twice (is any result left for a fetcher? which ack gets which item?), and ->> on json text reads the
-- whole text: ~1.1 KB per item of the throughput workload, 7-13 us each on this box, so 15-25 us of
-- a 1-activity orchestration's ~380 us of server CPU. ds_lock_instances now also returns the items'
-- instance ids, in the items' order (item_ids); the fetch, which reads items and claimed by name,
-- does not change. A function's result type cannot be changed in place: it is dropped and created
-- again, as version 9 left it but for the lines marked "Version 12"; ack_work_items_locking is
-- version 9's but for its use of the ids and for reading its clock after the ack (below: a result
-- queued in the millisecond after the clock was read was not dispatched).
DROP FUNCTION ds_lock_instances(text[], bigint, bigint, text);

CREATE FUNCTION ds_lock_instances(p_ids text[], p_now bigint, p_until bigint, p_owner text,
                                  OUT items json[], OUT claimed integer, OUT item_ids text[])
LANGUAGE plpgsql SET search_path FROM CURRENT SET jit = off SET enable_seqscan = off
  SET plan_cache_mode = force_generic_plan SET enable_bitmapscan = off AS $$
DECLARE
  v_ids text[];
  v_tokens uuid[];
  v_message_ids bigint[];
  v_message_tokens uuid[];
  v_found_tokens uuid[];
BEGIN
  -- The lock row is the arbiter: it is taken only if absent or expired.
  WITH taken AS (
    INSERT INTO instance_locks AS l (instance_id, lock_token, locked_until, locked_at, owner)
    SELECT c.id, gen_random_uuid(), p_until, p_now, p_owner FROM unnest(p_ids) AS c(id)
    ON CONFLICT (instance_id) DO UPDATE
      SET lock_token = EXCLUDED.lock_token, locked_until = EXCLUDED.locked_until,
          locked_at = EXCLUDED.locked_at, owner = EXCLUDED.owner
      WHERE l.locked_until <= p_now
    RETURNING l.instance_id, l.lock_token
  )
  SELECT array_agg(t.instance_id), array_agg(t.lock_token) INTO v_ids, v_tokens FROM taken t;
  claimed := coalesce(cardinality(v_ids), 0);
  items := '{}';
  item_ids := '{}';
  IF claimed = 0 THEN
    RETURN;
  END IF;

  -- Every message of the claimed instances visible now (see version 4).
  SELECT array_agg(x.id), array_agg(x.token) INTO v_message_ids, v_message_tokens
  FROM (SELECT m.id, k.token
        FROM unnest(v_ids, v_tokens) AS k(instance_id, token)
        LEFT JOIN LATERAL (SELECT i.status FROM instances i WHERE i.instance_id = k.instance_id OFFSET 0) i ON true
        JOIN orchestrator_queue m ON m.instance_id = k.instance_id
        WHERE m.visible_at <= p_now AND (i.status IS DISTINCT FROM 'suspended' OR m.kind IN ('terminate', 'resume'))
        FOR UPDATE OF m SKIP LOCKED) x;

  WITH locked AS (
    UPDATE orchestrator_queue q SET lock_token = t.token, attempt = q.attempt + 1
    FROM unnest(v_message_ids, v_message_tokens) AS t(id, token)
    WHERE q.id = t.id
    RETURNING q AS m
  ), per_instance AS (
    SELECT (l.m).instance_id AS instance_id, (l.m).lock_token AS token,
           json_agg(message_wire(l.m) ORDER BY (l.m).visible_at, (l.m).id) AS messages,
           max((l.m).attempt) AS attempt, min((l.m).visible_at) AS first_at,
           (array_agg((l.m).id ORDER BY (l.m).visible_at, (l.m).id))[1] AS first_id
    FROM locked l GROUP BY (l.m).instance_id, (l.m).lock_token
  )
  SELECT coalesce(array_agg(json_build_object(
           'instanceId', p.instance_id, 'lockToken', p.token, 'executionId', coalesce(i.execution_id, 1),
           'messages', p.messages, 'instance', i.instance,
           'attempt', p.attempt, 'now', p_now, 'lockedUntil', p_until) ORDER BY p.first_at, p.first_id), '{}'),
         array_agg(p.token),
         -- Version 12: each item's instance, in the items' order.
         coalesce(array_agg(p.instance_id ORDER BY p.first_at, p.first_id), '{}')
  INTO items, v_found_tokens, item_ids
  FROM per_instance p
  LEFT JOIN LATERAL (SELECT r.execution_id, instance_wire(r) AS instance FROM instances r
                     WHERE r.instance_id = p.instance_id OFFSET 0) i ON true;
  IF cardinality(items) < claimed THEN
    DELETE FROM instance_locks WHERE lock_token = ANY (v_tokens) AND lock_token <> ALL (coalesce(v_found_tokens, '{}'));
  END IF;
END $$;

-- Version 9's, but for v_item_ids (carried beside v_items) where it read each item's instanceId, and
-- for when its clock is read (marked "Version 12").
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
  FOR v_group IN
    SELECT a.now, a.lock_ms, a.owner, array_agg(a.instance_id) AS ids
    FROM (SELECT DISTINCT ON (t.x->'result'->>'instanceId') t.x->'result'->>'instanceId' AS instance_id,
                 coalesce((t.x->>'now')::bigint, v_clock) AS now, (t.x->'lockInstance'->>'lockMs')::bigint AS lock_ms,
                 t.x->'lockInstance'->>'owner' AS owner
          FROM jsonb_array_elements(p_acks) WITH ORDINALITY AS t(x, n)
          WHERE jsonb_typeof(t.x->'lockInstance') = 'object' AND v_results->(t.n::integer - 1) = '{}'::jsonb
            AND t.x->'result'->>'visibleAt' IS NULL
            AND NOT EXISTS (SELECT 1 FROM worker_queue w WHERE w.instance_id = t.x->'result'->>'instanceId'
                              AND w.execution_id = (t.x->'result'->>'executionId')::integer)
          ORDER BY t.x->'result'->>'instanceId', t.n) a
    WHERE ds_try_instance(a.instance_id, a.now)
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
