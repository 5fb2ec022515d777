// Owns starting the compiled netmaster (alone, or in an all-in-one netplugin) as a real process for tests: on 127.0.0.1, port 0, its
// port learnt from the "listening" log line. It never listens elsewhere; the caller stops it.

import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './cleanup.js';

const PROGRAMS = {
  netmaster: fileURLToPath(new URL('../../cli/netmaster.js', import.meta.url)),
  // netplugin with --role netmaster runs netmaster too (all-in-one), and logs the same line.
  netplugin: fileURLToPath(new URL('../../cli/netplugin.js', import.meta.url)),
};

export interface NetmasterProcess {
  readonly p: ChildProcess;
  /** http://127.0.0.1:PORT */
  readonly url: string;
}

/** Starts netmaster with these extra flags (e.g. --data-dir D, --etcd E). Killed at cleanup if still running. */
export function startNetmaster(
  args: string[],
  program: keyof typeof PROGRAMS = 'netmaster',
): Promise<NetmasterProcess> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [PROGRAMS[program], '--listen-url', '127.0.0.1:0', ...args], {
      env: { PATH: process.env.PATH },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    onCleanup(
      () => {
        if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      },
      { label: `netmaster ${p.pid}` },
    );
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`netmaster did not start: ${out}${err}`)), 15_000);
    p.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    p.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      // The "listening" line, as text (listen=127.0.0.1:P) or JSON ("listen":"127.0.0.1:P").
      const m = /"?listen"?[=:]"?127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ p, url: `http://127.0.0.1:${m[1]}` });
      }
    });
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`netmaster exited ${code ?? signal}: ${err}`));
    });
  });
}
