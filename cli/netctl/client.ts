// Owns netctl's HTTP conversation with netmaster: URLs, JSON bodies, timeouts, and turning failures into ApiError.
// It must never print, exit, or know what a command means: callers decide what an error is worth.

import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** One failed call, carrying enough to write a single useful line: who asked what, and what came back. */
export class ApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    /** HTTP status, or 0 when netmaster never answered (refused, timed out, bad URL). */
    readonly status: number,
    readonly serverMessage: string,
  ) {
    super(
      status === 0
        ? `${method} ${path}: ${serverMessage}`
        : `${method} ${path} returned ${status}: ${serverMessage}`,
    );
    this.name = 'ApiError';
  }
}

export interface ClientOptions {
  /** Per-request limit; netctl is interactive, so a hung netmaster must not hang the shell. */
  readonly timeoutMs?: number;
  /** Contiv's --insecure: accept any certificate from an https:// netmaster (or auth_proxy). */
  readonly insecure?: boolean;
  /** Contiv's auth_proxy token (from `netctl login`), sent as X-Auth-Token. */
  readonly token?: string;
  /** PEM of the CA to trust for an https:// netmaster besides the system's (netmaster's own CA). */
  readonly ca?: string;
}

/**
 * Pulls the human sentence out of an error body. Contiv's netmaster answered with plain text; plugin-style
 * handlers use {"Err": ...}; our own server may use {"error"} or {"message"}. Newlines are folded so the
 * caller's "one line on stderr" promise holds.
 */
export function errorText(body: string, statusText: string): string {
  const trimmed = body.trim();
  let text = trimmed;
  if (trimmed.startsWith('{') || trimmed.startsWith('"')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (typeof parsed === 'string') text = parsed;
      else if (parsed && typeof parsed === 'object') {
        const o = parsed as Record<string, unknown>;
        const pick = [o.Err, o.error, o.message, o.Error, o.Message].find(
          (v) => typeof v === 'string' && v !== '',
        );
        if (typeof pick === 'string') text = pick;
      }
    } catch {
      // Not JSON after all: the raw text is the message.
    }
  }
  text = text.replace(/\s*\n\s*/g, ' ').trim();
  return text || statusText || 'no message';
}

export class NetmasterClient {
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly opts: ClientOptions;

  constructor(baseUrl: string, opts: ClientOptions = {}) {
    this.opts = opts;
    // Users type `--netmaster host:9999` as often as a URL; Contiv's docs use both.
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(baseUrl) ? baseUrl : `http://${baseUrl}`;
    this.base = withScheme.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  get baseUrl(): string {
    return this.base;
  }

  get(path: string): Promise<Json> {
    return this.request('GET', path);
  }

  post(path: string, body: JsonObject): Promise<Json> {
    return this.request('POST', path, body);
  }

  put(path: string, body: JsonObject): Promise<Json> {
    return this.request('PUT', path, body);
  }

  delete(path: string): Promise<Json> {
    return this.request('DELETE', path);
  }

  private async request(method: string, path: string, body?: JsonObject): Promise<Json> {
    let res: { status: number; statusText: string; text: string };
    try {
      res = await send(new URL(this.base + path), method, body, this.timeoutMs, this.opts);
    } catch (err) {
      throw new ApiError(method, path, 0, describeNetworkError(err, this.base, this.timeoutMs));
    }
    const ok = res.status >= 200 && res.status < 300;
    if (!ok) throw new ApiError(method, path, res.status, errorText(res.text, res.statusText));
    if (res.text.trim() === '') return null;
    try {
      return JSON.parse(res.text) as Json;
    } catch {
      throw new ApiError(
        method,
        path,
        res.status,
        `netmaster sent a body that is not JSON: ${res.text.slice(0, 80)}`,
      );
    }
  }
}

class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/**
 * One HTTP exchange with node:http. Not fetch: loading fetch's implementation costs a CLI run
 * about a quarter of a second, more than the request itself.
 */
function send(
  url: URL,
  method: string,
  body: JsonObject | undefined,
  timeoutMs: number,
  opts: ClientOptions = {},
): Promise<{ status: number; statusText: string; text: string }> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return Promise.reject(new Error(`unsupported scheme ${url.protocol} (use http:// or https://)`));
  }
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.token) headers['x-auth-token'] = opts.token;
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    const tls = url.protocol === 'https:';
    const options = tls
      ? { method, headers, rejectUnauthorized: opts.insecure !== true, ...(opts.ca ? { ca: opts.ca } : {}) }
      : { method, headers };
    const req = (tls ? httpsRequest : httpRequest)(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          statusText: res.statusMessage ?? '',
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new TimeoutError(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function describeNetworkError(err: unknown, base: string, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return `netmaster at ${base} did not answer within ${timeoutMs} ms`;
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const msg = err instanceof Error ? err.message : String(err);
  return `cannot reach netmaster at ${base}: ${code && !msg.includes(code) ? `${code} ${msg}` : msg}`;
}

/**
 * Go's `omitempty` on Contiv's client structs: zero values never reach the wire, so an unset flag leaves the
 * server's default in force (e.g. no pktTag means "allocate one").
 */
export function omitEmpty(obj: Record<string, Json | undefined>): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined || v === null || v === '' || v === 0 || v === false) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    out[k] = v;
  }
  return out;
}

/** Object key as netmaster spells it in URLs: key fields joined with ':' (`default:contiv-net`). */
export function objKey(...parts: string[]): string {
  return parts.map((p) => encodeURIComponent(p)).join(':');
}
