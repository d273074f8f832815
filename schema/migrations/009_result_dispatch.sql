-- durastate schema, version 9: result dispatch. A worker's ack of an activity result can lock the
-- result's instance and hand its turn to the caller (contract: ackWorkItem's lockInstance), the
-- mirror of eager work dispatch (lockWork, version 1): a 1-activity orchestration's second turn no
-- longer waits for a NOTIFY, a wake-up and a fetch, and the fetch's candidate scan is not paid for it.
-- Only when the result is plain (no visibleAt) and the instance has no other work item queued for
-- that execution: a fan-out's results keep gathering in the queue until its last one, as before.
-- * ds_lock_instances is what the fetch did with the instances it chose (lock, mark, build the
--   items), so both the fetch and the ack call the one function; the fetch is version 5's, but for
--   that call.
-- * ack_work_items_locking runs the ack (ack_work_items, as before) and then locks what was asked.
--   The ack's wake-up for the orchestrator queue is held until then (ds_flush_notify): a result
--   whose instance this ack locked has no message left for any fetcher, and when every result of
--   the group was handed out so, nobody is woken for nothing.

-- Lock these instances (those without a live lock; the caller has tried each with ds_try_instance)
-- and hand out every fetchable message of each: `items` as the fetch returns them, oldest first by
-- each instance's first message; `claimed` counts the locks taken, those found without a message
-- among them (consumed meanwhile, or an expired lock with nothing left), which are released again.
CREATE FUNCTION ds_lock_instances(p_ids text[], p_now bigint, p_until bigint, p_owner text,
                                  OUT items json[], OUT claimed integer)
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
         array_agg(p.token)
  INTO items, v_found_tokens
  FROM per_instance p
  LEFT JOIN LATERAL (SELECT r.execution_id, instance_wire(r) AS instance FROM instances r
                     WHERE r.instance_id = p.instance_id OFFSET 0) i ON true;
  IF cardinality(items) < claimed THEN
    DELETE FROM instance_locks WHERE lock_token = ANY (v_tokens) AND lock_token <> ALL (coalesce(v_found_tokens, '{}'));
  END IF;
END $$;

-- Version 5's fetch, but for the call of ds_lock_instances: the instances chosen are collected, then
-- locked and handed out by it (the statements it holds were here).
CREATE OR REPLACE FUNCTION fetch_orchestration_items(p_now bigint, p_lock_ms bigint, p_max integer, p_owner text) RETURNS json
LANGUAGE plpgsql SET search_path FROM CURRENT SET jit = off SET enable_seqscan = off
  SET plan_cache_mode = force_generic_plan SET enable_bitmapscan = off AS $$
DECLARE
  v_now bigint := ds_now(p_now);
  v_until bigint := v_now + p_lock_ms;
  v_items json[] := '{}';
  v_chosen text[];
  v_found json[];
  v_claimed integer;
BEGIN
  -- Commit without waiting for the WAL flush (see version 1).
  PERFORM set_config('synchronous_commit', 'off', true);
  LOOP
    -- Candidates, oldest fetchable message first (see version 4).
    WITH free AS (
      SELECT q.instance_id, q.visible_at, q.id
      FROM orchestrator_queue q
      WHERE q.lock_token IS NULL AND q.visible_at <= v_now
        AND NOT EXISTS (SELECT 1 FROM instance_locks l WHERE l.instance_id = q.instance_id AND l.locked_until > v_now)
        AND (q.kind IN ('terminate', 'resume')
             OR NOT EXISTS (SELECT 1 FROM instances i WHERE i.instance_id = q.instance_id AND i.status = 'suspended'))
      ORDER BY q.visible_at, q.id
      LIMIT p_max * 4 + 100
    ), expired AS (
      SELECT l.instance_id, coalesce(m.visible_at, l.locked_until) AS visible_at, coalesce(m.id, 0) AS id
      FROM (SELECT x.instance_id, x.locked_until FROM instance_locks x
            WHERE x.locked_until <= v_now ORDER BY x.locked_until LIMIT p_max + 100) l
      LEFT JOIN LATERAL (
        SELECT q.visible_at, q.id FROM orchestrator_queue q
        WHERE q.instance_id = l.instance_id AND q.visible_at <= v_now
          AND (q.kind IN ('terminate', 'resume')
               OR NOT EXISTS (SELECT 1 FROM instances i WHERE i.instance_id = q.instance_id AND i.status = 'suspended'))
        ORDER BY q.visible_at, q.id
        LIMIT 1
      ) m ON true
    ), firsts AS MATERIALIZED (
      SELECT f.* FROM (
        SELECT DISTINCT ON (c.instance_id) c.instance_id, c.visible_at, c.id
        FROM (SELECT * FROM free UNION ALL SELECT * FROM expired) c
        ORDER BY c.instance_id, c.visible_at, c.id
      ) f ORDER BY f.visible_at, f.id
    ), chosen AS (
      SELECT f.instance_id
      FROM firsts f
      WHERE ds_try_instance(f.instance_id, v_now)
      LIMIT p_max - cardinality(v_items)
    )
    SELECT array_agg(c.instance_id) INTO v_chosen FROM chosen c;
    EXIT WHEN v_chosen IS NULL;

    -- Version 9: locked and handed out by ds_lock_instances.
    SELECT h.items, h.claimed INTO v_found, v_claimed FROM ds_lock_instances(v_chosen, v_now, v_until, p_owner) h;
    EXIT WHEN v_claimed = 0;
    v_items := v_items || v_found;
    -- Nothing to hand out after all for some (their locks were released): look further.
    EXIT WHEN cardinality(v_found) = v_claimed;
    EXIT WHEN cardinality(v_items) >= p_max;
  END LOOP;
  RETURN array_to_json(v_items);
END $$;

-- Version 1's, but held while durastate.notify_held is 'on': the caller then decides what is sent
-- and flushes itself once it has turned the hold off.
CREATE OR REPLACE FUNCTION ds_flush_notify() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_queue text;
  v_at bigint;
BEGIN
  IF current_setting('durastate.notify_held', true) = 'on' THEN
    RETURN;
  END IF;
  FOREACH v_queue IN ARRAY ARRAY['orchestrator', 'worker'] LOOP
    v_at := current_setting('durastate.notify_' || v_queue)::bigint;
    PERFORM set_config('durastate.notify_' || v_queue, '', true);
    IF v_at < 9223372036854775807 THEN
      PERFORM ds_notify(v_queue, v_at);
    END IF;
  END LOOP;
END $$;

-- The work acks of a group commit (ack_work_items), then result dispatch: each ack that succeeded
-- and asked for it ("lockInstance": { lockMs, owner }), with a plain result whose instance has no
-- other work item of that execution queued, gets its instance locked and handed out ("item"; the
-- first such ack of an instance). Without the WAL flush, as version 7's wrapper: a crash before it
-- loses the ack, the lock and the marks together, and the item is fetched again after the lock.
-- Returns one entry per ack, in order: {} or { "item": ... }, or { "error": ... } as before.
CREATE FUNCTION ack_work_items_locking(p_acks jsonb) RETURNS json
LANGUAGE plpgsql SET search_path FROM CURRENT SET plan_cache_mode = force_generic_plan SET jit = off AS $$
DECLARE
  v_clock bigint := ds_now(NULL);
  v_results jsonb;
  v_items json[] := '{}';
  v_found json[];
  v_group record;
  v_unlocked boolean;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  PERFORM set_config('durastate.notify_held', 'on', true);
  v_results := ack_work_items(p_acks);
  PERFORM set_config('durastate.notify_held', '', true);

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
    SELECT h.items INTO v_found FROM ds_lock_instances(v_group.ids, v_group.now, v_group.now + v_group.lock_ms, v_group.owner) h;
    v_items := v_items || v_found;
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
      AND t.x->'result'->>'instanceId' NOT IN (SELECT i->>'instanceId' FROM unnest(v_items) AS i)
  ) INTO v_unlocked;
  IF NOT v_unlocked THEN
    PERFORM set_config('durastate.notify_orchestrator', '9223372036854775807', true);
  END IF;
  PERFORM ds_flush_notify();

  RETURN (
    SELECT json_agg(CASE WHEN i.item IS NULL THEN r.result::json ELSE json_build_object('item', i.item) END ORDER BY r.n)
    FROM jsonb_array_elements(v_results) WITH ORDINALITY AS r(result, n)
    LEFT JOIN (SELECT DISTINCT ON (t.x->'result'->>'instanceId') t.n, v.item
               FROM unnest(v_items) AS v(item)
               JOIN jsonb_array_elements(p_acks) WITH ORDINALITY AS t(x, n)
                 ON t.x->'result'->>'instanceId' = v.item->>'instanceId' AND jsonb_typeof(t.x->'lockInstance') = 'object'
                AND v_results->(t.n::integer - 1) = '{}'::jsonb
               ORDER BY t.x->'result'->>'instanceId', t.n) i ON i.n = r.n
  );
END $$;
