// Owns a private dnsmasq for DNS tests and the DNS benchmark: loopback only, names from a hosts
// file, no resolv.conf (it never asks anything outside this machine). Stopped by its pid.
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { onCleanup } from './cleanup.js';
import { stopPids, stopPidsSync } from './procs.js';

export interface Dnsmasq {
  host: string;
  port: number;
  pid: number;
  dir: string;
  stop(): Promise<void>;
}

/** A UDP port free on host right now (dnsmasq takes the same number for TCP). */
export async function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, host, () => r()));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** `hosts`: lines of `ip name...`, as /etc/hosts. */
export async function startDnsmasq(hosts: string, opts: { host?: string } = {}): Promise<Dnsmasq> {
  const host = opts.host ?? '127.0.0.1';
  const dir = await mkdtemp(join(tmpdir(), 'contiv-dnsmasq-'));
  // dnsmasq drops to user nobody before it reads the hosts file.
  await chmod(dir, 0o755);
  const file = join(dir, 'hosts');
  await writeFile(file, hosts, { mode: 0o644 });
  for (let attempt = 0; ; attempt++) {
    const port = await freeUdpPort(host);
    const child = spawn(
      'dnsmasq',
      [
        '--no-daemon',
        `--port=${port}`,
        `--listen-address=${host}`,
        '--bind-interfaces',
        '--no-resolv',
        '--no-hosts',
        `--addn-hosts=${file}`,
        `--pid-file=${join(dir, 'pid')}`,
      ],
      { stdio: 'ignore' },
    );
    const pid = child.pid!;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const stop = async () => {
      handle.dispose();
      await stopPids([pid]);
      await exited;
      await rm(dir, { recursive: true, force: true });
    };
    const handle = onCleanup(stop, { label: `dnsmasq ${pid}`, sync: () => stopPidsSync([pid]) });
    if (await answers(host, port)) return { host, port, pid, dir, stop };
    await stopPids([pid]);
    handle.dispose();
    if (attempt >= 3) throw new Error(`dnsmasq on ${host}:${port} did not answer`);
  }
}

/** Polls with a root NS query until anything comes back (up to ~5 s). */
async function answers(host: string, port: number): Promise<boolean> {
  const q = Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1]);
  const s = createSocket('udp4');
  let got = false;
  s.on('message', () => {
    got = true;
  });
  s.on('error', () => {});
  try {
    for (let i = 0; i < 50 && !got; i++) {
      s.send(q, port, host);
      await sleep(100);
    }
  } finally {
    s.close();
  }
  return got;
}
