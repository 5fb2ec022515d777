// Owns podman as a real CNI runtime for tests (lab recipe "A real CNI client"): podman 4.3 with its
// CNI backend, every config and storage path in a temp dir (nothing in /etc), our plugin dir first,
// a busybox image imported as localhost/bb. Cleanup removes the containers, the storage and what
// podman leaves in /var/lib/cni for our network.
import { existsSync, symlinkSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { onCleanup } from './cleanup.js';
import { tempDirPrefix } from './names.js';
import { run } from './run.js';

export const PODMAN_COMMANDS = ['podman', 'runc', 'tar'] as const;
export const PODMAN_IMAGE = 'localhost/bb';
const APPLETS = ['sh', 'ping', 'ip', 'cat', 'sleep', 'true'];

export interface Podman {
  dir: string;
  /** What podman needs besides the process's environment. */
  env: Record<string, string>;
  /** Writes `<name>.conflist` with these plugin configs. */
  addNetwork(name: string, plugins: Record<string, unknown>[], cniVersion?: string): Promise<void>;
  /** Runs podman with args; resolves with stdout, rejects with stderr in the message. */
  podman(args: string[], timeoutMs?: number): Promise<string>;
}

/** A podman whose plugin dirs are `pluginDir` then Debian's /usr/lib/cni. */
export async function startPodman(pluginDir: string): Promise<Podman> {
  const dir = await mkdtemp(tempDirPrefix('podman'));
  const netDir = join(dir, 'net');
  await mkdir(netDir);
  await mkdir(join(dir, 'tmp'));
  const networks: string[] = [];
  const cacheExisted = existsSync('/var/lib/containers/cache');
  const cniExisted = existsSync('/var/lib/cni');
  await writeFile(
    join(dir, 'containers.conf'),
    [
      '[containers]',
      // runc cannot raise rlimits here (no CAP_SYS_RESOURCE): ask for what we have.
      'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `events_logfile_path = "${join(dir, 'events.log')}"`,
      'runtime = "runc"',
      `tmp_dir = "${join(dir, 'tmp')}"`,
      '[network]',
      'network_backend = "cni"',
      `cni_plugin_dirs = ["${pluginDir}", "/usr/lib/cni"]`,
      `network_config_dir = "${netDir}"`,
      '',
    ].join('\n'),
  );
  await writeFile(
    join(dir, 'storage.conf'),
    [
      '[storage]',
      'driver = "overlay"',
      `graphroot = "${join(dir, 'graph')}"`,
      `runroot = "${join(dir, 'run')}"`,
      '',
    ].join('\n'),
  );
  const env: Record<string, string> = {
    CONTAINERS_CONF: join(dir, 'containers.conf'),
    CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'),
  };
  const podman = (args: string[], timeoutMs = 60_000) => run('podman', args, { env, timeoutMs });
  onCleanup(
    async () => {
      await podman(['rm', '--all', '--force']).catch(() => undefined);
      // Unmounts the overlay layers so the directory can go.
      await podman(['system', 'reset', '--force']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      for (const n of networks) await rm(join('/var/lib/cni/networks', n), { recursive: true, force: true });
      if (!cacheExisted) await rm('/var/lib/containers/cache', { recursive: true, force: true });
      // libcni's cached results (empty after DEL).
      if (!cniExisted) await rm('/var/lib/cni', { recursive: true, force: true });
    },
    { label: `podman ${dir}` },
  );

  const rootfs = join(dir, 'rootfs');
  await mkdir(join(rootfs, 'bin'), { recursive: true });
  await copyFile('/bin/busybox', join(rootfs, 'bin', 'busybox'));
  for (const a of APPLETS) symlinkSync('busybox', join(rootfs, 'bin', a));
  const tar = join(dir, 'rootfs.tar');
  await run('tar', ['-C', rootfs, '-cf', tar, '.']);
  await podman(['import', '--change', 'CMD ["/bin/sh"]', tar, PODMAN_IMAGE]);

  return {
    dir,
    env,
    async addNetwork(name, plugins, cniVersion = '1.0.0') {
      networks.push(name);
      await writeFile(
        join(netDir, `${name}.conflist`),
        JSON.stringify({ cniVersion, name, plugins }, null, 2),
      );
    },
    podman,
  };
}
