// Owns a one-host CNI lab: the agent lab with netmaster's REST API listening on 127.0.0.1,
// netplugin's CNI socket served by the real handler (netmaster reached over HTTP), and a bin dir
// holding the `contiv-cni` executable as `make install` makes it. runCni runs that executable as a
// runtime would (CNI_* env, config on stdin). Everything is registered for cleanup.
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { type CniAgent, ERR_CHECK_FAILED } from '../../api/cni/handler.js';
import { type CniServer, startCniServer } from '../../api/cni/server.js';
import { cniWrapperScript } from '../../api/cni/wrapper.js';
import { RestNetmasterClient } from '../../api/docker/netmaster-client.js';
import { StoreTargetResolver } from '../../api/docker/target.js';
import { type AgentLab, type AgentLabOptions, startAgentLab } from './agent.js';
import { onCleanup } from './cleanup.js';
import { tempDirPrefix } from './names.js';

export { ERR_CHECK_FAILED };
export const CNI_TYPE = 'contiv-cni';
/** dist/api/cni/main.js, next to this compiled file's dist/test/harness. */
export const CNI_MAIN = resolve(fileURLToPath(import.meta.url), '../../../api/cni/main.js');

export interface CniLab {
  lab: AgentLab;
  /** netmaster's base URL. */
  url: string;
  dir: string;
  /** Holds `contiv-cni`: give it as CNI_PATH / a runtime's plugin dir. */
  binDir: string;
  socket: string;
  server: CniServer;
  /** Another CNI server on this host's agent with netmaster at `netmasterUrl`; its socket. */
  serveWith(netmasterUrl: string): Promise<string>;
  /** A network config (cniVersion 1.0.0, our socket) with `extra` merged in. */
  conf(extra?: Record<string, unknown>): Record<string, unknown>;
}

export interface CniRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed, when it is JSON. */
  json: Record<string, unknown> | undefined;
}

/** The agent of the lab, followed across restartAgent. */
function labAgent(lab: AgentLab): CniAgent {
  return {
    attachEndpoint: (id, ifName) => lab.plugin.agent.attachEndpoint(id, ifName),
    detachEndpoint: (id, ifName) => lab.plugin.agent.detachEndpoint(id, ifName),
    get hostFacts() {
      return lab.plugin.agent.hostFacts;
    },
  };
}

async function serve(lab: AgentLab, url: string, socketPath: string): Promise<CniServer> {
  const netmaster = new RestNetmasterClient(url, {}, 3_000);
  const server = await startCniServer({
    targets: new StoreTargetResolver(lab.store),
    netmaster,
    agent: labAgent(lab),
    hostName: lab.cfg.host,
    socketPath,
    ...(lab.hostNs ? { hostNetns: { name: lab.hostNs.name } } : {}),
    log: pino({ level: 'silent' }),
  });
  onCleanup(
    async () => {
      await server.close();
      netmaster.close();
    },
    { label: `cni server ${socketPath}` },
  );
  return server;
}

export async function startCniLab(opts: AgentLabOptions = {}): Promise<CniLab> {
  const lab = await startAgentLab(opts);
  const url = await lab.api.listen({ host: '127.0.0.1', port: 0 });
  const dir = await mkdtemp(tempDirPrefix('cni'));
  onCleanup(() => rm(dir, { recursive: true, force: true }), { label: `cni dir ${dir}` });
  const binDir = join(dir, 'bin');
  await writeCniBin(binDir);
  const socket = join(dir, 'cni.sock');
  const server = await serve(lab, url, socket);
  let n = 0;
  return {
    lab,
    url,
    dir,
    binDir,
    socket,
    server,
    async serveWith(netmasterUrl) {
      const path = join(dir, `cni-${++n}.sock`);
      await serve(lab, netmasterUrl, path);
      return path;
    },
    conf(extra = {}) {
      return { cniVersion: '1.0.0', name: 'contiv-test', type: CNI_TYPE, socket, ...extra };
    },
  };
}

/** Writes `<binDir>/contiv-cni`, the wrapper `make install` puts on the PATH (VERSION in sh). */
export async function writeCniBin(binDir: string): Promise<string> {
  await mkdir(binDir, { recursive: true });
  const path = join(binDir, CNI_TYPE);
  await writeFile(path, cniWrapperScript(process.execPath, CNI_MAIN));
  await chmod(path, 0o755);
  return path;
}

export interface CniCall {
  command: 'ADD' | 'DEL' | 'CHECK' | 'VERSION';
  containerID?: string;
  netns?: string;
  ifName?: string;
  args?: string;
}

/** Runs the executable in binDir as a runtime does. */
export function runCni(binDir: string, call: CniCall, config: unknown): Promise<CniRun> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    CNI_COMMAND: call.command,
    CNI_PATH: binDir,
    ...(call.containerID !== undefined ? { CNI_CONTAINERID: call.containerID } : {}),
    ...(call.netns !== undefined ? { CNI_NETNS: call.netns } : {}),
    ...(call.ifName !== undefined ? { CNI_IFNAME: call.ifName } : {}),
    ...(call.args !== undefined ? { CNI_ARGS: call.args } : {}),
  };
  return new Promise((resolveRun, reject) => {
    const p = spawn(join(binDir, CNI_TYPE), [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      let json: Record<string, unknown> | undefined;
      try {
        json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
      } catch {
        json = undefined;
      }
      resolveRun({ code, stdout, stderr, json });
    });
    p.stdin.end(typeof config === 'string' ? config : JSON.stringify(config));
  });
}
