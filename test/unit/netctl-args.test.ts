// Owns the proof that netctl's flag parser takes every form Contiv's docs use and refuses the rest clearly.
// It must never start servers or processes: pure parsing and the tabwriter layout only.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bool, type FlagSpec, int, list, parseArgs, str, UsageError } from '../../cli/netctl/args.js';
import { errorText, omitEmpty } from '../../cli/netctl/client.js';
import { showBandwidth } from '../../cli/netctl/commands/netprofile.js';
import { validSubnet } from '../../cli/netctl/commands/network.js';
import { tabwrite } from '../../cli/netctl/table.js';

const specs: FlagSpec[] = [
  { names: ['tenant', 't'], kind: 'string', usage: '', default: 'default' },
  { names: ['subnet', 's'], kind: 'string', usage: '' },
  { names: ['subnetv6', 's6'], kind: 'string', usage: '' },
  { names: ['nw-tag', 'tag'], kind: 'string', usage: '' },
  { names: ['pkt-tag', 'p'], kind: 'int', usage: '' },
  { names: ['policy', 'P'], kind: 'list', usage: '' },
  { names: ['json', 'j'], kind: 'bool', usage: '' },
  { names: ['quiet', 'q'], kind: 'bool', usage: '' },
  { names: ['direction', 'd'], kind: 'string', usage: '', default: 'in' },
];

const parse = (argv: string[], sp: FlagSpec[] = specs) => parseArgs(argv, sp, 'net create');

describe('netctl args: value forms', () => {
  it('takes --flag value and --flag=value', () => {
    const a = parse(['--subnet', '10.1.1.0/24', '--tenant=blue']);
    assert.equal(str(a, 'subnet'), '10.1.1.0/24');
    assert.equal(str(a, 'tenant'), 'blue');
  });

  it('takes single-dash long flags with = or a separate value (Contiv docs: -direction=in, -policy prod_web)', () => {
    const a = parse(['-direction=out', '-subnet', '20.1.1.0/24', '-policy', 'prod_web']);
    assert.equal(str(a, 'direction'), 'out');
    assert.equal(str(a, 'subnet'), '20.1.1.0/24');
    assert.deepEqual(list(a, 'policy'), ['prod_web']);
  });

  it('takes short flags, multi-letter short aliases and double-dash short flags', () => {
    const a = parse(['-s', '10.1.1.0/24', '-s6', 'fd00::/64', '-tag', 'blue', '--p', '7']);
    assert.equal(str(a, 'subnet'), '10.1.1.0/24');
    assert.equal(str(a, 'subnetv6'), 'fd00::/64');
    assert.equal(str(a, 'nw-tag'), 'blue');
    assert.equal(int(a, 'pkt-tag'), 7);
  });

  it('keeps a range subnet and a value after = verbatim, including = and - inside it', () => {
    const a = parse(['--subnet=10.1.1.10-10.1.1.20/24', '--nw-tag=a=b']);
    assert.equal(str(a, 'subnet'), '10.1.1.10-10.1.1.20/24');
    assert.equal(str(a, 'nw-tag'), 'a=b');
  });

  it('lets a value flag consume a next word that starts with a dash, as Go flag does', () => {
    assert.equal(str(parse(['--nw-tag', '-x']), 'nw-tag'), '-x');
  });

  it('accumulates repeatable flags in order, across forms', () => {
    const a = parse(['-P', 'a', '--policy=b', '-policy', 'c']);
    assert.deepEqual(list(a, 'policy'), ['a', 'b', 'c']);
  });

  it('reads booleans bare, long or short, and with explicit true/false', () => {
    assert.equal(bool(parse(['-j']), 'json'), true);
    assert.equal(bool(parse(['--json']), 'json'), true);
    assert.equal(bool(parse(['-q']), 'quiet'), true);
    assert.equal(bool(parse(['--json=false']), 'json'), false);
    assert.equal(bool(parse([]), 'json'), false);
    // A boolean never eats the next word: it stays a positional.
    assert.deepEqual(parse(['-j', 'net1']).positionals, ['net1']);
  });

  it('interleaves positionals and flags; -- ends flags', () => {
    const a = parse(['contiv-net', '--subnet=20.1.1.0/24', 'web', '--', '-j']);
    assert.deepEqual(a.positionals, ['contiv-net', 'web', '-j']);
    assert.equal(bool(a, 'json'), false);
  });

  it('applies defaults, and records only typed flags as given', () => {
    const a = parse([]);
    assert.equal(str(a, 'tenant'), 'default');
    assert.equal(str(a, 'direction'), 'in');
    assert.equal(a.given.has('tenant'), false);
    assert.equal(int(a, 'pkt-tag'), 0);
    assert.equal(parse(['-t', 'blue']).given.has('tenant'), true);
  });

  it('treats negative numbers as positionals, not flags', () => {
    assert.deepEqual(parse(['-5']).positionals, ['-5']);
  });
});

describe('netctl args: refusals', () => {
  it('names the unknown flag and the command', () => {
    assert.throws(
      () => parse(['--bogus=1']),
      (e: unknown) =>
        e instanceof UsageError &&
        e.message === "unknown flag '--bogus' for 'netctl net create'" &&
        e.command === 'net create',
    );
    assert.throws(() => parse(['-x']), /unknown flag '-x'/);
  });

  it('refuses a value flag without a value', () => {
    assert.throws(() => parse(['--subnet']), /flag '--subnet' needs a value/);
  });

  it('refuses a non-integer for an int flag', () => {
    assert.throws(() => parse(['--pkt-tag', 'ten']), /takes a whole number, not 'ten'/);
    assert.throws(() => parse(['-p=1.5']), UsageError);
  });

  it('refuses a bad boolean value', () => {
    assert.throws(() => parse(['--json=maybe']), /takes true or false/);
  });

  it('enforces required flags, whatever form satisfied them', () => {
    const req: FlagSpec[] = [{ names: ['subnet', 's'], kind: 'string', usage: '', required: true }];
    assert.throws(() => parse(['net1'], req), /flag '--subnet' is required for 'netctl net create'/);
    assert.equal(str(parse(['-s', '1.1.1.0/24'], req), 'subnet'), '1.1.1.0/24');
    assert.equal(str(parse(['-subnet=1.1.1.0/24'], req), 'subnet'), '1.1.1.0/24');
  });
});

describe('netctl helpers', () => {
  it('lays tables out like Go tabwriter (padding 2, trailing cell unpadded)', () => {
    const t = tabwrite('A\tBB\tC \n-\t--\t-\nlong\tx\t\n');
    assert.equal(t, 'A     BB  C \n-     --  -\nlong  x   \n');
  });

  it('starts new column widths after a line with fewer cells (rule-ls sections)', () => {
    const t = tabwrite('In:\nRule\tP\n1\t10\nOut:\nR\tP\n');
    assert.equal(t, 'In:\nRule  P\n1     10\nOut:\nR  P\n');
  });

  it('drops Go zero values from request bodies (omitempty)', () => {
    assert.deepEqual(omitEmpty({ a: '', b: 0, c: [], d: 'x', e: 5, f: ['p'], g: undefined }), {
      d: 'x',
      e: 5,
      f: ['p'],
    });
  });

  it('finds the server message in Contiv/plugin/our error shapes, on one line', () => {
    assert.equal(errorText('{"Err":"tenant not found"}', 'Bad Request'), 'tenant not found');
    assert.equal(errorText('{"error":"in use"}', ''), 'in use');
    assert.equal(errorText('{"message":"nope"}', ''), 'nope');
    assert.equal(errorText('line one\nline two\n', ''), 'line one line two');
    assert.equal(errorText('', 'Not Found'), 'Not Found');
  });

  it('accepts CIDR and range subnets only', () => {
    assert.equal(validSubnet('10.1.1.0/24'), true);
    assert.equal(validSubnet('10.1.1.10-10.1.1.20/24'), true);
    assert.equal(validSubnet('10.1.1.0'), false);
    assert.equal(validSubnet('10.1.300.0/24'), false);
  });

  it('renders bandwidths as netctl ls did', () => {
    assert.equal(showBandwidth('10 mbps'), '10Mbps');
    assert.equal(showBandwidth('1gbps'), '1Gbps');
    assert.equal(showBandwidth('512 kbps'), '512Kbps');
  });
});
