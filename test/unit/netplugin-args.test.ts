// netplugin's BGP flags: gobgpd's gRPC address and the state dir, from flags or env, checked.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseNetpluginArgs } from '../../cli/netplugin.js';

describe('netplugin BGP flags', () => {
  test('--bgp-api and --state-dir, or their CONTIV_NETPLUGIN_* env; defaults', () => {
    const f = parseNetpluginArgs(['--bgp-api', '127.0.0.1:50051', '--state-dir', '/run/x'], {});
    assert.ok(f !== 'help' && f.bgpApi === '127.0.0.1:50051' && f.stateDir === '/run/x');
    const e = parseNetpluginArgs([], {
      CONTIV_NETPLUGIN_BGP_API: 'unix:///run/y/gobgpd.sock',
      CONTIV_NETPLUGIN_STATE_DIR: '/run/y',
    });
    assert.ok(e !== 'help' && e.bgpApi === 'unix:///run/y/gobgpd.sock' && e.stateDir === '/run/y');
    const d = parseNetpluginArgs([], {});
    assert.ok(d !== 'help' && d.bgpApi === undefined && d.stateDir === '/var/run/contiv-ts');
  });

  test('a bad --bgp-api is refused, naming the flag', () => {
    assert.throws(() => parseNetpluginArgs(['--bgp-api', 'localhost'], {}), /--bgp-api: "localhost" is not/);
    assert.throws(
      () => parseNetpluginArgs([], { CONTIV_NETPLUGIN_BGP_API: 'unix://relative' }),
      /--bgp-api: "unix:\/\/relative" is not/,
    );
  });
});
