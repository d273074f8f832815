-- durastate schema, version 7: a worker's ack of activity results commits without waiting for the
-- WAL flush (synchronous_commit off, transaction-local), as fetches already do (version 1).
-- Why that loses nothing: the ack deletes the work item and enqueues its result in one transaction.
-- If the server crashes before that WAL is flushed, the whole ack is gone: the item is back as it
-- was (locked to the old token until its lock expires), so the activity runs again, which
-- at-least-once already allows, and its result is applied once, from the second run. Nothing durable
-- can depend on the lost ack: a turn that consumed the result commits with the flush, and flushing
-- its commit flushes all earlier WAL, the ack's included (WAL is written and flushed in order).
-- Turn acks, enqueues (a client's start or event), renewals and abandons still wait for the flush.
-- Measured with the fan-out benchmark (1,000 activities, five alternations with version 6):
-- 0.96-1.08x (mean 1.04x) -> 0.99-1.17x (mean 1.10x) pgbench TPS; the workers' ack groups no longer
-- wait ~1 ms each for a flush. The throughput benchmark moved within its noise.
--
-- A wrapper, so ack_work_items is not copied here whole: set_config(..., true) lasts until the
-- transaction ends, and neither function has a SET clause for synchronous_commit (one would undo it
-- when the function returns).
CREATE FUNCTION ack_work_items_async_commit(p_acks jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path FROM CURRENT SET plan_cache_mode = force_generic_plan AS $$
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  RETURN ack_work_items(p_acks);
END $$;
