// Owns the field specifications of Contiv's config objects, built from the generated copy of contivmodel
// plus contiv-ts's documented deviations. It must never retype a regex, range or default Contiv publishes.
import { CONTIV_MODEL, type ConfigByType, type GenObject, type GenProperty } from './generated.js';

/** The twelve config objects netmaster serves, with Contiv's exact spellings. */
export const OBJECT_TYPES = [
  'global',
  'tenant',
  'network',
  'endpointGroup',
  'policy',
  'rule',
  'netprofile',
  'appProfile',
  'extContractsGroup',
  'Bgp',
  'serviceLB',
  'aciGw',
] as const;
export type ObjType = (typeof OBJECT_TYPES)[number];

/** Where config objects live in the store: one key per object, its value the object as JSON. */
export const CONFIG_PREFIX = '/contiv.io/config/';

export const configKey = (t: ObjType, key: string): string => `${CONFIG_PREFIX}${t}/${key}`;

/** REST collection names: Contiv appends "s" to the object name, hence "policys". */
export const PLURALS: Readonly<Record<ObjType, string>> = Object.fromEntries(
  OBJECT_TYPES.map((t) => [t, `${t}s`]),
) as Record<ObjType, string>;

export type ConfigOf<T extends ObjType> = ConfigByType[T];

export interface FieldSpec {
  readonly name: string;
  readonly type: 'string' | 'int' | 'bool' | 'float' | 'array';
  readonly format?: RegExp;
  /** The format as Contiv wrote it (after our deviations), for error messages. */
  readonly formatText?: string;
  readonly length?: number;
  readonly min?: number;
  readonly max?: number;
  /** Default already converted to the field's type. */
  readonly default?: string | number | boolean;
  readonly isKey: boolean;
}

export interface ObjectSpec {
  readonly type: ObjType;
  readonly plural: string;
  readonly key: readonly string[];
  readonly fields: ReadonlyMap<string, FieldSpec>;
  /** Single references (field-less in Contiv's model: the REST layer derives them from name fields). */
  readonly links: Readonly<Record<string, string>>;
  readonly linkSets: Readonly<Record<string, string>>;
}

// Contiv's name regex has no "_", yet its README runs `netctl policy create prod_web`: contiv-ts accepts
// "_" wherever the name character classes appear (contiv.md, "Names").
function allowUnderscore(format: string): string {
  return format
    .replaceAll('[a-zA-Z0-9]', '[a-zA-Z0-9_]')
    .replaceAll('[A-Za-z0-9]', '[A-Za-z0-9_]')
    .replaceAll('[a-zA-Z0-9\\-]', '[a-zA-Z0-9_\\-]')
    .replaceAll('[A-Za-z0-9\\-]', '[A-Za-z0-9_\\-]');
}

function fieldType(t: string): FieldSpec['type'] {
  if (t === 'int' || t === 'bool' || t === 'float' || t === 'array') return t;
  return 'string';
}

function toField(name: string, p: GenProperty, isKey: boolean): FieldSpec {
  const type = fieldType(p.type);
  const formatText = p.format === undefined ? undefined : allowUnderscore(p.format);
  let def: FieldSpec['default'];
  if (p.default !== undefined) {
    def =
      type === 'int' || type === 'float'
        ? Number(p.default)
        : type === 'bool'
          ? p.default === 'true'
          : p.default;
  }
  return {
    name,
    type,
    ...(formatText !== undefined ? { format: new RegExp(formatText), formatText } : {}),
    ...(p.length !== undefined ? { length: p.length } : {}),
    ...(p.min !== undefined ? { min: p.min } : {}),
    ...(p.max !== undefined ? { max: p.max } : {}),
    ...(def !== undefined ? { default: def } : {}),
    isKey,
  };
}

function build(): ReadonlyMap<ObjType, ObjectSpec> {
  const byName = new Map<string, GenObject>(CONTIV_MODEL.map((o) => [o.name, o]));
  const out = new Map<ObjType, ObjectSpec>();
  for (const type of OBJECT_TYPES) {
    const o = byName.get(type);
    if (!o) throw new Error(`contivmodel has no object ${type}: regenerate policy/model/generated.ts`);
    const fields = new Map<string, FieldSpec>();
    for (const [name, p] of Object.entries(o.cfgProperties))
      fields.set(name, toField(name, p, o.key.includes(name)));
    out.set(type, { type, plural: PLURALS[type], key: o.key, fields, links: o.links, linkSets: o.linkSets });
  }
  return out;
}

export const SCHEMA: ReadonlyMap<ObjType, ObjectSpec> = build();

export function specOf(type: ObjType): ObjectSpec {
  const s = SCHEMA.get(type);
  if (!s) throw new Error(`unknown object type ${type}`);
  return s;
}

/** The object type served under a REST plural ("policys" → policy), or undefined. */
export function typeOfPlural(plural: string): ObjType | undefined {
  return OBJECT_TYPES.find((t) => PLURALS[t] === plural);
}
