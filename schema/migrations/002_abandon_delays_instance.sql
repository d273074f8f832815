-- durastate schema, version 2: an abandon delay holds back the instance, not its messages.
-- Run like 001 (`SET LOCAL search_path TO "<schema>"`; functions capture it with SET search_path FROM CURRENT).
--
-- Version 1 set each abandoned message's visible_at to now + delay. Messages of an instance are handed
-- out in (visible_at, id) order, so one that arrived during the lock (visible_at = its enqueue time)
-- overtook the abandoned ones, or was even delivered alone while they were still delayed.
-- Now visible_at is never touched; the delay is an instance_locks row that stays with a fresh token
-- nobody holds and locked_until = now + delay. Fetch already skips instances with a live lock and
-- takes over expired ones, and next_visible_at already counts locked_until, so nothing else changes.
-- instance_locks rows are therefore either a held lock, an expired one not yet taken over, or an
-- abandon delay.

CREATE OR REPLACE FUNCTION abandon_orchestration_item(p_now bigint, p_token uuid, p_delay_ms bigint, p_count_attempt boolean) RETURNS void
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
