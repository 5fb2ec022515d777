// Owns running host networking commands (ip, ethtool) for the datapath, optionally inside a network namespace.
// It must never build a shell string (argv arrays only) and never run a command without a timeout.
import { execFile } from 'node:child_process';

/**
 * A network namespace: an `ip netns` name (a bare string or { name }), the pid of a process inside it,
 * or a path to a namespace file (/proc/<pid>/ns/net, a bind mount such as /var/run/netns/x or a CNI path).
 * `undefined` everywhere means the namespace this process runs in.
 */
export type NetnsRef = string | { name: string } | { pid: number } | { path: string };

/** sbin directories hold ip, ethtool and nsenter; a daemon started with a minimal PATH may lack them. */
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];
const PATH = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SBIN].join(':');
export const DEFAULT_TIMEOUT_MS = 10_000;
const NETNS_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** A command that failed: names the full command line, the exit status and the command's stderr. */
export class HostCommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | string | null,
    readonly stderr: string,
    reason: string,
  ) {
    super(`${argv.join(' ')}: ${reason}${stderr.trim() ? `: ${stderr.trim()}` : ''}`);
    this.name = 'HostCommandError';
  }
}

/** The namespace file of a reference, validated (a name must not smuggle a path or an option). */
export function netnsPath(ref: NetnsRef): string {
  if (typeof ref === 'string') return netnsPath({ name: ref });
  if ('name' in ref) {
    if (!NETNS_NAME.test(ref.name) || ref.name === '.' || ref.name === '..')
      throw new Error(`invalid netns name "${ref.name}": letters, digits, "_", "." and "-" only`);
    return `/var/run/netns/${ref.name}`;
  }
  if ('pid' in ref) {
    if (!Number.isInteger(ref.pid) || ref.pid <= 0) throw new Error(`invalid netns pid ${String(ref.pid)}`);
    return `/proc/${ref.pid}/ns/net`;
  }
  if (!ref.path.startsWith('/')) throw new Error(`netns path must be absolute, got "${ref.path}"`);
  return ref.path;
}

/** Text for messages: "netns foo", "netns of pid 42", "netns /path". */
export function describeNetns(ref: NetnsRef | undefined): string {
  if (ref === undefined) return 'the current netns';
  if (typeof ref === 'string') return `netns ${ref}`;
  if ('name' in ref) return `netns ${ref.name}`;
  if ('pid' in ref) return `netns of pid ${ref.pid}`;
  return `netns ${ref.path}`;
}

/** The argument ip(8) takes after `netns`: a name, a pid or a path (iproute2 opens names containing "/"). */
export function ipNetnsArg(ref: NetnsRef): string {
  if (typeof ref === 'string') return ipNetnsArg({ name: ref });
  if ('pid' in ref) {
    netnsPath(ref);
    return String(ref.pid);
  }
  if ('name' in ref) {
    netnsPath(ref);
    return ref.name;
  }
  return netnsPath(ref);
}

export interface RunOptions {
  timeoutMs?: number;
}

/**
 * Runs cmd with args (inside netns via `nsenter --net=<file>`: it works the same for a name, a pid and a
 * path, and enters only the network namespace) and resolves with stdout.
 */
export function runHost(
  netns: NetnsRef | undefined,
  cmd: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<string> {
  const argv =
    netns === undefined ? [cmd, ...args] : ['nsenter', `--net=${netnsPath(netns)}`, '--', cmd, ...args];
  const timeout = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    execFile(
      argv[0]!,
      argv.slice(1),
      {
        env: { ...process.env, PATH },
        timeout,
        killSignal: 'SIGKILL',
        encoding: 'utf8',
        maxBuffer: 16 << 20,
      },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
        const reason =
          e.code === 'ENOENT'
            ? `command not found (PATH=${PATH})`
            : e.killed
              ? `timed out after ${timeout} ms`
              : `exit ${e.code ?? 'unknown'}`;
        reject(new HostCommandError(argv, e.code ?? null, stderr, reason));
      },
    );
  });
}
