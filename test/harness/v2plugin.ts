// Owns the managed-plugin side of a test: building contiv's v2plugin into a harness dockerd
// (v2plugin/build.sh), a loopback registry (Debian docker-registry) in that dockerd's network
// namespace to push to and install from, and removing the plugins at cleanup (before the engine).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './cleanup.js';
import type { DockerDaemon } from './docker.js';
import { tempDirPrefix } from './names.js';
import { stopPids, stopPidsSync } from './procs.js';
import { run } from './run.js';

/** The checkout (dist/test/harness → ../../..). */
export const CHECKOUT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * Builds the plugin directory for `name` (config.json + rootfs, `build.sh --no-create`) in a temp
 * dir removed at cleanup, and resolves with it: one build for any number of engines.
 */
export async function buildV2pluginDir(name: string): Promise<string> {
  const dir = await mkdtemp(tempDirPrefix('v2p'));
  onCleanup(() => rm(dir, { recursive: true, force: true }), { label: `v2plugin dir ${dir}` });
  const out = join(dir, 'plugin');
  await run('bash', [join(CHECKOUT, 'v2plugin', 'build.sh'), '--no-create'], {
    env: { V2PLUGIN_NAME: name, V2PLUGIN_DIR: out },
    timeoutMs: 120_000,
  });
  return out;
}

/** Builds the plugin as `name` into `dockerd`. */
export async function buildV2plugin(dockerd: DockerDaemon, name: string): Promise<void> {
  const dir = await buildV2pluginDir(name);
  await dockerd.docker(['plugin', 'create', name, dir], { timeoutMs: 120_000 });
}

/** Removes every plugin of dockerd at cleanup, before the engine stops (registered after it). */
export function removePluginsAtCleanup(dockerd: DockerDaemon): void {
  onCleanup(
    async () => {
      const names = (await dockerd.docker(['plugin', 'ls', '--format', '{{.Name}}']).catch(() => ''))
        .split('\n')
        .filter(Boolean);
      for (const n of names) await dockerd.docker(['plugin', 'rm', '-f', n]).catch(() => undefined);
    },
    { label: `plugins of ${dockerd.dir}` },
  );
}

export interface Registry {
  /** host:port as dockerd sees it. */
  readonly address: string;
  stop(): Promise<void>;
}

/** docker-registry on 127.0.0.1:5000 inside netns (the harness dockerd's own namespace). */
export async function startRegistry(netns: string): Promise<Registry> {
  const dir = await mkdtemp(tempDirPrefix('reg'));
  const address = '127.0.0.1:5000';
  const cfg = join(dir, 'config.yml');
  await writeFile(
    cfg,
    `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: ${address}\n`,
  );
  const child = spawn('ip', ['netns', 'exec', netns, 'docker-registry', 'serve', cfg], {
    stdio: 'ignore',
    detached: true,
  });
  const pid = child.pid;
  child.unref();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (pid !== undefined) await stopPids([pid]);
    await rm(dir, { recursive: true, force: true });
  };
  onCleanup(stop, {
    label: `registry ${dir}`,
    sync: () => {
      if (pid !== undefined) stopPidsSync([pid]);
    },
  });
  for (let i = 0; ; i++) {
    try {
      await run('ip', [
        'netns',
        'exec',
        netns,
        'busybox',
        'wget',
        '-q',
        '-O',
        '/dev/null',
        `http://${address}/v2/`,
      ]);
      return { address, stop };
    } catch (err) {
      if (i > 50) throw err;
      await sleep(100);
    }
  }
}

/**
 * `docker service create` arguments for a dnsrr service of busybox sleepers (no IPVS in this kernel
 * for service virtual IPs), detached and with the local image as it is.
 */
export function dnsrrService(
  name: string,
  network: string,
  replicas: number,
  extra: string[] = [],
): string[] {
  return [
    'service',
    'create',
    '--name',
    name,
    '--replicas',
    String(replicas),
    ...extra,
    '--endpoint-mode',
    'dnsrr',
    '--network',
    network,
    '--no-resolve-image',
    '--detach',
    'bbox',
    'sleep',
    '1d',
  ];
}

/**
 * A `node -e` script (argv[1]: the path) that GETs netmaster's REST API over TLS as root on the
 * plugin's host, with the local admin credential at conf; prints the body, exits 1 on a 4xx/5xx.
 */
export function restGetScript(conf: string): string {
  return `
const c = JSON.parse(require('fs').readFileSync(${JSON.stringify(conf)}, 'utf8'));
require('https').get(c.netmaster + process.argv[1], { ca: c.ca, headers: { 'x-auth-token': c.token } }, (r) => {
  let b = ''; r.on('data', (d) => (b += d));
  r.on('end', () => { if (r.statusCode >= 400) { console.error(r.statusCode, b); process.exit(1); } process.stdout.write(b); });
}).on('error', (e) => { console.error(e.message); process.exit(1); });`;
}
