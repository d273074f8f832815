/** Chaos: stop or crash the (embedded) server the harness controls, keep it down for a moment, start it again, once. */
import type { StressServer } from '../server.js';

export function restartServerAt(server: StressServer, how: 'stop' | 'crash', atMs: number, downMs: number, onEvent: (what: string) => void, onError: (err: unknown) => void): { stop(): Promise<void> } {
  if (!server.restart) throw new Error('--restart-server and --crash-server need a server the harness controls: pass --embedded');
  const restart = server.restart;
  let done: Promise<void> = Promise.resolve();
  const timer = setTimeout(() => {
    done = restart(downMs, how).then(() => onEvent(`${how === 'crash' ? 'crashed' : 'stopped'} and restarted the server (down ${downMs} ms)`), onError);
  }, atMs);
  return {
    async stop() {
      clearTimeout(timer);
      await done;
    },
  };
}
