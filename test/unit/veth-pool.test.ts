// The spare veth pool's bookkeeping with fake links and ports: batches per MTU, a failed refill
// leaves nothing, close removes every spare. The real thing (real veths, OVS, dockerd, the sweep
// at a restart) is in test/integration/docker-e2e.test.ts and docker-plugin.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Links } from '../../api/docker/network-driver.js';
import type { SparePorts } from '../../api/docker/ports.js';
import { VethPool } from '../../api/docker/veth-pool.js';

function fakes(opts: { failPlug?: boolean } = {}) {
  const veths = new Map<string, { owner: string | undefined; mtu: number | undefined }>();
  const spares = new Set<string>();
  const endpoints = new Map<string, string>();
  let batches = 0;
  const links: Links = {
    async createVeth(v) {
      veths.set(v.hostName, { owner: v.owner, mtu: v.mtu });
    },
    async createVeths(vs) {
      batches++;
      for (const v of vs) veths.set(v.hostName, { owner: v.owner, mtu: v.mtu });
    },
    async deleteLink(n) {
      veths.delete(n);
    },
    async ownedVeths(owner) {
      return [...veths].filter(([, v]) => v.owner === owner).map(([n]) => n);
    },
  };
  const ports: SparePorts = {
    async plugSpares(names) {
      if (opts.failPlug) throw new Error('ovs-vswitchd refused (test)');
      for (const n of names) spares.add(n);
    },
    async unplugSpares(names) {
      for (const n of names) spares.delete(n);
    },
    async pluggedPorts() {
      return { endpoints: new Map(endpoints), spares: [...spares] };
    },
  };
  return { veths, spares, endpoints, links, ports, batches: () => batches };
}

describe('VethPool', () => {
  test('the first take of an MTU starts its pool; later takes get plugged spares, refilled in batches', async () => {
    const f = fakes();
    const pool = new VethPool({ links: f.links, ports: f.ports, owner: 'contiv-ts/np', size: 4 });
    assert.equal(pool.take(1450), undefined);
    pool.replenish(1450);
    await pool.settled();
    assert.equal(pool.readyCount(1450), 4);
    assert.equal(pool.readyCount(undefined), 0, 'each MTU has its own spares');
    for (const [, v] of f.veths) assert.deepEqual(v, { owner: 'contiv-ts/np', mtu: 1450 });
    const taken = [pool.take(1450), pool.take(1450)];
    pool.replenish(1450);
    await pool.settled();
    assert.equal(f.batches(), 1, 'half full: no refill yet');
    taken.push(pool.take(1450));
    pool.replenish(1450);
    for (const t of taken) {
      assert.match(t?.hostName ?? '', /^vs[0-9a-f]{10}$/);
      assert.equal(t?.peerName, `vt${t?.hostName.slice(2)}`);
      assert.ok(f.spares.has(t?.hostName ?? ''), 'plugged before it is handed out');
    }
    await pool.settled();
    assert.equal(pool.readyCount(1450), 4);
    assert.equal(f.batches(), 2, 'one refill when down to a quarter, not one per take');
    await pool.close();
    // The taken ones belong to their endpoints (Leave deletes them); the spares are gone.
    assert.deepEqual([...f.veths.keys()].sort(), taken.map((t) => t?.hostName).sort());
    assert.equal(pool.take(1450), undefined, 'a closed pool hands out nothing');
    pool.replenish(1450);
    await pool.settled();
    assert.equal(f.veths.size, 3, 'and makes nothing');
  });

  test('a refill the switch refuses leaves no veth and no port behind', async () => {
    const f = fakes({ failPlug: true });
    const pool = new VethPool({ links: f.links, ports: f.ports, owner: 'contiv-ts/np', size: 2 });
    pool.replenish(undefined);
    await pool.settled();
    assert.equal(pool.readyCount(undefined), 0);
    assert.equal(f.veths.size, 0);
    assert.equal(f.spares.size, 0);
  });

  test('a bad size is refused, naming it', () => {
    const f = fakes();
    assert.throws(
      () => new VethPool({ links: f.links, ports: f.ports, owner: 'o', size: 0 }),
      /veth pool size 0/,
    );
  });
});
