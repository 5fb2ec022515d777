// Owns netplugin's end of the CNI executable's calls: HTTP on a unix socket (default
// /run/contiv/cni.sock), `POST /cni` with a CniRequest, answered 200 with the CNI result or 4xx/5xx
// with the CNI error JSON; before it opens, endpoints whose pods vanished are reconciled. It knows
// no call's meaning: the handler does.

import { chmod, mkdir, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { CniHandler, type CniHandlerOptions } from './handler.js';
import { CniError, type CniRequest, checkNetConf, DEFAULT_SOCKET, ERR } from './protocol.js';
import { reconcileCniEndpoints } from './reconcile.js';

const MAX_BODY = 1024 * 1024;

export interface CniServer {
  readonly socketPath: string;
  readonly handler: CniHandler;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new CniError(ERR.decode, `request larger than ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseRequest(text: string): CniRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CniError(ERR.decode, `request is not JSON: ${(e as Error).message}`);
  }
  const r = raw as Partial<CniRequest> | null;
  if (typeof r !== 'object' || r === null) throw new CniError(ERR.decode, 'request is not a JSON object');
  for (const k of ['command', 'containerID', 'netns', 'ifName', 'args'] as const) {
    if (typeof r[k] !== 'string') throw new CniError(ERR.decode, `request field ${k} must be a string`);
  }
  return { ...(r as CniRequest), config: checkNetConf(r.config) };
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function startCniServer(
  opts: CniHandlerOptions & { socketPath?: string; log?: Logger },
): Promise<CniServer> {
  const socketPath = opts.socketPath ?? DEFAULT_SOCKET;
  const handler = new CniHandler(opts);
  await mkdir(dirname(socketPath), { recursive: true });
  if (await socketAnswers(socketPath)) throw new Error(`${socketPath}: another netplugin answers there`);
  try {
    const r = await reconcileCniEndpoints(opts);
    if (r.removed.length > 0)
      opts.log?.info({ removed: r.removed, kept: r.kept.length }, 'cni endpoints reconciled');
  } catch (err) {
    // netmaster down at start: the socket still opens; DEL cleans up what is asked for.
    opts.log?.warn({ err: (err as Error).message }, 'cni endpoints not reconciled');
  }
  await unlink(socketPath).catch(() => undefined); // left by a netplugin that died
  const server: Server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    let version = '1.0.0';
    void (async () => {
      if (req.method !== 'POST' || req.url !== '/cni')
        throw new CniError(ERR.decode, `no such call ${req.method} ${req.url}`);
      const call = parseRequest(await readBody(req));
      version = call.config.cniVersion;
      return call;
    })()
      .then(async (call) => reply(200, await handler.handle(call)))
      .catch((err: unknown) => {
        const e =
          err instanceof CniError ? err : new CniError(ERR.io, (err as Error)?.message ?? String(err));
        opts.log?.warn({ code: e.code, msg: e.message, details: e.details }, 'cni call failed');
        reply(e.code === ERR.tryAgainLater ? 503 : e.code === ERR.io ? 500 : 400, e.body(version));
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Only root may plug interfaces; only root may ask.
  await chmod(socketPath, 0o600);
  opts.log?.info({ socketPath }, 'cni socket listening');
  return {
    socketPath,
    handler,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
