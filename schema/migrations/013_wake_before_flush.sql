-- durastate schema, version 13: a lone enqueue (a client's start or event on an idle system) wakes
-- its fetcher before its WAL is flushed, and still returns only after the flush.
-- Before, the enqueue committed with the flush, and PostgreSQL sends a NOTIFY, and makes the row
-- visible, only once the commit is flushed: the fetcher woke a flush later than it could have (and
-- the flush's outliers, 3-5 ms on this box, were the outliers of event -> turn started).
-- Now the procedure commits the enqueue without waiting (synchronous_commit off, transaction-local),
-- so the row is visible and the NOTIFY leaves at once, then waits for the flush in a second
-- transaction before it returns: that transaction writes one WAL record (a transactional logical
-- message with the prefix 'durastate.flush' and no content: the cheapest record a transaction can
-- write, and one that needs no table) and commits with the session's synchronous_commit, which
-- flushes all WAL before its commit record, the enqueue's included (WAL is flushed in order). A
-- commit that wrote no WAL of its own is not flushed, so the record is needed. A caller therefore
-- still gets its answer only once the message is durable, as before.
-- Why waking first loses nothing: until the flush, the message and everything that depends on it are
-- lost together in a crash. A fetch of it commits without the flush anyway (version 1), and the turn
-- that consumes it acks with the flush, which flushes the enqueue first; a turn whose ack did not
-- reach the disk did nothing durable (activities and child starts are queued by that ack). The
-- caller of a lost enqueue got an error, not an id, exactly as when the crash came before the commit.
-- Measured with bare clients on this box (enqueue, LISTEN, fetch; 150 pairs alternated, idle 20 ms
-- between): the NOTIFY arrived 0.92-0.99 ms after the call instead of 1.42-1.49 (p50; p99 1.4-1.5
-- against 3.2-4.1), the call itself took as long as before.
-- A procedure, because only a procedure can commit; so it has no SET clause (one forbids COMMIT) and
-- calls the enqueue by its schema-qualified name, written in when this migration runs, as the
-- functions' SET search_path FROM CURRENT is. It must be CALLed outside a transaction block, which
-- the provider's lone enqueue is. Groups of enqueues (enqueue_orchestrator_messages: a busy system,
-- whose fetchers are not idle) still commit with the flush.
DO $migration$
BEGIN
  EXECUTE format($ddl$
    CREATE PROCEDURE enqueue_orchestrator_message_wake_first(p_entry jsonb, INOUT r text DEFAULT NULL)
    LANGUAGE plpgsql AS $body$
    BEGIN
      PERFORM set_config('synchronous_commit', 'off', true);
      r := %1$I.enqueue_orchestrator_message((p_entry->>'now')::bigint, p_entry->'msg', (p_entry->>'visibleAt')::bigint);
      COMMIT;
      PERFORM pg_logical_emit_message(true, 'durastate.flush', '');
    END $body$
  $ddl$, current_schema());
END $migration$;
