// Owns starting the compiled netplugin as a real process for tests, inside a simulated host's
// namespace when given (as it runs on a real host: its veths, dockerd and OVS are that host's). It
// resolves once a log line says it is up (the host agent started, or with Docker, the engine in
// sync); the caller stops it, and cleanup kills what is left.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './cleanup.js';

const NETPLUGIN = fileURLToPath(new URL('../../cli/netplugin.js', import.meta.url));
const START_TIMEOUT_MS = 20_000;

export interface NetpluginProcess {
  readonly p: ChildProcess;
  /** Everything it logged so far (stdout and stderr). */
  log(): string;
  /** SIGTERM, and resolves with its exit code once it exited. */
  stop(): Promise<number | null>;
}

export interface StartNetpluginOptions {
  netns?: string;
  /** The log line to wait for (default "agent started"). */
  until?: string;
}

export function startNetpluginProcess(
  args: string[],
  opts: StartNetpluginOptions = {},
): Promise<NetpluginProcess> {
  const until = opts.until ?? 'agent started';
  const [cmd, argv] = opts.netns
    ? ['ip', ['netns', 'exec', opts.netns, process.execPath, NETPLUGIN, ...args]]
    : [process.execPath, [NETPLUGIN, ...args]];
  const p = spawn(cmd, argv, { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
  const running = () => p.exitCode === null && p.signalCode === null;
  onCleanup(
    () => {
      if (running()) p.kill('SIGKILL');
    },
    { label: `netplugin ${p.pid}` },
  );
  let out = '';
  const exited = new Promise<number | null>((resolve) => p.once('exit', (code) => resolve(code)));
  const handle: NetpluginProcess = {
    p,
    log: () => out,
    stop: async () => {
      if (running()) p.kill('SIGTERM');
      return exited;
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`netplugin did not start: ${out}`)), START_TIMEOUT_MS);
    const collect = (d: Buffer) => {
      out += d.toString();
      if (out.includes(until)) {
        clearTimeout(timer);
        resolve(handle);
      }
    };
    p.stdout?.on('data', collect);
    p.stderr?.on('data', collect);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`netplugin exited ${code ?? p.signalCode}: ${out}`));
    });
  });
}
