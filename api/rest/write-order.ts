// Owns the order of netmaster's writes. Writes whose checks a concurrent write could invalidate
// without touching a key they compare (a delete's "nobody uses it" vs a child create; a network's
// subnet overlap; global range changes) run alone. The others run together: each is one
// transaction whose compares (its own key absent or unchanged, its parents unchanged) reject a
// conflicting write, and concurrent writes let the store share one fsync among them. Across
// processes, leader election leaves one writer.

export class WriteOrder {
  private exclusiveTail: Promise<unknown> = Promise.resolve();
  private readonly running = new Set<Promise<unknown>>();

  /** Runs alongside other shared writes, never alongside an exclusive one. */
  shared<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.exclusiveTail.then(fn);
    const tracked = run.catch(() => undefined);
    this.running.add(tracked);
    void tracked.then(() => this.running.delete(tracked));
    return run;
  }

  /** Runs after every write started before it, and before any started after it. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const before = [...this.running];
    const run = this.exclusiveTail.then(() => Promise.all(before)).then(fn);
    this.exclusiveTail = run.catch(() => undefined);
    return run;
  }
}
