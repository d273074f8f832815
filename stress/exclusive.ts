/** A one-at-a-time lock: the driver's submissions and a server restart never overlap, so no submission's outcome is left unknown. */
export class Exclusive {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => {});
    return result;
  }
}
