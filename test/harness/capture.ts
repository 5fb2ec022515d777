// Owns packet captures in tests: tcpdump on one interface of a namespace, its decoded lines
// collected until stopped. It must never outlive the test: the capture is a registered cleanup.
import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { onCleanup } from './cleanup.js';
import { isAlive, stopPids, stopPidsSync } from './procs.js';

export interface Capture {
  /** Lines printed so far (tcpdump -l -n -e: link-level headers, so VLAN tags show). */
  lines(): string[];
  /** Stops tcpdump (letting it flush) and resolves with every line it printed. */
  stop(): Promise<string[]>;
}

/**
 * Starts tcpdump on `ifName` inside `netns` (or the current namespace) with a pcap filter, and
 * resolves once it listens. Packets that were sent before then are not seen.
 */
export async function startCapture(
  netns: string | undefined,
  ifName: string,
  filter: string[] = [],
): Promise<Capture> {
  // Immediate mode: otherwise packets wait in the kernel's ring buffer and a stop loses them.
  const args = ['-l', '-n', '-e', '--immediate-mode', '-i', ifName, ...filter];
  const [cmd, argv] = netns ? ['ip', ['netns', 'exec', netns, 'tcpdump', ...args]] : ['tcpdump', args];
  const child: ChildProcess = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let exited = false;
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  child.on('exit', () => {
    exited = true;
  });
  child.on('error', (e) => {
    exited = true;
    err += String(e);
  });
  const pid = child.pid ?? 0;
  const handle = onCleanup(() => stopPids([pid]), {
    label: `tcpdump on ${ifName}`,
    sync: () => stopPidsSync([pid]),
  });
  const lines = () => out.split('\n').filter((l) => l.trim() !== '');
  const stop = async (): Promise<string[]> => {
    handle.dispose();
    if (pid > 0 && isAlive(pid) && !exited) {
      child.kill('SIGINT');
      const deadline = Date.now() + 3000;
      while (!exited && Date.now() < deadline) await sleep(20);
      if (!exited) await stopPids([pid]);
    }
    return lines();
  };
  // tcpdump says "listening on <if>" on stderr once its socket is open.
  const deadline = Date.now() + 5000;
  while (!/listening on/.test(err)) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`tcpdump on ${ifName}${netns ? ` in ${netns}` : ''} did not start: ${err.trim()}`);
    }
    await sleep(20);
  }
  return { lines, stop };
}
