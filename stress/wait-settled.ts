/**
 * Waiting for the end of a run: every planned instance terminal and both queues empty (children,
 * trailing cancellations and results of cancelled work included). Polls, tolerating transient
 * errors, because the server may be restarting or connections dropping while it waits.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Provider, QueueDepths } from '../runtime/index.js';

const TERMINAL = new Set(['completed', 'failed', 'terminated']);
const POLL_MS = 500;

export interface Progress {
  done: number;
  total: number;
  depths: QueueDepths | null;
}

const queued = (d: QueueDepths): number =>
  d.orchestrator.visible + d.orchestrator.delayed + d.orchestrator.locked + d.worker.visible + d.worker.delayed + d.worker.locked;

/** Resolves true when settled, false at the deadline. `onProgress` is called about every `progressMs`. */
export async function waitSettled(opts: {
  provider: Provider;
  instanceIds: readonly string[];
  deadline: number;
  progressMs: number;
  onProgress: (p: Progress) => void;
}): Promise<boolean> {
  const outstanding = new Set(opts.instanceIds);
  let lastProgress = 0;
  let depths: QueueDepths | null = null;
  for (;;) {
    try {
      for (const id of [...outstanding]) {
        const record = await opts.provider.getInstance(id);
        if (record && TERMINAL.has(record.status)) outstanding.delete(id);
      }
      depths = await opts.provider.queueDepths();
      if (outstanding.size === 0 && queued(depths) === 0) return true;
    } catch {
      // transient (server restart, dropped connection): ask again next poll
    }
    if (Date.now() - lastProgress >= opts.progressMs) {
      lastProgress = Date.now();
      opts.onProgress({ done: opts.instanceIds.length - outstanding.size, total: opts.instanceIds.length, depths });
    }
    if (Date.now() > opts.deadline) return false;
    await sleep(POLL_MS);
  }
}
