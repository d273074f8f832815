-- durastate schema, version 16: a fan-out's work items reach the turn's ack as runs. A run stands for
-- consecutive elements of one fan-out, `{ instanceId, executionId, name, visibleAt?, prefix, first,
-- options, inputs }` (providers/postgres/wire.ts): element first + i (i from 0) has activity id
-- `<prefix>[<first + i>]` and payload options || { input: inputs[i] }. Sent item by item, a 1,000-wide
-- fan-out was ~240 kB of JSON (name, ids and the activity's options in every item), all parsed into
-- jsonb before the function starts, in the one step of a fan-out that nothing overlaps: replayed on
-- PostgreSQL 15, the scheduling ack of the fan-out benchmark took 15.3-15.7 ms with them and 13.6 ms
-- with one run (83 kB in all).
-- A work-item list may mix runs (recognised by their `inputs`) and plain items; plain lists, as
-- earlier providers send them, are read as before.
-- The items an ack locks for its caller are matched back to their ack by the lock token, made before
-- the insert, where they were matched by the queue's key (text), which sorted every item of both
-- lists for a merge join: the same replay, 13.3-13.9 -> 12.5-12.7 ms. ack_orchestration_entries (version 6) and
-- ack_orchestration_items (version 5) restated whole (a function is replaced whole); the changed
-- lines are marked "Version 16".

-- The rows a work-item list stands for, in its order (k), as jsonb_to_recordset read a plain list:
-- a JSON null payload is SQL NULL. The run's fields are read once per run (OFFSET 0 keeps them in
-- the subquery), not once per element: read per element they made a 1,000-wide run cost 40 ms.
CREATE FUNCTION ds_work_item_rows(p_items jsonb)
RETURNS TABLE ("instanceId" text, "executionId" integer, "activityId" text, name text, payload jsonb, "visibleAt" bigint, k bigint)
LANGUAGE sql IMMUTABLE AS $$
  SELECT f.instance_id, f.execution_id,
         CASE WHEN r.i IS NULL THEN f.activity_id ELSE f.prefix || '[' || (f.first + r.i - 1) || ']' END,
         f.name,
         CASE WHEN r.i IS NULL THEN nullif(f.payload, 'null') ELSE f.options || jsonb_build_object('input', r.input) END,
         f.visible_at,
         -- Element i of the j-th entry: in list order.
         f.j * 4294967296 + coalesce(r.i, 0)
  FROM (SELECT e.j, e.x->>'instanceId' AS instance_id, (e.x->>'executionId')::integer AS execution_id,
               e.x->>'activityId' AS activity_id, e.x->>'name' AS name, e.x->'payload' AS payload,
               (e.x->>'visibleAt')::bigint AS visible_at, e.x->>'prefix' AS prefix, (e.x->>'first')::bigint AS first,
               e.x->'options' AS options, e.x->'inputs' AS inputs
        FROM jsonb_array_elements(p_items) WITH ORDINALITY AS e(x, j) OFFSET 0) f
  LEFT JOIN LATERAL jsonb_array_elements(f.inputs) WITH ORDINALITY AS r(input, i) ON true
$$;

-- The same list with its runs written out as plain items, for the one-by-one path (ack_orchestration_item,
-- lock_acked_work), which reads plain items only.
CREATE FUNCTION ds_expanded_work_items(p_items jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM jsonb_array_elements(p_items) e WHERE e ? 'inputs') THEN p_items
    ELSE (SELECT jsonb_agg(jsonb_build_object('instanceId', w."instanceId", 'executionId', w."executionId",
                                              'activityId', w."activityId", 'name', w.name,
                                              'payload', coalesce(w.payload, 'null'), 'visibleAt', w."visibleAt") ORDER BY w.k)
          FROM ds_work_item_rows(p_items) w) END
$$;

CREATE OR REPLACE FUNCTION ack_orchestration_entries(p_acks ack_entry[]) RETURNS TABLE (n integer, outcome json)
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
  -- Version 6: found through their locks: each lock's instance, in the range of that instance's index
  -- visible when its batch was handed out (locked_at; not the instance's future timers), then the token.
  WITH consumed AS (
    DELETE FROM orchestrator_queue q USING instance_locks l
    WHERE l.lock_token = ANY (v_tokens)
      AND q.instance_id = l.instance_id AND q.visible_at <= l.locked_at AND q.lock_token = l.lock_token
  )
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
    -- Version 16: runs of fan-out elements expanded in order (ds_work_item_rows).
    FROM unnest(p_acks) a, ds_work_item_rows(a.delta->'workItems') w
  ), ranked AS (
    SELECT i.*, i.visible_at <= i.now AND jsonb_typeof(i.lock_work) = 'object'
             AND count(*) FILTER (WHERE i.visible_at <= i.now)
                   OVER (PARTITION BY i.n ORDER BY i.visible_at, i.k ROWS UNBOUNDED PRECEDING)
                 <= (i.lock_work->>'max')::integer AS take
    FROM items i
  ), tokened AS (
    -- The token each taken item gets, made here so that the insert and the answer share it.
    SELECT r.*, CASE WHEN r.take THEN gen_random_uuid() END AS token FROM ranked r
  ), inserted AS (
    INSERT INTO worker_queue AS q (instance_id, execution_id, activity_id, name, payload, enqueued_at, visible_at,
                                   attempt, lock_token, locked_until, owner)
    SELECT r.instance_id, r.execution_id, r.activity_id, r.name, r.payload, r.now, r.visible_at,
           CASE WHEN r.take THEN 1 ELSE 0 END,
           r.token,
           CASE WHEN r.take THEN r.now + (r.lock_work->>'lockMs')::bigint END,
           CASE WHEN r.take THEN r.lock_work->>'owner' END
    FROM tokened r
    ORDER BY r.n, r.k
    -- Version 16: the whole row of the taken items only, and the visibility of the others.
    RETURNING CASE WHEN q.lock_token IS NOT NULL THEN q END AS item, q.lock_token AS token, q.visible_at
  ), taken AS (
    -- Version 16: back to its ack by its token, a join of the taken items alone (it was by the
    -- queue's key, text, which sorted every item of both lists for a merge join).
    SELECT r.n, (i.item).visible_at, (i.item).id, work_item_wire(i.item, r.now) AS wire
    FROM inserted i JOIN tokened r ON r.token = i.token
  ), per_ack AS (
    SELECT t.n, json_agg(t.wire ORDER BY t.visible_at, t.id) AS items FROM taken t GROUP BY t.n
  )
  SELECT (SELECT array_agg(p.n) FROM per_ack p), (SELECT array_agg(p.items) FROM per_ack p),
         (SELECT min(i.visible_at) FROM inserted i WHERE i.token IS NULL)
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

CREATE OR REPLACE FUNCTION ack_orchestration_items(p_acks jsonb) RETURNS json
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
    -- Version 16: the one-by-one functions read plain work items.
    IF jsonb_typeof(a->'delta'->'workItems') = 'array' THEN
      a := jsonb_set(a, '{delta,workItems}', ds_expanded_work_items(a->'delta'->'workItems'));
    END IF;
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
