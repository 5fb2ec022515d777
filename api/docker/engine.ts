// Owns talking to a Docker engine's REST API over its unix socket: the API version, creating,
// inspecting, listing and removing networks, and which container an endpoint of a network is in.
// It never decides which networks should exist (sync.ts does) and speaks node:http, not fetch,
// whose first use costs more than the call.

import { request } from 'node:http';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';
/** Docker 20.10's API; older engines are spoken to in their own version. */
const WANTED_API = '1.41';
/** Label on the networks netmaster makes, so that a sync removes only its own. */
export const MANAGED_LABEL = 'io.contiv.managed-by';

export class DockerEngineError extends Error {
  override readonly name = 'DockerEngineError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface NetworkSpec {
  name: string;
  /** Network and IPAM driver: the plugin's name. */
  driver: string;
  ipamDriver: string;
  /** CIDR. */
  subnet: string;
  gateway?: string;
  /** Driver options (`-o`). */
  options: Record<string, string>;
  /** IPAM options (`--ipam-opt`). */
  ipamOptions: Record<string, string>;
  labels?: Record<string, string>;
  attachable?: boolean;
  /** 'swarm' for a global-scope driver in swarm mode (created on a manager, seen by every node). */
  scope?: 'local' | 'swarm';
}

/** The fields of Docker's network inspect this project reads. */
export interface DockerNetwork {
  Name: string;
  Id: string;
  Driver: string;
  Scope: string;
  Options: Record<string, string> | null;
  Labels: Record<string, string> | null;
  IPAM: {
    Driver: string;
    Options: Record<string, string> | null;
    Config: { Subnet?: string; Gateway?: string }[] | null;
  };
  Containers?: Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string }>;
}

function compareVersions(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am - bm || an - bn;
}

export class DockerEngine {
  private api: Promise<string> | undefined;

  constructor(
    readonly socketPath: string = DEFAULT_DOCKER_SOCKET,
    private readonly timeoutMs = 30_000,
  ) {}

  /** The API version spoken: 1.41, or the engine's own when it is older. */
  apiVersion(): Promise<string> {
    this.api ??= this.raw('GET', '/version').then(
      (r) => {
        const theirs = (r.body as { ApiVersion?: string } | undefined)?.ApiVersion ?? WANTED_API;
        return compareVersions(theirs, WANTED_API) < 0 ? theirs : WANTED_API;
      },
      (err: unknown) => {
        this.api = undefined;
        throw err;
      },
    );
    return this.api;
  }

  async listNetworks(filters: Record<string, string[]> = {}): Promise<DockerNetwork[]> {
    const q = Object.keys(filters).length ? `?filters=${encodeURIComponent(JSON.stringify(filters))}` : '';
    return (await this.call('GET', `/networks${q}`)) as DockerNetwork[];
  }

  /** undefined when there is no such network. */
  async inspectNetwork(idOrName: string): Promise<DockerNetwork | undefined> {
    try {
      return (await this.call('GET', `/networks/${encodeURIComponent(idOrName)}`)) as DockerNetwork;
    } catch (err) {
      if (err instanceof DockerEngineError && err.status === 404) return undefined;
      throw err;
    }
  }

  /**
   * The container (id, name, labels) of an endpoint, as the network lists its members; undefined
   * until it does. Its labels (`docker run --label`) are what serviceLB selectors match.
   */
  async containerOf(
    networkID: string,
    endpointID: string,
  ): Promise<{ id: string; name: string; labels: Record<string, string> } | undefined> {
    const net = await this.inspectNetwork(networkID);
    for (const [id, c] of Object.entries(net?.Containers ?? {})) {
      if (c.EndpointID !== endpointID) continue;
      const inspected = (await this.call('GET', `/containers/${encodeURIComponent(id)}/json`)) as {
        Config?: { Labels?: Record<string, string> | null };
      };
      return { id, name: c.Name, labels: { ...(inspected.Config?.Labels ?? {}) } };
    }
    return undefined;
  }

  /** Creates the network; resolves with its id. A name already taken is an error (409). */
  async createNetwork(spec: NetworkSpec): Promise<string> {
    const body = {
      Name: spec.name,
      CheckDuplicate: true,
      Driver: spec.driver,
      Attachable: spec.attachable ?? true,
      IPAM: {
        Driver: spec.ipamDriver,
        Config: [{ Subnet: spec.subnet, ...(spec.gateway ? { Gateway: spec.gateway } : {}) }],
        Options: spec.ipamOptions,
      },
      Options: spec.options,
      Labels: spec.labels ?? {},
      ...(spec.scope ? { Scope: spec.scope } : {}),
    };
    const r = (await this.call('POST', '/networks/create', body)) as { Id: string };
    return r.Id;
  }

  /** Removes the network; one that does not exist is not an error. */
  async removeNetwork(idOrName: string): Promise<void> {
    try {
      await this.call('DELETE', `/networks/${encodeURIComponent(idOrName)}`);
    } catch (err) {
      if (err instanceof DockerEngineError && err.status === 404) return;
      throw err;
    }
  }

  /** One versioned call; a non-2xx answer becomes a DockerEngineError with the engine's message. */
  async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const v = await this.apiVersion();
    const r = await this.raw(method, `/v${v}${path}`, body);
    if (r.status < 200 || r.status >= 300) {
      const msg = (r.body as { message?: string } | undefined)?.message ?? r.text;
      throw new DockerEngineError(r.status, `docker ${method} ${path}: ${msg.trim()} (HTTP ${r.status})`);
    }
    return r.body;
  }

  private raw(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown; text: string }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { host: 'docker' };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, path, method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
        res.on('error', reject);
      });
      req.setTimeout(this.timeoutMs, () =>
        req.destroy(new Error(`docker ${method} ${path}: no answer in ${this.timeoutMs} ms`)),
      );
      req.on('error', (err) =>
        reject(new Error(`docker engine at ${this.socketPath}: ${err.message}`, { cause: err })),
      );
      req.end(payload);
    });
  }
}
