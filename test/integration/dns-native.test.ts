// Owns the native UDP hot path against the JavaScript one it stands in for: the same queries
// (valid, mutated, junk) sent to a native server and to a node:dgram server over one registry get
// the same bytes back, rotation included; the table follows registry changes at once; close()
// stops the threads and frees the port; IPv6 listening.
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { NameRegistry } from '../../dns/registry.js';
import { DnsServer } from '../../dns/server.js';
import { fastPathAddon } from '../../dns/udp-native.js';
import { ENDPOINT_PREFIX } from '../../policy/model/endpoint.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { dnsQuery, type QueryOpts } from '../harness/dns-query.js';
import { prng } from '../harness/prng.js';

const addon = fastPathAddon();
const built = !(addon instanceof Error);

const record = (id: string, name: string, group: string, ip: string, ip6 = '') => ({
  key: `${ENDPOINT_PREFIX}${id}`,
  value: JSON.stringify({
    tenant: 'default',
    network: 'net',
    endpointGroup: group,
    containerName: name,
    ipAddress: ip,
    ipv6Address: ip6,
  }),
});

/** One client socket: a query and its reply (undefined: none within waitMs). */
async function client(): Promise<{
  ask(q: Buffer, port: number, waitMs?: number): Promise<Buffer | undefined>;
}> {
  const s: Socket = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  onCleanup(() => new Promise<void>((r) => s.close(() => r())), { label: 'dns client' });
  return {
    ask: (q, port, waitMs = 40) =>
      new Promise((resolve) => {
        const t = setTimeout(() => {
          s.off('message', on);
          resolve(undefined);
        }, waitMs);
        const on = (m: Buffer) => {
          clearTimeout(t);
          s.off('message', on);
          resolve(m);
        };
        s.on('message', on);
        s.send(q, port, '127.0.0.1');
      }),
  };
}

describe(
  'dns native UDP path against the JavaScript one',
  {
    skip: !built && process.env.CI !== 'true' ? `native addon not built: ${(addon as Error).message}` : false,
  },
  () => {
    const registry = new NameRegistry();
    let native: DnsServer;
    let dgram: DnsServer;

    before(async () => {
      if (addon instanceof Error)
        throw new Error(
          `the native addon is not built (make build): ${addon.message} (CI=true: a missing component fails)`,
        );
      const kvs = Array.from({ length: 40 }, (_, i) =>
        record(`e${i}`, `c${i}`, `g${i % 4}`, `10.7.0.${i + 1}`),
      );
      kvs.push(record('v6', 'six', 'g6', '10.7.1.1', '2001:db8::1'));
      // A group too large for 512 bytes: TC without EDNS, whole with a large EDNS size.
      for (let i = 0; i < 40; i++) kvs.push(record(`b${i}`, `big${i}`, 'big', `10.8.0.${i + 1}`));
      registry.replaceAll(kvs);
      native = await DnsServer.start({ registry, port: 0, upstreams: [] });
      onCleanup(() => native.close(), { label: 'native server' });
      dgram = await DnsServer.start({ registry, port: 0, upstreams: [], udp: 'dgram' });
      onCleanup(() => dgram.close(), { label: 'dgram server' });
      assert.equal(native.udpPath, 'native');
      assert.equal(dgram.udpPath, 'dgram');
    });
    after(runCleanups);

    it('gives the same bytes for 3,000 valid, mutated and junk queries, rotation included', async () => {
      const a = await client();
      const b = await client();
      const rnd = prng(1053);
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
      const names = [
        'c1',
        'C1',
        'c2',
        'g1',
        'g2.net',
        'six',
        'big',
        'nobody.net',
        'other.example',
        '1.0.7.10.in-addr.arpa',
      ];
      const types = [1, 28, 12, 255, 16];
      let answered = 0;
      for (let i = 0; i < 3000; i++) {
        const opts: QueryOpts = { id: Math.floor(rnd() * 65536), rd: rnd() < 0.8, cd: rnd() < 0.1 };
        if (rnd() < 0.5)
          opts.edns = {
            size: pick([0, 512, 1232, 4096]),
            version: rnd() < 0.05 ? 1 : 0,
            dnssecOk: rnd() < 0.2,
          };
        let q = dnsQuery(pick(names), pick(types), opts);
        const r = rnd();
        if (r < 0.15) {
          q = Buffer.from(q);
          q[Math.floor(rnd() * q.length)] = Math.floor(rnd() * 256);
        } else if (r < 0.2) q = q.subarray(0, Math.floor(rnd() * q.length));
        else if (r < 0.25) q = Buffer.concat([q, Buffer.from([Math.floor(rnd() * 256)])]);
        const [x, y] = await Promise.all([a.ask(q, native.port), b.ask(q, dgram.port)]);
        assert.deepEqual(x, y, `query ${i} ${q.toString('hex')}`);
        if (x) answered++;
      }
      const stats = native.udpStats()!;
      assert.ok(answered > 2500, `answered ${answered}`);
      assert.ok(stats.hits > 1500, `native answers: ${JSON.stringify(stats)}`);
    });

    it('follows registry changes at once: a changed name, a removed one, a whole replacement', async () => {
      const c = await client();
      const ask = async (name: string) => (await c.ask(dnsQuery(name, 1, { id: 7 }), native.port, 500))!;
      const addressOf = (m: Buffer) =>
        m.readUInt16BE(6) === 0 ? 'none' : [...m.subarray(m.length - 4)].join('.');
      for (let i = 0; i < 3; i++) assert.equal(addressOf(await ask('c5')), '10.7.0.6');
      const hits = native.udpStats()!.hits;
      assert.equal(addressOf(await ask('c5')), '10.7.0.6');
      assert.equal(native.udpStats()!.hits, hits + 1, 'answered from the table');
      registry.put(record('e5', 'c5', 'g1', '10.7.9.9').key, record('e5', 'c5', 'g1', '10.7.9.9').value);
      assert.equal(addressOf(await ask('c5')), '10.7.9.9');
      registry.delete(record('e5', 'c5', 'g1', '').key);
      assert.equal((await ask('c5')).readUInt16BE(2) & 0x0f, 2, 'not ours any more: SERVFAIL (no upstream)');
      assert.equal(addressOf(await ask('c6')), '10.7.0.7');
      registry.replaceAll([record('e6', 'c6', 'g1', '10.7.8.8')]);
      assert.equal(addressOf(await ask('c6')), '10.7.8.8');
    });

    it('survives 100,000 random and mutated datagrams (oversized ones too) and still answers', async () => {
      const s = createSocket('udp4');
      onCleanup(() => new Promise<void>((r) => s.close(() => r())), { label: 'fuzz socket' });
      s.on('message', () => {});
      const rnd = prng(7);
      const fz = record('fz', 'fz', 'gfz', '10.7.5.5');
      registry.put(fz.key, fz.value);
      const valid = dnsQuery('fz', 1, { id: 1, edns: { size: 1232 } });
      const before = native.udpStats()!;
      for (let i = 0; i < 100_000; i++) {
        let b: Buffer;
        if (i % 3 === 0) {
          b = Buffer.from(valid);
          for (let k = 0; k < 1 + Math.floor(rnd() * 3); k++)
            b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
        } else {
          b = Buffer.alloc(i % 1000 === 1 ? 5000 : Math.floor(rnd() * 80));
          for (let j = 0; j < b.length; j++) b[j] = Math.floor(rnd() * 256);
        }
        s.send(b, native.port, '127.0.0.1');
        // Now and then let the socket drain, so that the sends are not all dropped by our own side.
        if (i % 200 === 199) await new Promise((r) => setImmediate(r));
      }
      const c = await client();
      const reply = await c.ask(dnsQuery('fz', 1, { id: 9 }), native.port, 2000);
      assert.ok(reply, 'still answering');
      assert.equal([...reply.subarray(reply.length - 4)].join('.'), '10.7.5.5');
      const after = native.udpStats()!;
      const seen = after.hits + after.misses + after.dropped - (before.hits + before.misses + before.dropped);
      assert.ok(seen > 50_000, `datagrams seen: ${seen}`);
      assert.ok(after.dropped > before.dropped, 'junk dropped');
    });

    it('serves IPv6: a first question through JavaScript, the next from the table, both back to the asker', async () => {
      const v6 = await DnsServer.start({ registry, host: '::1', port: 0, upstreams: [] });
      onCleanup(() => v6.close(), { label: 'v6 server' });
      assert.equal(v6.udpPath, 'native');
      const s = createSocket('udp6');
      await new Promise<void>((r) => s.bind(0, '::1', () => r()));
      onCleanup(() => new Promise<void>((r) => s.close(() => r())), { label: 'v6 client' });
      const six = record('v6b', 'sixer', 'g6b', '10.7.6.6');
      registry.put(six.key, six.value);
      for (const id of [1, 2]) {
        const reply = await new Promise<Buffer>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('no reply over IPv6')), 2000);
          s.once('message', (m) => {
            clearTimeout(t);
            resolve(m);
          });
          s.send(dnsQuery('sixer', 1, { id }), v6.port, '::1');
        });
        assert.equal(reply.readUInt16BE(0), id);
        assert.equal([...reply.subarray(reply.length - 4)].join('.'), '10.7.6.6');
      }
      assert.deepEqual(
        [v6.udpStats()!.misses, v6.udpStats()!.hits],
        [1, 1],
        'the first through JavaScript, the second native',
      );
    });

    it('close() stops the threads and frees the port', async () => {
      const extra = await DnsServer.start({ registry, port: 0, upstreams: [], udpThreads: 3 });
      const port = extra.port;
      await extra.close();
      const s = createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(port, '127.0.0.1', () => resolve());
      });
      s.close();
    });
  },
);
