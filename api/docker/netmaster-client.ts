// Owns netplugin's calls to netmaster's /plugin routes over HTTP (node:http, keep-alive): address
// allocation and release, endpoint records. netmaster's `{"Err"}` answers become errors carrying
// its message, an unreachable netmaster an error naming its URL, so `docker run` shows either.

import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { EndpointRecord } from '../../policy/model/endpoint.js';
import type {
  AddressRequest,
  DockerNetworkRequest,
  EndpointName,
  EndpointRequest,
  NetmasterClient,
} from './ports.js';

export class NetmasterCallError extends Error {
  override readonly name = 'NetmasterCallError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class RestNetmasterClient implements NetmasterClient {
  private readonly agent: Agent;
  private readonly tls: boolean;

  /**
   * baseUrl: "https://host:port" of netmaster (any of them: followers forward writes); creds: the
   * CA to trust and this host's token.
   */
  constructor(
    readonly baseUrl: string,
    private readonly creds: { token?: string; ca?: string } = {},
    private readonly timeoutMs = 15_000,
  ) {
    this.tls = baseUrl.startsWith('https:');
    this.agent = this.tls
      ? new HttpsAgent({ keepAlive: true, maxSockets: 8, ...(creds.ca ? { ca: creds.ca } : {}) })
      : new Agent({ keepAlive: true, maxSockets: 8 });
  }

  async allocAddress(req: AddressRequest): Promise<string> {
    const r = (await this.post('/plugin/allocAddress', {
      tenant: req.tenant,
      network: req.network,
      group: req.group,
      ...(req.preferred ? { preferred: req.preferred } : {}),
    })) as { address?: string; ipAddress?: string };
    const ip = (r.address ?? r.ipAddress ?? '').split('/')[0] ?? '';
    if (!ip) throw new Error(`netmaster at ${this.baseUrl}: allocAddress answered no address`);
    return ip;
  }

  async releaseAddress(req: { tenant: string; network: string; address: string }): Promise<void> {
    await this.post('/plugin/releaseAddress', req);
  }

  async createEndpoint(req: EndpointRequest): Promise<EndpointRecord> {
    return (await this.post('/plugin/createEndpoint', req)) as EndpointRecord;
  }

  async deleteEndpoint(endpointID: string): Promise<void> {
    await this.post('/plugin/deleteEndpoint', { endpointID });
  }

  async nameEndpoint(req: EndpointName): Promise<void> {
    await this.post('/plugin/nameEndpoint', req);
  }

  async createDockerNetwork(req: DockerNetworkRequest): Promise<void> {
    await this.post('/plugin/dockerNetwork', req);
  }

  async deleteDockerNetwork(networkID: string): Promise<void> {
    await this.post('/plugin/deleteDockerNetwork', { networkID });
  }

  async listEndpoints(host: string): Promise<EndpointRecord[]> {
    return (await this.call('GET', `/plugin/endpoints?host=${encodeURIComponent(host)}`)) as EndpointRecord[];
  }

  close(): void {
    this.agent.destroy();
  }

  private post(path: string, body: unknown): Promise<unknown> {
    return this.call('POST', path, body);
  }

  private call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const payload = body === undefined ? '' : JSON.stringify(body);
    const url = new URL(path, this.baseUrl);
    return new Promise((resolve, reject) => {
      const req = (this.tls ? httpsRequest : request)(
        url,
        {
          method,
          agent: this.agent,
          headers: {
            ...(this.creds.token ? { 'x-auth-token': this.creds.token } : {}),
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            'content-length': String(Buffer.byteLength(payload)),
            accept: 'application/json',
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : {};
            } catch {
              parsed = undefined;
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300 && parsed !== undefined) return resolve(parsed);
            const err = (parsed as { Err?: string } | undefined)?.Err ?? (text.trim() || `HTTP ${status}`);
            reject(new NetmasterCallError(status, `netmaster: ${err}`));
          });
          res.on('error', reject);
        },
      );
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`no answer in ${this.timeoutMs} ms`)));
      req.on('error', (e) =>
        reject(new Error(`netmaster at ${this.baseUrl} ${path}: ${e.message}`, { cause: e })),
      );
      req.end(payload);
    });
  }
}
