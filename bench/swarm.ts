// Owns the managed plugin's benchmarks, on a single-node swarm of a private dockerd in its own
// network namespace (lab recipe) with contiv/v2plugin installed as master in swarm-mode:
// swarm-scale: `docker service create --replicas 20` until all 20 run, on a contiv-tag network of
// ours vs on Docker's own overlay driver, alternating, same run (target ratio ≤ 1.2);
// plugin-enable: `docker plugin enable` until the first `docker network create` through it succeeds.

import { mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { onCleanup, runCleanups } from '../test/harness/cleanup.js';
import { DOCKER_COMMANDS, type DockerDaemon, startDockerd } from '../test/harness/docker.js';
import { tempDirPrefix, uniqueName } from '../test/harness/names.js';
import { addNamespace } from '../test/harness/netns.js';
import { LAB_COMMANDS, missingFor } from '../test/harness/require.js';
import { run } from '../test/harness/run.js';
import {
  buildV2pluginDir,
  CHECKOUT,
  dnsrrService,
  removePluginsAtCleanup,
} from '../test/harness/v2plugin.js';
import { alternate, log, median, secondsResult } from './openflow-install.js';
import type { Benchmark, BenchResult } from './run.js';

const REPLICAS = 20;
const SCALE_ROUNDS = 3;
const ENABLE_ROUNDS = 5;
/**
 * dockerd 20.10 dials a starting plugin's socket 0.5 s after starting it, then every 3 s: a socket
 * up by the first dial makes enable return then. Target: that, plus the first network, in 1 s.
 */
const TAG = 'benchtag';

interface SwarmHost {
  dockerd: DockerDaemon;
  plugin: string;
  docker(args: string[], timeoutMs?: number): Promise<string>;
  netctl(args: string[]): Promise<string>;
  /** `docker network create NAME` of our plugin, mapped to the bench group by its contiv-tag. */
  ourNetwork(name: string): Promise<string>;
}

/** A netns host, its dockerd a single-node swarm, the plugin built, created and set (disabled). */
async function startSwarmHost(): Promise<SwarmHost> {
  const missing = missingFor(...LAB_COMMANDS, ...DOCKER_COMMANDS);
  if (missing.length > 0) throw new Error(`benchmark needs ${missing.join(', ')}`);
  const ns = await addNamespace();
  const dockerd = await startDockerd({ netns: ns.name, hostname: 'bench' });
  removePluginsAtCleanup(dockerd);
  await dockerd.image();
  const docker = (args: string[], timeoutMs = 120_000) => dockerd.docker(args, { timeoutMs });
  const plugin = `contiv/v2plugin:${uniqueName('b').replace(/[^A-Za-z0-9_.-]/g, '')}`;
  const dir = await buildV2pluginDir(plugin);
  await docker(['plugin', 'create', plugin, dir]);
  const logDir = await mkdtemp(tempDirPrefix('v2log'));
  onCleanup(() => rm(logDir, { recursive: true, force: true }), { label: 'v2plugin logs' });
  await docker(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
  await docker([
    'plugin',
    'set',
    plugin,
    'plugin_role=master',
    'CONTIV_NETPLUGIN_ETCD_ENDPOINTS=',
    'CONTIV_NETPLUGIN_MODE=swarm-mode',
    'CONTIV_NETMASTER_MODE=swarm-mode',
    'CONTIV_OVS=own',
    'CONTIV_NETPLUGIN_VTEP_IP=127.0.0.1',
    `log_dir.source=${logDir}`,
    `docker_dir.source=${dirname(dockerd.socket)}`,
  ]);
  const netctl = (args: string[]) =>
    run('node', [join(CHECKOUT, 'dist', 'cli', 'netctl', 'main.js'), ...args], { netns: ns.name });
  const ourNetwork = (name: string) =>
    docker([
      'network',
      'create',
      name,
      '-o',
      `contiv-tag=${TAG}`,
      '-d',
      plugin,
      '--ipam-opt',
      `contiv-tag=${TAG}`,
      '--ipam-driver',
      plugin,
      '--scope',
      'swarm',
      '--attachable',
    ]);
  return { dockerd, plugin, docker, netctl, ourNetwork };
}

/** The Contiv network and group our Docker networks map to (netmaster runs in the enabled plugin). */
async function createIntent(h: SwarmHost): Promise<void> {
  await h.netctl(['network', 'create', 'bench-net', '-s', '10.40.0.0/16', '-g', '10.40.255.254']);
  await h.netctl(['group', 'create', '-tag', TAG, 'bench-net', 'bench-group']);
}

const tasksOf = async (h: SwarmHost, service: string, all = false) =>
  (
    await h.docker([
      'ps',
      ...(all ? ['-a'] : []),
      '-q',
      '--filter',
      `label=com.docker.swarm.service.name=${service}`,
    ])
  )
    .split('\n')
    .filter(Boolean).length;

let services = 0;

/** Seconds from `docker service create` to all replicas running; the service is removed after. */
async function scaleOnce(h: SwarmHost, network: string): Promise<number> {
  const service = `scale${++services}`;
  const t0 = performance.now();
  await h.docker(dnsrrService(service, network, REPLICAS));
  for (;;) {
    const replicas = (
      await h.docker(['service', 'ls', '--filter', `name=${service}`, '--format', '{{.Replicas}}'])
    ).trim();
    if (replicas === `${REPLICAS}/${REPLICAS}`) break;
    if (performance.now() - t0 > 300_000)
      throw new Error(`${service} on ${network}: ${replicas} after 300 s`);
    await sleep(100);
  }
  const seconds = (performance.now() - t0) / 1000;
  await h.docker(['service', 'rm', service]);
  for (let i = 0; (await tasksOf(h, service, true)) > 0; i++) {
    if (i > 600) throw new Error(`${service}: tasks not removed`);
    await sleep(200);
  }
  return seconds;
}

async function scaleBench(): Promise<BenchResult[]> {
  try {
    const h = await startSwarmHost();
    await h.docker(['plugin', 'enable', h.plugin]);
    await waitForNetmaster(h);
    await createIntent(h);
    await h.ourNetwork('ours');
    await waitForNodePlugin(h);
    await h.docker(['network', 'create', '-d', 'overlay', '--attachable', 'peer']);
    const ours: number[] = [];
    const peer: number[] = [];
    for (let r = 0; r < SCALE_ROUNDS; r++) {
      await alternate(
        r,
        async () => ours.push(await scaleOnce(h, 'ours')),
        async () => peer.push(await scaleOnce(h, 'peer')),
      );
      log(
        `swarm-scale round ${r + 1}: ours ${ours.at(-1)?.toFixed(2)} s, overlay ${peer.at(-1)?.toFixed(2)} s`,
      );
    }
    const left = JSON.parse(
      await run('busybox', ['wget', '-q', '-O', '-', 'http://127.0.0.1:9999/plugin/endpoints'], {
        netns: h.dockerd.netns ?? '',
      }),
    ) as unknown[];
    if (left.length > 0) throw new Error(`${left.length} endpoints left after the rounds`);
    return [
      {
        ...secondsResult('swarm-scale', ours, "docker service on Docker's overlay driver", peer),
        context: { replicas: REPLICAS, rounds: SCALE_ROUNDS },
      },
    ];
  } finally {
    await runCleanups();
  }
}

/**
 * Swarm schedules a task on a plugin's network only to nodes whose description lists the plugin,
 * and a node re-sends its description only every ~20 s (swarmkit): tasks of a service made right
 * after enable wait that long in Pending (seen: 14 s). Not the plugin's time: waited out first.
 */
async function waitForNodePlugin(h: SwarmHost): Promise<void> {
  const t0 = performance.now();
  for (;;) {
    const plugins = await h.docker([
      'node',
      'inspect',
      'self',
      '--format',
      '{{range .Description.Engine.Plugins}}{{.Type}}={{.Name}} {{end}}',
    ]);
    if (plugins.includes(`Network=${h.plugin}`)) break;
    if (performance.now() - t0 > 60_000) throw new Error(`the node never listed ${h.plugin}: ${plugins}`);
    await sleep(250);
  }
  log(
    `swarm-scale: the node listed the plugin ${((performance.now() - t0) / 1000).toFixed(1)} s after the network`,
  );
}

async function waitForNetmaster(h: SwarmHost): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await h.netctl(['version']);
      return;
    } catch (err) {
      if (i > 300) throw err;
      await sleep(100);
    }
  }
}

async function enableBench(): Promise<BenchResult[]> {
  try {
    const h = await startSwarmHost();
    // The intent is made once and kept in the plugin's embedded store across disable/enable.
    await h.docker(['plugin', 'enable', h.plugin]);
    await waitForNetmaster(h);
    await createIntent(h);
    await h.ourNetwork('warm');
    await h.docker(['network', 'rm', 'warm']);
    const times: number[] = [];
    const enables: number[] = [];
    for (let r = 0; r < ENABLE_ROUNDS; r++) {
      await h.docker(['plugin', 'disable', '-f', h.plugin]);
      const name = `n${r}`;
      const t0 = performance.now();
      await h.docker(['plugin', 'enable', h.plugin]);
      enables.push((performance.now() - t0) / 1000);
      for (;;) {
        try {
          await h.ourNetwork(name);
          break;
        } catch (err) {
          if (performance.now() - t0 > 60_000) throw err;
          await sleep(50);
        }
      }
      times.push((performance.now() - t0) / 1000);
      await h.docker(['network', 'rm', name]);
    }
    const value = median(times);
    log(
      `plugin-enable: ${times.map((t) => t.toFixed(2)).join(' ')} s (enable alone ${median(enables).toFixed(2)} s)`,
    );
    return [
      {
        name: 'plugin-enable',
        value,
        unit: 's',
        // The issue sets no target: the figure is reported against `docker plugin enable` alone, to
        // show what follows enable (our driver's readiness) apart from dockerd's own dial schedule.
        peer: 'docker plugin enable alone',
        peerValue: median(enables),
        ratio: value / median(enables),
        context: { rounds: ENABLE_ROUNDS },
      },
    ];
  } finally {
    await runCleanups();
  }
}

export const scaleBenchmark: Benchmark = {
  describe: `docker service create --replicas ${REPLICAS} until all run: our plugin's network vs Docker's overlay (target ratio ≤ 1.2)`,
  run: scaleBench,
};

export const enableBenchmark: Benchmark = {
  describe:
    'docker plugin enable until the first docker network create through it succeeds (no target; vs enable alone)',
  run: enableBench,
};
