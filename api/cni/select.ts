// Owns what a CNI call asks for besides the interface itself: the Contiv tenant/network/group (pod
// labels over the network config's defaults), the pod's labels and name for the endpoint record,
// and a requested address. Pure.
//
// Pod labels cannot be looked up here (that needs the Kubernetes API), so they arrive in the call:
// CNI_ARGS keys (`io.contiv.net-group=web;K8S_POD_NAME=…`), the CNI convention `args.cni.labels`
// ([{key, value}]) or `runtimeConfig.labels` (a map). Precedence: CNI_ARGS, runtimeConfig.labels,
// args.cni.labels, then the config's own `tenant`/`network`/`group`.

import { isIPv4 } from 'node:net';
import { CniError, ERR, type NetConf, parseCniArgs } from './protocol.js';

export const LABEL_TENANT = 'io.contiv.tenant';
export const LABEL_NETWORK = 'io.contiv.network';
export const LABEL_GROUP = 'io.contiv.net-group';

export interface CniSelection {
  tenant: string;
  network: string;
  /** '' for the network itself. */
  group: string;
  /** Recorded with the endpoint. */
  labels: Record<string, string>;
  /** K8S_POD_NAME when given. */
  podName: string;
  /** A requested IPv4 address (bare), '' for any. */
  ip: string;
}

/** CNI_ARGS keys that are the runtime's, not pod labels. */
const RUNTIME_KEYS = new Set([
  'IgnoreUnknown',
  'K8S_POD_NAME',
  'K8S_POD_NAMESPACE',
  'K8S_POD_INFRA_CONTAINER_ID',
  'K8S_POD_UID',
  'IP',
]);

function bare(ip: string, what: string): string {
  const a = ip.split('/')[0] ?? '';
  if (!isIPv4(a)) throw new CniError(ERR.invalidConfig, `${what}: "${ip}" is not an IPv4 address`);
  return a;
}

export function selectTarget(conf: NetConf, cniArgs: string): CniSelection {
  const args = parseCniArgs(cniArgs);
  const labels: Record<string, string> = {};
  for (const l of conf.args?.cni?.labels ?? []) {
    if (typeof l?.key === 'string' && typeof l.value === 'string') labels[l.key] = l.value;
  }
  for (const [k, v] of Object.entries(conf.runtimeConfig?.labels ?? {})) {
    if (typeof v === 'string') labels[k] = v;
  }
  for (const [k, v] of args) if (!RUNTIME_KEYS.has(k)) labels[k] = v;
  const podNamespace = args.get('K8S_POD_NAMESPACE');
  if (podNamespace) labels['io.kubernetes.pod.namespace'] = podNamespace;

  const tenant = labels[LABEL_TENANT] || conf.tenant || 'default';
  const network = labels[LABEL_NETWORK] || conf.network || '';
  const group = labels[LABEL_GROUP] || conf.group || '';
  if (!network)
    throw new CniError(
      ERR.invalidConfig,
      `no Contiv network: give "network" in the CNI config or the pod label ${LABEL_NETWORK}`,
    );

  const asked = args.get('IP') ?? conf.runtimeConfig?.ips?.[0] ?? conf.args?.cni?.ips?.[0] ?? '';
  return {
    tenant,
    network,
    group,
    labels,
    podName: args.get('K8S_POD_NAME') ?? '',
    ip: asked ? bare(asked, 'requested IP') : '',
  };
}
