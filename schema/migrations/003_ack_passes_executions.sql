-- durastate schema, version 3: one ack may open and close executions in passing.
-- Run like 001 (`SET LOCAL search_path TO "<schema>"`; functions capture it with SET search_path FROM CURRENT).
--
-- Version 1 let an ack write history only for the stored execution and for delta.instance.executionId,
-- and created a new instance at exactly that execution. A turn that continues as new in the instance's
-- first turn (a start and the triggering event fetched together) writes history for execution 1 and
-- an instance at execution 2; a turn whose new execution continues again at once goes from N to N+2.
-- Both were refused ('history event for an execution this ack does not write'), so the instance
-- could never be committed. Now history may target every execution from the stored one (1 for a new
-- instance) up to the new current one; the executions in between are inserted as 'continued', with
-- the inputs the delta lists in instance.passedExecutionInputs (one per passed execution, checked).

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
  v_old instances;
  v_first_opened integer;
  v_history_length integer;
  v_delta_length integer;
  v_orchestrator_at bigint;
  v_worker_at bigint;
  v_existing text;
BEGIN
  SELECT count(*) FILTER (WHERE h."executionId" = v_execution) INTO v_delta_length
  FROM jsonb_to_recordset(coalesce(p_delta->'history', '[]')) AS h("executionId" integer);

  SELECT * INTO v_old FROM instances WHERE instance_id = v_id FOR UPDATE;
  IF v_execution IS NULL OR v_execution < coalesce(v_old.execution_id, 1) THEN
    RAISE EXCEPTION 'ack for execution % of instance % whose current execution is %', v_execution, v_id, v_old.execution_id
      USING ERRCODE = 'DS005';
  END IF;
  -- Writable: the stored execution (1 for a new instance) up to the new current one.
  IF EXISTS (SELECT 1 FROM jsonb_to_recordset(coalesce(p_delta->'history', '[]')) AS h("executionId" integer)
             WHERE h."executionId" IS NULL OR h."executionId" NOT BETWEEN coalesce(v_old.execution_id, 1) AND v_execution) THEN
    RAISE EXCEPTION 'history event for an execution this ack does not write' USING ERRCODE = 'DS005';
  END IF;
  -- Opened and closed by this ack: after the stored execution (from 1 for a new instance), before the current one.
  v_first_opened := coalesce(v_old.execution_id + 1, 1);
  IF jsonb_typeof(v_passed) IS DISTINCT FROM 'array' OR jsonb_array_length(v_passed) <> greatest(v_execution - v_first_opened, 0) THEN
    RAISE EXCEPTION 'passedExecutionInputs must hold one input per execution opened and closed by this ack (% expected)',
      greatest(v_execution - v_first_opened, 0) USING ERRCODE = 'DS005';
  END IF;
  -- Kept and dead-lettered ids must be messages of this batch (the caller checks they are distinct).
  IF (SELECT count(*) FROM orchestrator_queue
      WHERE lock_token = p_token
        AND id IN (SELECT x::bigint FROM jsonb_array_elements_text(coalesce(p_delta->'keepMessageIds', '[]')
                                                                || coalesce(p_delta->'deadLetterMessageIds', '[]')) x))
     <> jsonb_array_length(coalesce(p_delta->'keepMessageIds', '[]')) + jsonb_array_length(coalesce(p_delta->'deadLetterMessageIds', '[]')) THEN
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
    INSERT INTO executions (instance_id, execution_id, input, status, started_at, completed_at)
    SELECT v_id, v_first_opened + (t.n - 1)::integer, t.input, 'continued', v_now, v_now
    FROM jsonb_array_elements(v_passed) WITH ORDINALITY AS t(input, n);
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

  INSERT INTO history (instance_id, execution_id, seq, type, data, at)
  SELECT v_id, h."executionId", h.seq, h.type, h.data, v_now
  FROM jsonb_to_recordset(coalesce(p_delta->'history', '[]')) AS h("executionId" integer, seq integer, type text, data jsonb);

  -- The fetched batch: kept messages go back unlocked, poison ones to dead_letters, the rest is consumed.
  UPDATE orchestrator_queue SET lock_token = NULL
  WHERE lock_token = p_token
    AND id IN (SELECT x::bigint FROM jsonb_array_elements_text(coalesce(p_delta->'keepMessageIds', '[]')) x);
  -- Dead letters are numbered in the order the caller listed them.
  WITH listed AS (
    SELECT x::bigint AS id, n
    FROM jsonb_array_elements_text(coalesce(p_delta->'deadLetterMessageIds', '[]')) WITH ORDINALITY AS t(x, n)
  ), dead AS (
    DELETE FROM orchestrator_queue q USING listed
    WHERE q.lock_token = p_token AND q.id = listed.id
    RETURNING q AS m, listed.n
  )
  INSERT INTO dead_letters (queue, instance_id, reason, item, dead_at)
  SELECT 'orchestrator', (dead.m).instance_id, coalesce(p_delta->>'deadLetterReason', 'dead-lettered'),
         message_json(dead.m) - 'instanceId', v_now
  FROM dead ORDER BY dead.n;
  DELETE FROM orchestrator_queue WHERE lock_token = p_token;

  -- Cancellations first: a turn may cancel a timer or activity and schedule one with the same id.
  DELETE FROM orchestrator_queue
  WHERE instance_id = v_id
    AND timer_id IN (SELECT jsonb_array_elements_text(coalesce(p_delta->'cancelTimers', '[]')));
  DELETE FROM worker_queue
  WHERE instance_id = v_id
    AND activity_id IN (SELECT jsonb_array_elements_text(coalesce(p_delta->'cancelActivities', '[]')));

  WITH inserted AS (
    INSERT INTO orchestrator_queue (instance_id, kind, payload, execution_id, timer_id, enqueued_at, visible_at)
    SELECT m."instanceId", m.kind, m.payload, m."executionId", m."timerId", v_now, coalesce(m."visibleAt", v_now)
    FROM jsonb_to_recordset(coalesce(p_delta->'messages', '[]'))
      AS m("instanceId" text, kind text, payload jsonb, "executionId" integer, "timerId" text, "visibleAt" bigint)
    UNION ALL
    SELECT v_id, 'timerFired', t.payload, t."executionId", t."timerId", v_now, t."fireAt"
    FROM jsonb_to_recordset(coalesce(p_delta->'timers', '[]'))
      AS t("timerId" text, "fireAt" bigint, "executionId" integer, payload jsonb)
    RETURNING visible_at
  )
  SELECT min(visible_at) INTO v_orchestrator_at FROM inserted;

  -- Child starts obey the same rule as client starts (a second queued start fails on the unique index).
  SELECT m->>'instanceId' INTO v_existing
  FROM jsonb_array_elements(coalesce(p_delta->'messages', '[]')) m
  JOIN instances i ON i.instance_id = m->>'instanceId'
  WHERE m->>'kind' = 'start'
  LIMIT 1;
  IF v_existing IS NOT NULL THEN
    RAISE EXCEPTION 'instance % already exists', v_existing USING ERRCODE = 'DS002', DETAIL = v_existing;
  END IF;

  WITH inserted AS (
    INSERT INTO worker_queue (instance_id, execution_id, activity_id, name, payload, enqueued_at, visible_at)
    SELECT w."instanceId", w."executionId", w."activityId", w.name, w.payload, v_now, coalesce(w."visibleAt", v_now)
    FROM jsonb_to_recordset(coalesce(p_delta->'workItems', '[]'))
      AS w("instanceId" text, "executionId" integer, "activityId" text, name text, payload jsonb, "visibleAt" bigint)
    RETURNING visible_at
  )
  SELECT min(visible_at) INTO v_worker_at FROM inserted;

  DELETE FROM instance_locks WHERE lock_token = p_token;

  -- Messages that arrived during the turn are fetchable now that the lock is released: wake for them too.
  v_orchestrator_at := least(v_orchestrator_at,
    (SELECT min(visible_at) FROM orchestrator_queue WHERE instance_id = v_id AND lock_token IS NULL));
  PERFORM ds_notify('orchestrator', v_orchestrator_at);
  PERFORM ds_notify('worker', v_worker_at);
  PERFORM pg_notify(current_schema() || '.instance', v_id);
END $$;
