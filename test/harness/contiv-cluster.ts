// Owns a two-host Contiv cluster as a tutorial's user meets it, every part a real process: a network
// namespace per host (its own OVS, dockerd and netplugin, run there as on a real host), one etcd and
// netmaster on the first host's address, and Contiv's own netctl typed on that host. With a cluster
// store the dockerds share the etcd (Contiv's legacy swarm); with a VLAN uplink the hosts also have
// a link `eth2` between them for VLAN networks, as the tutorials' VMs do. Everything goes at cleanup.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { onCleanup } from './cleanup.js';
import { CONTIV_NETCTL, type NetctlRun, netctl } from './contiv.js';
import { type DockerDaemon, startDockerd } from './docker.js';
import { type EtcdInstance, startEtcd } from './etcd.js';
import { type Host, startHosts } from './hosts.js';
import { tempDirPrefix } from './names.js';
import { type NetmasterProcess, startNetmaster } from './netmaster.js';
import { type NetpluginProcess, startNetpluginProcess } from './netplugin.js';
import { CommandError, run } from './run.js';

/** The Docker plugin's name, as the tutorials show it (each host's plugin directory is its own). */
export const PLUGIN = 'netplugin';
export const VLAN_UPLINK = 'eth2';

export interface ClusterNode {
  readonly host: Host;
  readonly dockerd: DockerDaemon;
  readonly netplugin: NetpluginProcess;
}

export interface ContivCluster {
  readonly nodes: readonly ClusterNode[];
  readonly etcd: EtcdInstance;
  readonly netmaster: NetmasterProcess;
  /** Contiv's netctl on the first host, against netmaster (its local admin listener). */
  netctl(args: readonly string[]): Promise<NetctlRun>;
  /** A netctl line as a tutorial types it; it must succeed, and resolves with what it printed. */
  typed(line: string): Promise<string>;
}

export interface ContivClusterOptions {
  /** The dockerds share the etcd as their cluster store (global-scope networks). */
  clusterStore?: boolean;
  /** A link `eth2` between the hosts, every netplugin's --vlan-if. */
  vlanUplink?: boolean;
}

/** A veth between two host namespaces, both ends named `name`, up. */
async function linkHosts(a: Host, b: Host, name: string): Promise<void> {
  const peer = `${name}p`;
  await run('ip', ['-n', a.netns, 'link', 'add', name, 'type', 'veth', 'peer', 'name', peer]);
  await run('ip', ['-n', a.netns, 'link', 'set', peer, 'netns', b.netns]);
  await run('ip', ['-n', b.netns, 'link', 'set', peer, 'name', name]);
  for (const h of [a, b]) await run('ip', ['-n', h.netns, 'link', 'set', name, 'up']);
}

/** `docker run -itd --name=NAME --net=NET … alpine /bin/sh` on that host; removed at cleanup. */
export async function runContainer(
  node: ClusterNode,
  name: string,
  net: string,
  opts: { args?: string[]; cmd?: string[] } = {},
): Promise<void> {
  onCleanup(() => node.dockerd.docker(['rm', '-f', name]).then(() => undefined), { label: name });
  await node.dockerd.docker([
    'run',
    '-itd',
    `--name=${name}`,
    `--net=${net}`,
    ...(opts.args ?? []),
    'bbox',
    ...(opts.cmd ?? ['/bin/sh']),
  ]);
}

/** What a command in a container printed, also when it failed (ping's loss is in its output). */
export async function execIn(
  node: ClusterNode,
  name: string,
  cmd: string[],
): Promise<{ ok: boolean; out: string }> {
  try {
    return { ok: true, out: await node.dockerd.docker(['exec', name, ...cmd]) };
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    return { ok: false, out: `${err.stdout}\n${err.stderr}` };
  }
}

/** `ping -c 3 TO` in container `from`: the name resolved to `ip`, and no packet lost. */
export async function assertPingsByName(
  node: ClusterNode,
  from: string,
  to: string,
  ip: string,
): Promise<void> {
  const r = await execIn(node, from, ['ping', '-c', '3', '-W', '2', to]);
  assert.match(
    r.out,
    new RegExp(`PING ${to} \\(${ip.replaceAll('.', '\\.')}\\)`),
    `${from} resolves ${to}: ${r.out}`,
  );
  assert.match(r.out, /3 packets transmitted, 3 packets received/, `${from} → ${to}: ${r.out}`);
}

export async function startContivCluster(opts: ContivClusterOptions = {}): Promise<ContivCluster> {
  const dir = await mkdtemp(tempDirPrefix('cluster'));
  onCleanup(() => rm(dir, { recursive: true, force: true }), { label: `cluster dir ${dir}` });
  const hosts = await startHosts(2);
  for (const h of hosts) await h.vtep();
  const [first, second] = hosts as [Host, Host];
  if (opts.vlanUplink) await linkHosts(first, second, VLAN_UPLINK);
  const etcd = await startEtcd({ netns: first.netns, address: first.underlayIp, v2: true });
  const netmaster = await startNetmaster(['--etcd', `http://${etcd.endpoint}`], 'netmaster', {
    netns: first.netns,
    address: first.underlayIp,
  });
  const nodes: ClusterNode[] = [];
  for (const host of hosts) {
    const dockerd = await startDockerd({
      netns: host.netns,
      hostname: host.name,
      args: [
        // Docker's own bridge (docker0) and NAT in the host's namespace, as on a real host: the
        // default network and the gateway bridge's way out.
        '--iptables=true',
        '--ip-masq=true',
        '--bridge=',
        ...(opts.clusterStore
          ? [`--cluster-store=etcd://${etcd.endpoint}`, `--cluster-advertise=${host.underlayIp}:2376`]
          : []),
      ],
    });
    await dockerd.image();
    const netplugin = await startNetpluginProcess(
      [
        '--etcd',
        `http://${etcd.endpoint}`,
        '--netmaster',
        netmaster.secureUrl,
        '--admin-conf',
        netmaster.adminConf,
        '--host',
        host.name,
        '--vtep-ip',
        host.underlayIp,
        ...(opts.vlanUplink ? ['--vlan-if', VLAN_UPLINK] : []),
        '--ovs-rundir',
        host.ovs.dir,
        '--datapath',
        host.ovs.datapath,
        '--plugin-mode',
        'docker',
        '--plugin-name',
        PLUGIN,
        '--plugin-socket',
        join(dockerd.pluginDir, `${PLUGIN}.sock`),
        '--docker-socket',
        dockerd.socket,
        '--cni-socket',
        join(dir, `cni-${host.name}.sock`),
        '--state-dir',
        join(dir, host.name),
      ],
      { netns: host.netns, until: 'docker engine in sync' },
    );
    // Before the host's dockerd and OVS go (cleanups run last-in first-out).
    onCleanup(() => netplugin.stop().then(() => undefined), { label: `netplugin ${host.name}` });
    nodes.push({ host, dockerd, netplugin });
  }
  const onFirst = (args: readonly string[]) => netctl([CONTIV_NETCTL], netmaster.url, args, first.netns);
  return {
    nodes,
    etcd,
    netmaster,
    netctl: onFirst,
    typed: async (line) => {
      const r = await onFirst(line.split(' '));
      assert.equal(r.code, 0, `netctl ${line}: ${r.out}`);
      return r.out;
    },
  };
}
