-- durastate schema, version 8: fetches commit without waiting for their WAL to reach the disk, and
-- work acks are committed set-based like orchestration acks (end of file).
-- Run like 001 (`SET LOCAL search_path TO "<schema>"`; functions capture it with SET search_path FROM CURRENT).
--
-- A fetch only takes locks and counts attempts, and its commit waited for a WAL flush (~0.5-0.75 ms
-- of every wake) all the same. set_config(..., true) lasts to the end of the transaction, which for
-- a fetch is its own statement, so the commit is asynchronous (a SET clause on the function would
-- be undone before the commit). Safe: if the server crashes before the WAL is flushed, the lost fetch
-- is a lock never taken; the item is fetched again (its attempt counted again from the flushed value),
-- the turn or activity is redone, and the old holder's ack fails with LockLostError, as after an
-- expired lock. Nothing durable can depend on a lost fetch: every ack, renew or abandon commits
-- synchronously, and flushing its commit record flushes all the WAL before it, the fetch included.
-- Bodies as in 007 (orchestrations) and 001 (work items), plus that one line.

-- As in 007.
CREATE OR REPLACE FUNCTION fetch_orchestration_items(p_now bigint, p_lock_ms bigint, p_max integer, p_owner text) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_now bigint := ds_now(p_now);
  v_until bigint := v_now + p_lock_ms;
  v_items jsonb[] := '{}';
  v_ids text[];
  v_tokens uuid[];
  v_found jsonb[];
  v_empty uuid[];
BEGIN
  -- Commit without waiting for the WAL flush (see the top of this file).
  PERFORM set_config('synchronous_commit', 'off', true);
  LOOP
    -- Candidates, oldest fetchable message first: unlocked visible messages of instances without a
    -- live lock (of a suspended instance only its control messages), and instances whose lock expired,
    -- placed by their oldest fetchable message. Plain reads, no row locks: the instance lock is the
    -- arbiter. The limits leave room for messages of instances taken by concurrent fetchers; past
    -- them a call returns fewer items, never a wrong one.
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
      -- Sorted before the filter below runs: a fence, or the planner filters first and sorts after.
      SELECT f.* FROM (
        SELECT DISTINCT ON (c.instance_id) c.instance_id, c.visible_at, c.id
        FROM (SELECT * FROM free UNION ALL SELECT * FROM expired) c
        ORDER BY c.instance_id, c.visible_at, c.id
      ) f ORDER BY f.visible_at, f.id
    ), chosen AS (
      -- In order, and only as many as wanted: each is tried as the limit pulls it. One another
      -- fetcher is taking, or has just taken, is skipped instead of waited for.
      SELECT f.instance_id, f.visible_at, f.id
      FROM firsts f
      WHERE ds_try_instance(f.instance_id, v_now)
      LIMIT p_max - cardinality(v_items)
    ), claimed AS (
      -- The lock row is the arbiter: it is taken only if absent or expired.
      INSERT INTO instance_locks AS l (instance_id, lock_token, locked_until, locked_at, owner)
      SELECT c.instance_id, gen_random_uuid(), v_until, v_now, p_owner FROM chosen c
      ON CONFLICT (instance_id) DO UPDATE
        SET lock_token = EXCLUDED.lock_token, locked_until = EXCLUDED.locked_until,
            locked_at = EXCLUDED.locked_at, owner = EXCLUDED.owner
        WHERE l.locked_until <= v_now
      RETURNING l.instance_id, l.lock_token
    )
    SELECT array_agg(c.instance_id ORDER BY ch.visible_at, ch.id), array_agg(c.lock_token ORDER BY ch.visible_at, ch.id)
    INTO v_ids, v_tokens
    FROM claimed c JOIN chosen ch ON ch.instance_id = c.instance_id;
    EXIT WHEN v_ids IS NULL;

    -- Every message of the claimed instances visible now (stale tokens of an expired holder included).
    -- SKIP LOCKED: a row a transaction in flight is changing (an instance being deleted) is left
    -- alone rather than waited for.
    WITH claimed AS (
      SELECT c.instance_id, c.token, c.rank, i.execution_id, i.status = 'suspended' AS suspended,
             CASE WHEN i.instance_id IS NOT NULL THEN instance_json(i) END AS instance
      FROM unnest(v_ids, v_tokens) WITH ORDINALITY AS c(instance_id, token, rank)
      LEFT JOIN instances i ON i.instance_id = c.instance_id
    ), locked AS (
      UPDATE orchestrator_queue q SET lock_token = t.token, attempt = q.attempt + 1
      FROM (SELECT m.id, c.token FROM claimed c JOIN orchestrator_queue m ON m.instance_id = c.instance_id
            WHERE m.visible_at <= v_now AND (NOT coalesce(c.suspended, false) OR m.kind IN ('terminate', 'resume'))
            FOR UPDATE OF m SKIP LOCKED) t
      WHERE q.id = t.id
      RETURNING t.token, q AS m
    ), per_instance AS (
      SELECT l.token, jsonb_agg(message_json(l.m) ORDER BY (l.m).visible_at, (l.m).id) AS messages,
             max((l.m).attempt) AS attempt
      FROM locked l GROUP BY l.token
    )
    SELECT array_agg(jsonb_build_object(
             'instanceId', c.instance_id, 'lockToken', c.token, 'executionId', coalesce(c.execution_id, 1),
             'messages', p.messages, 'instance', c.instance, 'attempt', p.attempt,
             'now', v_now, 'lockedUntil', v_until) ORDER BY c.rank) FILTER (WHERE p.token IS NOT NULL),
           array_agg(c.token) FILTER (WHERE p.token IS NULL)
    INTO v_found, v_empty
    FROM claimed c LEFT JOIN per_instance p ON p.token = c.token;

    v_items := v_items || coalesce(v_found, '{}');
    -- Nothing to hand out after all (consumed meanwhile, or an expired lock with no messages left).
    EXIT WHEN v_empty IS NULL;
    DELETE FROM instance_locks WHERE lock_token = ANY (v_empty);
    EXIT WHEN cardinality(v_items) >= p_max;
  END LOOP;
  RETURN to_jsonb(v_items);
END $$;

-- As in 001.
CREATE OR REPLACE FUNCTION fetch_work_items(p_now bigint, p_lock_ms bigint, p_max integer, p_owner text) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_now bigint := ds_now(p_now);
  v_items jsonb;
BEGIN
  -- Commit without waiting for the WAL flush (see the top of this file).
  PERFORM set_config('synchronous_commit', 'off', true);
  WITH free AS (
    SELECT w.id, w.visible_at FROM worker_queue w
    WHERE w.lock_token IS NULL AND w.visible_at <= v_now
    ORDER BY w.visible_at, w.id
    LIMIT p_max
    FOR UPDATE SKIP LOCKED
  ), expired AS (
    SELECT w.id, w.visible_at FROM worker_queue w
    WHERE w.lock_token IS NOT NULL AND w.locked_until <= v_now
    ORDER BY w.locked_until
    LIMIT p_max
    FOR UPDATE SKIP LOCKED
  ), picked AS (
    SELECT c.id FROM (SELECT * FROM free UNION ALL SELECT * FROM expired) c
    ORDER BY c.visible_at, c.id
    LIMIT p_max
  ), locked AS (
    UPDATE worker_queue w
    SET lock_token = gen_random_uuid(), locked_until = v_now + p_lock_ms, attempt = w.attempt + 1, owner = p_owner
    FROM picked WHERE w.id = picked.id
    RETURNING w AS item
  )
  SELECT coalesce(jsonb_agg(work_item_json(locked.item, v_now) ORDER BY (locked.item).visible_at, (locked.item).id), '[]')
  INTO v_items FROM locked;
  RETURN v_items;
END $$;

-- As 007 did for orchestrations: the usual work acks of a batch (first occurrence of a token holding
-- a live lock, no dead letter, a result that is not a child start) are committed by one DELETE and
-- one INSERT for the whole batch, instead of a subtransaction and two statements each (~0.35 ms per
-- ack, the bulk of a fan-out's database time). Every other ack, or every ack when the set-based part
-- raises (it is then rolled back as a whole), goes through ack_work_item alone, which raises its own
-- error. Results of the batch are enqueued in batch order, so their ids keep the one-by-one order.
CREATE OR REPLACE FUNCTION ack_work_items(p_acks jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
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
    ), enqueued AS (
      INSERT INTO orchestrator_queue (instance_id, kind, payload, execution_id, timer_id, enqueued_at, visible_at)
      SELECT c.result->>'instanceId', c.result->>'kind', c.result->'payload', (c.result->>'executionId')::integer,
             c.result->>'timerId', c.now, coalesce((c.result->>'visibleAt')::bigint, c.now)
      FROM consumed c ORDER BY c.n
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
