/**
 * Many callbacks on one AbortSignal through a single listener. Every running handler of a dispatch
 * loop listens to the loop's one give-up signal; added one by one, more than ten listeners on a
 * signal draw Node's MaxListenersExceededWarning. (A signal per handler avoided that, but creating
 * an AbortSignal costs ~5 us, a tenth of a fan-out activity's dispatch.)
 */
const subscribers = new WeakMap<AbortSignal, Set<() => void>>();

/** Calls `fn` once when `signal` aborts (at once if it has). Returns the unsubscribe function. */
export function whenAborted(signal: AbortSignal, fn: () => void): () => void {
  if (signal.aborted) {
    fn();
    return () => {};
  }
  const callbacks = subscribers.get(signal) ?? listen(signal);
  callbacks.add(fn);
  return () => callbacks.delete(fn);
}

/** The signal's one listener, calling every subscriber when it aborts. */
function listen(signal: AbortSignal): Set<() => void> {
  const callbacks = new Set<() => void>();
  subscribers.set(signal, callbacks);
  signal.addEventListener('abort', () => {
    subscribers.delete(signal);
    for (const callback of callbacks) callback();
  }, { once: true });
  return callbacks;
}
