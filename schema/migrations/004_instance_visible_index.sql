-- durastate schema, version 4: plans that do not depend on the statistics. A generic plan (002) is
-- made once, on whatever the statistics say then: a skewed queue, or the empty one of a new schema.
-- With 1,000,000 future timers queued by 100 instances, every ack of an unrelated instance read
-- 19,000 pages (the whole fetch index) and took 170-400 ms: "the earliest unlocked message of
-- these instances" was planned, generically, as a walk of orchestrator_queue_fetch in visible_at
-- order, filtering on instance_id, because the statistics promise 10,000 rows per instance id and
-- so a match within a few entries. The walk then evicted the cache, which also slowed the next
-- fetch (the timer-queue benchmark's "nothing visible" fetch: 1.7x the empty queue's).
-- * The per-instance index now leads with (instance_id, visible_at): an instance's earliest
--   message, and its visible ones (what a fetch locks), are one descent however many timers it
--   holds.
-- * "The earliest message of these instances" is ds_earliest_message_at: per instance, in an order
--   only this index gives, and without "lock_token IS NULL", which let the planner combine the
--   lookup with a scan of the whole partial fetch index (a BitmapAnd it chose on stale statistics).
--   Each caller asks it at a moment when the instances' messages left are all unlocked (the fetched
--   ones were just deleted, or unlocked), so the answer is the same. The three functions that
--   asked the old way are replaced as they were, but for that call (and the settings 002 gave them).
-- * The fetch locked the messages of the instances it claimed by joining them back to the queue
--   by id; on the same statistics that was planned as a hash join over a full scan of the queue's
--   primary key (16,668 messages expected of 10 instances, 4 there: 250-390 ms per fetch). It now
--   picks them first and updates them through an unnest of their ids. Its generic plans, made on
--   the empty queue of a new schema, also read every visible message to sort them (now: no bitmap
--   scans) and joined the claimed instances to the candidates by a nested loop, quadratic in the
--   batch (1.9 ms of a 100-item fetch's 3.4; the join is gone). The group ack and the eager work
--   lock had such quadratic joins too (4.4 and 5.7 ms of a 100-ack group's 14; see them below). The work
--   fetch's one join (its picked ids back to the queue, LIMIT p_max, a size a generic plan cannot
--   see) is a nested loop, which is linear there.
CREATE INDEX orchestrator_queue_instance_visible ON orchestrator_queue (instance_id, visible_at, id);
DROP INDEX orchestrator_queue_instance;
ALTER INDEX orchestrator_queue_instance_visible RENAME TO orchestrator_queue_instance;

ALTER FUNCTION fetch_work_items(bigint, bigint, integer, text) SET enable_hashjoin = off SET enable_mergejoin = off;

-- The earliest visible_at of these instances' queued messages: one descent of
-- orchestrator_queue_instance per instance. Callers hold the instances' locks and have deleted or
-- unlocked the messages they fetched, so every message counted here is an unlocked one.
CREATE FUNCTION ds_earliest_message_at(p_ids text[]) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $$
BEGIN
  RETURN (SELECT min(e.visible_at) FROM unnest(p_ids) AS u(id) CROSS JOIN LATERAL (
            SELECT q.visible_at FROM orchestrator_queue q
            WHERE q.instance_id = u.id
            ORDER BY q.instance_id, q.visible_at
            LIMIT 1) e);
END $$;

-- Version 1's fetch, but for the steps marked "Version 4", with the settings 002 gave it, and
-- without bitmap scans: the candidates are read in visible_at order and only as far as the limit
-- (a plan made on an empty queue read every visible message, then sorted them).
CREATE OR REPLACE FUNCTION fetch_orchestration_items(p_now bigint, p_lock_ms bigint, p_max integer, p_owner text) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT SET jit = off SET enable_seqscan = off
  SET plan_cache_mode = force_generic_plan SET enable_bitmapscan = off AS $$
DECLARE
  v_now bigint := ds_now(p_now);
  v_until bigint := v_now + p_lock_ms;
  v_items jsonb[] := '{}';
  v_ids text[];
  v_tokens uuid[];
  v_message_ids bigint[];
  v_message_tokens uuid[];
  v_found jsonb[];
  v_found_tokens uuid[];
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
    -- Version 4: no join back to chosen for the order (planned on an empty queue, that join was a
    -- nested loop, quadratic in the batch); the items are put in order below, by their messages.
    SELECT array_agg(c.instance_id), array_agg(c.lock_token) INTO v_ids, v_tokens FROM claimed c;
    EXIT WHEN v_ids IS NULL;

    -- Every message of the claimed instances visible now (stale tokens of an expired holder included).
    -- SKIP LOCKED: a row a transaction in flight is changing (an instance being deleted) is left
    -- alone rather than waited for.
    -- Version 4: the messages are picked (and row-locked) first, then updated through their ids.
    -- Joined back to the queue in one statement, the update was planned on skewed statistics as a
    -- hash join over a full scan of the queue's primary key; an unnest of ids is always a few rows.
    SELECT array_agg(x.id), array_agg(x.token) INTO v_message_ids, v_message_tokens
    -- (OFFSET 0: instance rows are looked up per instance by key, never joined the other way round.)
    FROM (SELECT m.id, k.token
          FROM unnest(v_ids, v_tokens) AS k(instance_id, token)
          LEFT JOIN LATERAL (SELECT i.status FROM instances i WHERE i.instance_id = k.instance_id OFFSET 0) i ON true
          JOIN orchestrator_queue m ON m.instance_id = k.instance_id
          WHERE m.visible_at <= v_now AND (i.status IS DISTINCT FROM 'suspended' OR m.kind IN ('terminate', 'resume'))
          FOR UPDATE OF m SKIP LOCKED) x;

    WITH locked AS (
      UPDATE orchestrator_queue q SET lock_token = t.token, attempt = q.attempt + 1
      FROM unnest(v_message_ids, v_message_tokens) AS t(id, token)
      WHERE q.id = t.id
      RETURNING q AS m
    ), per_instance AS (
      -- Oldest first, by each instance's first message, as the candidates were.
      SELECT (l.m).instance_id AS instance_id, (l.m).lock_token AS token,
             jsonb_agg(message_json(l.m) ORDER BY (l.m).visible_at, (l.m).id) AS messages,
             max((l.m).attempt) AS attempt, min((l.m).visible_at) AS first_at,
             (array_agg((l.m).id ORDER BY (l.m).visible_at, (l.m).id))[1] AS first_id
      FROM locked l GROUP BY (l.m).instance_id, (l.m).lock_token
    )
    SELECT array_agg(jsonb_build_object(
             'instanceId', p.instance_id, 'lockToken', p.token, 'executionId', coalesce(i.execution_id, 1),
             'messages', p.messages, 'instance', i.instance,
             'attempt', p.attempt, 'now', v_now, 'lockedUntil', v_until) ORDER BY p.first_at, p.first_id),
           array_agg(p.token)
    INTO v_found, v_found_tokens
    FROM per_instance p
    LEFT JOIN LATERAL (SELECT r.execution_id, instance_json(r) AS instance FROM instances r
                       WHERE r.instance_id = p.instance_id OFFSET 0) i ON true;
    -- Claimed instances without a message to hand out.
    v_empty := ARRAY(SELECT t FROM unnest(v_tokens) t WHERE t <> ALL (coalesce(v_found_tokens, '{}')));

    v_items := v_items || coalesce(v_found, '{}');
    -- Nothing to hand out after all (consumed meanwhile, or an expired lock with no messages left).
    EXIT WHEN cardinality(v_empty) = 0;
    DELETE FROM instance_locks WHERE lock_token = ANY (v_empty);
    EXIT WHEN cardinality(v_items) >= p_max;
  END LOOP;
  RETURN to_jsonb(v_items);
END $$;

-- Version 1's functions, but for the call of ds_earliest_message_at.
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
    ds_earliest_message_at(ARRAY[v_id]));
  PERFORM ds_notify('orchestrator', v_orchestrator_at);
  PERFORM ds_notify('worker', v_worker_at);
  PERFORM pg_notify(current_schema() || '.instance', v_id);
END $$;

CREATE OR REPLACE FUNCTION abandon_orchestration_item(p_now bigint, p_token uuid, p_delay_ms bigint, p_count_attempt boolean) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  v_now bigint := ds_now(p_now);
  v_id text := (ds_hold_instance_lock(p_token, v_now)).instance_id;
  v_delay bigint := greatest(coalesce(p_delay_ms, 0), 0);
BEGIN
  UPDATE orchestrator_queue
  SET lock_token = NULL,
      attempt = CASE WHEN coalesce(p_count_attempt, true) THEN attempt ELSE greatest(attempt - 1, 0) END
  WHERE lock_token = p_token;
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

CREATE OR REPLACE FUNCTION ack_orchestration_entries(p_acks ack_entry[]) RETURNS TABLE (n integer, outcome jsonb)
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
  v_orchestrator_at := least(v_orchestrator_at, ds_earliest_message_at(v_ids));
  PERFORM ds_notify('orchestrator', v_orchestrator_at);
  PERFORM ds_notify('worker', v_worker_at);
  PERFORM pg_notify(current_schema() || '.instance', id) FROM unnest(v_ids) id;
  RETURN QUERY SELECT * FROM unnest(v_ns, v_outcomes);
END $$;

-- Version 2's lock_acked_work, planned so that no ack reads another ack's items. Its generic plan,
-- made on the empty queue of a new schema, found each ack's items by reading every visible item of
-- the batch (the fetch index) and hash-joining them to the ack's: quadratic in the batch, 4.4 ms of
-- a 100-ack group's 14. Each item is now looked up by its own key (instance, activity, execution:
-- the unique index; lock_token is tested after, so the partial fetch index cannot serve), the
-- update reaches the rows by their ids, and the acks that took nothing are found by their numbers,
-- not by joining the acks to the results.
CREATE OR REPLACE FUNCTION lock_acked_work(p_acks ack_entry[]) RETURNS TABLE (n integer, items jsonb, all_taken boolean)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
#variable_conflict use_column
DECLARE
  -- Per item taken: the position of its ack in p_acks (not its n, a position in the caller's batch), and its id.
  v_at integer[];
  v_ids bigint[];
BEGIN
  SELECT array_agg(a.k), array_agg(w.id) INTO v_at, v_ids
  FROM unnest(p_acks) WITH ORDINALITY AS a(n, token, now, instance_id, delta, lock_work, is_new, completed_at, k)
  CROSS JOIN LATERAL (
    SELECT q.id FROM jsonb_to_recordset(a.delta->'workItems') AS x("instanceId" text, "executionId" integer, "activityId" text)
    -- OFFSET 0 keeps this a lookup per item: pulled up into the join, it let the planner read the
    -- fetch index (every visible item) once per ack again.
    CROSS JOIN LATERAL (
      SELECT r.id, r.visible_at, r.lock_token FROM worker_queue r
      WHERE r.instance_id = x."instanceId" AND r.execution_id = x."executionId" AND r.activity_id = x."activityId"
      OFFSET 0
    ) q
    WHERE q.lock_token IS NULL AND q.visible_at <= a.now
    ORDER BY q.visible_at, q.id
    LIMIT (a.lock_work->>'max')::integer
  ) w
  WHERE jsonb_typeof(a.lock_work) = 'object' AND jsonb_array_length(a.delta->'workItems') > 0;

  RETURN QUERY
  WITH locked AS (
    UPDATE worker_queue q
    SET lock_token = gen_random_uuid(), locked_until = (p_acks[t.k]).now + ((p_acks[t.k]).lock_work->>'lockMs')::bigint,
        attempt = q.attempt + 1, owner = (p_acks[t.k]).lock_work->>'owner'
    FROM unnest(v_at, v_ids) AS t(k, id)
    WHERE q.id = t.id
    RETURNING t.k, q AS item
  ), per_ack AS (
    SELECT l.k, jsonb_agg(work_item_json(l.item, (p_acks[l.k]).now) ORDER BY (l.item).visible_at, (l.item).id) AS items, count(*) AS taken
    FROM locked l GROUP BY l.k
  )
  SELECT (p_acks[p.k]).n, p.items, p.taken = jsonb_array_length((p_acks[p.k]).delta->'workItems') FROM per_ack p
  UNION ALL
  SELECT a.n, '[]'::jsonb, false
  FROM unnest(p_acks) WITH ORDINALITY AS a(n, token, now, instance_id, delta, lock_work, is_new, completed_at, k)
  WHERE a.k <> ALL (coalesce(v_at, '{}'));
END $$;

-- Version 1's group ack, but for the statements marked "Version 4", with the settings 002 gave it.
CREATE OR REPLACE FUNCTION ack_orchestration_items(p_acks jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT
  SET plan_cache_mode = force_generic_plan SET jit = off SET enable_seqscan = off AS $$
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
