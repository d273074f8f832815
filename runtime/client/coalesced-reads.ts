/**
 * Re-reads triggered by change notifications: reads never overlap, and every trigger that arrives
 * while a read runs collapses into one more read after it, so no change is missed.
 */
export function coalescedReads(read: () => Promise<void>, opts: { stopped: () => boolean; onError: (err: unknown) => void }): () => void {
  let reading = false;
  let readAgain = false;
  const run = async () => {
    if (reading) {
      readAgain = true;
      return;
    }
    reading = true;
    try {
      do {
        readAgain = false;
        await read();
      } while (readAgain && !opts.stopped());
    } catch (err) {
      opts.onError(err);
    } finally {
      reading = false;
    }
  };
  return () => void run();
}
