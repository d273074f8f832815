-- durastate schema, version 7: a group commit of acks runs one statement per table, not one
-- subtransaction of ~15 statements per ack.
-- Run like 001 (`SET LOCAL search_path TO "<schema>"`; functions capture it with SET search_path FROM CURRENT).
--
-- Measured (pg_stat_user_functions): an ack inside a batch cost ~0.5 ms plus ~0.2 ms of batch
-- overhead, nearly all of it per-statement and per-subtransaction overhead, not row work. The usual
-- turn (same execution, no kept or dead-lettered messages) is now committed for the whole batch at
-- once; an ack that needs more (continue-as-new, kept or dead-lettered ids, a token without a live
-- lock, a token repeated in the batch) still goes through ack_orchestration_item alone in its own
-- subtransaction, which raises its own error. If the set-based part raises (a duplicate history
-- seq, a child start for an existing instance...), it is rolled back as a whole and every ack of the
-- batch takes the one-by-one path, so an error still fails exactly the ack that caused it.

-- One ack of a batch, as the set-based statements see it.
CREATE TYPE ack_entry AS (
  n            integer, -- position in the batch (1-based): where its outcome goes
  token        uuid,
  now          bigint,
  instance_id  text,
  delta        jsonb,
  lock_work    jsonb,
  is_new       boolean, -- the first ack: the instance is born here
  completed_at bigint   -- what instances/executions.completed_at become
);

-- The acks' new work items that are visible now, locked to the caller's worker as a fetch would
-- (attempt 1; at most lockWork.max per ack, oldest first). One row per ack: the items, and whether
-- it took all of them (then nobody else needs to be woken for them).
CREATE FUNCTION lock_acked_work(p_acks ack_entry[]) RETURNS TABLE (n integer, items jsonb, all_taken boolean)
LANGUAGE sql SET search_path FROM CURRENT AS $$
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
  FROM unnest(p_acks) a LEFT JOIN per_ack p ON p.n = a.n
$$;

-- The usual acks of a batch, all at once (see the top of this file for which ones). p_acks holds
-- only acks whose tokens hold live locks, now row-locked, with their instance rows. Returns one
-- outcome per ack ({ workItems }), keyed by position. Notifications go through ds_notify (deferred
-- by the caller).
CREATE FUNCTION ack_orchestration_entries(p_acks ack_entry[]) RETURNS TABLE (n integer, outcome jsonb)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_tokens uuid[] := ARRAY(SELECT a.token FROM unnest(p_acks) a);
  v_ids text[] := ARRAY(SELECT a.instance_id FROM unnest(p_acks) a);
  v_existing text;
  v_orchestrator_at bigint;
  v_worker_at bigint;
  v_ns integer[];
  v_outcomes jsonb[];
  v_all_taken integer[];
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

  INSERT INTO worker_queue (instance_id, execution_id, activity_id, name, payload, enqueued_at, visible_at)
  SELECT w."instanceId", w."executionId", w."activityId", w.name, w.payload, a.now, coalesce(w."visibleAt", a.now)
  FROM unnest(p_acks) a, ROWS FROM (jsonb_to_recordset(a.delta->'workItems')
    AS ("instanceId" text, "executionId" integer, "activityId" text, name text, payload jsonb, "visibleAt" bigint))
    WITH ORDINALITY AS w("instanceId", "executionId", "activityId", name, payload, "visibleAt", k)
  ORDER BY a.n, w.k;

  SELECT array_agg(l.n), array_agg(jsonb_build_object('workItems', l.items)), coalesce(array_agg(l.n) FILTER (WHERE l.all_taken), '{}')
  INTO v_ns, v_outcomes, v_all_taken
  FROM lock_acked_work(p_acks) l;

  -- Workers are woken for the new items of acks that did not take them all themselves.
  SELECT min(coalesce(w."visibleAt", a.now)) INTO v_worker_at
  FROM unnest(p_acks) a, jsonb_to_recordset(a.delta->'workItems') AS w("visibleAt" bigint)
  WHERE a.n <> ALL (v_all_taken);

  -- Messages that arrived during the turns are fetchable now that the locks are released: wake for them too.
  v_orchestrator_at := least(v_orchestrator_at,
    (SELECT min(visible_at) FROM orchestrator_queue WHERE instance_id = ANY (v_ids) AND lock_token IS NULL));
  PERFORM ds_notify('orchestrator', v_orchestrator_at);
  PERFORM ds_notify('worker', v_worker_at);
  PERFORM pg_notify(current_schema() || '.instance', id) FROM unnest(v_ids) id;
  RETURN QUERY SELECT * FROM unnest(v_ns, v_outcomes);
END $$;

-- p_acks: [{ now, token, delta, lockWork?: { lockMs, max, owner } }]. Returns one entry per ack, in
-- order: { workItems: [WorkItem] } when it committed, { error: {...} } when it rolled back (as in 004).
CREATE OR REPLACE FUNCTION ack_orchestration_items(p_acks jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_count integer := jsonb_array_length(p_acks);
  v_results jsonb[] := array_fill(NULL::jsonb, ARRAY[v_count]);
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
    WITH entries AS (
      SELECT t.n::integer AS n, (t.x->>'token')::uuid AS token, coalesce((t.x->>'now')::bigint, v_clock) AS now,
             t.x->'delta' AS delta, t.x->'lockWork' AS lock_work,
             row_number() OVER (PARTITION BY t.x->>'token' ORDER BY t.n) AS nth
      FROM jsonb_array_elements(p_acks) WITH ORDINALITY AS t(x, n)
    ), held AS (
      SELECT e.n, e.token, e.now, e.delta, e.lock_work, l.instance_id
      FROM entries e JOIN instance_locks l ON l.lock_token = e.token
      WHERE e.nth = 1 AND l.locked_until > e.now
      ORDER BY l.instance_id
      FOR UPDATE OF l
    ), stored AS (
      SELECT i.instance_id, i.execution_id, i.completed_at FROM instances i
      WHERE i.instance_id IN (SELECT h.instance_id FROM held h)
      ORDER BY i.instance_id
      FOR UPDATE
    )
    SELECT array_agg(ROW(h.n, h.token, h.now, h.instance_id, h.delta, h.lock_work, o.instance_id IS NULL,
                         -- A turn of an instance already terminal keeps the moment it ended.
                         CASE WHEN h.delta->'instance'->>'status' IN ('completed', 'failed', 'terminated')
                              THEN coalesce(o.completed_at, h.now) END)::ack_entry)
    INTO v_fast
    FROM held h LEFT JOIN stored o ON o.instance_id = h.instance_id
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
    v_results := array_fill(NULL::jsonb, ARRAY[v_count]);
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
      v_results[i] := jsonb_build_object('workItems', v_lock.items);
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS v_code = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL,
                              v_constraint = CONSTRAINT_NAME;
      v_results[i] := jsonb_build_object('error', ds_error_json(v_code, v_message, v_detail, v_constraint));
    END;
  END LOOP;
  PERFORM ds_flush_notify();
  RETURN to_jsonb(v_results);
END $$;

-- Whether a fetch may try to take the instance: no other fetcher is taking it right now (the
-- advisory lock, held to commit, is free) and no live lock was committed since the calling
-- statement's snapshot: a plpgsql function's statements take their own, fresh one. Without that
-- recheck a fetcher would spend its places on instances another one has just taken.
-- Only called from fetch_orchestration_items, whose search_path it uses.
CREATE FUNCTION ds_try_instance(p_instance_id text, p_now bigint) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtextextended(current_schema() || '.' || p_instance_id, 0)) THEN
    RETURN false;
  END IF;
  RETURN NOT EXISTS (SELECT 1 FROM instance_locks WHERE instance_id = p_instance_id AND locked_until > p_now);
END $$;

-- As in 005, with the instances claimed all at once instead of one by one (an advisory lock, a lock
-- row, a read and an update per instance were ~0.2 ms per item): candidates in order, the first
-- p_max whose advisory lock is free get their lock rows in one statement, then all their messages
-- are locked and their instance rows read in a second one. An instance claimed with nothing to
-- hand out (an expired lock whose messages are gone) is released, and the call looks again for
-- the places it left.
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
