/**
 * Delivery of an instance's emitted events ('emitted' history entries) to a listener, in order,
 * each once. Starts at the beginning of the execution that is current when subscribing (so events
 * emitted between `start` and `subscribe` are not missed) and follows continue-as-new into later
 * executions. Reads are woken by change notifications and continue from the last seq delivered,
 * so each notification costs one short history read.
 */
import type { HistoryEvent, Json, Provider } from '../../providers/contract.js';
import { coalescedReads } from './coalesced-reads.js';

export interface EmittedEventMeta {
  instanceId: string;
  executionId: number;
  seq: number;
  at: number;
}

export type EmittedListener<TEmitted> = (event: TEmitted, meta: EmittedEventMeta) => void;

export interface SubscribeOptions {
  /** A history read failed (e.g. the instance was deleted); the next notification tries again. */
  onError?: (err: unknown) => void;
}

/** The event an 'emitted' history entry carries (the engine stores `{ event }`). */
function emittedEvent(entry: HistoryEvent): Json {
  const data = entry.data;
  return typeof data === 'object' && data !== null && !Array.isArray(data) && 'event' in data ? data.event! : data;
}

export function subscribeEmitted<TEmitted>(
  provider: Provider,
  instanceId: string,
  listener: EmittedListener<TEmitted>,
  opts: SubscribeOptions = {},
): () => void {
  let active = true;
  let executionId: number | null = null; // decided on the first read that finds the instance
  let nextSeq = 0;

  const readNew = async () => {
    const instance = await provider.getInstance(instanceId);
    if (!instance) return; // still pending: its first turn will notify
    executionId ??= instance.executionId;
    for (;;) {
      for await (const entry of provider.readHistory(instanceId, { executionId, fromSeq: nextSeq })) {
        if (!active) return;
        nextSeq = entry.seq + 1;
        if (entry.type === 'emitted') listener(emittedEvent(entry) as TEmitted, { instanceId, executionId, seq: entry.seq, at: entry.at });
      }
      if (executionId >= instance.executionId) return;
      executionId += 1; // continue-as-new: the next execution's history starts at seq 0
      nextSeq = 0;
    }
  };

  const pump = coalescedReads(readNew, { stopped: () => !active, onError: (err) => opts.onError?.(err) });

  const unwatch = provider.watchInstance(instanceId, pump);
  pump();
  return () => {
    active = false;
    unwatch();
  };
}
