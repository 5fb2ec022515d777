// Owns Contiv's own netmaster and netctl (built from Contiv's source, in ../shared/tools/contiv) as
// the reference for differential tests: its netmaster on a private etcd with the v2 API, both in a
// namespace of their own (its RPC port 9001 is fixed), and its netctl run against either netmaster.
// It also owns reducing a netctl run to what a user sees, so two runs can be compared.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './cleanup.js';
import { tempDirPrefix } from './names.js';
import { addNamespace, type Namespace } from './netns.js';
import { stopPidsSync } from './procs.js';
import { CommandError, run } from './run.js';

/** The checkout's root (dist/test/harness → three up); shared/ lies beside it. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CONTIV_TOOLS = join(ROOT, '..', 'shared', 'tools', 'contiv');
export const CONTIV_NETCTL = join(CONTIV_TOOLS, 'netctl');
const CONTIV_NETMASTER = join(CONTIV_TOOLS, 'netmaster');

export function contivToolsPresent(): boolean {
  return existsSync(CONTIV_NETCTL) && existsSync(CONTIV_NETMASTER);
}

export interface ContivNetmaster {
  /** Its URL inside `ns`. */
  url: string;
  ns: Namespace;
}

function spawnIn(
  ns: Namespace,
  cmd: string,
  args: string[],
  label: string,
): { child: ChildProcess; log: string[] } {
  const log: string[] = [];
  const child = spawn('ip', ['netns', 'exec', ns.name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d: Buffer) => {
    if (log.length < 400) log.push(d.toString());
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  onCleanup(
    async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
      }
    },
    { label, sync: () => child.pid !== undefined && stopPidsSync([child.pid], 0) },
  );
  return { child, log };
}

/** Contiv's netmaster once needed more than 20 s to answer on a loaded CI machine. */
const READY_MS = 45_000;

async function until(
  what: string,
  ok: () => Promise<boolean>,
  child: ChildProcess,
  log: string[],
): Promise<void> {
  const deadline = Date.now() + READY_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited during start:\n${log.join('').slice(-2000)}`);
    }
    if (await ok()) return;
    await sleep(100);
  }
  throw new Error(`${what} not ready after ${READY_MS / 1000} s:\n${log.join('').slice(-2000)}`);
}

/** Contiv's netmaster in a fresh namespace, on a fresh etcd (v2 API) there, in the mode the README gives. */
export async function startContivNetmaster(): Promise<ContivNetmaster> {
  // Contiv's netctl reads this (found through the passwd home, not $HOME) and then refuses every
  // http:// call: a token is sent only over TLS. A login left on the machine would fail every step.
  const login = join(userInfo().homedir, '.netctl', 'config.json');
  if (existsSync(login))
    throw new Error(
      `${login} exists (a Contiv netctl login): Contiv's netctl would refuse http://; move it away`,
    );
  const ns = await addNamespace();
  const dataDir = await mkdtemp(tempDirPrefix('contiv-etcd'));
  onCleanup(() => rm(dataDir, { recursive: true, force: true }), { label: `rm ${dataDir}` });
  const etcdUrl = 'http://127.0.0.1:2379';
  const etcd = spawnIn(
    ns,
    'etcd',
    [
      '--data-dir',
      dataDir,
      '--enable-v2=true',
      '--listen-client-urls',
      etcdUrl,
      '--advertise-client-urls',
      etcdUrl,
      '--listen-peer-urls',
      'http://127.0.0.1:2380',
      '--initial-advertise-peer-urls',
      'http://127.0.0.1:2380',
      '--initial-cluster',
      'default=http://127.0.0.1:2380',
      '--log-level',
      'warn',
    ],
    'contiv etcd',
  );
  // No curl on a fresh machine: a TCP connect from bash tells etcd listens; netctl tells netmaster answers.
  const succeeds = async (cmd: string, args: string[]) => {
    try {
      await run(cmd, args, { netns: ns.name, timeoutMs: 5000 });
      return true;
    } catch {
      return false;
    }
  };
  await until(
    'etcd',
    () => succeeds('bash', ['-c', 'exec 3<>/dev/tcp/127.0.0.1/2379']),
    etcd.child,
    etcd.log,
  );
  const url = 'http://127.0.0.1:9998';
  const nm = spawnIn(
    ns,
    CONTIV_NETMASTER,
    [
      '--etcd',
      etcdUrl,
      '--listen-url',
      '127.0.0.1:9998',
      '--control-url',
      '127.0.0.1:9998',
      '--mode',
      'test',
      '--netmode',
      'vlan',
      '--fwdmode',
      'bridge',
    ],
    'contiv netmaster',
  );
  await until(
    'Contiv netmaster',
    () => succeeds(CONTIV_NETCTL, ['--netmaster', url, 'global', 'info']),
    nm.child,
    nm.log,
  );
  return { url, ns };
}

export interface NetctlRun {
  code: number;
  out: string;
}

/** One netctl command line (argv after the global flags), in `netns` when given. */
export async function netctl(
  program: string[],
  url: string,
  args: readonly string[],
  netns?: string,
): Promise<NetctlRun> {
  const [cmd, ...pre] = program as [string, ...string[]];
  try {
    const out = await run(cmd, [...pre, '--netmaster', url, ...args], { netns, timeoutMs: 20_000 });
    return { code: 0, out };
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    return { code: typeof err.exitCode === 'number' ? err.exitCode : 1, out: `${err.stdout}${err.stderr}` };
  }
}

/** What a user reads from a run: success and its content, or failure and its message. */
export type Seen =
  | { ok: true; json: unknown }
  | { ok: true; rows: string[] }
  | { ok: false; message: string; server: boolean };

/** Drops what Go's omitempty drops (empty strings, zeros, false, empty lists and objects); sorts lists. */
export function pruneEmpty(v: unknown): unknown {
  if (Array.isArray(v)) {
    // Contiv lists in Go map order: lists compare as sets.
    const items = v
      .map(pruneEmpty)
      .filter((x) => x !== undefined)
      .map((x) => JSON.stringify(x))
      .sort()
      .map((x) => JSON.parse(x) as unknown);
    return items.length > 0 ? items : undefined;
  }
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) {
      const p = pruneEmpty((v as Record<string, unknown>)[k]);
      if (p !== undefined) out[k] = p;
    }
    return Object.keys(out).length > 0 ? out : undefined;
  }
  if (v === '' || v === 0 || v === false || v === null) return undefined;
  return v;
}

/** The message of a failed run, whichever netctl printed it; `server` when it is netmaster's words. */
function messageOf(out: string): { message: string; server: boolean } {
  // Contiv's netctl: level=error msg="...", the message possibly followed by a newline and a Go stack.
  const at = out.indexOf('msg="');
  if (at >= 0) {
    const line = out.slice(at + 5).split('\n')[0] ?? '';
    return { message: line.replace(/"\s*$/, '').trim(), server: true };
  }
  // Ours: "Error: METHOD PATH returned NNN: message" from netmaster, else its own check's words.
  const ours = /returned \d+: (.*)/.exec(out);
  if (ours) return { message: (ours[1] as string).trim(), server: true };
  return {
    message:
      out
        .replace(/^Error:\s*/, '')
        .trim()
        .split('\n')[0] ?? '',
    server: false,
  };
}

export function seen(r: NetctlRun): Seen {
  if (r.code !== 0) return { ok: false, ...messageOf(r.out) };
  const text = r.out.trim();
  if (text.startsWith('{') || text.startsWith('[')) {
    try {
      return { ok: true, json: pruneEmpty(JSON.parse(text)) ?? null };
    } catch {
      // not JSON after all: compared as rows
    }
  }
  // Tables and messages: rows as a set (Contiv lists in Go map order), columns split on runs of spaces.
  const rows = text
    .split('\n')
    .map((l) => l.trim().split(/\s+/).join(' '))
    .filter((l) => l !== '' && !/^-+( -+)*$/.test(l))
    .sort();
  return { ok: true, rows };
}
