// Checks the layering rule (docs/architecture.md, "Layers") on the whole tree, and that each rule
// of scripts/check-layers.mjs bites on a file that breaks it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface LayerCheck {
  importsOf(text: string): string[];
  violations(files: Map<string, string>): string[];
  readTree(root: string): Map<string, string>;
}

// The compiled test runs from dist/test/unit; the script is not compiled.
const root = fileURLToPath(new URL('../../../', import.meta.url));
const layers = (await import(pathToFileURL(`${root}scripts/check-layers.mjs`).href)) as LayerCheck;

const one = (file: string, text: string) => layers.violations(new Map([[file, text]]));

describe('layers', () => {
  it('reads import, import type, export from, bare and dynamic imports', () => {
    const text = [
      "import { a } from './a.js';",
      "import type {\n  B,\n  C,\n} from '../b.js';",
      "export { d } from './d.js';",
      "export * from './e.js';",
      "import './f.js';",
      "const g = await import('./g.js');",
      "// import { h } from './h.js';",
    ].join('\n');
    assert.deepEqual(layers.importsOf(text).sort(), [
      '../b.js',
      './a.js',
      './d.js',
      './e.js',
      './f.js',
      './g.js',
    ]);
  });

  it('the tree keeps every rule', () => {
    assert.deepEqual(layers.violations(layers.readTree(root)), []);
  });

  it('each rule fails a file that breaks it', () => {
    assert.equal(one('controller/openflow/x.ts', "import { a } from '../flowtable/manager.js';").length, 1);
    assert.equal(one('controller/openflow/x.ts', "import { EventEmitter } from 'node:events';").length, 0);
    assert.equal(one('datapath/ovsdb/x.ts', "import type { A } from '../host/index.js';").length, 1);
    assert.equal(one('state/x.ts', "import { A } from '../policy/model/index.js';").length, 1);
    assert.equal(one('policy/compiler/x.ts', "import { connect } from 'node:net';").length, 1);
    assert.equal(
      one('policy/compiler/x.ts', "import { t } from '../../datapath/pipeline/tables.js';").length,
      1,
    );
    assert.equal(
      one('datapath/pipeline/x.ts', "import type { C } from '../../controller/switch/connection.js';").length,
      1,
    );
    assert.equal(one('datapath/pipeline/x.ts', "import dgram from 'dgram';").length, 1);
    assert.equal(
      one('controller/flowtable/x.ts', "import type { I } from '../../policy/compiler/intent.js';").length,
      1,
    );
  });

  it('two folders importing each other fail', () => {
    const files = new Map([
      ['dns/a/x.ts', "import { y } from '../b/y.js';"],
      ['dns/b/y.ts', "import { x } from '../a/x.js';"],
    ]);
    assert.deepEqual(layers.violations(files), [
      'dns/a and dns/b import each other (dns/a/x.ts, dns/b/y.ts)',
    ]);
  });
});
