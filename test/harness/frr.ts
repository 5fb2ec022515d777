// Owns a real BGP router for tests: FRR's zebra + bgpd started directly inside a namespace (the
// lab recipe), every file in one temp dir owned by frr, learned routes installed in that
// namespace's kernel table as `proto bgp`. Stopped by pid (zebra removes its routes).
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { onCleanup } from './cleanup.js';
import { tempDirPrefix } from './names.js';
import { run } from './run.js';

export interface TorNeighbor {
  ip: string;
  as: number;
}

export interface TorOptions {
  netns: string;
  asn: number;
  routerId: string;
  neighbors: TorNeighbor[];
  /** Prefixes the ToR originates (must be connected there), e.g. the outside subnet. */
  networks?: string[];
  /** Extra lines in `router bgp`, e.g. `no bgp network import-check`. */
  global?: string[];
}

export interface Tor {
  vtysh(cmd: string): Promise<string>;
  /** The kernel's routes learned over BGP: prefix ("a.b.c.d/32" or "a.b.c.0/24") → via. */
  bgpRoutes(): Promise<Map<string, string>>;
  /** Applies config lines (`router bgp <asn>` context is entered first). */
  configure(lines: string[]): Promise<void>;
  /** Applies a vtysh command file (many lines at once). */
  applyFile(path: string): Promise<void>;
  stop(): Promise<void>;
}

const FRR = '/usr/lib/frr';

function bgpdConf(o: TorOptions): string {
  const lines = [`router bgp ${o.asn}`, ` bgp router-id ${o.routerId}`, ' no bgp ebgp-requires-policy'];
  for (const l of o.global ?? []) lines.push(` ${l}`);
  for (const n of o.neighbors)
    lines.push(` neighbor ${n.ip} remote-as ${n.as}`, ` neighbor ${n.ip} timers connect 1`);
  lines.push(' address-family ipv4 unicast');
  for (const n of o.neighbors) lines.push(`  neighbor ${n.ip} activate`);
  for (const p of o.networks ?? []) lines.push(`  network ${p}`);
  lines.push(' exit-address-family', '');
  return lines.join('\n');
}

export async function startTor(o: TorOptions): Promise<Tor> {
  const dir = await mkdtemp(tempDirPrefix('frr'));
  const runDir = join(dir, 'run');
  await mkdir(runDir);
  await writeFile(join(dir, 'zebra.conf'), 'hostname tor\n');
  await writeFile(join(dir, 'bgpd.conf'), bgpdConf(o));
  // The package picks frr's ids at install time: they differ between machines.
  const uid = Number((await run('id', ['-u', 'frr'])).trim());
  const gid = Number((await run('id', ['-g', 'frr'])).trim());
  for (const p of [dir, runDir, join(dir, 'zebra.conf'), join(dir, 'bgpd.conf')]) await chown(p, uid, gid);
  await chmod(dir, 0o755);
  const ns = ['netns', 'exec', o.netns];
  const pids: number[] = [];
  const stop = async () => {
    for (const pid of pids.splice(0).reverse()) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        continue;
      }
      for (let i = 0; i < 40; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          break;
        }
        await sleep(50);
      }
    }
    await rm(dir, { recursive: true, force: true });
  };
  const handle = onCleanup(stop, { label: `frr in ${o.netns}` });
  const zserv = join(runDir, 'zserv.api');
  for (const d of ['zebra', 'bgpd']) {
    await run('ip', [
      ...ns,
      join(FRR, d),
      '-d',
      '-F',
      'traditional',
      '-A',
      '127.0.0.1',
      '-f',
      join(dir, `${d}.conf`),
      '-i',
      join(runDir, `${d}.pid`),
      '-z',
      zserv,
      '--vty_socket',
      runDir,
    ]);
    pids.push(Number((await readFile(join(runDir, `${d}.pid`), 'utf8')).trim()));
  }
  const vtysh = (cmd: string) => run('vtysh', ['--vty_socket', runDir, '-c', cmd]);
  return {
    vtysh,
    async bgpRoutes() {
      const out = await run('ip', [...ns, 'ip', '-j', 'route', 'show', 'proto', 'bgp']);
      const rows = JSON.parse(out || '[]') as {
        dst: string;
        gateway?: string;
        nexthops?: { gateway: string }[];
      }[];
      const m = new Map<string, string>();
      for (const r of rows)
        m.set(r.dst.includes('/') ? r.dst : `${r.dst}/32`, r.gateway ?? r.nexthops?.[0]?.gateway ?? '');
      return m;
    },
    async configure(lines) {
      await run('vtysh', [
        '--vty_socket',
        runDir,
        '-c',
        'configure terminal',
        '-c',
        `router bgp ${o.asn}`,
        ...lines.flatMap((l) => ['-c', l]),
      ]);
    },
    async applyFile(path) {
      await run('vtysh', ['--vty_socket', runDir, '-f', path], { timeoutMs: 120_000 });
    },
    async stop() {
      handle.dispose();
      await stop();
    },
  };
}
