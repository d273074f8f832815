-- durastate schema, version 9: the fetch functions plan their statements without JIT.
-- Run like 001 (`SET LOCAL search_path TO "<schema>"`).
--
-- Why: with 500,000 future timers queued, fetching one visible item took ~100 ms (255 ms at 1M)
-- against ~1 ms on an empty queue, and the whole of it was JIT compilation, not execution. The
-- candidate statement of fetch_orchestration_items (007/008) executes in well under 1 ms (an index
-- scan of orchestrator_queue_fetch that stops at the first visible row), but its estimated cost
-- grows with the queue: the `expired` branch's LATERAL (oldest fetchable message of each instance
-- whose lock expired) is costed as a sort of all of an instance's messages, times up to p_max + 100
-- expired locks, and with the table never analyzed (autovacuum off, or not yet run after a bulk
-- load) the planner assumes ~1,300 messages per instance. The total (~1.4e6, ~3e5 in the generic
-- plan) crosses jit_above_cost / jit_optimize_above_cost / jit_inline_above_cost, so every call
-- compiled ~60 functions with LLVM: ~290 ms per custom plan (inlining and optimisation), ~20 ms per
-- generic plan, repeated on every execution (JIT code is not cached). That branch almost never runs
-- (no expired locks) and never touches more than one instance's messages per expired lock, so the
-- cost that triggers JIT is one the fetch never pays.
--
-- These statements touch a handful of rows each by design (LIMIT p_max), so JIT can never pay for
-- itself in them, whatever the statistics say; ANALYZE happens to bring the estimate under the
-- thresholds here, but a queue with many instances with expired locks, or stale statistics after a
-- bulk load, brings it back. Turning JIT off for these functions removes the dependency on the
-- estimate. A SET clause is scoped to the function (restored on exit), so callers and other
-- statements of the session keep their setting; fetch_*'s set_config('synchronous_commit', 'off',
-- true) (008) is a different parameter and still lasts to the end of the transaction (the functions
-- already have a SET clause, search_path FROM CURRENT; a second one changes nothing there).
-- ALTER FUNCTION keeps the bodies as in 008.

ALTER FUNCTION fetch_orchestration_items(bigint, bigint, integer, text) SET jit = off;
ALTER FUNCTION fetch_work_items(bigint, bigint, integer, text) SET jit = off;

-- Second cause, seen through the provider's pooled connections (not in a fresh psql session):
-- plpgsql keeps a generic plan per statement for the life of a connection once it has settled on
-- one (after 5 calls), and only an invalidation (ANALYZE, DDL) makes it plan again. A connection
-- that started fetching while the queue was small planned the statement that locks the claimed
-- instances' messages (the second one in fetch_orchestration_items) as Seq Scans of
-- orchestrator_queue (cheapest on a near-empty table), and kept that plan while the timers were
-- queued: ~20 ms at 50,000 rows, ~100 ms at 500,000, per fetch that returns an item. Every
-- statement of the fetches is meant to go through an index (stress/explain-plans.ts fails on a Seq
-- Scan), so the functions say so: with seq scans disabled, a plan made on a near-empty queue is
-- already the one that suits a large one. (plan_cache_mode = force_custom_plan fixes it too, but
-- planning every statement on every call cost more than the whole fetch.) The cost penalty this
-- puts on any seq scan left is why jit = off above must go with it.
ALTER FUNCTION fetch_orchestration_items(bigint, bigint, integer, text) SET enable_seqscan = off;
ALTER FUNCTION fetch_work_items(bigint, bigint, integer, text) SET enable_seqscan = off;
