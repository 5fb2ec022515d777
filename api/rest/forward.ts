// Owns sending a write that reached a follower netmaster on to the leader, and its answer back.
// It never decides who leads (state/leader.ts does) and never touches the store.

import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** What the REST layer needs to know about leadership. */
export interface Leadership {
  readonly isLeader: boolean;
  leader(): Promise<{ id: string; address: string } | undefined>;
}

export interface Forwarded {
  status: number;
  contentType: string;
  body: string;
}

/** Replays one request against the leader's base URL (http://host:port). */
export function forward(
  leaderUrl: string,
  method: string,
  path: string,
  body: unknown,
  /** authToken: the caller's login, which the leader checks again; ca: the leader's CA (https). */
  opts: { authToken?: string | string[] | undefined; ca?: string; timeoutMs?: number } = {},
): Promise<Forwarded> {
  const { authToken, timeoutMs = 30_000 } = opts;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { accept: 'application/json', 'x-contiv-forwarded': '1' };
  if (typeof authToken === 'string') headers['x-auth-token'] = authToken;
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    const url = new URL(path, leaderUrl);
    const tls = url.protocol === 'https:';
    const send = tls ? httpsRequest : request;
    const req = send(url, { method, headers, ...(tls && opts.ca ? { ca: opts.ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 502,
          contentType: String(res.headers['content-type'] ?? 'application/json'),
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () =>
      req.destroy(new Error(`leader at ${leaderUrl} did not answer in ${timeoutMs} ms`)),
    );
    req.on('error', reject);
    req.end(payload);
  });
}
