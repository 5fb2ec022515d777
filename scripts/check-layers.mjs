// Owns the layering rule (docs/architecture.md, "Layers") as a check: reads every .ts file's
// import specifiers as text and fails on an import a folder must not make, or on two folders that
// import each other. Run by `make lint`; test/unit/layers.test.ts runs it too.

import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOCKETS = [
  'node:net',
  'node:dgram',
  'node:tls',
  'node:http',
  'node:https',
  'node:http2',
  'node:child_process',
];

/** `from` folders and what they may import: `only` (of ours; node builtins always) or `forbid`. */
export const RULES = [
  { from: 'lib', only: ['lib'], why: 'lib holds helpers every layer may use: it imports none of them' },
  { from: 'controller/openflow', only: ['controller/openflow'], why: 'the OpenFlow codec stands alone' },
  { from: 'datapath/ovsdb', only: ['datapath/ovsdb'], why: 'the OVSDB client stands alone' },
  { from: 'state', forbid: ['policy'], why: 'the store holds records, not the model' },
  {
    from: 'policy/compiler',
    forbid: [
      'controller/switch',
      'controller/flowtable',
      'datapath',
      'state',
      'api',
      'cli',
      'dns',
      ...SOCKETS,
    ],
    why: 'the compiler is pure: intent in, flows out',
  },
  {
    from: 'datapath/pipeline',
    forbid: [
      'controller/switch',
      'datapath/ovsdb',
      'datapath/host',
      'datapath/agent',
      'datapath/bgp',
      'state',
      ...SOCKETS,
    ],
    why: 'pipeline features are part of the compiler: no switch, no sockets',
  },
  {
    from: 'controller',
    forbid: ['policy', 'datapath', 'state', 'api', 'cli', 'dns'],
    why: 'the controller knows flows, not intent',
  },
];

const SOURCE_DIRS = [
  'lib',
  'controller',
  'datapath',
  'policy',
  'state',
  'dns',
  'api',
  'cli',
  'test',
  'bench',
];

/** The specifiers of a file's `import … from`, `export … from`, bare and dynamic imports. */
export function importsOf(text) {
  const specs = [];
  const patterns = [
    /^[ \t]*(?:import|export)\b[^;]*?\bfrom\s*['"]([^'"\n]+)['"]/gm,
    /^[ \t]*import\s*['"]([^'"\n]+)['"]/gm,
    /\bimport\(\s*['"]([^'"\n]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of text.matchAll(re)) specs.push(m[1]);
  return specs;
}

const isBuiltin = (s) => s.startsWith('node:') || builtinModules.includes(s.split('/')[0]);
const under = (path, folder) => path === folder || path.startsWith(`${folder}/`);

/** What a specifier names: `node:x`, a repo path without extension's folder (`a/b/c.js`), or null (a package). */
function target(file, spec) {
  if (isBuiltin(spec)) return spec.startsWith('node:') ? spec : `node:${spec}`;
  if (!spec.startsWith('.')) return null;
  return posix.normalize(posix.join(posix.dirname(file), spec));
}

/** Violations in `files` (repo-relative posix path → text), as readable lines. */
export function violations(files) {
  const out = [];
  const edges = new Map(); // folder → folder → first file making the import
  for (const [file, text] of files) {
    const from = posix.dirname(file);
    for (const spec of importsOf(text)) {
      const to = target(file, spec);
      if (to === null) continue;
      for (const rule of RULES) {
        if (!under(file, rule.from)) continue;
        const bad = rule.only
          ? !to.startsWith('node:') && !rule.only.some((f) => under(to, f))
          : rule.forbid.some((f) => under(to, f));
        if (bad) out.push(`${file}: imports '${spec}': ${rule.from} must not (${rule.why})`);
      }
      if (to.startsWith('node:')) continue;
      const toDir = posix.dirname(to);
      if (toDir === from || under(toDir, from) || under(from, toDir)) continue;
      if (!edges.has(from)) edges.set(from, new Map());
      if (!edges.get(from).has(toDir)) edges.get(from).set(toDir, file);
    }
  }
  for (const [a, tos] of edges) {
    for (const [b, file] of tos) {
      const back = edges.get(b)?.get(a);
      if (back && a < b) out.push(`${a} and ${b} import each other (${file}, ${back})`);
    }
  }
  return out;
}

/** Every .ts file of the project under `root`, repo-relative posix path → text. */
export function readTree(root) {
  const files = new Map();
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
        files.set(relative(root, p).split(sep).join('/'), readFileSync(p, 'utf8'));
      }
    }
  };
  for (const d of SOURCE_DIRS) walk(join(root, d));
  return files;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const found = violations(readTree(join(dirname(fileURLToPath(import.meta.url)), '..')));
  for (const v of found) console.error(v);
  if (found.length > 0) process.exit(1);
}
