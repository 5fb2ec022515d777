// Owns waiting in tests: polling a condition until it holds or a deadline passes, naming what was awaited.
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** How long before giving up (default 15 s). */
  ms?: number;
  /** How often to ask (default 20 ms). */
  everyMs?: number;
  /** A condition that throws means "not yet" (a daemon being killed may refuse a probe). */
  errorsAreNo?: boolean;
}

/** Waits until cond holds; returns the milliseconds it took, throws naming `what` at the deadline. */
export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  opts: WaitOptions | number = {},
): Promise<number> {
  const { ms = 15_000, everyMs = 20, errorsAreNo = false } = typeof opts === 'number' ? { ms: opts } : opts;
  const t0 = Date.now();
  const ask = errorsAreNo
    ? () =>
        Promise.resolve()
          .then(cond)
          .catch(() => false)
    : cond;
  while (!(await ask())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(everyMs);
  }
  return Date.now() - t0;
}
