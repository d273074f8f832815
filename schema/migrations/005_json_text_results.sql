-- durastate schema, version 5: the fetches answer in json text, not jsonb. Building jsonb is the
-- costly part of a fetch: every nested value (the instance's snapshot, context, input; each
-- message's payload) is decoded and re-encoded into the new binary value, the array of items is
-- copied once more by to_jsonb, and the whole is printed to text for the client in the end, which
-- parses it as JSON text either way. json_build_object writes text as it goes: the jsonb columns are
-- printed once, where they are placed. Measured on 50-instance batches of the throughput workload
-- (2,000 one-activity orchestrations): building and printing a fetched item took 54-70 us, of a
-- fetch's 62 us per item for the statement that locks the messages and builds the items; printed as
-- json the instance record alone went from 25 us (jsonb, to_jsonb, printed) to 11 us.
-- The answers mean the same JSON: same fields, same values (jsonb columns print as they did); only
-- the order of the keys and the spaces between them differ.
-- Both fetches are replaced as version 4 left them (the same statements and settings), but for the
-- building of their answer, which is marked "Version 5". A function's result type cannot be changed
-- in place, so they are dropped and created again.

-- The JSON text of what the fetches hand out. message_json and work_item_json (version 1), which
-- other functions keep using (dead letters, the per-ack path's eager lock), become this text read
-- as jsonb (below): one list of fields per shape, so the two forms cannot drift apart. instance_json
-- keeps its own list: getInstance and the listings of processes of every version call it from
-- outside the schema's functions, without its search_path, where it could not find instance_wire.
CREATE FUNCTION message_wire(q orchestrator_queue) RETURNS json
LANGUAGE sql STABLE AS $$
  SELECT json_build_object(
    'id', q.id::text, 'instanceId', q.instance_id, 'kind', q.kind, 'payload', q.payload,
    'executionId', q.execution_id, 'timerId', q.timer_id, 'enqueuedAt', q.enqueued_at,
    'visibleAt', q.visible_at, 'attempt', q.attempt)
$$;

CREATE FUNCTION instance_wire(i instances) RETURNS json
LANGUAGE sql STABLE AS $$
  SELECT json_build_object(
    'instanceId', i.instance_id, 'name', i.name, 'version', i.version, 'executionId', i.execution_id,
    'status', i.status, 'stateValue', i.state_value, 'context', i.context, 'input', i.input,
    'output', i.output, 'error', i.error, 'snapshot', i.snapshot, 'definitionHash', i.definition_hash,
    'parent', CASE WHEN i.parent_instance_id IS NULL THEN NULL ELSE json_build_object(
      'instanceId', i.parent_instance_id, 'executionId', i.parent_execution_id, 'invokeId', i.parent_invoke_id) END,
    'historyLength', i.history_length, 'turns', i.turns, 'createdAt', i.created_at,
    'updatedAt', i.updated_at, 'completedAt', i.completed_at)
$$;

CREATE FUNCTION work_item_wire(w worker_queue, p_now bigint) RETURNS json
LANGUAGE sql STABLE AS $$
  SELECT json_build_object(
    'id', w.id::text, 'lockToken', w.lock_token, 'instanceId', w.instance_id, 'executionId', w.execution_id,
    'activityId', w.activity_id, 'name', w.name, 'payload', w.payload, 'attempt', w.attempt,
    'enqueuedAt', w.enqueued_at, 'lockedUntil', w.locked_until, 'now', p_now)
$$;

CREATE OR REPLACE FUNCTION message_json(q orchestrator_queue) RETURNS jsonb
LANGUAGE sql STABLE AS $$ SELECT message_wire(q)::jsonb $$;

CREATE OR REPLACE FUNCTION work_item_json(w worker_queue, p_now bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$ SELECT work_item_wire(w, p_now)::jsonb $$;

DROP FUNCTION fetch_orchestration_items(bigint, bigint, integer, text);
CREATE FUNCTION fetch_orchestration_items(p_now bigint, p_lock_ms bigint, p_max integer, p_owner text) RETURNS json
LANGUAGE plpgsql SET search_path FROM CURRENT SET jit = off SET enable_seqscan = off
  SET plan_cache_mode = force_generic_plan SET enable_bitmapscan = off AS $$
DECLARE
  v_now bigint := ds_now(p_now);
  v_until bigint := v_now + p_lock_ms;
  v_items json[] := '{}';
  v_ids text[];
  v_tokens uuid[];
  v_message_ids bigint[];
  v_message_tokens uuid[];
  v_found json[];
  v_found_tokens uuid[];
  v_empty uuid[];
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
      SELECT f.instance_id, f.visible_at, f.id
      FROM firsts f
      WHERE ds_try_instance(f.instance_id, v_now)
      LIMIT p_max - cardinality(v_items)
    ), claimed AS (
      INSERT INTO instance_locks AS l (instance_id, lock_token, locked_until, locked_at, owner)
      SELECT c.instance_id, gen_random_uuid(), v_until, v_now, p_owner FROM chosen c
      ON CONFLICT (instance_id) DO UPDATE
        SET lock_token = EXCLUDED.lock_token, locked_until = EXCLUDED.locked_until,
            locked_at = EXCLUDED.locked_at, owner = EXCLUDED.owner
        WHERE l.locked_until <= v_now
      RETURNING l.instance_id, l.lock_token
    )
    SELECT array_agg(c.instance_id), array_agg(c.lock_token) INTO v_ids, v_tokens FROM claimed c;
    EXIT WHEN v_ids IS NULL;

    SELECT array_agg(x.id), array_agg(x.token) INTO v_message_ids, v_message_tokens
    FROM (SELECT m.id, k.token
          FROM unnest(v_ids, v_tokens) AS k(instance_id, token)
          LEFT JOIN LATERAL (SELECT i.status FROM instances i WHERE i.instance_id = k.instance_id OFFSET 0) i ON true
          JOIN orchestrator_queue m ON m.instance_id = k.instance_id
          WHERE m.visible_at <= v_now AND (i.status IS DISTINCT FROM 'suspended' OR m.kind IN ('terminate', 'resume'))
          FOR UPDATE OF m SKIP LOCKED) x;

    -- Version 5: the items are json text (message_wire, instance_wire, json_build_object).
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
    SELECT array_agg(json_build_object(
             'instanceId', p.instance_id, 'lockToken', p.token, 'executionId', coalesce(i.execution_id, 1),
             'messages', p.messages, 'instance', i.instance,
             'attempt', p.attempt, 'now', v_now, 'lockedUntil', v_until) ORDER BY p.first_at, p.first_id),
           array_agg(p.token)
    INTO v_found, v_found_tokens
    FROM per_instance p
    LEFT JOIN LATERAL (SELECT r.execution_id, instance_wire(r) AS instance FROM instances r
                       WHERE r.instance_id = p.instance_id OFFSET 0) i ON true;
    v_empty := ARRAY(SELECT t FROM unnest(v_tokens) t WHERE t <> ALL (coalesce(v_found_tokens, '{}')));

    v_items := v_items || coalesce(v_found, '{}');
    EXIT WHEN cardinality(v_empty) = 0;
    DELETE FROM instance_locks WHERE lock_token = ANY (v_empty);
    EXIT WHEN cardinality(v_items) >= p_max;
  END LOOP;
  RETURN array_to_json(v_items);
END $$;

DROP FUNCTION fetch_work_items(bigint, bigint, integer, text);
CREATE FUNCTION fetch_work_items(p_now bigint, p_lock_ms bigint, p_max integer, p_owner text) RETURNS json
LANGUAGE plpgsql SET search_path FROM CURRENT SET jit = off SET enable_seqscan = off
  SET plan_cache_mode = force_generic_plan SET enable_hashjoin = off SET enable_mergejoin = off AS $$
DECLARE
  v_now bigint := ds_now(p_now);
  v_items json;
BEGIN
  -- Commit without waiting for the WAL flush (see version 1).
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
  -- Version 5: json text (work_item_wire, json_agg).
  SELECT coalesce(json_agg(work_item_wire(locked.item, v_now) ORDER BY (locked.item).visible_at, (locked.item).id), '[]')
  INTO v_items FROM locked;
  RETURN v_items;
END $$;

-- The group ack answers in json text too, and takes its work items as it inserts them (below).
-- Version 4's functions, but for the statements marked "Version 5", with the settings they had.
DROP FUNCTION ack_orchestration_items(jsonb);
DROP FUNCTION ack_orchestration_entries(ack_entry[]);

CREATE FUNCTION ack_orchestration_entries(p_acks ack_entry[]) RETURNS TABLE (n integer, outcome json)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_tokens uuid[] := ARRAY(SELECT a.token FROM unnest(p_acks) a);
  v_ids text[] := ARRAY(SELECT a.instance_id FROM unnest(p_acks) a);
  v_existing text;
  v_orchestrator_at bigint;
  v_worker_at bigint;
  v_taken_ns integer[];
  v_taken_items json[];
BEGIN
  -- Ordered by instance id, like every other multi-row write here, so concurrent batches cannot deadlock.
  INSERT INTO instances AS i (instance_id, name, version, execution_id, status, state_value, context, input, output,
                              error, snapshot, definition_hash, parent_instance_id, parent_execution_id,
                              parent_invoke_id, history_length, turns, created_at, updated_at, completed_at)
  SELECT a.instance_id, d->>'name', d->>'version', (d->>'executionId')::integer, d->>'status', d->'stateValue',
         d->'context', d->'input', d->'output', d->'error', d->'snapshot', d->>'definitionHash',
         d->'parent'->>'instanceId', (d->'parent'->>'executionId')::integer, d->'parent'->>'invokeId',
         jsonb_array_length(a.delta->'history'), 1, a.now, a.now, a.completed_at
  FROM unnest(p_acks) a, LATERAL (SELECT a.delta->'instance' AS d) x
  ORDER BY a.instance_id
  ON CONFLICT (instance_id) DO UPDATE SET
    name = EXCLUDED.name, version = EXCLUDED.version, status = EXCLUDED.status, state_value = EXCLUDED.state_value,
    context = EXCLUDED.context, output = EXCLUDED.output, error = EXCLUDED.error, snapshot = EXCLUDED.snapshot,
    definition_hash = EXCLUDED.definition_hash, history_length = i.history_length + EXCLUDED.history_length,
    turns = i.turns + 1, updated_at = EXCLUDED.updated_at, completed_at = EXCLUDED.completed_at;

  UPDATE executions e SET status = a.delta->'instance'->>'status', completed_at = a.completed_at
  FROM unnest(p_acks) a
  WHERE NOT a.is_new AND e.instance_id = a.instance_id AND e.execution_id = (a.delta->'instance'->>'executionId')::integer;
  INSERT INTO executions (instance_id, execution_id, input, status, started_at, completed_at)
  SELECT a.instance_id, (a.delta->'instance'->>'executionId')::integer, a.delta->'instance'->'input', a.delta->'instance'->>'status', a.now, a.completed_at
  FROM unnest(p_acks) a WHERE a.is_new;

  INSERT INTO history (instance_id, execution_id, seq, type, data, at)
  SELECT a.instance_id, h."executionId", h.seq, h.type, h.data, a.now
  FROM unnest(p_acks) a, jsonb_to_recordset(a.delta->'history') AS h("executionId" integer, seq integer, type text, data jsonb);

  -- The fetched messages are consumed and the locks released (visible to others only at commit).
  WITH consumed AS (DELETE FROM orchestrator_queue WHERE lock_token = ANY (v_tokens))
  DELETE FROM instance_locks WHERE lock_token = ANY (v_tokens);

  -- Cancellations first: a turn may cancel a timer or activity and schedule one with the same id.
  WITH timers AS (
    DELETE FROM orchestrator_queue q
    USING unnest(p_acks) a, jsonb_array_elements_text(coalesce(a.delta->'cancelTimers', '[]')) c
    WHERE q.instance_id = a.instance_id AND q.timer_id = c
  )
  DELETE FROM worker_queue q
  USING unnest(p_acks) a, jsonb_array_elements_text(coalesce(a.delta->'cancelActivities', '[]')) c
  WHERE q.instance_id = a.instance_id AND q.activity_id = c;

  -- In batch order, each ack's messages then its timers: the ids keep the one-by-one order.
  WITH inserted AS (
    INSERT INTO orchestrator_queue (instance_id, kind, payload, execution_id, timer_id, enqueued_at, visible_at)
    SELECT m.instance_id, m.kind, m.payload, m.execution_id, m.timer_id, m.now, m.visible_at FROM (
      SELECT a.n, 0 AS part, t.k, t."instanceId" AS instance_id, t.kind, t.payload, t."executionId" AS execution_id,
             t."timerId" AS timer_id, a.now, coalesce(t."visibleAt", a.now) AS visible_at
      FROM unnest(p_acks) a, ROWS FROM (jsonb_to_recordset(a.delta->'messages')
        AS ("instanceId" text, kind text, payload jsonb, "executionId" integer, "timerId" text, "visibleAt" bigint))
        WITH ORDINALITY AS t("instanceId", kind, payload, "executionId", "timerId", "visibleAt", k)
      UNION ALL
      SELECT a.n, 1, t.k, a.instance_id, 'timerFired', t.payload, t."executionId", t."timerId", a.now, t."fireAt"
      FROM unnest(p_acks) a, ROWS FROM (jsonb_to_recordset(a.delta->'timers')
        AS ("timerId" text, "fireAt" bigint, "executionId" integer, payload jsonb))
        WITH ORDINALITY AS t("timerId", "fireAt", "executionId", payload, k)
    ) m ORDER BY m.n, m.part, m.k
    RETURNING visible_at
  )
  SELECT min(visible_at) INTO v_orchestrator_at FROM inserted;

  -- Child starts obey the same rule as client starts (a second queued start fails on the unique index).
  SELECT m->>'instanceId' INTO v_existing
  FROM unnest(p_acks) a, jsonb_array_elements(a.delta->'messages') m
  JOIN instances i ON i.instance_id = m->>'instanceId'
  WHERE m->>'kind' = 'start'
  LIMIT 1;
  IF v_existing IS NOT NULL THEN
    RAISE EXCEPTION 'instance % already exists', v_existing USING ERRCODE = 'DS002', DETAIL = v_existing;
  END IF;

  -- Version 5: the work items an ack takes for its own process (lockWork: up to max of those visible
  -- now, oldest first: by visible_at, then by position, which is the order of their ids) are inserted
  -- locked. Inserted free and then locked (lock_acked_work), each was written twice, the second time
  -- with new entries in four of its five indexes; the lookup and the update were 31 us of a 1-activity
  -- turn's 180 us of ack (throughput workload, 50-ack groups). Workers are woken for the items left free.
  WITH items AS (
    SELECT a.n, w.k, w."instanceId" AS instance_id, w."executionId" AS execution_id, w."activityId" AS activity_id,
           w.name, w.payload, a.now, coalesce(w."visibleAt", a.now) AS visible_at, a.lock_work
    FROM unnest(p_acks) a, ROWS FROM (jsonb_to_recordset(a.delta->'workItems')
      AS ("instanceId" text, "executionId" integer, "activityId" text, name text, payload jsonb, "visibleAt" bigint))
      WITH ORDINALITY AS w("instanceId", "executionId", "activityId", name, payload, "visibleAt", k)
  ), ranked AS (
    SELECT i.*, i.visible_at <= i.now AND jsonb_typeof(i.lock_work) = 'object'
             AND count(*) FILTER (WHERE i.visible_at <= i.now)
                   OVER (PARTITION BY i.n ORDER BY i.visible_at, i.k ROWS UNBOUNDED PRECEDING)
                 <= (i.lock_work->>'max')::integer AS take
    FROM items i
  ), inserted AS (
    INSERT INTO worker_queue AS q (instance_id, execution_id, activity_id, name, payload, enqueued_at, visible_at,
                                   attempt, lock_token, locked_until, owner)
    SELECT r.instance_id, r.execution_id, r.activity_id, r.name, r.payload, r.now, r.visible_at,
           CASE WHEN r.take THEN 1 ELSE 0 END,
           CASE WHEN r.take THEN gen_random_uuid() END,
           CASE WHEN r.take THEN r.now + (r.lock_work->>'lockMs')::bigint END,
           CASE WHEN r.take THEN r.lock_work->>'owner' END
    FROM ranked r
    ORDER BY r.n, r.k
    RETURNING q AS item
  ), taken AS (
    -- Back to its ack by its key (unique in the queue, so one row each): one join of the two lists
    -- (a merge join as planned), not a lookup per item.
    SELECT r.n, (i.item).visible_at, (i.item).id, work_item_wire(i.item, r.now) AS wire
    FROM inserted i JOIN ranked r
      ON r.instance_id = (i.item).instance_id AND r.activity_id = (i.item).activity_id AND r.execution_id = (i.item).execution_id
    WHERE (i.item).lock_token IS NOT NULL
  ), per_ack AS (
    SELECT t.n, json_agg(t.wire ORDER BY t.visible_at, t.id) AS items FROM taken t GROUP BY t.n
  )
  SELECT (SELECT array_agg(p.n) FROM per_ack p), (SELECT array_agg(p.items) FROM per_ack p),
         (SELECT min((i.item).visible_at) FROM inserted i WHERE (i.item).lock_token IS NULL)
  INTO v_taken_ns, v_taken_items, v_worker_at;

  -- Messages that arrived during the turns are fetchable now that the locks are released: wake for them too.
  v_orchestrator_at := least(v_orchestrator_at, ds_earliest_message_at(v_ids));
  PERFORM ds_notify('orchestrator', v_orchestrator_at);
  PERFORM ds_notify('worker', v_worker_at);
  PERFORM pg_notify(current_schema() || '.instance', id) FROM unnest(v_ids) id;
  RETURN QUERY
    SELECT t.n, json_build_object('workItems', t.items) FROM unnest(v_taken_ns, v_taken_items) AS t(n, items)
    UNION ALL
    SELECT a.n, json_build_object('workItems', '[]'::json) FROM unnest(p_acks) a WHERE a.n <> ALL (coalesce(v_taken_ns, '{}'));
END $$;

CREATE FUNCTION ack_orchestration_items(p_acks jsonb) RETURNS json
LANGUAGE plpgsql SET search_path FROM CURRENT
  SET plan_cache_mode = force_generic_plan SET jit = off SET enable_seqscan = off AS $$
DECLARE
  v_count integer := jsonb_array_length(p_acks);
  v_results json[] := array_fill(NULL::json, ARRAY[v_count]);
  v_clock bigint := ds_now(NULL);
  v_fast ack_entry[];
  r record;
  a jsonb;
  v_lock record;
  v_worker_before text;
  v_code text; v_message text; v_detail text; v_constraint text;
BEGIN
  PERFORM ds_defer_notify();
  -- The usual acks: first occurrence of a token holding a live lock (row-locked here, with its
  -- instance row), same execution as stored, nothing kept or dead-lettered, history of that
  -- execution only. Everything else is left to the one-by-one path below.
  -- If any of it raises (a malformed delta included), it is rolled back as a whole (rows and
  -- deferred notifications) and each ack is retried alone below.
  BEGIN
    -- Version 4: the lock rows and instance rows of the batch are row-locked first, in instance-id
    -- order, by one statement over the tokens; the next reads each ack's instance row by its key.
    -- It used to join two of its own CTEs (the held locks, the locked instance rows), which a plan
    -- made on an empty table did by a nested loop, quadratic in the batch: 5.7 ms of a 100-ack group.
    PERFORM 1 FROM instance_locks l JOIN instances i ON i.instance_id = l.instance_id
    WHERE l.lock_token = ANY (ARRAY(SELECT (x->>'token')::uuid FROM jsonb_array_elements(p_acks) x))
    ORDER BY l.instance_id
    FOR UPDATE OF l, i;
    WITH entries AS (
      SELECT t.n::integer AS n, (t.x->>'token')::uuid AS token, coalesce((t.x->>'now')::bigint, v_clock) AS now,
             t.x->'delta' AS delta, t.x->'lockWork' AS lock_work,
             row_number() OVER (PARTITION BY t.x->>'token' ORDER BY t.n) AS nth
      FROM jsonb_array_elements(p_acks) WITH ORDINALITY AS t(x, n)
    ), held AS (
      -- The locks of new instances (no row yet) are row-locked here.
      SELECT e.n, e.token, e.now, e.delta, e.lock_work, l.instance_id
      FROM entries e JOIN instance_locks l ON l.lock_token = e.token
      WHERE e.nth = 1 AND l.locked_until > e.now
      ORDER BY l.instance_id
      FOR UPDATE OF l
    )
    SELECT array_agg(ROW(h.n, h.token, h.now, h.instance_id, h.delta, h.lock_work, o.instance_id IS NULL,
                         -- A turn of an instance already terminal keeps the moment it ended.
                         CASE WHEN h.delta->'instance'->>'status' IN ('completed', 'failed', 'terminated')
                              THEN coalesce(o.completed_at, h.now) END)::ack_entry)
    INTO v_fast
    FROM held h
    -- OFFSET 0: a lookup per ack by the primary key, never a join the planner could turn around.
    LEFT JOIN LATERAL (SELECT i.instance_id, i.execution_id, i.completed_at FROM instances i
                       WHERE i.instance_id = h.instance_id OFFSET 0) o ON true
    WHERE (h.delta->'instance'->>'executionId')::integer = coalesce(o.execution_id, 1)
      AND coalesce(h.delta->'instance'->'passedExecutionInputs', '[]') = '[]'
      AND coalesce(h.delta->'keepMessageIds', '[]') = '[]'
      AND coalesce(h.delta->'deadLetterMessageIds', '[]') = '[]'
      AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(h.delta->'history') e
                      WHERE e->'executionId' IS DISTINCT FROM h.delta->'instance'->'executionId');
    IF v_fast IS NOT NULL THEN
      FOR r IN SELECT * FROM ack_orchestration_entries(v_fast) LOOP
        v_results[r.n] := r.outcome;
      END LOOP;
    END IF;
  EXCEPTION WHEN OTHERS THEN
    v_results := array_fill(NULL::json, ARRAY[v_count]);
  END;

  FOR i IN 1 .. v_count LOOP
    CONTINUE WHEN v_results[i] IS NOT NULL;
    a := p_acks->(i - 1);
    BEGIN
      v_worker_before := current_setting('durastate.notify_worker');
      PERFORM ack_orchestration_item((a->>'now')::bigint, (a->>'token')::uuid, a->'delta');
      -- After the ack, so every item it made visible "now" is visible to this now.
      SELECT * INTO v_lock FROM lock_acked_work(ARRAY[
        ROW(i, NULL, ds_now((a->>'now')::bigint), NULL, a->'delta', a->'lockWork', NULL, NULL)::ack_entry]);
      IF v_lock.all_taken THEN
        PERFORM set_config('durastate.notify_worker', v_worker_before, true);
      END IF;
      v_results[i] := json_build_object('workItems', v_lock.items);
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS v_code = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL,
                              v_constraint = CONSTRAINT_NAME;
      v_results[i] := json_build_object('error', ds_error_json(v_code, v_message, v_detail, v_constraint));
    END;
  END LOOP;
  PERFORM ds_flush_notify();
  RETURN array_to_json(v_results);
END $$;
