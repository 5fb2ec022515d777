#!/usr/bin/env node
// Owns the CNI plugin executable (installed as `contiv-cni`; the config's "type"): a runtime runs
// it once per call with the CNI_* environment and the network config on stdin. VERSION is answered
// here; ADD, DEL and CHECK are forwarded to netplugin over its unix socket, where the host agent
// lives. The result or the CNI error JSON goes to stdout; an error exits non-zero. It imports only
// node:http and the pure protocol module, since every pod start pays this process's start.

import { request } from 'node:http';
import {
  CniError,
  type CniRequest,
  checkNetConf,
  DEFAULT_SOCKET,
  ERR,
  type NetConf,
  versionResult,
} from './protocol.js';

/** Longer than netmaster's own timeout: a slow ADD should fail with netplugin's message, not ours. */
const CALL_TIMEOUT_MS = 60_000;

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

function need(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (!v) throw new CniError(ERR.invalidEnv, `${name} is required`);
  return v;
}

/** Posts the call to netplugin; resolves with the HTTP status and parsed body. */
function forward(socketPath: string, body: CniRequest): Promise<{ status: number; body: unknown }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        path: '/cni',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
          } catch {
            reject(
              new CniError(ERR.io, `netplugin answered ${res.statusCode} with no JSON`, text.slice(0, 500)),
            );
          }
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(CALL_TIMEOUT_MS, () =>
      req.destroy(new CniError(ERR.tryAgainLater, `netplugin gave no answer in ${CALL_TIMEOUT_MS} ms`)),
    );
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e instanceof CniError) return reject(e);
      reject(
        new CniError(
          ERR.tryAgainLater,
          `netplugin is not answering on ${socketPath} (${e.code ?? e.message}); is it running with CNI enabled?`,
        ),
      );
    });
    req.end(payload);
  });
}

async function runPlugin(env: NodeJS.ProcessEnv, stdin: string): Promise<{ out: string; code: number }> {
  let version = '1.0.0';
  try {
    const command = need(env, 'CNI_COMMAND');
    if (command === 'VERSION') return { out: JSON.stringify(versionResult()), code: 0 };
    if (command !== 'ADD' && command !== 'DEL' && command !== 'CHECK')
      throw new CniError(ERR.invalidEnv, `CNI_COMMAND "${command}" is not ADD, DEL, CHECK or VERSION`);
    let raw: unknown;
    try {
      raw = JSON.parse(stdin);
    } catch (e) {
      throw new CniError(
        ERR.decode,
        `the network configuration on stdin is not JSON: ${(e as Error).message}`,
      );
    }
    const asked = (raw as { cniVersion?: unknown } | null)?.cniVersion;
    if (typeof asked === 'string') version = asked;
    const config: NetConf = checkNetConf(raw);
    const call: CniRequest = {
      command,
      containerID: need(env, 'CNI_CONTAINERID'),
      // DEL may come after the namespace is gone.
      netns: command === 'DEL' ? (env.CNI_NETNS ?? '') : need(env, 'CNI_NETNS'),
      ifName: need(env, 'CNI_IFNAME'),
      args: env.CNI_ARGS ?? '',
      config,
    };
    const socketPath = config.socket || env.CONTIV_CNI_SOCKET || DEFAULT_SOCKET;
    const res = await forward(socketPath, call);
    if (res.status === 200) return { out: command === 'ADD' ? JSON.stringify(res.body) : '', code: 0 };
    return { out: JSON.stringify(res.body), code: 1 };
  } catch (err) {
    const e = err instanceof CniError ? err : new CniError(ERR.io, (err as Error)?.message ?? String(err));
    return { out: JSON.stringify(e.body(version)), code: 1 };
  }
}

async function main(): Promise<void> {
  // Read even for VERSION: the runtime writes the config anyway.
  const stdin = await readStdin();
  const { out, code } = await runPlugin(process.env, stdin);
  if (out) process.stdout.write(`${out}\n`);
  process.exitCode = code;
}

void main();
