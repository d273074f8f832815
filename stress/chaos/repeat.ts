/**
 * Run a chaos action every `intervalMs` (first after one interval) until stopped. Actions never
 * overlap, and stop() waits for one in flight, so the run's end is never mid-kill or mid-restart.
 */
export interface Repeating {
  stop(): Promise<void>;
}

export function repeatEvery(intervalMs: number, action: () => Promise<void>, onError: (err: unknown) => void): Repeating {
  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    if (stopped) return;
    inFlight = action().catch(onError).finally(() => {
      if (!stopped) timer = setTimeout(tick, intervalMs);
    });
  };
  timer = setTimeout(tick, intervalMs);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
    },
  };
}
