// Owns the shape every netctl command shares: its definition, the context it runs in, and the shared helpers.
// It must never hold command-specific logic or call process.exit: main.ts alone maps errors to exit codes.

import { type FlagSpec, type ParsedArgs, str } from '../args.js';
import { type Json, type JsonObject, type NetmasterClient, objKey } from '../client.js';

export interface Output {
  out(text: string): void;
}

export interface Ctx {
  readonly args: ParsedArgs;
  readonly client: NetmasterClient;
  readonly io: Output;
  /** The command's full name (`net create`) for messages. */
  readonly command: string;
  /** The environment netctl runs in (HOME for login's config file); process.env when absent. */
  readonly env?: NodeJS.ProcessEnv;
}

export interface Command {
  /** Object word and its aliases (`network`, `net`). */
  readonly object: readonly string[];
  /** Verb and its aliases (`rm`, `delete`). */
  readonly verb: readonly string[];
  readonly usage: string;
  /** Positional placeholders shown in usage, e.g. `NETWORK GROUP`. */
  readonly argsUsage: string;
  /** Accepted positional count, inclusive range. */
  readonly nargs: readonly [number, number];
  /** Said when the positional count is wrong (Contiv's wording, e.g. "Network name required"). */
  readonly nargsMessage?: string;
  readonly flags: readonly FlagSpec[];
  run(ctx: Ctx): Promise<void>;
}

/** A value the user typed that is well-formed but wrong (bad gateway, unknown direction): exit 1, no usage. */
export class ValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValidationError';
  }
}

export const tenantFlag: FlagSpec = {
  names: ['tenant', 't'],
  kind: 'string',
  usage: 'Name of the tenant',
  default: 'default',
  valueName: 'TENANT',
};
export const allFlag: FlagSpec = { names: ['all', 'a'], kind: 'bool', usage: 'List all items' };
export const jsonFlag: FlagSpec = { names: ['json', 'j'], kind: 'bool', usage: 'Output list in JSON format' };
export const quietFlag: FlagSpec = { names: ['quiet', 'q'], kind: 'bool', usage: 'Only display name field' };
export const listFlags: readonly FlagSpec[] = [tenantFlag, allFlag, jsonFlag, quietFlag];

/** Go's json.MarshalIndent(v, "", "  ") plus the newline netctl appends. */
export function printJson(io: Output, v: unknown): void {
  io.out(`${JSON.stringify(v, null, 2)}\n`);
}

/** A list response as objects; netmaster answers `[]` or `null` for none, and both mean an empty list. */
export function asList(v: Json): JsonObject[] {
  if (!Array.isArray(v)) return [];
  return v.filter((x): x is JsonObject => x !== null && typeof x === 'object' && !Array.isArray(x));
}

/** Go's `%v` of a string field: missing prints empty. */
export function s(o: JsonObject, k: string): string {
  const v = o[k];
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : String(v);
}

/** Go's `%v` of an int field: missing (omitempty) prints 0, as in `net ls`'s "Packet tag 0". */
export function n(o: JsonObject, k: string): string {
  const v = o[k];
  return typeof v === 'number' ? String(v) : typeof v === 'string' && v !== '' ? v : '0';
}

export function strList(o: JsonObject, k: string): string[] {
  const v = o[k];
  return Array.isArray(v) ? v.map((x) => String(x)) : [];
}

/** The list commands' tenant check: Contiv looked the tenant up first so a typo says "not found", not "". */
export async function requireTenant(ctx: Ctx, tenant: string): Promise<void> {
  await ctx.client.get(`/api/v1/tenants/${encodeURIComponent(tenant)}/`);
}

/** The objects of one REST plural that belong to the -t tenant, or every one with -a. */
export async function listForTenant(
  ctx: Ctx,
  plural: string,
  tenant = str(ctx.args, 'tenant'),
): Promise<JsonObject[]> {
  const all = ctx.args.values.get('all') === true;
  if (!all) await requireTenant(ctx, tenant);
  return asList(await ctx.client.get(`/api/v1/${plural}/`)).filter(
    (r) => all || s(r, 'tenantName') === tenant,
  );
}

/** `<object> inspect NAME`: the inspect view of a tenant's object, as JSON. */
export function inspectCommand(spec: {
  object: readonly string[];
  plural: string;
  usage: string;
  argsUsage: string;
  nargsMessage: string;
}): Command {
  return {
    ...spec,
    verb: ['inspect'],
    nargs: [1, 1],
    flags: [tenantFlag],
    async run(ctx) {
      const key = objKey(str(ctx.args, 'tenant'), ctx.args.positionals[0]!);
      printJson(ctx.io, await ctx.client.get(`/api/v1/inspect/${spec.plural}/${key}/`));
    },
  };
}

/** Filtered list in one of netctl's three shapes: JSON, names only, or a table. */
export function printList(
  ctx: Ctx,
  rows: JsonObject[],
  nameField: string,
  header: string,
  line: (o: JsonObject) => string,
  layout: (t: string) => string,
): void {
  if (ctx.args.values.get('json') === true) {
    printJson(ctx.io, rows);
    return;
  }
  if (ctx.args.values.get('quiet') === true) {
    ctx.io.out(rows.map((r) => `${s(r, nameField)}\n`).join(''));
    return;
  }
  ctx.io.out(layout(header + rows.map(line).join('')));
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIPv4(v: string): boolean {
  return IPV4.test(v);
}

export function isIPv6(v: string): boolean {
  // Loose on purpose: net.ParseIP-level strictness is netmaster's job; this catches typos like a v4 address.
  return v.includes(':') && /^[0-9a-fA-F:.]+$/.test(v) && !v.includes(':::');
}

export function isIP(v: string): boolean {
  return isIPv4(v) || isIPv6(v);
}

export function isCidr4(v: string): boolean {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(v);
  return m !== null && isIPv4(m[1]!) && Number(m[2]) <= 32;
}
