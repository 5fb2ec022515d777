// Owns running external commands for the harness: always argv (never a shell string), always a timeout.
// It must never swallow a failure silently: errors carry the command line, exit status and stderr.
import { execFile, execFileSync } from 'node:child_process';

/** sbin directories hold ip, ethtool and the OVS daemons; a non-login PATH may lack them. */
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];
const PATH = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SBIN].join(':');
const DEFAULT_TIMEOUT_MS = 15_000;

export interface RunOptions {
  /** Extra environment variables, merged over process.env. */
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string | undefined;
}

export class CommandError extends Error {
  constructor(
    readonly commandLine: string,
    readonly exitCode: number | string | null,
    readonly stdout: string,
    readonly stderr: string,
    reason: string,
  ) {
    super(`command failed (${reason}): ${commandLine}${stderr.trim() ? `\n${stderr.trim()}` : ''}`);
    this.name = 'CommandError';
  }
}

function argv(cmd: string, args: readonly string[], netns: string | undefined): [string, string[]] {
  return netns === undefined ? [cmd, [...args]] : ['ip', ['netns', 'exec', netns, cmd, ...args]];
}

function quote(parts: readonly string[]): string {
  return parts.map((p) => (/^[\w@%+=:,./-]+$/.test(p) ? p : `'${p.replaceAll("'", "'\\''")}'`)).join(' ');
}

function envOf(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  return { ...process.env, PATH, ...extra };
}

/** Runs a command and resolves with its stdout; rejects with a CommandError. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const [file, fullArgs] = argv(cmd, args, opts.netns);
  const timeout = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    execFile(
      file,
      fullArgs,
      {
        env: envOf(opts.env),
        timeout,
        killSignal: 'SIGKILL',
        maxBuffer: 256 * 1024 * 1024,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
        // Not a CommandError: a missing program must never read as "the probe said no".
        if (e.code === 'ENOENT') return reject(new Error(`command not found: ${file} (PATH=${PATH})`));
        const reason = e.killed ? `timed out after ${timeout} ms` : `exit ${e.code ?? 'unknown'}`;
        reject(new CommandError(quote([file, ...fullArgs]), e.code ?? null, stdout, stderr, reason));
      },
    );
  });
}

/** Runs a command and tells whether it exited 0 (for probes such as ping whose failure is an answer). */
export async function succeeds(
  cmd: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<boolean> {
  try {
    await run(cmd, args, opts);
    return true;
  } catch (err) {
    if (err instanceof CommandError) return false;
    throw err;
  }
}

/** Synchronous variant for process 'exit' handlers, where nothing asynchronous runs any more. */
export function runSync(cmd: string, args: readonly string[], opts: RunOptions = {}): string {
  const [file, fullArgs] = argv(cmd, args, opts.netns);
  const timeout = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  try {
    return execFileSync(file, fullArgs, {
      env: envOf(opts.env),
      timeout,
      killSignal: 'SIGKILL',
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as { status?: number | null; stdout?: string; stderr?: string; signal?: string | null };
    const reason = e.signal ? `killed by ${e.signal}` : `exit ${e.status ?? 'unknown'}`;
    throw new CommandError(
      quote([file, ...fullArgs]),
      e.status ?? null,
      e.stdout ?? '',
      e.stderr ?? '',
      reason,
    );
  }
}

/** Best-effort synchronous command: true when it exited 0; never throws. */
export function trySync(cmd: string, args: readonly string[], opts: RunOptions = {}): boolean {
  try {
    runSync(cmd, args, opts);
    return true;
  } catch {
    return false;
  }
}
