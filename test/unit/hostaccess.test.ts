import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hostAccessFeature, hostPortAddress, tenantNatAddress } from '../../datapath/pipeline/hostaccess.js';
import { forwardingFeatures } from '../../datapath/pipeline/index.js';
import { compile } from '../../policy/compiler/compile.js';
import { macFromIPv4 } from '../../policy/ipam/addr.js';
import { checkIncremental, RandomWorld } from '../harness/intents.js';

const features = [...forwardingFeatures, hostAccessFeature];

describe('host access feature', () => {
  test('addresses: the host at .255.254, a tenant at base + id, none past the host', () => {
    assert.equal(hostPortAddress('172.19.0.0/16'), '172.19.255.254');
    assert.equal(macFromIPv4('172.19.255.254'), '02:02:ac:13:ff:fe');
    assert.equal(tenantNatAddress('172.19.0.0/16', 1), '172.19.0.1');
    assert.equal(tenantNatAddress('172.20.0.0/16', 300), '172.20.1.44');
    assert.equal(tenantNatAddress('172.19.0.0/16', 0xfffe), undefined);
    assert.equal(tenantNatAddress('172.19.0.0/24', 1), undefined);
  });

  test('no host port, no flows', () => {
    const w = new RandomWorld(3);
    const flows = compile(w.intent, { ...w.facts, hostPort: undefined }, [hostAccessFeature]).flows;
    assert.equal(flows.length, 0);
  });

  test("flows keep to their tables' declarations (checked as they are built); both modes", () => {
    for (let seed = 1; seed <= 10; seed++) {
      const w = new RandomWorld(seed, { hostPort: true });
      const facts = { ...w.facts, hostPort: { ofport: 90, ip: '172.19.255.254', mac: '02:02:ac:13:ff:fe' } };
      for (const mode of ['bridge', 'routing'] as const) {
        const intent = { ...w.intent, global: { ...w.intent.global, fwdMode: mode } };
        assert.ok(compile(intent, facts, [hostAccessFeature]).flows.length > 0);
      }
    }
  });

  test('incremental deltas equal full compiles, with the host port coming and going', () => {
    checkIncremental(features, { seeds: 20, steps: 40, world: { hostPort: true } });
  });
});
