// Tests IPAM: pure address/id arithmetic, and the store-backed allocators against any Store (an honest
// in-memory one here: revisions, CAS compares, watches, leases). It must never need a running etcd.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  AllocationError,
  addressSpace,
  addressUsage,
  allocAddress,
  allocId,
  allocNetworkTags,
  CallerConflictError,
  checkRangeChange,
  contains,
  EPG_ID_RANGE,
  firstFree,
  formatIPv6,
  formatRuns,
  IpamError,
  listAddresses,
  listTags,
  macFromIPv4,
  orphans,
  parseIP,
  parseIPv6,
  parsePool,
  parseSubnet,
  releaseAddress,
  releaseAllAddresses,
  releaseId,
  releaseNetworkTags,
  releasePool,
  reservePool,
} from '../../policy/ipam/index.js';
import { EmbeddedStore } from '../../state/embedded.js';
import { EtcdStore } from '../../state/etcd.js';
import type { Compare, KV, Lease, Store, TxnOp, TxnResult, WatchEvent, Watcher } from '../../state/store.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { type EtcdInstance, startEtcd } from '../harness/etcd.js';
import { missingFor } from '../harness/require.js';

/**
 * A small but honest Store: every call yields to the event loop first (so concurrent callers really
 * interleave), then acts atomically; revisions are store-wide, compares cover value/version/mod/create.
 */
class MemStore implements Store {
  private kvs = new Map<string, KV>();
  private rev = 1;
  private watchers = new Set<{ prefix: string; fn: (e: WatchEvent) => void }>();
  private history: WatchEvent[] = [];
  private leaseSeq = 0;
  txns = 0;
  conflicts = 0;

  private tick(): Promise<void> {
    return new Promise((r) => setImmediate(r));
  }
  private emit(e: WatchEvent): void {
    this.history.push(e);
    for (const w of this.watchers) if (e.key.startsWith(w.prefix)) w.fn(e);
  }
  private putNow(key: string, value: string, lease?: string): void {
    const old = this.kvs.get(key);
    this.rev++;
    const kv: KV = {
      key,
      value,
      createRevision: old?.createRevision ?? this.rev,
      modRevision: this.rev,
      version: (old?.version ?? 0) + 1,
      ...(lease ? { lease } : {}),
    };
    this.kvs.set(key, kv);
    this.emit({ type: 'put', key, value, revision: this.rev });
  }
  private deleteNow(key: string): boolean {
    const old = this.kvs.get(key);
    if (!old) return false;
    this.rev++;
    this.kvs.delete(key);
    this.emit({ type: 'delete', key, value: old.value, revision: this.rev });
    return true;
  }
  private holds(c: Compare): boolean {
    const kv = this.kvs.get(c.key);
    const actual: string | number =
      c.target === 'value'
        ? (kv?.value ?? '')
        : c.target === 'version'
          ? (kv?.version ?? 0)
          : c.target === 'mod'
            ? (kv?.modRevision ?? 0)
            : (kv?.createRevision ?? 0);
    if (c.target === 'value' && !kv) return false;
    switch (c.op) {
      case '==':
        return actual === c.value;
      case '!=':
        return actual !== c.value;
      case '<':
        return actual < c.value;
      case '>':
        return actual > c.value;
    }
  }
  async get(key: string): Promise<KV | undefined> {
    await this.tick();
    const kv = this.kvs.get(key);
    return kv ? { ...kv } : undefined;
  }
  async list(prefix: string): Promise<KV[]> {
    await this.tick();
    return [...this.kvs.values()]
      .filter((kv) => kv.key.startsWith(prefix))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map((kv) => ({ ...kv }));
  }
  async put(key: string, value: string, opts?: { lease?: string }): Promise<number> {
    await this.tick();
    this.putNow(key, value, opts?.lease);
    return this.rev;
  }
  async delete(key: string): Promise<boolean> {
    await this.tick();
    return this.deleteNow(key);
  }
  async txn(compare: Compare[], success: TxnOp[], failure: TxnOp[] = []): Promise<TxnResult> {
    await this.tick();
    this.txns++;
    const ok = compare.every((c) => this.holds(c));
    if (!ok) this.conflicts++;
    const reads: (KV | undefined)[] = [];
    for (const op of ok ? success : failure) {
      if (op.type === 'put') this.putNow(op.key, op.value, op.lease);
      else if (op.type === 'delete') this.deleteNow(op.key);
      else if (op.type === 'deletePrefix') {
        for (const k of [...this.kvs.keys()]) if (k.startsWith(op.prefix)) this.deleteNow(k);
      } else {
        const kv = this.kvs.get(op.key);
        reads.push(kv ? { ...kv } : undefined);
      }
    }
    return { succeeded: ok, revision: this.rev, reads };
  }
  async watch(
    prefix: string,
    onEvent: (e: WatchEvent) => void,
    opts?: { fromRevision?: number },
  ): Promise<Watcher> {
    await this.tick();
    if (opts?.fromRevision !== undefined) {
      for (const e of this.history)
        if (e.revision >= opts.fromRevision && e.key.startsWith(prefix)) onEvent(e);
    }
    const w = { prefix, fn: onEvent };
    this.watchers.add(w);
    return { close: async () => void this.watchers.delete(w) };
  }
  async grantLease(ttlSec: number): Promise<Lease> {
    await this.tick();
    const id = String(++this.leaseSeq);
    return {
      id,
      ttlSec,
      revoke: async () => {
        for (const kv of [...this.kvs.values()]) if (kv.lease === id) this.deleteNow(kv.key);
      },
      onLost: () => {},
    };
  }
  async revision(): Promise<number> {
    await this.tick();
    return this.rev;
  }
  async close(): Promise<void> {}
}

describe('ipam: addresses and subnets (pure)', () => {
  it('parses a plain subnet: network and broadcast are not allocatable, host bits accepted', () => {
    const s = parseSubnet('200.1.1.1/24');
    assert.equal(s.cidr, '200.1.1.0/24');
    assert.equal(s.first, parseIP('200.1.1.1')?.value);
    assert.equal(s.last, parseIP('200.1.1.254')?.value);
    assert.equal(s.ranged, false);
  });
  it('parses a range inside the subnet, and refuses one outside or reversed', () => {
    const s = parseSubnet('10.1.1.10-10.1.1.20/24');
    assert.equal(s.cidr, '10.1.1.0/24');
    assert.equal(s.first, parseIP('10.1.1.10')?.value);
    assert.equal(s.last, parseIP('10.1.1.20')?.value);
    assert.throws(() => parseSubnet('10.1.1.10-10.1.2.20/24'), /not inside 10\.1\.1\.0\/24/);
    assert.throws(() => parseSubnet('10.1.1.20-10.1.1.10/24'), /start must not be after/);
  });
  it('refuses bad prefixes and addresses', () => {
    assert.throws(
      () => parseSubnet('10.1.1.0/33'),
      (e: unknown) => e instanceof IpamError && /1\.\.31/.test(e.reason),
    );
    assert.throws(() => parseSubnet('10.1.1.0/0'), /prefix length must be 1\.\.31/);
    assert.throws(() => parseSubnet('10.1.1.0'), /ADDRESS\/PREFIX/);
    assert.throws(() => parseSubnet('10.1.300.0/24'), /not an IP address/);
    assert.throws(() => parseSubnet('2001:db8::/128'), /1\.\.127/);
  });
  it('handles IPv6 text both ways', () => {
    assert.equal(formatIPv6(parseIPv6('2001:0db8:0000:0000:0000:0000:0000:0001') ?? 0n), '2001:db8::1');
    assert.equal(formatIPv6(parseIPv6('::') ?? 1n), '::');
    assert.equal(formatIPv6(parseIPv6('1:0:0:2:0:0:0:3') ?? 0n), '1:0:0:2::3');
    assert.equal(formatIPv6(parseIPv6('::ffff:10.0.0.1') ?? 0n), '::ffff:a00:1');
    assert.equal(parseIPv6('1::2::3'), undefined);
    assert.equal(parseIPv6('1:2:3:4:5:6:7:8:9'), undefined);
    const s = parseSubnet('2001:db8::/64');
    assert.equal(s.family, 6);
    assert.ok(contains(s, { family: 6, value: parseIPv6('2001:db8::ffff') ?? 0n }));
  });
  it('pools must lie in the subnet; first free skips taken and excluded', () => {
    const s = parseSubnet('10.1.1.0/24');
    const p = parsePool('10.1.1.100-10.1.1.110', s);
    assert.equal(p.first, parseIP('10.1.1.100')?.value);
    assert.throws(() => parsePool('10.1.2.1-10.1.2.9', s), /not inside the network's subnet 10\.1\.1\.0\/24/);
    assert.throws(() => parsePool('10.1.1.9-10.1.1.1', s), /start must not be after/);
    assert.equal(firstFree(1n, 5n, new Set([1n, 2n]), [3n]), 4n);
    assert.equal(firstFree(1n, 2n, new Set([1n, 2n])), undefined);
  });
  it('derives the MAC from the IPv4 address', () => {
    assert.equal(macFromIPv4('10.1.1.2'), '02:02:0a:01:01:02');
  });
  it('formats runs of ids', () => {
    assert.equal(formatRuns([8, 1, 2, 3, 5], String), '1-3, 5, 8');
    assert.equal(formatRuns([], String), '');
    assert.equal(formatRuns([10n, 11n], String), '10-11');
  });
  it('orphans lists ids outside a range', () => {
    assert.deepEqual(
      orphans(
        [
          { id: 5, owner: 'a' },
          { id: 50, owner: 'b' },
        ],
        { lo: 10, hi: 100 },
      ),
      [{ id: 5, owner: 'a' }],
    );
  });
});

/** The store-backed suite, runnable against any Store factory (etcd, embedded) later. */
export function ipamStoreSuite(name: string, makeStore: () => Promise<Store>): void {
  describe(`ipam on ${name}`, () => {
    it('hands out the first free address, skipping the gateway, and reuses released ones', async () => {
      const store = await makeStore();
      const space = addressSpace('default:contiv-net', '10.1.1.0/24', '10.1.1.1');
      assert.equal(await allocAddress(store, space, { owner: 'ep1' }), '10.1.1.2');
      assert.equal(await allocAddress(store, space, { owner: 'ep2' }), '10.1.1.3');
      assert.equal(await releaseAddress(store, 'default:contiv-net', '10.1.1.2', 'someone-else'), false);
      assert.equal(await releaseAddress(store, 'default:contiv-net', '10.1.1.2', 'ep1'), true);
      assert.equal(await allocAddress(store, space, { owner: 'ep3' }), '10.1.1.2');
      assert.deepEqual(await listAddresses(store, 'default:contiv-net'), [
        { ip: '10.1.1.2', owner: 'ep3' },
        { ip: '10.1.1.3', owner: 'ep2' },
      ]);
      await store.close();
    });
    it('without a gateway starts at .1; a range and a group pool narrow the candidates', async () => {
      const store = await makeStore();
      assert.equal(await allocAddress(store, addressSpace('t:a', '10.2.0.0/16'), { owner: 'x' }), '10.2.0.1');
      const ranged = addressSpace('t:b', '10.1.1.10-10.1.1.20/24', '10.1.1.10');
      assert.equal(await allocAddress(store, ranged, { owner: 'x' }), '10.1.1.11');
      const pooled = addressSpace('t:b', '10.1.1.10-10.1.1.20/24', '10.1.1.10', '10.1.1.15-10.1.1.16');
      assert.equal(await allocAddress(store, pooled, { owner: 'g1' }), '10.1.1.15');
      assert.equal(await allocAddress(store, pooled, { owner: 'g2' }), '10.1.1.16');
      // The pool is exhausted; the error names the network, the field (the pool) and its addresses.
      await assert.rejects(
        allocAddress(store, pooled, { owner: 'g3' }),
        (e: unknown) =>
          e instanceof AllocationError &&
          /^network t:b: ipPool "10\.1\.1\.15-10\.1\.1\.16": no free address left in 10\.1\.1\.0\/24 \(addresses 10\.1\.1\.15-10\.1\.1\.16\)$/.test(
            e.message,
          ),
      );
      // Network-wide allocation skips what the group took.
      assert.equal(await allocAddress(store, ranged, { owner: 'x' }), '10.1.1.12');
      await releaseAllAddresses(store, 't:b');
      assert.deepEqual(await listAddresses(store, 't:b'), []);
      assert.equal((await listAddresses(store, 't:a')).length, 1, 'another network is untouched');
      await store.close();
    });
    it('exhausts a small network with an error naming it', async () => {
      const store = await makeStore();
      const space = addressSpace('blue:tiny', '10.9.9.0/30', '10.9.9.1');
      assert.equal(await allocAddress(store, space, { owner: 'a' }), '10.9.9.2');
      await assert.rejects(
        allocAddress(store, space, { owner: 'b' }),
        /network blue:tiny: subnet "10\.9\.9\.0\/30": no free address left/,
      );
      await store.close();
    });
    it('allocates a preferred address only when free and inside the space', async () => {
      const store = await makeStore();
      const space = addressSpace('default:n', '10.1.1.0/24', '10.1.1.1');
      assert.equal(await allocAddress(store, space, { owner: 'a', preferred: '10.1.1.50' }), '10.1.1.50');
      await assert.rejects(allocAddress(store, space, { owner: 'b', preferred: '10.1.1.50' }), /in use by a/);
      await assert.rejects(
        allocAddress(store, space, { owner: 'b', preferred: '10.1.1.1' }),
        /not allocatable/,
      );
      await assert.rejects(
        allocAddress(store, space, { owner: 'b', preferred: '10.1.2.1' }),
        /not allocatable/,
      );
      await store.close();
    });
    it('allocates IPv6 addresses', async () => {
      const store = await makeStore();
      const space = addressSpace('default:v6', '2001:db8::/64', '2001:db8::1');
      assert.equal(await allocAddress(store, space, { owner: 'a' }), '2001:db8::2');
      assert.equal(await allocAddress(store, space, { owner: 'b' }), '2001:db8::3');
      assert.equal(await releaseAddress(store, 'default:v6', '2001:0db8::2'), true);
      assert.equal(await allocAddress(store, space, { owner: 'c' }), '2001:db8::2');
      await store.close();
    });
    it('address usage for inspect: allocated (with the gateway) and available runs, the count without it', async () => {
      const store = await makeStore();
      const space = addressSpace('default:u', '10.1.1.0/24', '10.1.1.1');
      for (const o of ['a', 'b', 'c', 'd']) await allocAddress(store, space, { owner: o });
      await releaseAddress(store, 'default:u', '10.1.1.3');
      assert.deepEqual(await addressUsage(store, space), {
        allocatedCount: 3,
        allocated: '10.1.1.1-10.1.1.2, 10.1.1.4-10.1.1.5',
        available: '10.1.1.3, 10.1.1.6-10.1.1.254',
      });
      const pooled = addressSpace('default:u', '10.1.1.0/24', '10.1.1.1', '10.1.1.4-10.1.1.8');
      assert.deepEqual(await addressUsage(store, pooled), {
        allocatedCount: 2,
        allocated: '10.1.1.4-10.1.1.5',
        available: '10.1.1.6-10.1.1.8',
      });
      await store.close();
    });
    it("a group's ip-pool is reserved out of its network, as in Contiv", async () => {
      const store = await makeStore();
      const net = addressSpace('default:p', '10.1.1.0/24', '10.1.1.1');
      const web = addressSpace('default:p', '10.1.1.0/24', '10.1.1.1', '10.1.1.2-10.1.1.4');
      await reservePool(store, web, 'default:web');
      // The network's own allocations skip the pool; the group's come from it.
      assert.equal(await allocAddress(store, net, { owner: 'n1' }), '10.1.1.5');
      assert.equal(await allocAddress(store, web, { owner: 'w1' }), '10.1.1.2');
      await assert.rejects(
        allocAddress(store, net, { owner: 'n2', preferred: '10.1.1.3' }),
        /network default:p: ipAddress "10\.1\.1\.3": reserved for the ipPool of group default:web$/,
      );
      // Overlapping another pool, or holding an allocated address, is refused (and leaves nothing behind).
      const db = addressSpace('default:p', '10.1.1.0/24', '10.1.1.1', '10.1.1.4-10.1.1.9');
      await assert.rejects(
        reservePool(store, db, 'default:db'),
        /endpointGroup default:db: ipPool "10\.1\.1\.4-10\.1\.1\.9": overlaps the ipPool 10\.1\.1\.2-10\.1\.1\.4 of group default:web$/,
      );
      const app = addressSpace('default:p', '10.1.1.0/24', '10.1.1.1', '10.1.1.5-10.1.1.9');
      await assert.rejects(
        reservePool(store, app, 'default:app'),
        /endpointGroup default:app: ipPool "10\.1\.1\.5-10\.1\.1\.9": holds allocated address\(es\) 10\.1\.1\.5$/,
      );
      const v6 = addressSpace('default:p6', '2001:db8::/64', undefined, '2001:db8::10-2001:db8::20');
      await assert.rejects(reservePool(store, v6, 'default:v6'), /IPv6 ip-pools are not supported/);
      // Released, the range is the network's again.
      await releasePool(store, 'default:p', 'default:web');
      assert.equal(await allocAddress(store, net, { owner: 'n3' }), '10.1.1.3');
      await reservePool(
        store,
        addressSpace('default:p', '10.1.1.0/24', '10.1.1.1', '10.1.1.6-10.1.1.9'),
        'default:app',
      );
      assert.equal(await allocAddress(store, net, { owner: 'n4' }), '10.1.1.4');
      assert.equal(await allocAddress(store, net, { owner: 'n5' }), '10.1.1.10');
      await store.close();
    });
    it('network allocations racing a pool reservation never land inside the reserved pool', async () => {
      const store = await makeStore();
      const net = addressSpace('default:r', '10.2.2.0/24');
      const grp = addressSpace('default:r', '10.2.2.0/24', undefined, '10.2.2.1-10.2.2.50');
      const allocs = Array.from({ length: 30 }, (_, i) => allocAddress(store, net, { owner: `n${i}` }));
      const reserved = reservePool(store, grp, 'default:g').then(
        () => true,
        () => false,
      );
      const got = await Promise.all(allocs);
      const ok = await reserved;
      const inPool = got.filter((ip) => Number(ip.split('.')[3]) <= 50);
      // Either the reservation won and no network address sits in the pool, or it was refused.
      if (ok) assert.deepEqual(inPool, []);
      else assert.ok(inPool.length > 0);
      await store.close();
    });
    it('100 concurrent allocations get 100 distinct addresses', async () => {
      const store = await makeStore();
      const space = addressSpace('default:busy', '10.5.0.0/24', '10.5.0.1');
      const got = await Promise.all(
        Array.from({ length: 100 }, (_, i) => allocAddress(store, space, { owner: `ep${i}` })),
      );
      assert.equal(new Set(got).size, 100);
      const listed = await listAddresses(store, 'default:busy');
      assert.equal(listed.length, 100);
      // Every owner holds exactly the address it was told, so no CAS was lost.
      const byIp = new Map(listed.map((r) => [r.ip, r.owner]));
      for (const [i, ip] of got.entries()) assert.equal(byIp.get(ip), `ep${i}`);
      assert.ok(!got.includes('10.5.0.1'), 'gateway never handed out');
      await store.close();
    });
    it('vlan networks take the first free vlan or a requested free pkt-tag in range', async () => {
      const store = await makeStore();
      assert.deepEqual(await allocNetworkTags(store, { network: 'default:a', encap: 'vlan' }, {}), {
        encap: 'vlan',
        pktTag: 1,
      });
      assert.deepEqual(
        await allocNetworkTags(store, { network: 'default:b', encap: 'vlan', pktTag: 112 }, {}),
        {
          encap: 'vlan',
          pktTag: 112,
        },
      );
      await assert.rejects(
        allocNetworkTags(store, { network: 'default:c', encap: 'vlan', pktTag: 112 }, {}),
        /network default:c: pktTag 112: in use by network default:b$/,
      );
      await assert.rejects(
        allocNetworkTags(store, { network: 'default:c', encap: 'vlan', pktTag: 4095 }, {}),
        /pktTag 4095: outside the global vlans range 1-4094$/,
      );
      await assert.rejects(
        allocNetworkTags(store, { network: 'default:c', encap: 'vlan', pktTag: 50 }, { vlans: '100-200' }),
        /outside the global vlans range 100-200/,
      );
      assert.equal(
        (await allocNetworkTags(store, { network: 'default:d', encap: 'vlan' }, { vlans: '100-200' })).pktTag,
        100,
      );
      await store.close();
    });
    it('vxlan networks get a VNI and a local vlan, both returned on release', async () => {
      const store = await makeStore();
      const t = await allocNetworkTags(store, { network: 'default:x', encap: 'vxlan' }, {});
      assert.deepEqual(t, { encap: 'vxlan', pktTag: 1, localVlan: 1 });
      const u = await allocNetworkTags(store, { network: 'default:y', encap: 'vxlan', pktTag: 1001 }, {});
      assert.deepEqual(u, { encap: 'vxlan', pktTag: 1001, localVlan: 2 });
      // A vlan network cannot take a local vlan already in use.
      assert.equal((await allocNetworkTags(store, { network: 'default:v', encap: 'vlan' }, {})).pktTag, 3);
      await assert.rejects(
        allocNetworkTags(store, { network: 'default:z', encap: 'vxlan', pktTag: 10001 }, {}),
        /outside the global vxlans range 1-10000/,
      );
      await releaseNetworkTags(store, 'default:x', t);
      assert.deepEqual(
        (await listTags(store, 'vlan')).map((r) => r.id),
        [2, 3],
      );
      assert.deepEqual(
        (await listTags(store, 'vxlan')).map((r) => r.id),
        [1001],
      );
      // Release by a network that does not hold the ids is a no-op.
      await releaseNetworkTags(store, 'default:other', u);
      assert.equal((await listTags(store, 'vxlan')).length, 1);
      await store.close();
    });
    it('exhausting the vlan range names the network', async () => {
      const store = await makeStore();
      await allocNetworkTags(store, { network: 'default:a', encap: 'vlan' }, { vlans: '10-10' });
      await assert.rejects(
        allocNetworkTags(store, { network: 'default:b', encap: 'vlan' }, { vlans: '10-10' }),
        /network default:b: encap "vlan": no free vlan id left in the global vlans range 10-10$/,
      );
      await assert.rejects(
        allocNetworkTags(store, { network: 'default:c', encap: 'vxlan' }, { vlans: '10-10' }),
        /network default:c: encap "vxlan": no free local vlan/,
      );
      assert.deepEqual(await listTags(store, 'vxlan'), [], 'the failed vxlan network kept no VNI');
      await store.close();
    });
    it('refuses a global range change that would orphan an allocated id', async () => {
      const store = await makeStore();
      await allocNetworkTags(store, { network: 'default:a', encap: 'vlan', pktTag: 5 }, {});
      await allocNetworkTags(store, { network: 'default:x', encap: 'vxlan', pktTag: 9000 }, {});
      await assert.rejects(
        checkRangeChange(store, 'vlan', '100-200'),
        /global global: vlans "[^"]+": would orphan 2 allocated id\(s\): 1 \(default:x\), 5 \(default:a\)$/,
      );
      assert.equal(typeof (await checkRangeChange(store, 'vlan', '1-100')), 'number');
      await assert.rejects(checkRangeChange(store, 'vxlan', '1-5000'), /9000 \(default:x\)/);
      await checkRangeChange(store, 'vxlan', '1000-20000');
      await assert.rejects(checkRangeChange(store, 'vlan', '1-5000'), /must lie within 1-4094/);
      await store.close();
    });
    it('group ids: first free in range, owner-checked release, reuse, exhaustion', async () => {
      const store = await makeStore();
      assert.equal(await allocId(store, 'epg', EPG_ID_RANGE, 'default:web'), 1);
      assert.equal(await allocId(store, 'epg', EPG_ID_RANGE, 'default:db'), 2);
      assert.equal(await releaseId(store, 'epg', 1, 'default:db'), false);
      assert.equal(await releaseId(store, 'epg', 1, 'default:web'), true);
      assert.equal(await allocId(store, 'epg', EPG_ID_RANGE, 'default:app'), 1);
      await assert.rejects(
        allocId(store, 'epg', { lo: 1, hi: 2 }, 'default:x'),
        /default:x: no free epg id left in 1-2/,
      );
      // Group ids and vlan ids are separate spaces.
      assert.equal((await allocNetworkTags(store, { network: 'default:n', encap: 'vlan' }, {})).pktTag, 1);
      await store.close();
    });
    it("the caller's object is written in the same transaction, or nothing is", async () => {
      const store = await makeStore();
      const netKey = '/test/networks/default:n';
      const extras = {
        compares: [{ key: netKey, target: 'create' as const, op: '==' as const, value: 0 }],
        ops: [{ type: 'put' as const, key: netKey, value: '{}' }],
      };
      const t = await allocNetworkTags(store, { network: 'default:n', encap: 'vxlan' }, {}, extras);
      assert.deepEqual(t, { encap: 'vxlan', pktTag: 1, localVlan: 1 });
      assert.ok(await store.get(netKey));
      // The network now exists: the caller's compare fails, and no id is taken.
      await assert.rejects(
        allocNetworkTags(store, { network: 'default:n', encap: 'vxlan' }, {}, extras),
        CallerConflictError,
      );
      assert.equal((await listTags(store, 'vxlan')).length, 1);
      const space = addressSpace('default:n', '10.1.1.0/24');
      const epKey = '/test/endpoints/ep1';
      const epExtras = {
        compares: [{ key: epKey, target: 'create' as const, op: '==' as const, value: 0 }],
        ops: [{ type: 'put' as const, key: epKey, value: '{}' }],
      };
      assert.equal(await allocAddress(store, space, { owner: 'ep1', extras: epExtras }), '10.1.1.1');
      await assert.rejects(
        allocAddress(store, space, { owner: 'ep1', extras: epExtras }),
        CallerConflictError,
      );
      assert.equal((await listAddresses(store, 'default:n')).length, 1);
      await assert.rejects(allocId(store, 'epg', EPG_ID_RANGE, 'x', extras), CallerConflictError);
      assert.deepEqual(await listTags(store, 'epg'), []);
      await store.close();
    });
    it('100 concurrent network creations get distinct VNIs and local vlans', async () => {
      const store = await makeStore();
      const got = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          allocNetworkTags(store, { network: `default:n${i}`, encap: i % 2 ? 'vxlan' : 'vlan' }, {}),
        ),
      );
      const vlans = got.map((t) => (t.encap === 'vlan' ? t.pktTag : t.localVlan));
      const vnis = got.filter((t) => t.encap === 'vxlan').map((t) => t.pktTag);
      assert.equal(new Set(vlans).size, 100);
      assert.equal(new Set(vnis).size, 50);
      assert.equal((await listTags(store, 'vlan')).length, 100);
      await store.close();
    });
  });
}

ipamStoreSuite('an in-memory store', async () => new MemStore());

// The same suite on the real single-host store: its fsynced log must not change who gets what.
ipamStoreSuite('the embedded store', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'contiv-ipam-'));
  const store = await EmbeddedStore.open(dir);
  const close = store.close.bind(store);
  store.close = async () => {
    await close();
    await rm(dir, { recursive: true, force: true });
  };
  return store;
});

describe('the in-memory test store is honest', () => {
  it('really interleaves: concurrent allocators conflict and retry', async () => {
    const s = new MemStore();
    const space = addressSpace('default:c', '10.6.0.0/24');
    const got = await Promise.all(
      Array.from({ length: 20 }, (_, i) => allocAddress(s, space, { owner: `${i}` })),
    );
    assert.equal(new Set(got).size, 20);
    assert.ok(s.conflicts > 0, 'the CAS path was exercised');
  });
  it('checks compares on create/mod/version/value', async () => {
    const s = new MemStore();
    const r1 = await s.txn(
      [{ key: 'k', target: 'create', op: '==', value: 0 }],
      [{ type: 'put', key: 'k', value: 'a' }],
    );
    assert.ok(r1.succeeded);
    const r2 = await s.txn(
      [{ key: 'k', target: 'create', op: '==', value: 0 }],
      [{ type: 'put', key: 'k', value: 'b' }],
      [{ type: 'get', key: 'k' }],
    );
    assert.ok(!r2.succeeded);
    assert.equal(r2.reads[0]?.value, 'a');
    const kv = await s.get('k');
    assert.equal(kv?.version, 1);
    const r3 = await s.txn(
      [{ key: 'k', target: 'mod', op: '==', value: kv?.modRevision ?? -1 }],
      [{ type: 'put', key: 'k', value: 'c' }],
    );
    assert.ok(r3.succeeded);
    assert.equal((await s.get('k'))?.version, 2);
    assert.ok(!(await s.txn([{ key: 'k', target: 'value', op: '==', value: 'a' }], [])).succeeded);
  });
});

/**
 * A Store seen under a key prefix, so one shared etcd can give every test an empty keyspace while
 * IPAM keeps its fixed /contiv.io/ipam/ layout.
 */
function prefixed(inner: Store, p: string): Store {
  const un = (kv: KV): KV => ({ ...kv, key: kv.key.slice(p.length) });
  const op = (o: TxnOp): TxnOp =>
    o.type === 'deletePrefix' ? { ...o, prefix: p + o.prefix } : { ...o, key: p + o.key };
  return {
    get: async (k) => {
      const kv = await inner.get(p + k);
      return kv && un(kv);
    },
    list: async (prefix) => (await inner.list(p + prefix)).map(un),
    put: (k, v, o) => inner.put(p + k, v, o),
    delete: (k) => inner.delete(p + k),
    txn: async (c, s1, f) => {
      const r = await inner.txn(
        c.map((x) => ({ ...x, key: p + x.key })),
        s1.map(op),
        f?.map(op),
      );
      return { ...r, reads: r.reads.map((kv) => kv && un(kv)) };
    },
    watch: (prefix, fn, o) => inner.watch(p + prefix, (e) => fn({ ...e, key: e.key.slice(p.length) }), o),
    grantLease: (ttl) => inner.grantLease(ttl),
    revision: () => inner.revision(),
    close: async () => {},
  };
}

// The same suite on a private etcd (skipped where etcd is not installed, failing in CI): the CAS path
// against the store clusters run on.
const missingEtcd = missingFor('etcd');
describe(
  'ipam on etcd',
  {
    skip: missingEtcd.length > 0 && process.env.CI !== 'true' ? `missing ${missingEtcd.join(', ')}` : false,
  },
  () => {
    let etcd: EtcdInstance;
    let shared: EtcdStore;
    let n = 0;
    before(async () => {
      etcd = await startEtcd();
      shared = await EtcdStore.connect([etcd.endpoint]);
      onCleanup(() => shared.close());
    });
    ipamStoreSuite('etcd', async () => prefixed(shared, `/ipam-test-${++n}`));
  },
);

after(runCleanups);
