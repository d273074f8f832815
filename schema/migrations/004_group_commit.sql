-- durastate schema, version 4: group commit, and acks that hand their new work items to the worker at once.
-- Run like 001 (`SET LOCAL search_path TO "<schema>"`; functions capture it with SET search_path FROM CURRENT).
--
-- Each ack used to be its own transaction, so its own WAL flush: with many turns at once the
-- flushes, not the work, set the pace. The provider now sends the acks that queue up while a batch
-- is in flight as ONE statement. Each ack runs in its own subtransaction (a BEGIN ... EXCEPTION
-- block): a failing ack rolls back alone, with its NOTIFYs, and its error is returned to its caller
-- alone; the others commit together. The single-ack functions stay (one implementation, called here).

-- Inside a batch (durastate.notify_<queue> is set, transaction-local) a NOTIFY is not sent but the
-- earliest visible_at is remembered, and the batch sends one per queue at the end: once per
-- statement, as before. The setting is rolled back with a failed ack's subtransaction, like its rows.
CREATE OR REPLACE FUNCTION ds_notify(p_queue text, p_visible_at bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_key text := 'durastate.notify_' || p_queue;
  v_pending text := current_setting(v_key, true);
BEGIN
  IF p_visible_at IS NULL THEN
    RETURN;
  END IF;
  IF coalesce(v_pending, '') = '' THEN
    PERFORM pg_notify(current_schema() || '.' || p_queue, p_visible_at::text);
  ELSE
    PERFORM set_config(v_key, least(v_pending::bigint, p_visible_at)::text, true);
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
  a jsonb;
  v_results jsonb := '[]';
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
      v_results := v_results || jsonb_build_array(jsonb_build_object('workItems', v_items));
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS v_code = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL,
                              v_constraint = CONSTRAINT_NAME;
      v_results := v_results || jsonb_build_array(jsonb_build_object('error', ds_error_json(v_code, v_message, v_detail, v_constraint)));
    END;
  END LOOP;
  PERFORM ds_flush_notify();
  RETURN v_results;
END $$;

-- p_acks: [{ now, token, result, deadLetterReason }]. Returns one entry per ack, in order: {} or { error: {...} }.
CREATE FUNCTION ack_work_items(p_acks jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  a jsonb;
  v_results jsonb := '[]';
  v_code text; v_message text; v_detail text; v_constraint text;
BEGIN
  PERFORM ds_defer_notify();
  FOR a IN SELECT x FROM jsonb_array_elements(p_acks) WITH ORDINALITY AS t(x, n) ORDER BY n LOOP
    BEGIN
      PERFORM ack_work_item((a->>'now')::bigint, (a->>'token')::uuid, a->'result', a->>'deadLetterReason');
      v_results := v_results || jsonb_build_array('{}'::jsonb);
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS v_code = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL,
                              v_constraint = CONSTRAINT_NAME;
      v_results := v_results || jsonb_build_array(jsonb_build_object('error', ds_error_json(v_code, v_message, v_detail, v_constraint)));
    END;
  END LOOP;
  PERFORM ds_flush_notify();
  RETURN v_results;
END $$;
