// Owns running async jobs one after another: each starts once the ones queued before it have
// settled, and one job's failure is its caller's alone (the queue goes on).

export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs fn after everything queued before it; resolves or rejects as fn does. */
  run<T>(fn: () => T | Promise<T>): Promise<T> {
    const job = this.tail.then(fn);
    this.tail = job.catch(() => undefined);
    return job;
  }

  /** Resolves once every job queued so far, and any queued while waiting, has settled. */
  async idle(): Promise<void> {
    let seen: Promise<unknown> | undefined;
    while (seen !== this.tail) {
      seen = this.tail;
      await seen;
    }
  }
}
