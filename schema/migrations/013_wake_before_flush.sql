-- durastate schema, version 13: a lone enqueue (a client's start or event on an idle system) wakes
-- its fetcher before its WAL is flushed, names its instance in the NOTIFY, and still returns only
-- after the flush; a fetcher woken by such a NOTIFY alone locks that instance directly.
--
-- 1. Waking before the flush. Before, the enqueue committed with the flush, and PostgreSQL sends a
-- NOTIFY, and makes the row visible, only once the commit is flushed: the fetcher woke a flush later
-- than it could have (and the flush's outliers, 3-5 ms on this box, were the outliers of event ->
-- turn started). Now the procedure commits the enqueue without waiting (synchronous_commit off,
-- transaction-local), so the row is visible and the NOTIFY leaves at once, then waits for the flush
-- in a second transaction before it returns: that transaction writes one WAL record (a transactional
-- logical message with the prefix 'durastate.flush' and no content: the cheapest record a
-- transaction can write, and one that needs no table) and commits with the session's
-- synchronous_commit, which flushes all WAL before its commit record, the enqueue's included (WAL is
-- flushed in order). A commit that wrote no WAL of its own is not flushed, so the record is needed.
-- A caller therefore still gets its answer only once the message is durable, as before.
-- Why waking first loses nothing: until the flush, the message and everything that depends on it are
-- lost together in a crash. A fetch of it commits without the flush anyway (version 1), and the turn
-- that consumes it acks with the flush, which flushes the enqueue first; a turn whose ack did not
-- reach the disk did nothing durable (activities and child starts are queued by that ack). The
-- caller of a lost enqueue got an error, not an id, exactly as when the crash came before the commit.
-- Measured with bare clients on this box (enqueue, LISTEN, fetch; 500 pairs alternated, idle 20 ms
-- between): event -> fetched p50 2.61-2.65 -> 2.21-2.25 ms, p99 4.4-5.0 -> 3.9-4.0 ms; the call
-- itself takes as long as before.
-- A procedure, because only a procedure can commit; so it has no SET clause (one forbids COMMIT) and
-- calls the enqueue by its schema-qualified name, written in when this migration runs, as the
-- functions' SET search_path FROM CURRENT is. It must be CALLed outside a transaction block, which
-- the provider's lone enqueue is. Groups of enqueues (enqueue_orchestrator_messages: a busy system,
-- whose fetchers are not idle) still commit with the flush.
--
-- 2. Naming the instance. The procedure's NOTIFY payload is `<visible_at>/<now>/<instance_id>`
-- (ds_notify adds the third part while durastate.notify_instance is set; ids over 1,000 bytes are
-- left out, far below NOTIFY's 8,000-byte limit). A fetcher whose last fetch left nothing behind and
-- that was woken by this one NOTIFY alone knows which instance the new work is for, and locks it with
-- fetch_orchestration_instance: the one instance's try and lock (ds_try_instance, ds_lock_instances),
-- without fetch_orchestration_items' scans for expired locks and free messages, which cost a woken
-- fetch ~0.2 ms of its ~1.2 (bare clients as above: fetch p50 1.20-1.28 -> 1.03-1.11 ms). Notifiers
-- of earlier versions read a three-part payload as "due now", which it is.
DO $migration$
BEGIN
  EXECUTE format($ddl$
    CREATE PROCEDURE enqueue_orchestrator_message_wake_first(p_entry jsonb, INOUT r text DEFAULT NULL)
    LANGUAGE plpgsql AS $body$
    BEGIN
      PERFORM set_config('synchronous_commit', 'off', true);
      PERFORM set_config('durastate.notify_instance', p_entry->'msg'->>'instanceId', true);
      r := %1$I.enqueue_orchestrator_message((p_entry->>'now')::bigint, p_entry->'msg', (p_entry->>'visibleAt')::bigint);
      COMMIT;
      PERFORM pg_logical_emit_message(true, 'durastate.flush', '');
    END $body$
  $ddl$, current_schema());
END $migration$;

-- Version 1's, but for the instance named in the payload (above).
CREATE OR REPLACE FUNCTION ds_notify(p_queue text, p_visible_at bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_key text := 'durastate.notify_' || p_queue;
  v_pending text := current_setting(v_key, true);
  v_instance text := coalesce(current_setting('durastate.notify_instance', true), '');
BEGIN
  IF p_visible_at IS NULL THEN
    RETURN;
  END IF;
  IF coalesce(v_pending, '') = '' THEN
    -- The database clock as ds_now reads it (same rounding as the visible_at it is compared with),
    -- spelled out: this function has no search_path of its own to find ds_now by.
    PERFORM pg_notify(current_schema() || '.' || p_queue,
                      p_visible_at::text || '/' || ((extract(epoch FROM clock_timestamp()) * 1000)::bigint)::text
                      || CASE WHEN v_instance <> '' AND octet_length(v_instance) <= 1000 THEN '/' || v_instance ELSE '' END);
  ELSE
    PERFORM set_config(v_key, least(v_pending::bigint, p_visible_at)::text, true);
  END IF;
END $$;

-- Lock one instance and hand out its visible messages, as fetch_orchestration_items would had it
-- chosen this instance: [] when its lock is live or being taken, or when nothing of it is fetchable
-- (a suspended instance's events; messages already handed out).
CREATE FUNCTION fetch_orchestration_instance(p_now bigint, p_lock_ms bigint, p_owner text, p_instance_id text) RETURNS json
LANGUAGE plpgsql SET search_path FROM CURRENT SET jit = off SET enable_seqscan = off
  SET plan_cache_mode = force_generic_plan SET enable_bitmapscan = off AS $$
DECLARE
  v_now bigint := ds_now(p_now);
  v_items json[];
BEGIN
  -- Commit without waiting for the WAL flush (see version 1's fetch).
  PERFORM set_config('synchronous_commit', 'off', true);
  IF NOT ds_try_instance(p_instance_id, v_now) THEN
    RETURN '[]';
  END IF;
  SELECT h.items INTO v_items FROM ds_lock_instances(ARRAY[p_instance_id], v_now, v_now + p_lock_ms, p_owner) h;
  RETURN array_to_json(v_items);
END $$;
