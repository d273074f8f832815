-- durastate schema, version 6: a fetch marks its messages in place (a HOT update). Handing a
-- message out sets its lock_token and attempt; lock_token was indexed (orchestrator_queue_token,
-- and the predicate of the partial fetch index), so every mark wrote a new row version elsewhere
-- with a new entry in each of the queue's indexes (its key, the per-instance index, the token
-- index, and the start or timer index where it has one): 3-4 index insertions and as many WAL
-- records per message, two messages per 1-activity orchestration. With no index over lock_token,
-- and room on the page (fillfactor 50, below), the mark is a heap-only update: same page, no index
-- entry. Measured with the throughput benchmark (2,000 1-activity orchestrations, alternated with
-- version 5): 99% of the marks heap-only; WAL per orchestration 67 -> 59 records (8.4 -> 7.6 KB);
-- the database's CPU per turn 0.82 -> 0.71 of a pgbench transaction's server CPU (4 runs each).
-- What the two indexes did is now done another way: the fetch scans the same (visible_at, id)
-- index, unfiltered, and skips the messages handed out (their instances are locked: the lock test
-- it already made, and lock_token IS NULL as a filter); a batch is found through its lock: the
-- instance's messages in orchestrator_queue_instance up to the moment it was handed out (the lock's
-- locked_at, the fetch's now: every handed-out message was visible then), then the token. Without
-- that bound an ack of an instance holding 2,000 future timers read all 2,000 (a test checks it).
-- Nothing else read the token index. The price, besides space (below): other fetches step over a
-- batch that is handed out and not yet acked. 10,000 events queued for one instance: the fetch that
-- hands them out took 164 ms instead of 230, and each fetch of another instance until the ack
-- 2.2-3.9 ms instead of 0.6-0.8 (a few hundred ns per message stepped over). Capping a batch at
-- 1,000 messages did not help: the rest, unmarked, were stepped over as well, each with a lock
-- probe (18 ms per fetch); a backlog that arrives during a turn is stepped over in either version.

-- The fetch index keeps its name and columns, without the predicate.
DROP INDEX orchestrator_queue_token;
DROP INDEX orchestrator_queue_fetch;
CREATE INDEX orchestrator_queue_fetch ON orchestrator_queue (visible_at, id);
-- Room on each page for the marked version of every message on it. Measured (throughput benchmark):
-- 99% of the marks heap-only at fillfactor 50, 64% at 65, 36% at 80. The price is space where
-- messages wait long: 1,000,000 future timers take 31,000 pages (244 MB) instead of 15,400.
ALTER TABLE orchestrator_queue SET (fillfactor = 50);

-- A work item's token is unique while it has one. The unique constraint indexed every item, a
-- NULL for each free one (most of a fan-out's items are inserted free): now only the locked ones.
ALTER TABLE worker_queue DROP CONSTRAINT worker_queue_lock_token_key;
CREATE UNIQUE INDEX worker_queue_token ON worker_queue (lock_token) WHERE lock_token IS NOT NULL;

-- The three functions that found a batch by its token alone, as version 4 (the per-ack path and
-- abandon) and version 5 (the group ack) left them, but for the statements marked "Version 6".
CREATE OR REPLACE FUNCTION ack_orchestration_item(p_now bigint, p_token uuid, p_delta jsonb) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_now bigint := ds_now(p_now);
  -- Version 6: the lock row, for the moment its batch was handed out (locked_at).
  v_lock instance_locks := ds_hold_instance_lock(p_token, v_now);
  v_id text := v_lock.instance_id;
  d jsonb := p_delta->'instance';
  v_execution integer := (d->>'executionId')::integer;
  v_status text := d->>'status';
  v_completed bigint := CASE WHEN d->>'status' IN ('completed', 'failed', 'terminated') THEN v_now END;
  v_passed jsonb := coalesce(d->'passedExecutionInputs', '[]');
  v_history jsonb := coalesce(p_delta->'history', '[]');
  v_keep jsonb := coalesce(p_delta->'keepMessageIds', '[]');
  v_dead jsonb := coalesce(p_delta->'deadLetterMessageIds', '[]');
  v_cancel_timers jsonb := coalesce(p_delta->'cancelTimers', '[]');
  v_cancel_activities jsonb := coalesce(p_delta->'cancelActivities', '[]');
  v_messages jsonb := coalesce(p_delta->'messages', '[]');
  v_timers jsonb := coalesce(p_delta->'timers', '[]');
  v_work jsonb := coalesce(p_delta->'workItems', '[]');
  v_old instances;
  v_first_opened integer;
  v_history_length integer;
  v_delta_length integer;
  v_foreign boolean;
  v_orchestrator_at bigint;
  v_worker_at bigint;
  v_existing text;
BEGIN
  SELECT * INTO v_old FROM instances WHERE instance_id = v_id FOR UPDATE;
  IF v_execution IS NULL OR v_execution < coalesce(v_old.execution_id, 1) THEN
    RAISE EXCEPTION 'ack for execution % of instance % whose current execution is %', v_execution, v_id, v_old.execution_id
      USING ERRCODE = 'DS005';
  END IF;
  -- One pass over the history: its length in the current execution, and whether any event targets
  -- an execution this ack does not write (writable: the stored one, 1 for a new instance, up to the new current one).
  SELECT count(*) FILTER (WHERE h."executionId" = v_execution),
         coalesce(bool_or(h."executionId" IS NULL OR h."executionId" NOT BETWEEN coalesce(v_old.execution_id, 1) AND v_execution), false)
  INTO v_delta_length, v_foreign
  FROM jsonb_to_recordset(v_history) AS h("executionId" integer);
  IF v_foreign THEN
    RAISE EXCEPTION 'history event for an execution this ack does not write' USING ERRCODE = 'DS005';
  END IF;
  -- Opened and closed by this ack: after the stored execution (from 1 for a new instance), before the current one.
  v_first_opened := coalesce(v_old.execution_id + 1, 1);
  IF jsonb_typeof(v_passed) IS DISTINCT FROM 'array' OR jsonb_array_length(v_passed) <> greatest(v_execution - v_first_opened, 0) THEN
    RAISE EXCEPTION 'passedExecutionInputs must hold one input per execution opened and closed by this ack (% expected)',
      greatest(v_execution - v_first_opened, 0) USING ERRCODE = 'DS005';
  END IF;
  -- Kept and dead-lettered ids must be messages of this batch (the caller checks they are distinct).
  IF jsonb_array_length(v_keep) + jsonb_array_length(v_dead) > 0 AND
     (SELECT count(*) FROM orchestrator_queue
      -- Version 6: by instance and visibility, then token (see below).
      WHERE instance_id = v_id AND visible_at <= v_lock.locked_at AND lock_token = p_token
        AND id IN (SELECT x::bigint FROM jsonb_array_elements_text(v_keep || v_dead) x))
     <> jsonb_array_length(v_keep) + jsonb_array_length(v_dead) THEN
    RAISE EXCEPTION 'keepMessageIds and deadLetterMessageIds must be messages fetched with this lock' USING ERRCODE = 'DS005';
  END IF;

  IF v_old.instance_id IS NULL THEN
    -- First ack: the instance is born here, never on enqueue.
    INSERT INTO instances (instance_id, name, version, execution_id, status, state_value, context, input, output,
                           error, snapshot, definition_hash, parent_instance_id, parent_execution_id,
                           parent_invoke_id, history_length, turns, created_at, updated_at, completed_at)
    VALUES (v_id, d->>'name', d->>'version', v_execution, v_status, d->'stateValue', d->'context', d->'input',
            d->'output', d->'error', d->'snapshot', d->>'definitionHash', d->'parent'->>'instanceId',
            (d->'parent'->>'executionId')::integer, d->'parent'->>'invokeId',
            v_delta_length, 1, v_now, v_now, v_completed);
  ELSIF v_execution > v_old.execution_id THEN
    -- Continue-as-new: close the old execution; the new one is opened below with its own input and history.
    UPDATE executions SET status = 'continued', completed_at = v_now
    WHERE instance_id = v_id AND execution_id = v_old.execution_id;
  ELSE
    -- A turn of an instance already terminal keeps the moment it ended.
    IF v_old.completed_at IS NOT NULL AND v_completed IS NOT NULL THEN
      v_completed := v_old.completed_at;
    END IF;
    UPDATE executions SET status = v_status, completed_at = v_completed
    WHERE instance_id = v_id AND execution_id = v_execution;
  END IF;
  IF v_old.instance_id IS NULL OR v_execution > v_old.execution_id THEN
    IF jsonb_array_length(v_passed) > 0 THEN
      INSERT INTO executions (instance_id, execution_id, input, status, started_at, completed_at)
      SELECT v_id, v_first_opened + (t.n - 1)::integer, t.input, 'continued', v_now, v_now
      FROM jsonb_array_elements(v_passed) WITH ORDINALITY AS t(input, n);
    END IF;
    INSERT INTO executions (instance_id, execution_id, input, status, started_at, completed_at)
    VALUES (v_id, v_execution, d->'input', v_status, v_now, v_completed);
  END IF;
  IF v_old.instance_id IS NOT NULL THEN
    v_history_length := CASE WHEN v_execution > v_old.execution_id THEN v_delta_length ELSE v_old.history_length + v_delta_length END;
    UPDATE instances SET
      name = d->>'name', version = d->>'version', execution_id = v_execution, status = v_status,
      state_value = d->'stateValue', context = d->'context',
      input = CASE WHEN v_execution > v_old.execution_id THEN d->'input' ELSE input END,
      output = d->'output', error = d->'error', snapshot = d->'snapshot', definition_hash = d->>'definitionHash',
      history_length = v_history_length, turns = turns + 1, updated_at = v_now, completed_at = v_completed
    WHERE instance_id = v_id;
  END IF;

  IF jsonb_array_length(v_history) > 0 THEN
    INSERT INTO history (instance_id, execution_id, seq, type, data, at)
    SELECT v_id, h."executionId", h.seq, h.type, h.data, v_now
    FROM jsonb_to_recordset(v_history) AS h("executionId" integer, seq integer, type text, data jsonb);
  END IF;

  -- The fetched batch: kept messages go back unlocked, poison ones to dead_letters, the rest is consumed.
  IF jsonb_array_length(v_keep) > 0 THEN
    -- Version 6: by instance and visibility, then token.
    UPDATE orchestrator_queue SET lock_token = NULL
    WHERE instance_id = v_id AND visible_at <= v_lock.locked_at AND lock_token = p_token AND id IN (SELECT x::bigint FROM jsonb_array_elements_text(v_keep) x);
  END IF;
  IF jsonb_array_length(v_dead) > 0 THEN
    -- Dead letters are numbered in the order the caller listed them.
    WITH listed AS (
      SELECT x::bigint AS id, n FROM jsonb_array_elements_text(v_dead) WITH ORDINALITY AS t(x, n)
    ), dead AS (
      DELETE FROM orchestrator_queue q USING listed
      WHERE q.instance_id = v_id AND q.visible_at <= v_lock.locked_at AND q.lock_token = p_token AND q.id = listed.id -- Version 6
      RETURNING q AS m, listed.n
    )
    INSERT INTO dead_letters (queue, instance_id, reason, item, dead_at)
    SELECT 'orchestrator', (dead.m).instance_id, coalesce(p_delta->>'deadLetterReason', 'dead-lettered'),
           message_json(dead.m) - 'instanceId', v_now
    FROM dead ORDER BY dead.n;
  END IF;
  -- Version 6: the batch's rest. It was visible when handed out (at the lock's locked_at): that
  -- range of the instance's index, not the instance's later messages (future timers), then the token.
  DELETE FROM orchestrator_queue WHERE instance_id = v_id AND visible_at <= v_lock.locked_at AND lock_token = p_token;

  -- Cancellations first: a turn may cancel a timer or activity and schedule one with the same id.
  IF jsonb_array_length(v_cancel_timers) > 0 THEN
    DELETE FROM orchestrator_queue
    WHERE instance_id = v_id AND timer_id IN (SELECT jsonb_array_elements_text(v_cancel_timers));
  END IF;
  IF jsonb_array_length(v_cancel_activities) > 0 THEN
    DELETE FROM worker_queue
    WHERE instance_id = v_id AND activity_id IN (SELECT jsonb_array_elements_text(v_cancel_activities));
  END IF;

  IF jsonb_array_length(v_messages) + jsonb_array_length(v_timers) > 0 THEN
    WITH inserted AS (
      INSERT INTO orchestrator_queue (instance_id, kind, payload, execution_id, timer_id, enqueued_at, visible_at)
      SELECT m."instanceId", m.kind, m.payload, m."executionId", m."timerId", v_now, coalesce(m."visibleAt", v_now)
      FROM jsonb_to_recordset(v_messages)
        AS m("instanceId" text, kind text, payload jsonb, "executionId" integer, "timerId" text, "visibleAt" bigint)
      UNION ALL
      SELECT v_id, 'timerFired', t.payload, t."executionId", t."timerId", v_now, t."fireAt"
      FROM jsonb_to_recordset(v_timers)
        AS t("timerId" text, "fireAt" bigint, "executionId" integer, payload jsonb)
      RETURNING visible_at
    )
    SELECT min(visible_at) INTO v_orchestrator_at FROM inserted;
  END IF;

  -- Child starts obey the same rule as client starts (a second queued start fails on the unique index).
  IF jsonb_array_length(v_messages) > 0 THEN
    SELECT m->>'instanceId' INTO v_existing
    FROM jsonb_array_elements(v_messages) m
    JOIN instances i ON i.instance_id = m->>'instanceId'
    WHERE m->>'kind' = 'start'
    LIMIT 1;
    IF v_existing IS NOT NULL THEN
      RAISE EXCEPTION 'instance % already exists', v_existing USING ERRCODE = 'DS002', DETAIL = v_existing;
    END IF;
  END IF;

  IF jsonb_array_length(v_work) > 0 THEN
    WITH inserted AS (
      INSERT INTO worker_queue (instance_id, execution_id, activity_id, name, payload, enqueued_at, visible_at)
      SELECT w."instanceId", w."executionId", w."activityId", w.name, w.payload, v_now, coalesce(w."visibleAt", v_now)
      FROM jsonb_to_recordset(v_work)
        AS w("instanceId" text, "executionId" integer, "activityId" text, name text, payload jsonb, "visibleAt" bigint)
      RETURNING visible_at
    )
    SELECT min(visible_at) INTO v_worker_at FROM inserted;
  END IF;

  DELETE FROM instance_locks WHERE lock_token = p_token;

  -- Messages that arrived during the turn are fetchable now that the lock is released: wake for them too.
  v_orchestrator_at := least(v_orchestrator_at,
    ds_earliest_message_at(ARRAY[v_id]));
  PERFORM ds_notify('orchestrator', v_orchestrator_at);
  PERFORM ds_notify('worker', v_worker_at);
  PERFORM pg_notify(current_schema() || '.instance', v_id);
END $$;

CREATE OR REPLACE FUNCTION abandon_orchestration_item(p_now bigint, p_token uuid, p_delay_ms bigint, p_count_attempt boolean) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  v_now bigint := ds_now(p_now);
  -- Version 6: the lock row, for the moment its batch was handed out (locked_at).
  v_lock instance_locks := ds_hold_instance_lock(p_token, v_now);
  v_id text := v_lock.instance_id;
  v_delay bigint := greatest(coalesce(p_delay_ms, 0), 0);
BEGIN
  UPDATE orchestrator_queue
  SET lock_token = NULL,
      attempt = CASE WHEN coalesce(p_count_attempt, true) THEN attempt ELSE greatest(attempt - 1, 0) END
  -- Version 6: by instance and visibility (handed out at the lock's locked_at), then token.
  WHERE instance_id = v_id AND visible_at <= v_lock.locked_at AND lock_token = p_token;
  IF v_delay > 0 THEN
    -- A new token kills the old one at once; nobody holds the new one, so it simply expires.
    UPDATE instance_locks SET lock_token = gen_random_uuid(), locked_until = v_now + v_delay, locked_at = v_now, owner = NULL
    WHERE lock_token = p_token;
  ELSE
    DELETE FROM instance_locks WHERE lock_token = p_token;
  END IF;
  -- The instance is fetchable again once both the delay and its oldest message are due
  -- (greatest ignores the NULL of an instance without unlocked messages).
  PERFORM ds_notify('orchestrator', greatest(v_now + v_delay,
    ds_earliest_message_at(ARRAY[v_id])));
END $$;

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
