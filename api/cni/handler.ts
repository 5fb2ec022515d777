// Owns what a CNI call does on this host, inside netplugin: ADD (endpoint record and address from
// netmaster, the veth into the pod's netns, the host end onto the bridge), DEL (the same undone,
// idempotent and needing no memory of the ADD: every name derives from container id + ifname) and
// CHECK (record, interface, address, MAC and port still as ADD left them). A failing ADD undoes
// what it made, so nothing stays allocated.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import {
  deleteLink,
  linkExists,
  type NetnsRef,
  plugContainer,
  runHost,
  validateIfName,
} from '../../datapath/host/index.js';
import { macFromIPv4 } from '../../policy/ipam/addr.js';
import { ENDPOINT_ID_RE, type EndpointRecord } from '../../policy/model/endpoint.js';
import { NetmasterCallError } from '../docker/netmaster-client.js';
import type { HostAttach, NetmasterClient } from '../docker/ports.js';
import { PluginError } from '../docker/protocol.js';
import type { ContivTarget, TargetResolver } from '../docker/target.js';
import { CniError, type CniRequest, type CniResult, ERR, resultFor } from './protocol.js';
import { selectTarget } from './select.js';

/** VXLAN adds 50 bytes to a 1500-byte underlay frame. */
const VXLAN_MTU = 1450;
/** CHECK found the endpoint differing from what ADD made (plugin-specific code). */
export const ERR_CHECK_FAILED = 100;

/** HostAgent: plugging ports, and which endpoints have one (for CHECK). */
export interface CniAgent extends HostAttach {
  readonly hostFacts: { readonly endpointPorts: ReadonlyMap<string, number> };
}

export interface CniHandlerOptions {
  targets: TargetResolver;
  netmaster: NetmasterClient;
  agent: CniAgent;
  /** This host's name, as its endpoint records say. */
  hostName: string;
  /** Where the host ends and the bridge live (tests: a namespace standing for the host). */
  hostNetns?: NetnsRef;
  log?: Logger;
}

/** Endpoint id of a pod interface: `<containerID>-<ifname>`. */
export function endpointIdOf(containerID: string, ifName: string): string {
  const id = `${containerID}-${ifName}`;
  if (!containerID || !ENDPOINT_ID_RE.test(id))
    throw new CniError(
      ERR.invalidEnv,
      `CNI_CONTAINERID "${containerID}" with CNI_IFNAME "${ifName}" makes no valid endpoint id (${ENDPOINT_ID_RE.source})`,
    );
  return id;
}

/** Host end of the veth: "cni" + 12 hex of the endpoint id's hash, so DEL finds it without state. */
export function cniHostIf(endpointID: string): string {
  return `cni${createHash('sha256').update(endpointID).digest('hex').slice(0, 12)}`;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** netmaster refusing (4xx) is the config's fault; unreachable or failing, worth retrying. */
function netmasterError(err: unknown, what: string): CniError {
  if (err instanceof CniError) return err;
  const refused = err instanceof NetmasterCallError && err.status >= 400 && err.status < 500;
  return new CniError(refused ? ERR.invalidConfig : ERR.tryAgainLater, `${what}: ${message(err)}`);
}

export class CniHandler {
  /** Calls for one endpoint run one after another (a runtime may DEL while its ADD still runs). */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly opts: CniHandlerOptions) {}

  handle(req: CniRequest): Promise<CniResult | Record<string, never>> {
    let ifName: string;
    try {
      validateIfName(req.ifName, 'CNI_IFNAME');
      ifName = req.ifName;
    } catch (e) {
      return Promise.reject(new CniError(ERR.invalidEnv, message(e)));
    }
    let id: string;
    try {
      id = endpointIdOf(req.containerID, ifName);
    } catch (e) {
      return Promise.reject(e);
    }
    const run = (): Promise<CniResult | Record<string, never>> => {
      if (req.command === 'ADD') return this.add(req, id);
      if (req.command === 'DEL') return this.del(req, id);
      if (req.command === 'CHECK') return this.check(req, id);
      throw new CniError(ERR.invalidEnv, `CNI_COMMAND "${String(req.command)}" is not ADD, DEL or CHECK`);
    };
    const prev = this.queues.get(id) ?? Promise.resolve();
    const next = prev.then(run, run);
    const settled = next.catch(() => undefined);
    this.queues.set(id, settled);
    void settled.then(() => {
      if (this.queues.get(id) === settled) this.queues.delete(id);
    });
    return next;
  }

  private async resolve(req: CniRequest): Promise<{ t: ContivTarget; sel: ReturnType<typeof selectTarget> }> {
    const sel = selectTarget(req.config, req.args);
    try {
      return { t: await this.opts.targets.resolve(sel), sel };
    } catch (e) {
      if (e instanceof PluginError) throw new CniError(ERR.invalidConfig, e.message);
      throw new CniError(ERR.tryAgainLater, `reading the Contiv intent: ${message(e)}`);
    }
  }

  private async add(req: CniRequest, id: string): Promise<CniResult> {
    if (!req.netns) throw new CniError(ERR.invalidEnv, 'CNI_NETNS is required for ADD');
    if (!req.netns.startsWith('/') || !existsSync(req.netns))
      throw new CniError(ERR.unknownContainer, `CNI_NETNS ${req.netns} does not exist`);
    const { t, sel } = await this.resolve(req);
    const hostIf = cniHostIf(id);
    const t0 = performance.now();
    let rec: EndpointRecord;
    try {
      rec = await this.opts.netmaster.createEndpoint({
        endpointID: id,
        tenant: t.tenant,
        network: t.network,
        group: t.group,
        ipAddress: sel.ip,
        host: this.opts.hostName,
        intfName: hostIf,
        containerID: req.containerID,
        containerName: sel.podName,
        labels: sel.labels,
      });
    } catch (e) {
      throw netmasterError(e, `endpoint ${id}`);
    }
    const prefixLen = t.subnet.split('/')[1] ?? '32';
    const mac = (rec.macAddress || macFromIPv4(rec.ipAddress)).toLowerCase();
    const mtu = req.config.mtu ?? (t.encap === 'vxlan' ? VXLAN_MTU : undefined);
    const hostNetns = this.opts.hostNetns;
    let plugged = false;
    try {
      await plugContainer({
        ...(hostNetns !== undefined ? { hostNetns } : {}),
        hostIf,
        netns: { path: req.netns },
        ifName: req.ifName,
        ip: `${rec.ipAddress}/${prefixLen}`,
        mac,
        ...(t.gateway ? { gateway: t.gateway } : {}),
        ...(mtu !== undefined ? { mtu } : {}),
      });
      plugged = true;
      await this.opts.agent.attachEndpoint(id, hostIf);
    } catch (err) {
      const undo: string[] = [];
      if (plugged) await this.opts.agent.detachEndpoint(id, hostIf).catch((e) => undo.push(message(e)));
      await deleteLink(hostIf, hostNetns).catch((e) => undo.push(message(e)));
      await this.opts.netmaster.deleteEndpoint(id).catch((e) => undo.push(message(e)));
      throw new CniError(
        ERR.io,
        `endpoint ${id}: ${message(err)}`,
        undo.length > 0 ? `undoing also failed: ${undo.join('; ')}` : undefined,
      );
    }
    this.opts.log?.info(
      { endpointID: id, ip: rec.ipAddress, group: t.group, ms: Math.round(performance.now() - t0) },
      'cni add',
    );
    return resultFor(req.config.cniVersion, {
      interfaces: [{ name: req.ifName, mac, sandbox: req.netns }, { name: hostIf }],
      ips: [
        {
          address: `${rec.ipAddress}/${prefixLen}`,
          ...(t.gateway ? { gateway: t.gateway } : {}),
          interface: 0,
        },
      ],
      routes: t.gateway ? [{ dst: '0.0.0.0/0', gw: t.gateway }] : [],
      dns: req.config.dns ?? {},
    });
  }

  /** Idempotent: whatever is left of the endpoint goes, and nothing left is fine. */
  private async del(_req: CniRequest, id: string): Promise<Record<string, never>> {
    const hostIf = cniHostIf(id);
    const local: string[] = [];
    await this.opts.agent.detachEndpoint(id, hostIf).catch((e) => local.push(message(e)));
    // Deleting the host end removes the pod's end too, wherever it is.
    await deleteLink(hostIf, this.opts.hostNetns).catch((e) => local.push(message(e)));
    try {
      await this.opts.netmaster.deleteEndpoint(id);
    } catch (e) {
      throw netmasterError(e, `endpoint ${id}`);
    }
    if (local.length > 0) throw new CniError(ERR.io, `endpoint ${id}: ${local.join('; ')}`);
    this.opts.log?.info({ endpointID: id }, 'cni del');
    return {};
  }

  private async check(req: CniRequest, id: string): Promise<Record<string, never>> {
    if (req.config.cniVersion.startsWith('0.3.'))
      throw new CniError(
        ERR.incompatibleVersion,
        `CHECK needs cniVersion 0.4.0 or later, not ${req.config.cniVersion}`,
      );
    const fail = (what: string) => new CniError(ERR_CHECK_FAILED, `endpoint ${id}: ${what}`);
    const list = this.opts.netmaster.listEndpoints;
    let rec: EndpointRecord | undefined;
    if (list) {
      try {
        rec = (await list.call(this.opts.netmaster, this.opts.hostName)).find((e) => e.endpointID === id);
      } catch (e) {
        throw netmasterError(e, `endpoint ${id}`);
      }
      if (!rec) throw fail('netmaster has no record of it');
    }
    const hostIf = cniHostIf(id);
    if (!(await linkExists(hostIf, this.opts.hostNetns))) throw fail(`host interface ${hostIf} is gone`);
    if (!this.opts.agent.hostFacts.endpointPorts.has(id)) throw fail(`no bridge port for ${hostIf}`);
    if (!req.netns || !existsSync(req.netns)) throw fail(`CNI_NETNS ${req.netns || '(none)'} does not exist`);
    let link:
      | { address?: string; addr_info?: { family: string; local: string; prefixlen: number }[] }
      | undefined;
    try {
      const out = await runHost({ path: req.netns }, 'ip', ['-j', 'addr', 'show', 'dev', req.ifName]);
      [link] = JSON.parse(out) as (typeof link)[];
    } catch {
      link = undefined;
    }
    if (!link) throw fail(`no interface ${req.ifName} in ${req.netns}`);
    const addrs = (link.addr_info ?? [])
      .filter((a) => a.family === 'inet')
      .map((a) => `${a.local}/${a.prefixlen}`);
    const expected = new Set<string>();
    if (rec) {
      if (link.address?.toLowerCase() !== rec.macAddress.toLowerCase())
        throw fail(`${req.ifName} has MAC ${link.address}, not ${rec.macAddress}`);
      if (!addrs.some((a) => a.startsWith(`${rec.ipAddress}/`)))
        throw fail(`${req.ifName} lacks ${rec.ipAddress} (has ${addrs.join(', ') || 'none'})`);
    }
    for (const ip of req.config.prevResult?.ips ?? [])
      if (!ip.address.includes(':')) expected.add(ip.address);
    for (const a of expected)
      if (!addrs.includes(a)) throw fail(`${req.ifName} lacks ${a} of the previous result`);
    return {};
  }
}
