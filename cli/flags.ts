// Owns the flag syntax of contiv-ts's daemons, as Contiv's accepted it: `--name value`,
// `--name=value`, `-name value`, `-name=value`, boolean flags bare; each flag may fall back to an
// environment variable. It knows nothing of what the flags mean.

export interface FlagSpec {
  /** Names without dashes; the first is the one in messages. */
  names: readonly string[];
  /** Environment variable the value falls back to. */
  env?: string;
  /** Boolean flags take no value (an env value of "", "0", "false", "no" is false). */
  boolean?: boolean;
  default?: string;
  help: string;
}

export type FlagValues<K extends string> = Record<K, string> & { help: boolean };

/** Parses argv against specs (flags over env over defaults). Throws naming the flag on anything unknown. */
export function parseFlags<K extends string>(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  specs: Readonly<Record<K, FlagSpec>>,
): FlagValues<K> {
  const byName = new Map<string, K>();
  for (const k of Object.keys(specs) as K[]) for (const n of specs[k].names) byName.set(n, k);
  const out = {} as Record<K, string>;
  for (const k of Object.keys(specs) as K[]) {
    const s = specs[k];
    const fromEnv = s.env ? env[s.env] : undefined;
    out[k] = fromEnv !== undefined && fromEnv !== '' ? fromEnv : (s.default ?? '');
    if (s.boolean) out[k] = truthy(out[k]) ? 'true' : '';
  }
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith('-')) throw new Error(`unexpected argument "${a}"`);
    const eq = a.indexOf('=');
    const name = (eq >= 0 ? a.slice(0, eq) : a).replace(/^--?/, '');
    if (name === 'help' || name === 'h') {
      help = true;
      continue;
    }
    const k = byName.get(name);
    if (k === undefined) throw new Error(`unknown flag ${a}`);
    if (specs[k].boolean) {
      out[k] = eq >= 0 ? (truthy(a.slice(eq + 1)) ? 'true' : '') : 'true';
      continue;
    }
    if (eq >= 0) out[k] = a.slice(eq + 1);
    else {
      const v = argv[++i];
      if (v === undefined) throw new Error(`flag ${a} needs a value`);
      out[k] = v;
    }
  }
  return { ...out, help };
}

function truthy(v: string): boolean {
  return !['', '0', 'false', 'no'].includes(v.toLowerCase());
}

/** Usage text: one line per flag with its env variable and default. */
export function usage<K extends string>(title: string, specs: Readonly<Record<K, FlagSpec>>): string {
  const lines = (Object.values(specs) as FlagSpec[]).map((s) => {
    const flag = s.names.map((n) => `--${n}`).join(', ') + (s.boolean ? '' : ' VALUE');
    const extra = [s.default ? `default "${s.default}"` : '', s.env ? `$${s.env}` : '']
      .filter(Boolean)
      .join('; ');
    return `  ${flag.padEnd(34)} ${s.help}${extra ? ` [${extra}]` : ''}`;
  });
  return `${title}\n${lines.join('\n')}\n`;
}

/** The value when it is one of `allowed`; else an error naming the flag and the choices. */
export function oneOf<T extends string>(flag: string, v: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(v))
    throw new Error(`--${flag}: "${v}" is not one of ${allowed.join(', ')}`);
  return v as T;
}

/** "a, b,,c" → ["a", "b", "c"]. */
export function list(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
