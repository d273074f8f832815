-- durastate schema, version 5: acks and fetches that only run the statements their input needs.
-- Run like 001 (`SET LOCAL search_path TO "<schema>"`; functions capture it with SET search_path FROM CURRENT).
--
-- Measured (pg_stat_user_functions, auto_explain): the database time of a turn is mostly statement
-- overhead inside these functions, not row work. A typical ack has no kept, dead-lettered or
-- cancelled ids, no messages and no timers, yet ran a statement for each; each is now skipped when
-- its list is empty (the lists are checked as arrays by the provider and by the statements that
-- remain). The batch functions and the fetch built their jsonb result by concatenation, copying it
-- once per entry (quadratic in the batch); they now collect an array and convert it once.
-- The row-to-json helpers were declared IMMUTABLE around jsonb_build_object, which is only STABLE:
-- the planner refuses to inline a function that claims more than its body, so every row paid a
-- call of a SQL function, re-planned on each call (pg_stat_user_functions listed ~2,000 calls per
-- 1,000 turns). Declared STABLE, they are inlined into the statements that use them.
-- Behaviour is unchanged: same checks in the same order, same errors, same rows.

-- Commit one turn (OrchestrationDelta as jsonb). All or nothing: any error rolls the statement back,
-- leaving the lock held.
CREATE OR REPLACE FUNCTION ack_orchestration_item(p_now bigint, p_token uuid, p_delta jsonb) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_now bigint := ds_now(p_now);
  v_id text := (ds_hold_instance_lock(p_token, v_now)).instance_id;
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
      WHERE lock_token = p_token
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
    UPDATE orchestrator_queue SET lock_token = NULL
    WHERE lock_token = p_token AND id IN (SELECT x::bigint FROM jsonb_array_elements_text(v_keep) x);
  END IF;
  IF jsonb_array_length(v_dead) > 0 THEN
    -- Dead letters are numbered in the order the caller listed them.
    WITH listed AS (
      SELECT x::bigint AS id, n FROM jsonb_array_elements_text(v_dead) WITH ORDINALITY AS t(x, n)
    ), dead AS (
      DELETE FROM orchestrator_queue q USING listed
      WHERE q.lock_token = p_token AND q.id = listed.id
      RETURNING q AS m, listed.n
    )
    INSERT INTO dead_letters (queue, instance_id, reason, item, dead_at)
    SELECT 'orchestrator', (dead.m).instance_id, coalesce(p_delta->>'deadLetterReason', 'dead-lettered'),
           message_json(dead.m) - 'instanceId', v_now
    FROM dead ORDER BY dead.n;
  END IF;
  DELETE FROM orchestrator_queue WHERE lock_token = p_token;

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
    (SELECT min(visible_at) FROM orchestrator_queue WHERE instance_id = v_id AND lock_token IS NULL));
  PERFORM ds_notify('orchestrator', v_orchestrator_at);
  PERFORM ds_notify('worker', v_worker_at);
  PERFORM pg_notify(current_schema() || '.instance', v_id);
END $$;

-- As in 004, with the results collected in an array.
CREATE OR REPLACE FUNCTION ack_orchestration_items(p_acks jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  a jsonb;
  v_results jsonb[] := '{}';
  v_items jsonb;
  v_worker_before text;
  v_now bigint;
  v_wanted integer;
  v_code text; v_message text; v_detail text; v_constraint text;
BEGIN
  PERFORM ds_defer_notify();
  FOR a IN SELECT x FROM jsonb_array_elements(p_acks) WITH ORDINALITY AS t(x, n) ORDER BY n LOOP
    BEGIN
      v_worker_before := current_setting('durastate.notify_worker');
      PERFORM ack_orchestration_item((a->>'now')::bigint, (a->>'token')::uuid, a->'delta');
      v_items := '[]';
      IF jsonb_typeof(a->'lockWork') = 'object' AND jsonb_array_length(a->'delta'->'workItems') > 0 THEN
        -- After the ack, so every item it made visible "now" is visible to this now.
        v_now := ds_now((a->>'now')::bigint);
        WITH wanted AS (
          SELECT q.id FROM worker_queue q
          JOIN jsonb_to_recordset(a->'delta'->'workItems') AS w("instanceId" text, "executionId" integer, "activityId" text)
            ON q.instance_id = w."instanceId" AND q.execution_id = w."executionId" AND q.activity_id = w."activityId"
          WHERE q.lock_token IS NULL AND q.visible_at <= v_now
          ORDER BY q.visible_at, q.id
          LIMIT (a->'lockWork'->>'max')::integer
        ), locked AS (
          UPDATE worker_queue q
          SET lock_token = gen_random_uuid(), locked_until = v_now + (a->'lockWork'->>'lockMs')::bigint,
              attempt = q.attempt + 1, owner = a->'lockWork'->>'owner'
          FROM wanted WHERE q.id = wanted.id
          RETURNING q AS item
        )
        SELECT coalesce(jsonb_agg(work_item_json(locked.item, v_now) ORDER BY (locked.item).visible_at, (locked.item).id), '[]')
        INTO v_items FROM locked;
        v_wanted := jsonb_array_length(a->'delta'->'workItems');
        IF jsonb_array_length(v_items) = v_wanted THEN
          PERFORM set_config('durastate.notify_worker', v_worker_before, true);
        END IF;
      END IF;
      v_results := v_results || jsonb_build_object('workItems', v_items);
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS v_code = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL,
                              v_constraint = CONSTRAINT_NAME;
      v_results := v_results || jsonb_build_object('error', ds_error_json(v_code, v_message, v_detail, v_constraint));
    END;
  END LOOP;
  PERFORM ds_flush_notify();
  RETURN to_jsonb(v_results);
END $$;

CREATE OR REPLACE FUNCTION ack_work_items(p_acks jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  a jsonb;
  v_results jsonb[] := '{}';
  v_code text; v_message text; v_detail text; v_constraint text;
BEGIN
  PERFORM ds_defer_notify();
  FOR a IN SELECT x FROM jsonb_array_elements(p_acks) WITH ORDINALITY AS t(x, n) ORDER BY n LOOP
    BEGIN
      PERFORM ack_work_item((a->>'now')::bigint, (a->>'token')::uuid, a->'result', a->>'deadLetterReason');
      v_results := v_results || '{}'::jsonb;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS v_code = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL,
                              v_constraint = CONSTRAINT_NAME;
      v_results := v_results || jsonb_build_object('error', ds_error_json(v_code, v_message, v_detail, v_constraint));
    END;
  END LOOP;
  PERFORM ds_flush_notify();
  RETURN to_jsonb(v_results);
END $$;

-- As in 001, with the items collected in an array.
CREATE OR REPLACE FUNCTION fetch_orchestration_items(p_now bigint, p_lock_ms bigint, p_max integer, p_owner text) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_now bigint := ds_now(p_now);
  v_until bigint := v_now + p_lock_ms;
  v_items jsonb[] := '{}';
  v_taken text[] := '{}';
  v_token uuid;
  v_instance jsonb;
  v_execution integer;
  v_suspended boolean;
  v_messages jsonb;
  v_attempt integer;
  c record;
BEGIN
  FOR c IN
    -- Candidates, oldest fetchable message first: unlocked visible messages of instances without a
    -- live lock (of a suspended instance only its control messages), and instances whose lock expired,
    -- placed by their oldest fetchable message. Plain reads, no row locks: the instance lock below is
    -- the arbiter. The limit leaves room for messages of instances taken by this call or by concurrent
    -- fetchers; past it a call returns fewer items, never a wrong one.
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
    )
    SELECT f.instance_id, f.visible_at, f.id FROM free f
    UNION ALL
    SELECT e.instance_id, e.visible_at, e.id FROM expired e
    ORDER BY 2, 3
  LOOP
    EXIT WHEN cardinality(v_taken) >= p_max;
    CONTINUE WHEN c.instance_id = ANY (v_taken);
    -- Another fetcher is taking this instance right now: skip it instead of waiting for its commit.
    CONTINUE WHEN NOT pg_try_advisory_xact_lock(hashtextextended(current_schema() || '.' || c.instance_id, 0));
    -- The lock row is the arbiter: it is taken only if absent or expired.
    v_token := gen_random_uuid();
    INSERT INTO instance_locks AS l (instance_id, lock_token, locked_until, locked_at, owner)
    VALUES (c.instance_id, v_token, v_until, v_now, p_owner)
    ON CONFLICT (instance_id) DO UPDATE
      SET lock_token = EXCLUDED.lock_token, locked_until = EXCLUDED.locked_until,
          locked_at = EXCLUDED.locked_at, owner = EXCLUDED.owner
      WHERE l.locked_until <= v_now;
    CONTINUE WHEN NOT FOUND;

    v_instance := NULL; v_execution := 1; v_suspended := false;
    SELECT instance_json(i), i.execution_id, i.status = 'suspended'
    INTO v_instance, v_execution, v_suspended
    FROM instances i WHERE i.instance_id = c.instance_id;
    v_execution := coalesce(v_execution, 1);
    v_suspended := coalesce(v_suspended, false);

    -- Every message of the instance visible now (stale tokens of an expired holder included).
    -- SKIP LOCKED: a row a transaction in flight is changing (an instance being deleted) is left
    -- alone rather than waited for.
    WITH locked AS (
      UPDATE orchestrator_queue q SET lock_token = v_token, attempt = q.attempt + 1
      WHERE q.id IN (
        SELECT m.id FROM orchestrator_queue m
        WHERE m.instance_id = c.instance_id AND m.visible_at <= v_now
          AND (NOT v_suspended OR m.kind IN ('terminate', 'resume'))
        FOR UPDATE SKIP LOCKED)
      RETURNING q AS m
    )
    SELECT jsonb_agg(message_json(locked.m) ORDER BY (locked.m).visible_at, (locked.m).id), max((locked.m).attempt)
    INTO v_messages, v_attempt FROM locked;

    IF v_messages IS NULL THEN
      -- Nothing to hand out after all (consumed meanwhile, or an expired lock with no messages left).
      DELETE FROM instance_locks WHERE lock_token = v_token;
      CONTINUE;
    END IF;

    v_taken := v_taken || c.instance_id;
    v_items := v_items || jsonb_build_object(
      'instanceId', c.instance_id, 'lockToken', v_token, 'executionId', v_execution,
      'messages', v_messages, 'instance', v_instance, 'attempt', v_attempt,
      'now', v_now, 'lockedUntil', v_until);
  END LOOP;
  RETURN to_jsonb(v_items);
END $$;

-- As in 001, STABLE (see above).
CREATE OR REPLACE FUNCTION message_json(q orchestrator_queue) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', q.id::text, 'instanceId', q.instance_id, 'kind', q.kind, 'payload', q.payload,
    'executionId', q.execution_id, 'timerId', q.timer_id, 'enqueuedAt', q.enqueued_at,
    'visibleAt', q.visible_at, 'attempt', q.attempt)
$$;

CREATE OR REPLACE FUNCTION work_item_json(w worker_queue, p_now bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', w.id::text, 'lockToken', w.lock_token, 'instanceId', w.instance_id, 'executionId', w.execution_id,
    'activityId', w.activity_id, 'name', w.name, 'payload', w.payload, 'attempt', w.attempt,
    'enqueuedAt', w.enqueued_at, 'lockedUntil', w.locked_until, 'now', p_now)
$$;

CREATE OR REPLACE FUNCTION dead_work_item_json(w worker_queue) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', w.id::text, 'executionId', w.execution_id, 'activityId', w.activity_id,
    'name', w.name, 'payload', w.payload, 'attempt', w.attempt, 'enqueuedAt', w.enqueued_at)
$$;

CREATE OR REPLACE FUNCTION instance_json(i instances) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'instanceId', i.instance_id, 'name', i.name, 'version', i.version, 'executionId', i.execution_id,
    'status', i.status, 'stateValue', i.state_value, 'context', i.context, 'input', i.input,
    'output', i.output, 'error', i.error, 'snapshot', i.snapshot, 'definitionHash', i.definition_hash,
    'parent', CASE WHEN i.parent_instance_id IS NULL THEN NULL ELSE jsonb_build_object(
      'instanceId', i.parent_instance_id, 'executionId', i.parent_execution_id, 'invokeId', i.parent_invoke_id) END,
    'historyLength', i.history_length, 'turns', i.turns, 'createdAt', i.created_at,
    'updatedAt', i.updated_at, 'completedAt', i.completed_at)
$$;
