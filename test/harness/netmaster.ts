// Owns starting the compiled netmaster (alone, or in an all-in-one netplugin) as a real process for tests: on 127.0.0.1, port 0, its
// port learnt from the "listening" log line; in a simulated host's namespace, its TLS listener may
// take that host's address (where the other hosts reach it). The caller stops it.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './cleanup.js';
import { tempDirPrefix } from './names.js';

const PROGRAMS = {
  netmaster: fileURLToPath(new URL('../../cli/netmaster.js', import.meta.url)),
  // netplugin with --role netmaster runs netmaster too (all-in-one), and logs the same line.
  netplugin: fileURLToPath(new URL('../../cli/netplugin.js', import.meta.url)),
};

export interface NetmasterProcess {
  readonly p: ChildProcess;
  /** http://127.0.0.1:PORT: the plain loopback listener (--insecure-listen), acting as the local admin. */
  readonly url: string;
  /** https://127.0.0.1:PORT: the TLS listener, where every request needs a login. */
  readonly secureUrl: string;
  /** The local admin credential it wrote (URL, token, CA). */
  readonly adminConf: string;
}

export interface StartNetmasterOptions {
  /** Run inside this network namespace (a simulated host). */
  netns?: string;
  /** The TLS listener's address (default 127.0.0.1); the plain one stays on loopback. */
  address?: string;
}

/** Starts netmaster with these extra flags (e.g. --data-dir D, --etcd E). Killed at cleanup if still running. */
export function startNetmaster(
  args: string[],
  program: keyof typeof PROGRAMS = 'netmaster',
  opts: StartNetmasterOptions = {},
): Promise<NetmasterProcess> {
  const address = opts.address ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    const dir = mkdtempSync(tempDirPrefix('netmaster'));
    onCleanup(() => rmSync(dir, { recursive: true, force: true }), { label: `netmaster dir ${dir}` });
    const adminConf = join(dir, 'admin.conf');
    const own = [
      '--listen-url',
      `${address}:0`,
      '--insecure-listen',
      '127.0.0.1:0',
      '--admin-conf',
      adminConf,
      // With etcd the data directory holds only the certificates: never the machine's own.
      ...(args.includes('--data-dir') ? [] : ['--data-dir', join(dir, 'data')]),
    ];
    const argv = [PROGRAMS[program], ...own, ...args];
    const [cmd, cmdArgs] = opts.netns
      ? ['ip', ['netns', 'exec', opts.netns, process.execPath, ...argv]]
      : [process.execPath, argv];
    const p = spawn(cmd, cmdArgs, {
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
      // The "listening" line, as text (listen=ADDR:P) or JSON ("listen":"ADDR:P").
      const m = new RegExp(`"?listen"?[=:]"?${address.replaceAll('.', '\\.')}:(\\d+)`).exec(out);
      const plain = /"?insecureListen"?[=:]"?127\.0\.0\.1:(\d+)/.exec(out);
      if (m && plain) {
        clearTimeout(timer);
        resolve({
          p,
          url: `http://127.0.0.1:${plain[1]}`,
          secureUrl: `https://${address}:${m[1]}`,
          adminConf,
        });
      }
    });
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`netmaster exited ${code ?? signal}: ${err}`));
    });
  });
}
