// Owns retrying the Docker side's engine work in the background: a managed plugin's socket must be
// up before dockerd serves its API (dockerd waits for it at start), so nothing that needs the
// engine may run before the socket opens or block it.

import type { Logger } from 'pino';

export interface RetryOptions {
  /** What is being done, for the log. */
  what: string;
  log?: Logger;
  /** First pause after a failure (ms); doubled up to maxDelayMs. Default 250. */
  firstDelayMs?: number;
  /** Default 5000. */
  maxDelayMs?: number;
}

/** A background task retried until it succeeds or is cancelled. */
export interface Retried<T> {
  /** Its result; undefined when cancelled first. Never rejects. */
  readonly done: Promise<T | undefined>;
  cancel(): void;
}

export function retryInBackground<T>(fn: () => Promise<T>, opts: RetryOptions): Retried<T> {
  let cancelled = false;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const done = (async () => {
    let delay = opts.firstDelayMs ?? 250;
    for (let attempt = 1; !cancelled; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (cancelled) break;
        // The first failures are expected while dockerd starts: quiet until it takes long.
        const level = attempt < 5 ? 'debug' : 'warn';
        opts.log?.[level]({ err: (err as Error).message, attempt }, `${opts.what}: retrying`);
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, delay);
      });
      delay = Math.min(delay * 2, opts.maxDelayMs ?? 5000);
    }
    return undefined;
  })();
  return {
    done,
    cancel() {
      cancelled = true;
      clearTimeout(timer);
      wake?.();
    },
  };
}
