// Owns the cleanup registry: LIFO cleanups run from test hooks, and a last-resort run on exit or signal.
// It must never leave a registered resource behind silently: failures are collected and reported.
import { sweepOwn } from './sweep.js';

export type { OwnedResources } from './sweep.js';
export { findOwnedBy, sweepStale } from './sweep.js';

export type CleanupFn = () => void | Promise<void>;

export interface CleanupOptions {
  /** Shown in error reports. */
  label?: string;
  /** Synchronous fallback used on process 'exit', where asynchronous code no longer runs. */
  sync?: () => void;
}

export interface CleanupHandle {
  /** Unregisters without running (the owner cleaned up by itself). */
  dispose(): void;
}

interface Entry {
  label: string;
  fn: CleanupFn;
  sync: (() => void) | undefined;
}

const stack: Entry[] = [];
let installed = false;
let exiting = false;
const SIGNAL_CLEANUP_MS = 20_000;

/** Registers fn to run at cleanup time, after everything registered later (LIFO). */
export function onCleanup(fn: CleanupFn, opts: CleanupOptions = {}): CleanupHandle {
  installProcessHooks();
  const entry: Entry = { label: opts.label ?? (fn.name || 'cleanup'), fn, sync: opts.sync };
  stack.push(entry);
  return {
    dispose() {
      const i = stack.indexOf(entry);
      if (i >= 0) stack.splice(i, 1);
    },
  };
}

/**
 * Runs all registered cleanups, newest first, each even if an earlier one failed.
 * Call it from `after(runCleanups)` or `t.after(runCleanups)`. Throws an AggregateError of the failures.
 */
export async function runCleanups(): Promise<void> {
  const errors: Error[] = [];
  for (let entry = stack.pop(); entry; entry = stack.pop()) {
    try {
      await entry.fn();
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      errors.push(new Error(`cleanup "${entry.label}" failed: ${e.message}`, { cause: e }));
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, errors.map((e) => e.message).join('\n'));
}

/** Synchronous last resort: each entry's sync fallback, then a sweep of everything this pid created. */
export function runCleanupsSync(): void {
  for (let entry = stack.pop(); entry; entry = stack.pop()) {
    try {
      entry.sync?.();
    } catch {
      // best effort: the sweep below still removes what carries our prefix
    }
  }
  sweepOwn();
}

function onSignal(sig: NodeJS.Signals, code: number): void {
  if (exiting) process.exit(code); // second signal: stop waiting; 'exit' still sweeps
  exiting = true;
  const timer = setTimeout(() => process.exit(code), SIGNAL_CLEANUP_MS);
  runCleanups()
    .catch((err: unknown) => process.stderr.write(`cleanup after ${sig}: ${String(err)}\n`))
    .finally(() => {
      clearTimeout(timer);
      process.exit(code);
    });
}

// 'exit' also fires after an uncaught exception, so it covers that case; signals get an async run first.
function installProcessHooks(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runCleanupsSync);
  process.on('SIGINT', () => onSignal('SIGINT', 130));
  process.on('SIGTERM', () => onSignal('SIGTERM', 143));
}
