-- durastate schema, version 1.
-- The runner executes this file with `SET LOCAL search_path TO "<schema>"`, so no object here names
-- its schema; functions capture that search_path (`SET search_path FROM CURRENT`) to find their
-- tables, and use current_schema() to scope NOTIFY channels.
-- Times are epoch milliseconds (bigint). Payloads are jsonb. Lock tokens are uuids.
-- Errors raised with custom SQLSTATEs, mapped to typed errors by providers/postgres/errors.ts:
--   DS001 lock lost, DS002 instance exists, DS003 instance not found, DS004 instance running,
--   DS005 invalid argument, DS006 dead letter not found.
-- Instance ids are text COLLATE "C": code-unit order, the same in every provider and on every server.
-- Every provider call is one of these functions. Acks arrive in groups (the provider's group commit):
-- the usual acks of a group are written with one statement per table for the whole group; the others,
-- or all of them when that raises, go one by one in subtransactions, so an error fails only its ack.

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

-- Wake fetchers: one NOTIFY per statement. Payload `<visible_at>/<now>`: the earliest visible_at
-- among what became available and the database clock when the NOTIFY is queued, so the notifier
-- knows whether the work is due without estimating the database clock (its estimate lags, and made
-- due work wait on a timer). Inside a group commit (ds_defer_notify) only the earliest visible_at is
-- remembered; ds_flush_notify calls this again at the end of the group, so `now` is read then.
-- Notifiers also accept a bare `<visible_at>` (older servers' payload).
CREATE FUNCTION ds_notify(p_queue text, p_visible_at bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_key text := 'durastate.notify_' || p_queue;
  v_pending text := current_setting(v_key, true);
BEGIN
  IF p_visible_at IS NULL THEN
    RETURN;
  END IF;
  IF coalesce(v_pending, '') = '' THEN
    -- The database clock as ds_now reads it (same rounding as the visible_at it is compared with),
    -- spelled out: this function has no search_path of its own to find ds_now by.
    PERFORM pg_notify(current_schema() || '.' || p_queue,
                      p_visible_at::text || '/' || ((extract(epoch FROM clock_timestamp()) * 1000)::bigint)::text);
  ELSE
    PERFORM set_config(v_key, least(v_pending::bigint, p_visible_at)::text, true);
  END IF;
END $$;

CREATE FUNCTION message_json(q orchestrator_queue) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', q.id::text, 'instanceId', q.instance_id, 'kind', q.kind, 'payload', q.payload,
    'executionId', q.execution_id, 'timerId', q.timer_id, 'enqueuedAt', q.enqueued_at,
    'visibleAt', q.visible_at, 'attempt', q.attempt)
$$;

CREATE FUNCTION work_item_json(w worker_queue, p_now bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', w.id::text, 'lockToken', w.lock_token, 'instanceId', w.instance_id, 'executionId', w.execution_id,
    'activityId', w.activity_id, 'name', w.name, 'payload', w.payload, 'attempt', w.attempt,
    'enqueuedAt', w.enqueued_at, 'lockedUntil', w.locked_until, 'now', p_now)
$$;

CREATE FUNCTION dead_work_item_json(w worker_queue) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', w.id::text, 'executionId', w.execution_id, 'activityId', w.activity_id,
    'name', w.name, 'payload', w.payload, 'attempt', w.attempt, 'enqueuedAt', w.enqueued_at)
$$;

CREATE FUNCTION instance_json(i instances) RETURNS jsonb
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
-- Candidates in order of their oldest fetchable message; the first p_max whose advisory lock is free
-- (ds_try_instance) get their lock rows in one statement, then all their messages are locked and
-- their instance rows read in a second one. An instance claimed with nothing to hand out (an expired
-- lock whose messages are gone) is released, and the call looks again for the places it left.
-- The fetch only takes locks and counts attempts, so it commits without waiting for the WAL flush
-- (synchronous_commit off): if the server crashes first, the lost fetch is a lock never taken, the
-- turn is redone and the old holder's ack fails with LockLostError, as after an expired lock; every
-- ack, renew and abandon commits synchronously, which flushes the fetch's WAL too.
-- SET jit = off, enable_seqscan = off: these statements touch a handful of rows by design, but a
-- plan that plpgsql cached while the queue was small (seq scans) stays for the connection's life,
-- and estimates that grow with the queue (the expired-lock branch) triggered JIT compilation costing
-- ~100-290 ms per call with 0.5-1M timers queued; every statement is meant to use an index
-- (stress/explain-plans.ts fails on a Seq Scan), so the functions say so.
CREATE FUNCTION fetch_orchestration_items(p_now bigint, p_lock_ms bigint, p_max integer, p_owner text) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT SET jit = off SET enable_seqscan = off AS $$
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

CREATE FUNCTION abandon_orchestration_item(p_now bigint, p_token uuid, p_delay_ms bigint, p_count_attempt boolean) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
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
    (SELECT min(visible_at) FROM orchestrator_queue WHERE instance_id = v_id AND lock_token IS NULL)));
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

-- Lock up to p_max work items, oldest first (free visible ones and expired locks); jsonb array of
-- WorkItem. Commits asynchronously and plans without JIT or seq scans, as fetch_orchestration_items.
CREATE FUNCTION fetch_work_items(p_now bigint, p_lock_ms bigint, p_max integer, p_owner text) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT SET jit = off SET enable_seqscan = off AS $$
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

-- Start deferring NOTIFYs (the sentinel is "nothing to send yet").
CREATE FUNCTION ds_defer_notify() RETURNS void
LANGUAGE sql AS $$
  SELECT set_config('durastate.notify_orchestrator', '9223372036854775807', true),
         set_config('durastate.notify_worker', '9223372036854775807', true)
$$;

-- Send what was deferred, one NOTIFY per queue, and stop deferring.
CREATE FUNCTION ds_flush_notify() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_queue text;
  v_at bigint;
BEGIN
  FOREACH v_queue IN ARRAY ARRAY['orchestrator', 'worker'] LOOP
    v_at := current_setting('durastate.notify_' || v_queue)::bigint;
    PERFORM set_config('durastate.notify_' || v_queue, '', true);
    IF v_at < 9223372036854775807 THEN
      PERFORM ds_notify(v_queue, v_at);
    END IF;
  END LOOP;
END $$;

-- What a failed ack reports to its caller: the fields providers/postgres/errors.ts maps.
CREATE FUNCTION ds_error_json(p_code text, p_message text, p_detail text, p_constraint text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('code', p_code, 'message', p_message, 'detail', nullif(p_detail, ''),
                            'constraint', nullif(p_constraint, ''))
$$;

-- p_acks: [{ now, token, delta, lockWork?: { lockMs, max, owner } }]. Returns one entry per ack, in
-- order: { workItems: [WorkItem] } when it committed, { error: {...} } when it rolled back.
-- lockWork: the ack's new work items that are visible now (at most max, oldest first) are locked
-- to the caller's worker as a fetch would (attempt 1), and returned; if it took them all, nobody
-- else is woken for them.
CREATE FUNCTION ack_orchestration_items(p_acks jsonb) RETURNS jsonb
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

-- Like ack_orchestration_items: the usual work acks of a batch (first occurrence of a token holding
-- a live lock, no dead letter, a result that is not a child start) are committed by one DELETE and
-- one INSERT for the whole batch, instead of a subtransaction and two statements each (~0.35 ms per
-- ack, the bulk of a fan-out's database time). Every other ack, or every ack when the set-based part
-- raises (it is then rolled back as a whole), goes through ack_work_item alone, which raises its own
-- error. Results of the batch are enqueued in batch order, so their ids keep the one-by-one order.
CREATE FUNCTION ack_work_items(p_acks jsonb) RETURNS jsonb
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

-- The usual acks of a batch, all at once: same execution, nothing kept or dead-lettered, history for
-- that execution only, first use of the token in the batch (ack_orchestration_items picks them). p_acks holds
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
