-- durastate schema, version 6: queue notifications that say whether their work is due.
-- Run like 001 (`SET LOCAL search_path TO "<schema>"`; functions capture it with SET search_path FROM CURRENT).
--
-- A queue notification carried only the earliest visible_at, and the notifier compared it with its
-- estimate of the database clock. That estimate lags (it is the `now` of the last fetch, read when
-- that fetch started), so a row visible "now" looked a few ms in the future and its wake waited on a
-- timer: 40-60% of idle wakes did. The payload is now `<visible_at>/<now>`, `now` being the
-- database clock when the NOTIFY is queued: the row is due exactly when visible_at <= now, with no
-- estimate involved, and `now` (a reading taken just before the commit that delivers it) refreshes
-- the notifier's estimate for the rows that are not due yet. With an injected test clock visible_at
-- is in the test's time and the notifier ignores `now`.
-- Rolling upgrade: new notifiers still accept a bare `<visible_at>` from old functions. Old notifiers
-- read the new payload as unparseable, i.e. "due now": they wake at once (an empty fetch at worst)
-- and learn of future rows from their safety check instead, while new processes take them on time.

-- Same deferral as version 4 (inside a batch only the earliest visible_at is remembered; the batch's
-- ds_flush_notify calls this again at its end, so its `now` is read at the end of the batch).
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
    -- The database clock as ds_now reads it (same rounding as the visible_at it is compared with),
    -- spelled out: this function has no search_path of its own to find ds_now by.
    PERFORM pg_notify(current_schema() || '.' || p_queue,
                      p_visible_at::text || '/' || ((extract(epoch FROM clock_timestamp()) * 1000)::bigint)::text);
  ELSE
    PERFORM set_config(v_key, least(v_pending::bigint, p_visible_at)::text, true);
  END IF;
END $$;
