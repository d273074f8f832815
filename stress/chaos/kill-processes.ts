/** Chaos: SIGKILL a random dispatcher process and start a replacement, as a crash plus a supervisor restart would. */
import type { Fleet } from '../fleet.js';
import { repeatEvery, type Repeating } from './repeat.js';

export function killProcessesEvery(fleet: Fleet, intervalMs: number, onEvent: (what: string) => void, onError: (err: unknown) => void): Repeating {
  return repeatEvery(intervalMs, async () => {
    const slot = Math.floor(Math.random() * fleet.size);
    await fleet.killAndRestart(slot);
    onEvent(`killed worker ${slot} (SIGKILL) and restarted it`);
  }, onError);
}
