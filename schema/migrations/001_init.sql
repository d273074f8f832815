-- durastate schema, version 1.
-- The runner executes this file with `SET LOCAL search_path TO "<schema>"`, so no object here names
-- its schema; functions capture that search_path (`SET search_path FROM CURRENT`) to find their
-- tables, and use current_schema() to scope NOTIFY channels.
-- Times are epoch milliseconds (bigint). Payloads are jsonb. Lock tokens are uuids.
-- Errors raised with custom SQLSTATEs, mapped to typed errors by providers/postgres/errors.ts:
--   DS001 lock lost, DS002 instance exists, DS003 instance not found, DS004 instance running,
--   DS005 invalid argument, DS006 dead letter not found.
-- Instance ids are text COLLATE "C": code-unit order, the same in every provider and on every server.

-- ------------------------------------------------------------------ tables

CREATE TABLE instances (
  instance_id         text    COLLATE "C" PRIMARY KEY,
  name                text    NOT NULL,
  version             text    NOT NULL,
  execution_id        integer NOT NULL CHECK (execution_id >= 1),
  status              text    NOT NULL CHECK (status IN ('running', 'suspended', 'completed', 'failed', 'terminated')),
  state_value         jsonb   NOT NULL,
  context             jsonb   NOT NULL,
  input               jsonb   NOT NULL,
  output              jsonb,
  error               jsonb,
  snapshot            jsonb,
  definition_hash     text    NOT NULL,
  parent_instance_id  text    COLLATE "C",
  parent_execution_id integer,
  parent_invoke_id    text,
  history_length      integer NOT NULL,
  turns               bigint  NOT NULL,
  created_at          bigint  NOT NULL,
  updated_at          bigint  NOT NULL,
  completed_at        bigint
);
-- listInstances pages by (created_at, instance_id).
CREATE INDEX instances_created ON instances (created_at, instance_id);
-- Cascading deletes walk parent -> children.
CREATE INDEX instances_parent ON instances (parent_instance_id) WHERE parent_instance_id IS NOT NULL;
-- purge(completedBefore).
CREATE INDEX instances_completed ON instances (completed_at) WHERE completed_at IS NOT NULL;
-- The fetch skips messages of suspended instances: a small index instead of scanning all instances.
CREATE INDEX instances_suspended ON instances (instance_id) WHERE status = 'suspended';

CREATE TABLE executions (
  instance_id  text    COLLATE "C" NOT NULL,
  execution_id integer NOT NULL,
  input        jsonb   NOT NULL,
  -- the instance status while current; 'continued' once continue-as-new closed it
  status       text    NOT NULL CHECK (status IN ('running', 'suspended', 'completed', 'failed', 'terminated', 'continued')),
  started_at   bigint  NOT NULL,
  completed_at bigint,
  PRIMARY KEY (instance_id, execution_id)
);

CREATE TABLE history (
  instance_id  text    COLLATE "C" NOT NULL,
  execution_id integer NOT NULL,
  seq          integer NOT NULL CHECK (seq >= 0),
  type         text    NOT NULL,
  data         jsonb   NOT NULL,
  at           bigint  NOT NULL,
  -- a duplicate seq fails the ack that brought it
  PRIMARY KEY (instance_id, execution_id, seq)
);

CREATE TABLE orchestrator_queue (
  id           bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  instance_id  text    COLLATE "C" NOT NULL,
  kind         text    NOT NULL CHECK (kind IN ('start', 'event', 'activityCompleted', 'activityFailed', 'timerFired',
                                                'childCompleted', 'childFailed', 'terminate', 'suspend', 'resume')),
  payload      jsonb   NOT NULL,
  execution_id integer,
  timer_id     text,
  enqueued_at  bigint  NOT NULL,
  visible_at   bigint  NOT NULL,
  attempt      integer NOT NULL DEFAULT 0,
  -- the token of the instance lock this message was handed out under; NULL = not handed out
  lock_token   uuid
);
-- The fetch scan: oldest visible message not handed out.
CREATE INDEX orchestrator_queue_fetch ON orchestrator_queue (visible_at, id) WHERE lock_token IS NULL;
-- An instance's messages (fetch locks them all; ack/abandon release them; deletes).
CREATE INDEX orchestrator_queue_instance ON orchestrator_queue (instance_id, id);
-- Ack/abandon find the batch by its token.
CREATE INDEX orchestrator_queue_token ON orchestrator_queue (lock_token) WHERE lock_token IS NOT NULL;
-- At most one queued start per instance (a concurrent second start fails here).
CREATE UNIQUE INDEX orchestrator_queue_one_start ON orchestrator_queue (instance_id) WHERE kind = 'start';
-- Durable timers are cancelled by id; an id is unique per instance while queued.
CREATE UNIQUE INDEX orchestrator_queue_timer ON orchestrator_queue (instance_id, timer_id) WHERE timer_id IS NOT NULL;

-- One row per held (or expired, not yet taken over) instance lock; released by ack/abandon.
CREATE TABLE instance_locks (
  instance_id  text   COLLATE "C" PRIMARY KEY,
  lock_token   uuid   NOT NULL UNIQUE,
  locked_until bigint NOT NULL,
  locked_at    bigint NOT NULL,
  owner        text
);
-- Fetch looks for expired locks to take over.
CREATE INDEX instance_locks_until ON instance_locks (locked_until);

CREATE TABLE worker_queue (
  id           bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  instance_id  text    COLLATE "C" NOT NULL,
  execution_id integer NOT NULL,
  activity_id  text    NOT NULL,
  name         text    NOT NULL,
  payload      jsonb   NOT NULL,
  enqueued_at  bigint  NOT NULL,
  visible_at   bigint  NOT NULL,
  attempt      integer NOT NULL DEFAULT 0,
  lock_token   uuid    UNIQUE,
  locked_until bigint,
  owner        text,
  -- cancelActivities deletes by (instance, activity id); one queued item per invoke id
  UNIQUE (instance_id, activity_id, execution_id),
  CHECK ((lock_token IS NULL) = (locked_until IS NULL))
);
CREATE INDEX worker_queue_fetch ON worker_queue (visible_at, id) WHERE lock_token IS NULL;
CREATE INDEX worker_queue_expired ON worker_queue (locked_until) WHERE lock_token IS NOT NULL;

CREATE TABLE dead_letters (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue       text   NOT NULL CHECK (queue IN ('orchestrator', 'worker')),
  instance_id text   COLLATE "C" NOT NULL,
  reason      text   NOT NULL,
  item        jsonb  NOT NULL,
  dead_at     bigint NOT NULL
);
CREATE INDEX dead_letters_instance ON dead_letters (instance_id);

-- ------------------------------------------------------------------ helpers

-- The provider clock: the injected time if the caller passed one, else the database's.
CREATE FUNCTION ds_now(p_now bigint) RETURNS bigint
LANGUAGE sql VOLATILE AS $$
  SELECT coalesce(p_now, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)
$$;

CREATE FUNCTION ds_raise_lock_lost() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'lock token no longer holds the lock' USING ERRCODE = 'DS001';
END $$;

-- Wake fetchers: one NOTIFY per statement, payload = earliest visible_at among what became available.
CREATE FUNCTION ds_notify(p_queue text, p_visible_at bigint) RETURNS void
LANGUAGE sql AS $$
  SELECT pg_notify(current_schema() || '.' || p_queue, p_visible_at::text) WHERE p_visible_at IS NOT NULL
$$;

CREATE FUNCTION message_json(q orchestrator_queue) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object(
    'id', q.id::text, 'instanceId', q.instance_id, 'kind', q.kind, 'payload', q.payload,
    'executionId', q.execution_id, 'timerId', q.timer_id, 'enqueuedAt', q.enqueued_at,
    'visibleAt', q.visible_at, 'attempt', q.attempt)
$$;

CREATE FUNCTION work_item_json(w worker_queue, p_now bigint) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object(
    'id', w.id::text, 'lockToken', w.lock_token, 'instanceId', w.instance_id, 'executionId', w.execution_id,
    'activityId', w.activity_id, 'name', w.name, 'payload', w.payload, 'attempt', w.attempt,
    'enqueuedAt', w.enqueued_at, 'lockedUntil', w.locked_until, 'now', p_now)
$$;

-- What dead_letters.item holds for a work item: enough to put it back (see redrive_dead_letter).
CREATE FUNCTION dead_work_item_json(w worker_queue) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object(
    'id', w.id::text, 'executionId', w.execution_id, 'activityId', w.activity_id,
    'name', w.name, 'payload', w.payload, 'attempt', w.attempt, 'enqueuedAt', w.enqueued_at)
$$;

CREATE FUNCTION instance_json(i instances) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object(
    'instanceId', i.instance_id, 'name', i.name, 'version', i.version, 'executionId', i.execution_id,
    'status', i.status, 'stateValue', i.state_value, 'context', i.context, 'input', i.input,
    'output', i.output, 'error', i.error, 'snapshot', i.snapshot, 'definitionHash', i.definition_hash,
    'parent', CASE WHEN i.parent_instance_id IS NULL THEN NULL ELSE jsonb_build_object(
      'instanceId', i.parent_instance_id, 'executionId', i.parent_execution_id, 'invokeId', i.parent_invoke_id) END,
    'historyLength', i.history_length, 'turns', i.turns, 'createdAt', i.created_at,
    'updatedAt', i.updated_at, 'completedAt', i.completed_at)
$$;

-- ------------------------------------------------------------------ orchestrator queue

CREATE FUNCTION enqueue_orchestrator_message(p_now bigint, p_msg jsonb, p_visible_at bigint) RETURNS text
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_now bigint := ds_now(p_now);
  v_visible bigint := coalesce(p_visible_at, v_now);
  v_instance text := p_msg->>'instanceId';
  v_kind text := p_msg->>'kind';
  v_id bigint;
BEGIN
  IF v_kind = 'start' AND EXISTS (SELECT 1 FROM orchestrator_queue WHERE instance_id = v_instance AND kind = 'start') THEN
    RAISE EXCEPTION 'instance % already has a start queued', v_instance USING ERRCODE = 'DS002', DETAIL = v_instance;
  END IF;
  INSERT INTO orchestrator_queue (instance_id, kind, payload, execution_id, timer_id, enqueued_at, visible_at)
  VALUES (v_instance, v_kind, p_msg->'payload', (p_msg->>'executionId')::integer, p_msg->>'timerId', v_now, v_visible)
  RETURNING id INTO v_id;
  -- Checked after the insert, with this statement's fresh snapshot: a first ack that committed
  -- meanwhile (consuming an earlier start) is seen here.
  IF v_kind = 'start' AND EXISTS (SELECT 1 FROM instances WHERE instance_id = v_instance) THEN
    RAISE EXCEPTION 'instance % already exists', v_instance USING ERRCODE = 'DS002', DETAIL = v_instance;
  END IF;
  PERFORM ds_notify('orchestrator', v_visible);
  RETURN v_id::text;
END $$;

-- Lock up to p_max instances with fetchable messages; returns a jsonb array of OrchestrationItem.
CREATE FUNCTION fetch_orchestration_items(p_now bigint, p_lock_ms bigint, p_max integer, p_owner text) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_now bigint := ds_now(p_now);
  v_until bigint := v_now + p_lock_ms;
  v_items jsonb := '[]';
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
    v_items := v_items || jsonb_build_array(jsonb_build_object(
      'instanceId', c.instance_id, 'lockToken', v_token, 'executionId', v_execution,
      'messages', v_messages, 'instance', v_instance, 'attempt', v_attempt,
      'now', v_now, 'lockedUntil', v_until));
  END LOOP;
  RETURN v_items;
END $$;

-- The lock row of a token, locked for this transaction, if the lock is still live; else DS001.
CREATE FUNCTION ds_hold_instance_lock(p_token uuid, p_now bigint) RETURNS instance_locks
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_lock instance_locks;
BEGIN
  SELECT * INTO v_lock FROM instance_locks WHERE lock_token = p_token FOR UPDATE;
  IF NOT FOUND OR v_lock.locked_until <= p_now THEN
    PERFORM ds_raise_lock_lost();
  END IF;
  RETURN v_lock;
END $$;

-- Commit one turn (OrchestrationDelta as jsonb). All or nothing: any error rolls the statement back,
-- leaving the lock held.
CREATE FUNCTION ack_orchestration_item(p_now bigint, p_token uuid, p_delta jsonb) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_now bigint := ds_now(p_now);
  v_id text := (ds_hold_instance_lock(p_token, v_now)).instance_id;
  d jsonb := p_delta->'instance';
  v_execution integer := (d->>'executionId')::integer;
  v_status text := d->>'status';
  v_completed bigint := CASE WHEN d->>'status' IN ('completed', 'failed', 'terminated') THEN v_now END;
  v_old instances;
  v_history_length integer;
  v_delta_length integer;
  v_orchestrator_at bigint;
  v_worker_at bigint;
  v_existing text;
BEGIN
  SELECT count(*) FILTER (WHERE h."executionId" = v_execution) INTO v_delta_length
  FROM jsonb_to_recordset(coalesce(p_delta->'history', '[]')) AS h("executionId" integer);

  SELECT * INTO v_old FROM instances WHERE instance_id = v_id FOR UPDATE;
  IF EXISTS (SELECT 1 FROM jsonb_to_recordset(coalesce(p_delta->'history', '[]')) AS h("executionId" integer)
             WHERE h."executionId" IS DISTINCT FROM v_execution AND h."executionId" IS DISTINCT FROM v_old.execution_id) THEN
    RAISE EXCEPTION 'history event for an execution this ack does not write' USING ERRCODE = 'DS005';
  END IF;
  -- Kept and dead-lettered ids must be messages of this batch (the caller checks they are distinct).
  IF (SELECT count(*) FROM orchestrator_queue
      WHERE lock_token = p_token
        AND id IN (SELECT x::bigint FROM jsonb_array_elements_text(coalesce(p_delta->'keepMessageIds', '[]')
                                                                || coalesce(p_delta->'deadLetterMessageIds', '[]')) x))
     <> jsonb_array_length(coalesce(p_delta->'keepMessageIds', '[]')) + jsonb_array_length(coalesce(p_delta->'deadLetterMessageIds', '[]')) THEN
    RAISE EXCEPTION 'keepMessageIds and deadLetterMessageIds must be messages fetched with this lock' USING ERRCODE = 'DS005';
  END IF;
  IF NOT FOUND THEN
    -- First ack: the instance is born here, never on enqueue.
    INSERT INTO instances (instance_id, name, version, execution_id, status, state_value, context, input, output,
                           error, snapshot, definition_hash, parent_instance_id, parent_execution_id,
                           parent_invoke_id, history_length, turns, created_at, updated_at, completed_at)
    VALUES (v_id, d->>'name', d->>'version', v_execution, v_status, d->'stateValue', d->'context', d->'input',
            d->'output', d->'error', d->'snapshot', d->>'definitionHash', d->'parent'->>'instanceId',
            (d->'parent'->>'executionId')::integer, d->'parent'->>'invokeId',
            v_delta_length, 1, v_now, v_now, v_completed);
    INSERT INTO executions (instance_id, execution_id, input, status, started_at, completed_at)
    VALUES (v_id, v_execution, d->'input', v_status, v_now, v_completed);
  ELSE
    IF v_execution IS NULL OR v_execution < v_old.execution_id THEN
      RAISE EXCEPTION 'ack for execution % of instance % whose current execution is %', v_execution, v_id, v_old.execution_id
        USING ERRCODE = 'DS005';
    END IF;
    IF v_execution > v_old.execution_id THEN
      -- Continue-as-new: close the old execution, open the new one with its own input and history.
      UPDATE executions SET status = 'continued', completed_at = v_now
      WHERE instance_id = v_id AND execution_id = v_old.execution_id;
      INSERT INTO executions (instance_id, execution_id, input, status, started_at, completed_at)
      VALUES (v_id, v_execution, d->'input', v_status, v_now, v_completed);
      v_history_length := v_delta_length;
    ELSE
      -- A turn of an instance already terminal keeps the moment it ended.
      IF v_old.completed_at IS NOT NULL AND v_completed IS NOT NULL THEN
        v_completed := v_old.completed_at;
      END IF;
      UPDATE executions SET status = v_status, completed_at = v_completed
      WHERE instance_id = v_id AND execution_id = v_execution;
      v_history_length := v_old.history_length + v_delta_length;
    END IF;
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

CREATE FUNCTION abandon_orchestration_item(p_now bigint, p_token uuid, p_delay_ms bigint, p_count_attempt boolean) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_now bigint := ds_now(p_now);
  v_id text := (ds_hold_instance_lock(p_token, v_now)).instance_id;
  v_visible bigint := v_now + greatest(coalesce(p_delay_ms, 0), 0);
BEGIN
  UPDATE orchestrator_queue
  SET lock_token = NULL, visible_at = v_visible,
      attempt = CASE WHEN coalesce(p_count_attempt, true) THEN attempt ELSE greatest(attempt - 1, 0) END
  WHERE lock_token = p_token;
  DELETE FROM instance_locks WHERE lock_token = p_token;
  PERFORM ds_notify('orchestrator',
    (SELECT min(visible_at) FROM orchestrator_queue WHERE instance_id = v_id AND lock_token IS NULL));
END $$;

CREATE FUNCTION renew_orchestration_lock(p_now bigint, p_token uuid, p_lock_ms bigint) RETURNS bigint
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_now bigint := ds_now(p_now);
  v_until bigint;
BEGIN
  UPDATE instance_locks SET locked_until = v_now + p_lock_ms
  WHERE lock_token = p_token AND locked_until > v_now
  RETURNING locked_until INTO v_until;
  IF NOT FOUND THEN
    PERFORM ds_raise_lock_lost();
  END IF;
  RETURN v_until;
END $$;

-- ------------------------------------------------------------------ worker queue

-- Lock up to p_max work items, oldest first (free visible ones and expired locks); jsonb array of WorkItem.
CREATE FUNCTION fetch_work_items(p_now bigint, p_lock_ms bigint, p_max integer, p_owner text) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_now bigint := ds_now(p_now);
  v_items jsonb;
BEGIN
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

-- Delete the item and enqueue its result to the orchestrator queue, atomically.
CREATE FUNCTION ack_work_item(p_now bigint, p_token uuid, p_result jsonb, p_dead_letter_reason text) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_now bigint := ds_now(p_now);
  v_item worker_queue;
  v_visible bigint;
BEGIN
  DELETE FROM worker_queue WHERE lock_token = p_token AND locked_until > v_now RETURNING * INTO v_item;
  IF NOT FOUND THEN
    PERFORM ds_raise_lock_lost();
  END IF;
  IF p_dead_letter_reason IS NOT NULL THEN
    INSERT INTO dead_letters (queue, instance_id, reason, item, dead_at)
    VALUES ('worker', v_item.instance_id, p_dead_letter_reason, dead_work_item_json(v_item), v_now);
  END IF;
  INSERT INTO orchestrator_queue (instance_id, kind, payload, execution_id, timer_id, enqueued_at, visible_at)
  VALUES (p_result->>'instanceId', p_result->>'kind', p_result->'payload', (p_result->>'executionId')::integer,
          p_result->>'timerId', v_now, coalesce((p_result->>'visibleAt')::bigint, v_now))
  RETURNING visible_at INTO v_visible;
  IF p_result->>'kind' = 'start' AND EXISTS (SELECT 1 FROM instances WHERE instance_id = p_result->>'instanceId') THEN
    RAISE EXCEPTION 'instance % already exists', p_result->>'instanceId' USING ERRCODE = 'DS002', DETAIL = p_result->>'instanceId';
  END IF;
  PERFORM ds_notify('orchestrator', v_visible);
END $$;

CREATE FUNCTION abandon_work_item(p_now bigint, p_token uuid, p_delay_ms bigint, p_count_attempt boolean) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_now bigint := ds_now(p_now);
  v_visible bigint := v_now + greatest(coalesce(p_delay_ms, 0), 0);
BEGIN
  UPDATE worker_queue
  SET lock_token = NULL, locked_until = NULL, owner = NULL, visible_at = v_visible,
      attempt = CASE WHEN coalesce(p_count_attempt, true) THEN attempt ELSE greatest(attempt - 1, 0) END
  WHERE lock_token = p_token AND locked_until > v_now;
  IF NOT FOUND THEN
    PERFORM ds_raise_lock_lost();
  END IF;
  PERFORM ds_notify('worker', v_visible);
END $$;

CREATE FUNCTION renew_work_item_lock(p_now bigint, p_token uuid, p_lock_ms bigint) RETURNS bigint
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_now bigint := ds_now(p_now);
  v_until bigint;
BEGIN
  UPDATE worker_queue SET locked_until = v_now + p_lock_ms
  WHERE lock_token = p_token AND locked_until > v_now
  RETURNING locked_until INTO v_until;
  IF NOT FOUND THEN
    PERFORM ds_raise_lock_lost();
  END IF;
  RETURN v_until;
END $$;

-- ------------------------------------------------------------------ reads

-- The earliest moment something in the queue may become fetchable (a visible_at, or a lock expiry).
CREATE FUNCTION next_visible_at(p_queue text) RETURNS bigint
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
  SELECT CASE p_queue
    WHEN 'orchestrator' THEN least(
      (SELECT min(visible_at) FROM orchestrator_queue WHERE lock_token IS NULL),
      (SELECT min(locked_until) FROM instance_locks))
    ELSE least(
      (SELECT min(visible_at) FROM worker_queue WHERE lock_token IS NULL),
      (SELECT min(locked_until) FROM worker_queue WHERE lock_token IS NOT NULL))
  END
$$;

CREATE FUNCTION queue_depths(p_now bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $$
DECLARE
  v_now bigint := ds_now(p_now);
  v_orchestrator jsonb;
  v_worker jsonb;
BEGIN
  -- Handed out under a lock that has expired counts as visible (or delayed) again, as fetch sees it.
  SELECT jsonb_build_object(
    'visible', count(*) FILTER (WHERE l.lock_token IS NULL AND q.visible_at <= v_now),
    'delayed', count(*) FILTER (WHERE l.lock_token IS NULL AND q.visible_at > v_now),
    'locked', count(*) FILTER (WHERE l.lock_token IS NOT NULL))
  INTO v_orchestrator
  FROM orchestrator_queue q LEFT JOIN instance_locks l ON l.lock_token = q.lock_token AND l.locked_until > v_now;
  SELECT jsonb_build_object(
    'visible', count(*) FILTER (WHERE NOT coalesce(locked_until > v_now, false) AND visible_at <= v_now),
    'delayed', count(*) FILTER (WHERE NOT coalesce(locked_until > v_now, false) AND visible_at > v_now),
    'locked', count(*) FILTER (WHERE coalesce(locked_until > v_now, false)))
  INTO v_worker FROM worker_queue;
  RETURN jsonb_build_object('orchestrator', v_orchestrator, 'worker', v_worker,
                            'deadLetters', (SELECT count(*) FROM dead_letters));
END $$;

-- ------------------------------------------------------------------ admin

-- Delete instances and all their descendants with everything they own. Returns instances deleted.
CREATE FUNCTION ds_delete_instance_trees(p_roots text[]) RETURNS integer
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_ids text[];
BEGIN
  WITH RECURSIVE tree AS (
    SELECT instance_id FROM instances WHERE instance_id = ANY (p_roots)
    UNION
    SELECT c.instance_id FROM instances c JOIN tree t ON c.parent_instance_id = t.instance_id
  )
  SELECT array_agg(instance_id) INTO v_ids FROM tree;
  IF v_ids IS NULL THEN
    RETURN 0;
  END IF;
  DELETE FROM history WHERE instance_id = ANY (v_ids);
  DELETE FROM executions WHERE instance_id = ANY (v_ids);
  DELETE FROM orchestrator_queue WHERE instance_id = ANY (v_ids);
  DELETE FROM worker_queue WHERE instance_id = ANY (v_ids);
  DELETE FROM instance_locks WHERE instance_id = ANY (v_ids);
  DELETE FROM instances WHERE instance_id = ANY (v_ids);
  RETURN cardinality(v_ids);
END $$;

CREATE FUNCTION delete_instance(p_instance_id text, p_force boolean) RETURNS integer
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_running text;
BEGIN
  PERFORM 1 FROM instances WHERE instance_id = p_instance_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'instance % does not exist', p_instance_id USING ERRCODE = 'DS003', DETAIL = p_instance_id;
  END IF;
  IF NOT coalesce(p_force, false) THEN
    WITH RECURSIVE tree AS (
      SELECT instance_id, status FROM instances WHERE instance_id = p_instance_id
      UNION
      SELECT c.instance_id, c.status FROM instances c JOIN tree t ON c.parent_instance_id = t.instance_id
    )
    SELECT instance_id INTO v_running FROM tree
    WHERE status NOT IN ('completed', 'failed', 'terminated') LIMIT 1;
    IF v_running IS NOT NULL THEN
      RAISE EXCEPTION 'instance % is still running', v_running USING ERRCODE = 'DS004', DETAIL = v_running;
    END IF;
  END IF;
  RETURN ds_delete_instance_trees(ARRAY[p_instance_id]);
END $$;

CREATE FUNCTION prune_executions(p_instance_id text, p_keep integer) RETURNS integer
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_current integer;
  v_deleted integer;
BEGIN
  SELECT execution_id INTO v_current FROM instances WHERE instance_id = p_instance_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'instance % does not exist', p_instance_id USING ERRCODE = 'DS003', DETAIL = p_instance_id;
  END IF;
  -- Keep the newest p_keep executions (at least the current one).
  DELETE FROM history WHERE instance_id = p_instance_id AND execution_id <= v_current - greatest(p_keep, 1);
  DELETE FROM executions WHERE instance_id = p_instance_id AND execution_id <= v_current - greatest(p_keep, 1);
  GET DIAGNOSTICS v_deleted = ROW_COUNT;
  RETURN v_deleted;
END $$;

CREATE FUNCTION purge(p_completed_before bigint) RETURNS integer
LANGUAGE sql SET search_path FROM CURRENT AS $$
  SELECT ds_delete_instance_trees(coalesce(array_agg(instance_id), '{}'))
  FROM instances
  WHERE completed_at < p_completed_before AND status IN ('completed', 'failed', 'terminated')
$$;

-- Put a dead letter back in its queue, visible now, attempt count reset.
CREATE FUNCTION redrive_dead_letter(p_now bigint, p_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  v_now bigint := ds_now(p_now);
  v_dead dead_letters;
BEGIN
  DELETE FROM dead_letters WHERE id = p_id RETURNING * INTO v_dead;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'dead letter % does not exist', p_id USING ERRCODE = 'DS006', DETAIL = p_id::text;
  END IF;
  IF v_dead.queue = 'orchestrator' THEN
    INSERT INTO orchestrator_queue (instance_id, kind, payload, execution_id, timer_id, enqueued_at, visible_at)
    VALUES (v_dead.instance_id, v_dead.item->>'kind', v_dead.item->'payload', (v_dead.item->>'executionId')::integer,
            v_dead.item->>'timerId', v_now, v_now);
    IF v_dead.item->>'kind' = 'start' AND EXISTS (SELECT 1 FROM instances WHERE instance_id = v_dead.instance_id) THEN
      RAISE EXCEPTION 'instance % already exists', v_dead.instance_id USING ERRCODE = 'DS002', DETAIL = v_dead.instance_id;
    END IF;
    PERFORM ds_notify('orchestrator', v_now);
  ELSE
    INSERT INTO worker_queue (instance_id, execution_id, activity_id, name, payload, enqueued_at, visible_at)
    VALUES (v_dead.instance_id, (v_dead.item->>'executionId')::integer, v_dead.item->>'activityId',
            v_dead.item->>'name', v_dead.item->'payload', v_now, v_now);
    PERFORM ds_notify('worker', v_now);
  END IF;
END $$;
