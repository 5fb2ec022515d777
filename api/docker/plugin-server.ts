// Owns the transport of Docker's legacy plugin protocol: an HTTP server on a unix socket
// (/run/docker/plugins/<name>.sock) taking `POST /<Interface>.<Call>` JSON bodies, answering JSON
// with Docker's content type, and every failure as `{"Err": "..."}`. It knows no call's meaning:
// the drivers' handlers do.

import { chmod, mkdir, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { type Handler, PLUGIN_CONTENT_TYPE, PluginError } from './protocol.js';

export const DEFAULT_PLUGIN_NAME = 'netplugin';
export const DEFAULT_PLUGIN_DIR = '/run/docker/plugins';
const MAX_BODY = 1024 * 1024;

export interface PluginServerOptions {
  /** Plugin (and driver) name Docker knows it by: `-d <name>`; default "netplugin". */
  name?: string;
  /** Where Docker discovers legacy plugins; default /run/docker/plugins. */
  dir?: string;
  /** Path → handler, e.g. "/NetworkDriver.Join". Plugin.Activate is answered from `implements`. */
  handlers: Record<string, Handler>;
  implements: string[];
  log?: Logger;
}

export interface PluginServer {
  readonly name: string;
  readonly socketPath: string;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body ?? {});
  res.writeHead(status, {
    'content-type': PLUGIN_CONTENT_TYPE,
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new PluginError(`request body larger than ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** True when something answers on that unix socket (another plugin of the same name is running). */
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

/** Serves the plugin on `<dir>/<name>.sock`; refuses to start over a live plugin of the same name. */
export async function startPluginServer(opts: PluginServerOptions): Promise<PluginServer> {
  const name = opts.name ?? DEFAULT_PLUGIN_NAME;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name))
    throw new Error(`plugin name "${name}": letters, digits, _ . - only (it becomes a file name)`);
  const dir = opts.dir ?? DEFAULT_PLUGIN_DIR;
  const socketPath = join(dir, `${name}.sock`);
  await mkdir(dir, { recursive: true });
  if (await socketAnswers(socketPath))
    throw new Error(`plugin socket ${socketPath} is in use: is another ${name} plugin running?`);
  // A socket file left by a crashed run would make listen fail with EADDRINUSE.
  await unlink(socketPath).catch(() => undefined);

  const handlers: Record<string, Handler> = {
    ...opts.handlers,
    '/Plugin.Activate': () => ({ Implements: opts.implements }),
  };
  const log = opts.log;
  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const t0 = performance.now();
    const handler = req.method === 'POST' ? handlers[path] : undefined;
    if (!handler) {
      // 404 is how Docker learns a call is not implemented (it tolerates that for optional calls).
      send(res, 404, { Err: `${name}: no such plugin call ${req.method} ${path}` });
      return;
    }
    try {
      const text = await readBody(req);
      let body: unknown = {};
      if (text.trim() !== '') {
        try {
          body = JSON.parse(text);
        } catch {
          throw new PluginError(`${path.slice(1)}: request body is not JSON`);
        }
      }
      const answer = await handler(body);
      send(res, 200, answer ?? {});
      log?.debug({ call: path, ms: Math.round(performance.now() - t0) }, 'docker call');
    } catch (err) {
      const refused = err instanceof PluginError;
      const message = err instanceof Error ? err.message : String(err);
      (refused ? log?.info : log?.error)?.call(log, { call: path, err: message }, 'docker call failed');
      send(res, refused ? 400 : 500, { Err: message });
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Whoever may connect may plug containers into any network: root (dockerd) only.
  await chmod(socketPath, 0o600);
  log?.info({ socket: socketPath }, 'docker plugin listening');
  let closed: Promise<void> | undefined;
  return {
    name,
    socketPath,
    close() {
      closed ??= (async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await unlink(socketPath).catch(() => undefined);
      })();
      return closed;
    },
  };
}
