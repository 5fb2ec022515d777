// Owns looking at and stopping processes by pid (daemons the harness started, listeners in a netns).
// It must never kill by name or pattern: only pids it is given, and never this process.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Alive and not a zombie (a detached daemon's parent may not reap it at once). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The command line of a process, NUL separators turned into spaces; '' when it is gone. */
export function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

/** Reads a pidfile; undefined when missing or not a number. */
export function readPidFile(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  if (pid === process.pid) return;
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** SIGTERM, wait up to graceMs, then SIGKILL and wait again. Resolves when all are gone. */
export async function stopPids(pids: readonly number[], graceMs = 5000): Promise<void> {
  const live = () => pids.filter(isAlive);
  for (const pid of live()) signal(pid, 'SIGTERM');
  for (const [sig, waitMs] of [
    ['SIGKILL', graceMs],
    [undefined, 3000],
  ] as const) {
    const deadline = Date.now() + waitMs;
    while (live().length > 0 && Date.now() < deadline) await sleep(20);
    if (live().length === 0) return;
    if (sig) for (const pid of live()) signal(pid, sig);
  }
  throw new Error(`processes did not exit: ${live().join(', ')}`);
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Synchronous stopPids for 'exit' handlers; best effort, never throws. */
export function stopPidsSync(pids: readonly number[], graceMs = 3000): void {
  const live = () => pids.filter(isAlive);
  for (const pid of live()) signal(pid, 'SIGTERM');
  let deadline = Date.now() + graceMs;
  while (live().length > 0 && Date.now() < deadline) sleepSync(20);
  for (const pid of live()) signal(pid, 'SIGKILL');
  deadline = Date.now() + 2000;
  while (live().length > 0 && Date.now() < deadline) sleepSync(20);
}
