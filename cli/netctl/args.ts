// Owns netctl's command-line grammar: Contiv's flag forms (--f v, --f=v, -long=v, -s v, repeatables, booleans).
// It must never do I/O or know about REST: it turns argv into typed values or a UsageError, nothing else.

export type FlagKind = 'string' | 'int' | 'bool' | 'list';

export interface FlagSpec {
  /** Every spelling without dashes; the first is the canonical name used to read the value back. */
  readonly names: readonly string[];
  readonly kind: FlagKind;
  readonly usage: string;
  readonly default?: string | number | boolean;
  /** When set, a missing flag is a usage error (Contiv's `--subnet` on `net create`). */
  readonly required?: boolean;
  /** Placeholder shown in usage (`CIDR`, `N`); defaults by kind. */
  readonly valueName?: string;
}

export type FlagValue = string | number | boolean | readonly string[];

export interface ParsedArgs {
  readonly positionals: readonly string[];
  /** Canonical name → value; only flags given on the line or carrying a default are present. */
  readonly values: ReadonlyMap<string, FlagValue>;
  /** Canonical names of the flags the user actually typed (a default is not "given"). */
  readonly given: ReadonlySet<string>;
}

/** A malformed command line: the caller prints it with the command's usage and exits 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

const INT_RE = /^[+-]?\d+$/;

/** How messages name the command; the global flags before the object belong to plain `netctl`. */
function label(command: string): string {
  return command ? `netctl ${command}` : 'netctl';
}

function lookup(specs: readonly FlagSpec[], name: string): FlagSpec | undefined {
  return specs.find((s) => s.names.includes(name));
}

/** True when `arg` is written as a flag; a lone `-` is a value (stdin by convention), not a flag. */
function looksLikeFlag(arg: string): boolean {
  return arg.length > 1 && arg.startsWith('-') && !/^-\d/.test(arg);
}

/**
 * Parses argv against `specs`. Like Go's flag package (which netctl was built on) one or two dashes mean the
 * same thing, so `-direction=in`, `--direction=in` and `-d in` are one flag. Unlike it, flags and positionals
 * may interleave, because Contiv's docs put flags after the names (`group create net web -policy=p`).
 * `--` ends flag parsing.
 */
export function parseArgs(argv: readonly string[], specs: readonly FlagSpec[], command: string): ParsedArgs {
  const positionals: string[] = [];
  const values = new Map<string, FlagValue>();
  const given = new Set<string>();
  for (const s of specs) if (s.default !== undefined) values.set(s.names[0]!, s.default);

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!looksLikeFlag(arg)) {
      positionals.push(arg);
      continue;
    }
    const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    let inline: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
    const spec = lookup(specs, name);
    if (!spec) throw new UsageError(`unknown flag '${arg.split('=')[0]}' for '${label(command)}'`, command);
    const key = spec.names[0]!;

    if (spec.kind === 'bool') {
      if (inline === undefined) values.set(key, true);
      else if (/^(true|1|t)$/i.test(inline)) values.set(key, true);
      else if (/^(false|0|f)$/i.test(inline)) values.set(key, false);
      else throw new UsageError(`flag '${arg}' takes true or false, not '${inline}'`, command);
      given.add(key);
      continue;
    }

    if (inline === undefined) {
      // A value flag always consumes the next word, even one starting with '-', as Go's flag package does.
      if (i + 1 >= argv.length) throw new UsageError(`flag '${arg}' needs a value`, command);
      inline = argv[++i]!;
    }
    if (spec.kind === 'int') {
      if (!INT_RE.test(inline.trim())) {
        throw new UsageError(`flag '--${key}' takes a whole number, not '${inline}'`, command);
      }
      values.set(key, Number.parseInt(inline.trim(), 10));
    } else if (spec.kind === 'list') {
      // Repeatable: a default never mixes with typed values, and each occurrence appends.
      const prev = given.has(key) ? (values.get(key) as readonly string[]) : [];
      values.set(key, [...prev, inline]);
    } else {
      values.set(key, inline);
    }
    given.add(key);
  }

  for (const s of specs) {
    if (s.required && !given.has(s.names[0]!)) {
      throw new UsageError(`flag '--${s.names[0]}' is required for '${label(command)}'`, command);
    }
  }
  return { positionals, values, given };
}

/** Typed readers so commands never cast: a missing value reads as Go's zero value, as netctl's ctx.String did. */
export function str(p: ParsedArgs, name: string): string {
  const v = p.values.get(name);
  return typeof v === 'string' ? v : '';
}

export function int(p: ParsedArgs, name: string): number {
  const v = p.values.get(name);
  return typeof v === 'number' ? v : 0;
}

export function bool(p: ParsedArgs, name: string): boolean {
  return p.values.get(name) === true;
}

export function list(p: ParsedArgs, name: string): string[] {
  const v = p.values.get(name);
  return Array.isArray(v) ? [...(v as readonly string[])] : [];
}

/** One usage line per flag, in netctl's style: `--subnet, -s CIDR   Subnet CIDR - REQUIRED`. */
export function formatFlags(specs: readonly FlagSpec[]): string {
  const rows = specs.map((s) => {
    const spell = s.names.map((n, i) => (i === 0 ? `--${n}` : `-${n}`)).join(', ');
    const val = s.kind === 'bool' ? '' : ` ${s.valueName ?? (s.kind === 'int' ? 'N' : 'VALUE')}`;
    const def =
      s.default !== undefined && s.kind !== 'bool' ? ` (default: ${JSON.stringify(s.default)})` : '';
    const rep = s.kind === 'list' ? ' (repeatable)' : '';
    return [`${spell}${val}`, `${s.usage}${rep}${def}`] as const;
  });
  const w = Math.max(0, ...rows.map((r) => r[0].length));
  return rows.map(([a, b]) => `   ${a.padEnd(w)}   ${b}`).join('\n');
}
