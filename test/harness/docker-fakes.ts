// Owns in-memory stand-ins for what the Docker driver talks to: netmaster (addresses, endpoint
// records) and the intent (targets by selector or tag). They keep what they hold inspectable so
// tests can check that nothing is left allocated. Never used outside tests.

import type {
  AddressRequest,
  DockerNetworkRequest,
  EndpointName,
  EndpointRequest,
  NetmasterClient,
} from '../../api/docker/ports.js';
import { PluginError } from '../../api/docker/protocol.js';
import type { ContivTarget, Selector, TargetResolver } from '../../api/docker/target.js';
import { formatIPv4, macFromIPv4, parseIPv4, parsePool, parseSubnet } from '../../policy/ipam/addr.js';
import type { EndpointRecord } from '../../policy/model/endpoint.js';

/** Targets by (tenant, network, group) and by tag. */
export class FakeTargets implements TargetResolver {
  readonly targets: (ContivTarget & { tag?: string })[] = [];

  add(t: Partial<ContivTarget> & { network: string; subnet: string; tag?: string }): ContivTarget {
    const full = { tenant: 'default', group: '', gateway: '', ipPool: '', encap: 'vxlan' as const, ...t };
    this.targets.push(full);
    return full;
  }

  async resolve(sel: Selector): Promise<ContivTarget> {
    const found =
      'tag' in sel
        ? this.targets.find((t) => t.tag === sel.tag)
        : this.targets.find(
            (t) => t.tenant === sel.tenant && t.network === sel.network && t.group === sel.group,
          );
    if (!found) throw new PluginError(`no Contiv target for ${JSON.stringify(sel)}`);
    return found;
  }
}

/** netmaster's allocator and endpoint records, in memory; `down` makes every call fail as a dead one would. */
export class FakeNetmaster implements NetmasterClient {
  /** "tenant:network" → allocated addresses. */
  readonly addresses = new Map<string, Set<string>>();
  readonly endpoints = new Map<string, EndpointRecord>();
  readonly calls: string[] = [];
  down = false;

  constructor(private readonly targets: TargetResolver) {}

  private check(call: string): void {
    this.calls.push(call);
    if (this.down) throw new Error('netmaster at http://127.0.0.1:9999: connect ECONNREFUSED');
  }

  private taken(tenant: string, network: string): Set<string> {
    const k = `${tenant}:${network}`;
    let s = this.addresses.get(k);
    if (!s) {
      s = new Set();
      this.addresses.set(k, s);
    }
    return s;
  }

  /** Every address still allocated, as "tenant:network/ip". */
  allocated(): string[] {
    return [...this.addresses].flatMap(([k, s]) => [...s].map((ip) => `${k}/${ip}`)).sort();
  }

  async allocAddress(req: AddressRequest): Promise<string> {
    this.check('allocAddress');
    const t = await this.targets.resolve({ tenant: req.tenant, network: req.network, group: req.group });
    const s = parseSubnet(t.subnet);
    let { first, last } = s;
    if (t.ipPool) ({ first, last } = parsePool(t.ipPool, s));
    const taken = this.taken(req.tenant, req.network);
    if (req.preferred) {
      if (taken.has(req.preferred) || req.preferred === t.gateway)
        throw new Error(`network ${req.tenant}:${req.network}: address ${req.preferred} is in use`);
      taken.add(req.preferred);
      return req.preferred;
    }
    for (let v = first; v <= last; v++) {
      const ip = formatIPv4(v);
      if (!taken.has(ip) && ip !== t.gateway) {
        taken.add(ip);
        return ip;
      }
    }
    throw new Error(`network ${req.tenant}:${req.network}: no free address left in ${s.cidr}`);
  }

  async releaseAddress(req: { tenant: string; network: string; address: string }): Promise<void> {
    this.check('releaseAddress');
    this.taken(req.tenant, req.network).delete(req.address);
  }

  async createEndpoint(req: EndpointRequest): Promise<EndpointRecord> {
    this.check('createEndpoint');
    if (!this.taken(req.tenant, req.network).has(req.ipAddress))
      throw new Error(`endpoint ${req.endpointID}: address ${req.ipAddress} was not allocated`);
    const ip = parseIPv4(req.ipAddress);
    const rec: EndpointRecord = {
      endpointID: req.endpointID,
      tenant: req.tenant,
      network: req.network,
      endpointGroup: req.group,
      endpointGroupId: 0,
      ipAddress: ip === undefined ? '' : req.ipAddress,
      ipv6Address: '',
      macAddress: ip === undefined ? '' : macFromIPv4(req.ipAddress),
      homingHost: req.host,
      intfName: '',
      containerID: req.containerID ?? '',
      containerName: req.containerName ?? '',
      labels: req.labels ?? {},
    };
    this.endpoints.set(req.endpointID, rec);
    return rec;
  }

  async listEndpoints(host: string): Promise<EndpointRecord[]> {
    this.check('listEndpoints');
    return [...this.endpoints.values()].filter((e) => e.homingHost === host);
  }

  /** Docker network id → what createDockerNetwork was asked to make. */
  readonly dockerNetworks = new Map<string, DockerNetworkRequest>();

  async createDockerNetwork(req: DockerNetworkRequest): Promise<void> {
    this.check('createDockerNetwork');
    this.dockerNetworks.set(req.networkID, req);
  }

  async deleteDockerNetwork(networkID: string): Promise<void> {
    this.check('deleteDockerNetwork');
    this.dockerNetworks.delete(networkID);
  }

  async nameEndpoint(req: EndpointName): Promise<void> {
    this.check('nameEndpoint');
    const rec = this.endpoints.get(req.endpointID);
    if (rec)
      this.endpoints.set(req.endpointID, {
        ...rec,
        containerID: req.containerID,
        containerName: req.containerName,
        ...(req.labels ? { labels: req.labels } : {}),
      });
  }

  async deleteEndpoint(endpointID: string): Promise<void> {
    this.check('deleteEndpoint');
    const rec = this.endpoints.get(endpointID);
    // As netmaster: the record's address goes with it.
    if (rec) this.taken(rec.tenant, rec.network).delete(rec.ipAddress);
    this.endpoints.delete(endpointID);
  }
}
