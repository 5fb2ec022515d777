#!/usr/bin/env node
// Owns netctl's process edge: global flags, dispatch to a command, and the exit codes (0 ok, 1 error, 2 usage).
// It must never build REST requests itself; commands do, through NetmasterClient, and throw on failure.

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ADMIN_CONF, PLUGIN_ADMIN_CONF, readLocalCredential } from '../../api/auth/bootstrap.js';
import { type FlagSpec, formatFlags, parseArgs, str, UsageError } from './args.js';
import { ApiError, NetmasterClient } from './client.js';
import { commandsFor, findCommand, objectSummaries } from './commands/index.js';
import { readToken } from './commands/login.js';
import { type Command, type Output, tenantFlag, ValidationError } from './commands/types.js';

export const DEFAULT_NETMASTER = 'http://localhost:9999';

export interface Io extends Output {
  err(text: string): void;
}

/** Host names that reach this host's own netmaster. */
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Where to send, and with what: `netctl login`'s token when there is one; on netmaster's host,
 * for whoever may read it (root), the local admin credential netmaster wrote, when the URL is
 * this host's netmaster (or none was given).
 */
export function credentials(
  given: string,
  env: NodeJS.ProcessEnv,
): { url: string; token?: string; ca?: string } {
  const login = readToken(env);
  const local = env.CONTIV_ADMIN_CONF
    ? readLocalCredential(env.CONTIV_ADMIN_CONF)
    : (readLocalCredential(DEFAULT_ADMIN_CONF) ?? readLocalCredential(PLUGIN_ADMIN_CONF));
  const url = !env.NETMASTER && given === DEFAULT_NETMASTER && local ? local.netmaster : given;
  if (!local) return { url, ...(login ? { token: login } : {}) };
  let same = false;
  try {
    const u = new URL(url);
    const l = new URL(local.netmaster);
    same =
      u.protocol === 'https:' &&
      u.port === l.port &&
      (u.hostname === l.hostname || LOCAL_HOSTS.has(u.hostname));
  } catch {
    // A bad URL is the client's to report.
  }
  if (!same) return { url, ...(login ? { token: login } : {}) };
  return { url, token: login ?? local.token, ca: local.ca };
}

const helpFlag: FlagSpec = { names: ['help', 'h'], kind: 'bool', usage: 'Show help' };

function netmasterFlag(env: NodeJS.ProcessEnv): FlagSpec {
  return {
    names: ['netmaster'],
    kind: 'string',
    usage: 'The URL of the netmaster [$NETMASTER]',
    default: env.NETMASTER || DEFAULT_NETMASTER,
    valueName: 'URL',
  };
}

function insecureFlag(env: NodeJS.ProcessEnv): FlagSpec {
  return {
    names: ['insecure'],
    kind: 'bool',
    usage: 'if true, strict certificate checking will be disabled [$INSECURE]',
    default: env.INSECURE === 'true' || env.INSECURE === '1',
  };
}

function globalFlags(env: NodeJS.ProcessEnv): FlagSpec[] {
  return [netmasterFlag(env), insecureFlag(env), tenantFlag, helpFlag];
}

function topUsage(env: NodeJS.ProcessEnv): string {
  const w = Math.max(...objectSummaries.map((o) => o[0].length));
  return (
    'Usage: netctl [global flags] <object> <verb> [flags] [args]\n\n' +
    'Objects:\n' +
    objectSummaries.map(([o, d]) => `   ${o.padEnd(w)}   ${d}`).join('\n') +
    '\n\nGlobal flags:\n' +
    formatFlags(globalFlags(env)) +
    '\n'
  );
}

function objectUsage(object: string, cmds: Command[]): string {
  const w = Math.max(...cmds.map((c) => c.verb.join(', ').length));
  return (
    `Usage: netctl ${object} <verb> [flags] [args]\n\nVerbs:\n` +
    cmds.map((c) => `   ${c.verb.join(', ').padEnd(w)}   ${c.usage}`).join('\n') +
    '\n'
  );
}

function name(c: Command): string {
  return [c.object[0], c.verb[0]].filter(Boolean).join(' ');
}

function commandUsage(c: Command, env: NodeJS.ProcessEnv): string {
  const flags = [...c.flags, netmasterFlag(env), insecureFlag(env)];
  return (
    `Usage: netctl ${name(c)}${flags.length ? ' [flags]' : ''}${c.argsUsage ? ` ${c.argsUsage}` : ''}\n\n` +
    `${c.usage}\n\nFlags:\n${formatFlags(flags)}\n`
  );
}

/** Splits leading global flags (`--netmaster URL -t blue`) from `<object> <verb> ...`. */
function splitGlobals(argv: readonly string[], specs: readonly FlagSpec[]): [string[], string[]] {
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-') && argv[i] !== '--') {
    const body = argv[i]!.replace(/^--?/, '');
    const spec = specs.find((s) => s.names.includes(body.split('=')[0]!));
    i += spec && spec.kind !== 'bool' && !body.includes('=') ? 2 : 1;
  }
  return [argv.slice(0, i), argv.slice(i)];
}

/** Runs one netctl invocation; returns the exit code. Exported so tests and other tools can call it in-process. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  let usageFor = topUsage(env);
  try {
    const gspecs = globalFlags(env);
    const [gargv, rest] = splitGlobals(argv, gspecs);
    const g = parseArgs(gargv, gspecs, '');
    if (g.positionals.length > 0) throw new UsageError(`unexpected '${g.positionals[0]}'`, '');
    const object = rest[0];
    if (object === undefined || object === 'help') {
      if (g.values.get('help') === true || object === 'help') {
        io.out(topUsage(env));
        return 0;
      }
      throw new UsageError('an object is required (e.g. netctl net ls)', '');
    }
    const cmds = commandsFor(object);
    if (cmds.length === 0) throw new UsageError(`unknown object '${object}'`, '');
    // `version` is the one command without a verb.
    const verbless = cmds.find((c) => c.verb.length === 0);
    const verb = verbless ? '' : rest[1];
    usageFor = objectUsage(object, cmds);
    if (!verbless && (verb === undefined || verb === '-h' || verb === '--help' || verb === 'help')) {
      if (verb === undefined) throw new UsageError(`a verb is required for '${object}'`, object);
      io.out(usageFor);
      return 0;
    }
    const cmd = verbless ?? findCommand(object, verb!);
    if (!cmd) throw new UsageError(`unknown command '${object} ${verb}'`, object);
    usageFor = commandUsage(cmd, env);

    // A global -t is the default for the command's own -t (a command-level -t still wins); commands that
    // are not per tenant (tenant, bgp, global set) ignore it.
    const gTenant = g.given.has('tenant') ? str(g, 'tenant') : undefined;
    const specs: FlagSpec[] = cmd.flags.map((f) =>
      f === tenantFlag && gTenant !== undefined ? { ...f, default: gTenant } : f,
    );
    const gNetmaster = str(g, 'netmaster');
    specs.push(
      { ...netmasterFlag(env), default: gNetmaster },
      { ...insecureFlag(env), default: g.values.get('insecure') === true },
      helpFlag,
    );
    const args = parseArgs(rest.slice(verbless ? 1 : 2), specs, name(cmd));
    if (args.values.get('help') === true) {
      io.out(usageFor);
      return 0;
    }
    const count = args.positionals.length;
    if (count < cmd.nargs[0] || count > cmd.nargs[1]) {
      throw new UsageError(
        cmd.nargsMessage ?? `wrong number of arguments for 'netctl ${name(cmd)}'`,
        name(cmd),
      );
    }
    const timeoutMs = Number(env.NETCTL_TIMEOUT_MS) > 0 ? Number(env.NETCTL_TIMEOUT_MS) : undefined;
    const { url, token, ca } = credentials(str(args, 'netmaster'), env);
    const client = new NetmasterClient(url, {
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      insecure: args.values.get('insecure') === true,
      ...(token ? { token } : {}),
      ...(ca ? { ca } : {}),
    });
    await cmd.run({ args, client, io, command: name(cmd), env });
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`Error: ${err.message}\n\n${usageFor}`);
      return 2;
    }
    if (err instanceof ApiError || err instanceof ValidationError) {
      io.err(`Error: ${err.message}\n`);
      return 1;
    }
    io.err(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

function isEntry(): boolean {
  const arg = process.argv[1];
  if (!arg) return false;
  try {
    // npm's bin shims are symlinks: compare real paths.
    return realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) {
  main(process.argv.slice(2), process.env, {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
  }).then((code) => {
    // exitCode, not exit(): let piped stdout drain first.
    process.exitCode = code;
  });
}
