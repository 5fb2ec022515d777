// Owns a private Docker engine for one test process (the lab recipe: vfs storage, no iptables, no
// bridge, own data-root, exec-root, socket and pidfile in a temp dir), the `bbox` image made from
// busybox-static, the docker CLI aimed at it, and unique legacy-plugin names whose socket/spec files
// in the shared /run/docker/plugins are removed afterwards. It never touches a system dockerd.
import { existsSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { onCleanup } from './cleanup.js';
import { ownerOfName, tempDirPrefix, uniqueName } from './names.js';
import { isAlive, readPidFile, stopPids, stopPidsSync } from './procs.js';
import { run, trySync } from './run.js';
import { mountsUnder, sweepStale } from './sweep.js';

export const PLUGIN_DIR = '/run/docker/plugins';
export const IMAGE = 'bbox';
/** Debian's CLI matches its dockerd (20.10); another one earlier on the PATH may not. */
const DOCKER_CLI = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
const BUSYBOX = '/bin/busybox';
const APPLETS = [
  'sh',
  'ping',
  'ip',
  'nslookup',
  'nc',
  'wget',
  'true',
  'cat',
  'sleep',
  'ifconfig',
  'hostname',
];
const START_TIMEOUT_MS = 30_000;

export const DOCKER_COMMANDS = ['dockerd', 'containerd', 'runc', 'tar'] as const;

export interface StartDockerdOptions {
  /**
   * Run inside this network namespace as a host of its own (lab recipe "Two Docker hosts on one
   * machine"): a private mount namespace with its own cgroup mounts and its own /run/docker,
   * /run/containerd and /var/lib/docker, so plugins, containerd and fixed paths are not shared.
   */
  netns?: string;
  /** Hostname inside that host (with netns only). */
  hostname?: string;
  /** More dockerd flags (e.g. --cluster-store). */
  args?: readonly string[];
}

export interface DockerDaemon {
  readonly dir: string;
  /** Path of the engine's API socket. */
  readonly socket: string;
  /** Where this engine looks for legacy plugins (/run/docker/plugins, or the host's private one). */
  readonly pluginDir: string;
  readonly netns: string | undefined;
  /** The docker CLI against this engine; resolves with stdout. */
  docker(args: readonly string[], opts?: { timeoutMs?: number }): Promise<string>;
  /** Imports the busybox image as `bbox:latest` (once). */
  image(): Promise<string>;
  /** Stops dockerd gracefully (as a host shutdown does) and starts it again on the same dirs. */
  restart(): Promise<void>;
  /** Stops dockerd (and its containerd), unmounts what it left, removes the dir. Idempotent. */
  stop(): Promise<void>;
}

/** A plugin name unique to this run; its socket and spec in /run/docker/plugins go at cleanup. */
export function uniquePluginName(): string {
  const name = uniqueName('dp');
  const files = [join(PLUGIN_DIR, `${name}.sock`), join(PLUGIN_DIR, `${name}.spec`)];
  const removeSync = () => {
    for (const f of files) rmSync(f, { force: true });
  };
  onCleanup(
    async () => {
      for (const f of files) await unlink(f).catch(() => undefined);
    },
    { label: `plugin files ${name}`, sync: removeSync },
  );
  return name;
}

/** Plugin files of dead harness runs: Docker would keep trying to reach them. */
function sweepStalePluginFiles(): void {
  let names: string[];
  try {
    names = readdirSync(PLUGIN_DIR);
  } catch {
    return;
  }
  for (const f of names) {
    const owner = ownerOfName(f.replace(/\.(sock|spec|json)$/, ''));
    if (owner !== undefined && !isAlive(owner)) rmSync(join(PLUGIN_DIR, f), { force: true });
  }
}

/** Run by sh inside `ip netns exec NS unshare -m -u`: the mounts exist only in that mount namespace. */
const HOST_SCRIPT = `set -e
D=$1; HOST=$2; shift 2
mount -t tmpfs cgroup /sys/fs/cgroup
for c in cpu cpuacct cpuset memory devices freezer blkio pids; do
  mkdir -p /sys/fs/cgroup/$c; mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c
done
mkdir -p /sys/fs/cgroup/systemd; mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
mkdir -p /sys/fs/cgroup/unified; mount -t cgroup2 none /sys/fs/cgroup/unified || true
for d in run/docker run/containerd var/lib/docker; do
  mkdir -p "$D/host/$d" "/$d"; mount --bind "$D/host/$d" "/$d"
done
hostname "$HOST"
exec dockerd "$@"
`;

class Dockerd implements DockerDaemon {
  readonly socket: string;
  readonly pluginDir: string;
  private readonly env: Record<string, string>;
  private imported: Promise<string> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    readonly dir: string,
    readonly netns: string | undefined,
    private readonly hostname: string,
    private readonly extraArgs: readonly string[],
  ) {
    this.socket = join(dir, 'docker.sock');
    this.pluginDir = netns === undefined ? PLUGIN_DIR : join(dir, 'host', 'run', 'docker', 'plugins');
    this.env = { DOCKER_HOST: `unix://${this.socket}`, DOCKER_CONFIG: join(dir, 'cli') };
  }

  async restart(): Promise<void> {
    const pid = readPidFile(join(this.dir, 'docker.pid'));
    if (pid !== undefined) await stopPids([pid], 20_000);
    await this.start();
  }

  async start(): Promise<void> {
    const args = [
      '--storage-driver=vfs',
      '--iptables=false',
      '--ip-masq=false',
      '--bridge=none',
      '--shutdown-timeout=2',
      `--data-root=${join(this.dir, 'root')}`,
      `--exec-root=${join(this.dir, 'exec')}`,
      `-H`,
      `unix://${this.socket}`,
      `--pidfile=${join(this.dir, 'docker.pid')}`,
      ...this.extraArgs,
    ];
    const log = join(this.dir, 'dockerd.log');
    // In a session of its own, through sh: it must not hold the test's stdio nor get its signals.
    if (this.netns === undefined) {
      await run('sh', ['-c', `setsid dockerd "$@" >>"${log}" 2>&1 &`, 'sh', ...args]);
    } else {
      const script = join(this.dir, 'host.sh');
      await writeFile(script, HOST_SCRIPT);
      await mkdir(this.pluginDir, { recursive: true });
      const inner = [
        'ip',
        'netns',
        'exec',
        this.netns,
        'unshare',
        '-m',
        '-u',
        'sh',
        script,
        this.dir,
        this.hostname,
      ];
      await run('sh', ['-c', `setsid "$@" >>"${log}" 2>&1 &`, 'sh', ...inner, ...args]);
    }
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (existsSync(this.socket)) {
        try {
          await this.docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 5000 });
          return;
        } catch {
          // not ready yet
        }
      }
      if (Date.now() > deadline) {
        const log = await run('tail', ['-n', '20', join(this.dir, 'dockerd.log')]).catch(() => '');
        throw new Error(`dockerd did not start in ${START_TIMEOUT_MS} ms:\n${log}`);
      }
      await sleep(100);
    }
  }

  docker(args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<string> {
    return run(DOCKER_CLI, args, { env: this.env, timeoutMs: opts.timeoutMs ?? 60_000 });
  }

  image(): Promise<string> {
    this.imported ??= (async () => {
      const rootfs = join(this.dir, 'rootfs');
      await mkdir(join(rootfs, 'bin'), { recursive: true });
      await mkdir(join(rootfs, 'etc'), { recursive: true });
      await copyFile(BUSYBOX, join(rootfs, 'bin', 'busybox'));
      for (const a of APPLETS) symlinkSync('busybox', join(rootfs, 'bin', a));
      await writeFile(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/:/bin/sh\n');
      const tar = join(this.dir, 'bbox.tar');
      await run('tar', ['-C', rootfs, '-cf', tar, '.']);
      await this.docker(['import', tar, `${IMAGE}:latest`]);
      return `${IMAGE}:latest`;
    })();
    return this.imported;
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const pid = readPidFile(join(this.dir, 'docker.pid'));
      const containerd = readPidFile(join(this.dir, 'exec', 'containerd', 'containerd.pid'));
      if (pid !== undefined) await stopPids([pid], 10_000);
      if (containerd !== undefined) await stopPids([containerd]);
      for (const m of mountsUnder(this.dir)) await run('umount', ['-l', m]).catch(() => undefined);
      await rm(this.dir, { recursive: true, force: true });
    })();
    return this.stopping;
  }

  stopSync(): void {
    const pids = [join(this.dir, 'docker.pid'), join(this.dir, 'exec', 'containerd', 'containerd.pid')]
      .map(readPidFile)
      .filter((p): p is number => p !== undefined);
    stopPidsSync(pids);
    for (const m of mountsUnder(this.dir)) trySync('umount', ['-l', m]);
    trySync('rm', ['-rf', this.dir]);
  }
}

let swept = false;

/** Starts a private dockerd; stopped by runCleanups() (or on exit) unless stopped before. */
export async function startDockerd(opts: StartDockerdOptions = {}): Promise<DockerDaemon> {
  if (!swept) {
    swept = true;
    sweepStale();
    sweepStalePluginFiles();
  }
  const dir = await mkdtemp(tempDirPrefix('dkr'));
  const d = new Dockerd(dir, opts.netns, opts.hostname ?? opts.netns ?? 'docker', opts.args ?? []);
  onCleanup(() => d.stop(), { label: `dockerd ${dir}`, sync: () => d.stopSync() });
  try {
    await d.start();
  } catch (err) {
    await d.stop().catch(() => undefined);
    throw err;
  }
  return d;
}
