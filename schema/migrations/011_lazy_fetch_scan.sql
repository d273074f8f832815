-- durastate schema, version 11: the fetch chooses its instances while it reads the queue, and stops
-- reading once it has p_max of them. It read its whole window first: the oldest p_max * 4 + 100 free
-- messages, each with its two probes (is the instance locked? suspended?), sorted them, and only then
-- tried its instances in order. A dispatcher of concurrency 300 asks for up to ~150 at a time, so it
-- read ~700 messages to hand out 150 (throughput benchmark: the fetch's own statements were 14 us of
-- a turn's ~150 us of server time). Now it walks the same window in the same order, a row at a time,
-- skips the instances it has already tried, and tries each new one at once (ds_try_instance), until
-- p_max are chosen: it reads about as many messages as it hands out, and the whole window only when
-- others hold the head of the queue. The window stays the bound (and what lets the planner walk the
-- index in order: without a LIMIT it planned for reading every visible message).
-- The expired locks (version 4's second source of candidates) are few and read first, as before, and
-- merged into the walk in the same order, so "oldest fetchable message first" holds across both.
-- Version 9's fetch otherwise: ds_lock_instances locks what was chosen, and claims found empty send
-- the fetch looking again.
CREATE OR REPLACE FUNCTION fetch_orchestration_items(p_now bigint, p_lock_ms bigint, p_max integer, p_owner text) RETURNS json
LANGUAGE plpgsql SET search_path FROM CURRENT SET jit = off SET enable_seqscan = off
  SET plan_cache_mode = force_generic_plan SET enable_bitmapscan = off AS $$
DECLARE
  v_now bigint := ds_now(p_now);
  v_until bigint := v_now + p_lock_ms;
  v_items json[] := '{}';
  v_tried text[];
  v_chosen text[];
  v_expired_ids text[];
  v_expired_at bigint[];
  v_expired_msg bigint[];
  v_next integer;
  v_free refcursor;
  v_done boolean;
  v_id text;
  v_found json[];
  v_claimed integer;
  c record;
BEGIN
  -- Commit without waiting for the WAL flush (see version 1).
  PERFORM set_config('synchronous_commit', 'off', true);
  LOOP
    v_tried := '{}';
    v_chosen := '{}';
    -- Instances whose lock expired, each with its oldest fetchable message (none: it is released
    -- by ds_lock_instances), in fetch order (see version 4).
    SELECT coalesce(array_agg(e.instance_id ORDER BY e.visible_at, e.id), '{}'),
           coalesce(array_agg(e.visible_at ORDER BY e.visible_at, e.id), '{}'),
           coalesce(array_agg(e.id ORDER BY e.visible_at, e.id), '{}')
    INTO v_expired_ids, v_expired_at, v_expired_msg
    FROM (
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
    ) e;
    v_next := 1;

    -- The free messages, oldest first (the fetch index); each instance is tried at its first one,
    -- and the expired instances in between, in the same order.
    OPEN v_free FOR
      SELECT q.instance_id, q.visible_at, q.id
      FROM orchestrator_queue q
      WHERE q.lock_token IS NULL AND q.visible_at <= v_now
        AND NOT EXISTS (SELECT 1 FROM instance_locks l WHERE l.instance_id = q.instance_id AND l.locked_until > v_now)
        AND (q.kind IN ('terminate', 'resume')
             OR NOT EXISTS (SELECT 1 FROM instances i WHERE i.instance_id = q.instance_id AND i.status = 'suspended'))
      ORDER BY q.visible_at, q.id
      LIMIT p_max * 4 + 100;
    FETCH v_free INTO c;
    v_done := NOT FOUND;
    LOOP
      EXIT WHEN cardinality(v_chosen) >= p_max - cardinality(v_items);
      IF v_next <= cardinality(v_expired_ids)
         AND (v_done OR (v_expired_at[v_next], v_expired_msg[v_next]) < (c.visible_at, c.id)) THEN
        v_id := v_expired_ids[v_next];
        v_next := v_next + 1;
      ELSIF v_done THEN
        EXIT;
      ELSE
        v_id := c.instance_id;
        FETCH v_free INTO c;
        v_done := NOT FOUND;
      END IF;
      CONTINUE WHEN v_id = ANY (v_tried);
      v_tried := v_tried || v_id;
      IF ds_try_instance(v_id, v_now) THEN
        v_chosen := v_chosen || v_id;
      END IF;
    END LOOP;
    CLOSE v_free;
    EXIT WHEN cardinality(v_chosen) = 0;

    SELECT h.items, h.claimed INTO v_found, v_claimed FROM ds_lock_instances(v_chosen, v_now, v_until, p_owner) h;
    EXIT WHEN v_claimed = 0;
    v_items := v_items || v_found;
    -- Nothing to hand out after all for some (their locks were released): look further.
    EXIT WHEN cardinality(v_found) = v_claimed;
    EXIT WHEN cardinality(v_items) >= p_max;
  END LOOP;
  RETURN array_to_json(v_items);
END $$;
