/**
 * A one-at-a-time lock: the driver's submissions, a server restart and a connection-terminating tick
 * never overlap, so no submission's outcome is left unknown and no chaos tick meets a server going down.
 */
export class Exclusive {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => {});
    return result;
  }
}
