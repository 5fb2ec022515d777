// Owns `netctl global set|info|inspect`: the single `global` object (fabric/forwarding/ARP modes, tag ranges).
// It must never send fields the user did not set: `set` reads the current object and changes only given flags.

import { str } from '../args.js';
import type { Json, JsonObject } from '../client.js';
import {
  allFlag,
  asList,
  type Command,
  isIPv4,
  jsonFlag,
  printJson,
  s,
  tenantFlag,
  ValidationError,
} from './types.js';

const G = ['global'];
const GLOBAL_PATH = '/api/v1/globals/global/';
/** The model's configurable fields; anything else the server returns (oper data, links) is not sent back. */
const CFG_FIELDS = ['key', 'name', 'networkInfraType', 'vlans', 'vxlans', 'fwdMode', 'arpMode', 'pvtSubnet'];

function checkRange(what: string, v: string, max: number): void {
  const m = /^(\d+)-(\d+)$/.exec(v);
  if (!m || Number(m[1]) < 1 || Number(m[2]) > max || Number(m[1]) > Number(m[2])) {
    throw new ValidationError(`Invalid ${what} '${v}' - enter A-B within 1-${max}`);
  }
}

export const globalCommands: Command[] = [
  {
    object: G,
    verb: ['set'],
    usage: 'Set global parameters',
    argsUsage: '',
    nargs: [0, 0],
    nargsMessage: 'More arguments than required',
    flags: [
      {
        names: ['fabric-mode', 'f'],
        kind: 'string',
        usage: 'Fabric mode (aci, aci-opflex or default)',
        valueName: 'MODE',
      },
      { names: ['vlan-range', 'v'], kind: 'string', usage: 'Allowed Vlan id range', valueName: 'A-B' },
      { names: ['vxlan-range', 'x'], kind: 'string', usage: 'Allowed Vxlan VNID range', valueName: 'A-B' },
      {
        names: ['fwd-mode', 'b'],
        kind: 'string',
        usage: 'forwarding mode (bridge,routing)',
        valueName: 'MODE',
      },
      { names: ['arp-mode', 'a'], kind: 'string', usage: 'arp mode (proxy,flood)', valueName: 'MODE' },
      {
        names: ['private-subnet', 's'],
        kind: 'string',
        usage: 'Select a /16 private subnet for host access (Contiv default 172.19.0.0/16)',
        valueName: 'X.Y.0.0/16',
      },
    ],
    async run(ctx) {
      const a = ctx.args;
      const fab = str(a, 'fabric-mode');
      const vlans = str(a, 'vlan-range');
      const vxlans = str(a, 'vxlan-range');
      const fwd = str(a, 'fwd-mode');
      const arp = str(a, 'arp-mode');
      const ps = str(a, 'private-subnet');
      if (fab !== '' && !['aci', 'aci-opflex', 'default'].includes(fab)) {
        throw new ValidationError(`Invalid fabric-mode '${fab}' - aci, aci-opflex or default`);
      }
      if (vlans !== '') checkRange('vlan-range', vlans, 4094);
      if (vxlans !== '') checkRange('vxlan-range', vxlans, 16777215);
      if (fwd !== '' && fwd !== 'bridge' && fwd !== 'routing') {
        throw new ValidationError(`Invalid fwd-mode '${fwd}' - bridge or routing`);
      }
      if (arp !== '' && arp !== 'proxy' && arp !== 'flood') {
        throw new ValidationError(`Invalid arp-mode '${arp}' - proxy or flood`);
      }
      if (ps !== '') {
        const [ip, len] = ps.split('/');
        if (!ip || !isIPv4(ip) || len !== '16') {
          throw new ValidationError(`Invalid private-subnet '${ps}' - enter X.Y.0.0/16`);
        }
      }
      // Contiv's netctl always re-sent its 172.19.0.0/16 default; here an unset flag leaves the stored value,
      // so `global set --fwd-mode routing` cannot silently undo an earlier private-subnet change.
      const current = await ctx.client.get(GLOBAL_PATH);
      const cur: JsonObject =
        current !== null && typeof current === 'object' && !Array.isArray(current) ? current : {};
      const body: JsonObject = {};
      for (const k of CFG_FIELDS) {
        const v: Json | undefined = cur[k];
        if (v !== undefined && v !== null && v !== '') body[k] = v;
      }
      body.name = 'global';
      if (fab !== '') body.networkInfraType = fab;
      if (vlans !== '') body.vlans = vlans;
      if (vxlans !== '') body.vxlans = vxlans;
      if (fwd !== '') body.fwdMode = fwd;
      if (arp !== '') body.arpMode = arp;
      if (ps !== '') body.pvtSubnet = ps;
      await ctx.client.post(GLOBAL_PATH, body);
    },
  },
  {
    object: G,
    verb: ['info'],
    usage: 'Show global information',
    argsUsage: '',
    nargs: [0, 0],
    nargsMessage: 'More arguments than required',
    flags: [tenantFlag, allFlag, jsonFlag],
    async run(ctx) {
      const list = asList(await ctx.client.get('/api/v1/globals/'));
      if (ctx.args.values.get('json') === true) {
        printJson(ctx.io, list);
        return;
      }
      for (const g of list) {
        ctx.io.out(
          `Fabric mode: ${s(g, 'networkInfraType')}\n` +
            `Forward mode: ${s(g, 'fwdMode')}\n` +
            `ARP mode: ${s(g, 'arpMode')}\n` +
            `Vlan Range: ${s(g, 'vlans')}\n` +
            `Vxlan range: ${s(g, 'vxlans')}\n` +
            `Private subnet: ${s(g, 'pvtSubnet')}\n`,
        );
      }
    },
  },
  {
    object: G,
    verb: ['inspect'],
    usage: 'Inspect Global Operational Information',
    argsUsage: '',
    nargs: [0, 0],
    nargsMessage: 'More arguments than required',
    flags: [],
    async run(ctx) {
      printJson(ctx.io, await ctx.client.get('/api/v1/inspect/globals/global/'));
    },
  },
];
