// Owns the DNS server against real tools: dig on loopback, names from a real EmbeddedStore
// (added/removed names answered/gone within 1 s, also from the native table), forwarding to a
// private dnsmasq on loopback (nothing outside this machine is ever asked), TC and TCP fallback.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type DnsService, startDnsService } from '../../dns/index.js';
import { reverseName } from '../../dns/names.js';
import { EmbeddedStore } from '../../state/embedded.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { type Dnsmasq, startDnsmasq } from '../harness/dnsmasq.js';
import { prng } from '../harness/prng.js';
import { missingFor } from '../harness/require.js';
import { run } from '../harness/run.js';

const missing = missingFor('dig', 'dnsmasq');
const epKey = (id: string) => `/contiv.io/oper/endpoints/${id}`;
const ep = (id: string, tenant: string, name: string, group: string, ip: string, ip6 = '') =>
  JSON.stringify({
    endpointID: id,
    tenant,
    network: 'contiv-net',
    endpointGroup: group,
    containerName: name,
    ipAddress: ip,
    ipv6Address: ip6,
  });

describe(
  'dns server (dig, EmbeddedStore, dnsmasq upstream)',
  { skip: missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false },
  () => {
    let store: EmbeddedStore;
    let upstream: Dnsmasq;
    let dns: DnsService;
    let blue: DnsService;

    const dig = (svc: DnsService, ...args: string[]) => {
      const s = svc.server!;
      return run('dig', [`@${s.host}`, '-p', String(s.port), '+time=2', '+tries=1', ...args]);
    };
    const short = async (svc: DnsService, ...args: string[]) =>
      (await dig(svc, '+short', ...args))
        .split('\n')
        .filter((l) => l !== '')
        .sort();
    /** Polls dig until want holds; the time it took, in ms. */
    const until = async (want: (lines: string[]) => boolean, ...args: string[]) => {
      const t0 = Date.now();
      for (;;) {
        const lines = await short(dns, ...args);
        if (want(lines)) return Date.now() - t0;
        if (Date.now() - t0 > 3000) assert.fail(`dig ${args.join(' ')} still ${JSON.stringify(lines)}`);
        await sleep(20);
      }
    };

    before(async () => {
      if (missing.length > 0)
        throw new Error(`missing ${missing.join(', ')} (CI=true: a missing component fails)`);
      const dir = await mkdtemp(join(tmpdir(), 'dns-server-'));
      onCleanup(() => rm(dir, { recursive: true, force: true }), { label: 'store dir' });
      store = await EmbeddedStore.open(dir);
      onCleanup(() => store.close(), { label: 'store' });
      await store.put(epKey('e1'), ep('e1', 'default', 'contiv-c1', 'web', '10.1.1.2', '2001:db8::2'));
      await store.put(epKey('e2'), ep('e2', 'default', 'contiv-c2', 'web', '10.1.1.3'));
      await store.put(epKey('b1'), ep('b1', 'blue', 'secret', 'app', '10.1.1.50'));
      await store.put(
        '/contiv.io/oper/servicevip/default:svc',
        JSON.stringify({
          tenantName: 'default',
          serviceName: 'svc',
          networkName: 'svc-net',
          serviceVip: '10.254.0.1',
        }),
      );
      upstream = await startDnsmasq('192.0.2.10 outside.test\n');
      const listen = {
        host: '127.0.0.1',
        port: 0,
        upstreams: [`127.0.0.1:${upstream.port}`],
        forwardTimeoutMs: 1000,
      };
      dns = await startDnsService({ store, listen: { ...listen, udpThreads: 2 } });
      onCleanup(() => dns.close(), { label: 'dns' });
      blue = await startDnsService({ store, listen: { ...listen, tenant: 'blue' } });
      onCleanup(() => blue.close(), { label: 'dns blue' });
    });
    after(runCleanups);

    it('answers container, group, group.network, serviceLB, AAAA and PTR names, authoritatively', async () => {
      assert.deepEqual(await short(dns, 'contiv-c1'), ['10.1.1.2']);
      assert.deepEqual(await short(dns, 'web'), ['10.1.1.2', '10.1.1.3']);
      assert.deepEqual(await short(dns, 'web.contiv-net'), ['10.1.1.2', '10.1.1.3']);
      assert.deepEqual(await short(dns, 'svc'), ['10.254.0.1']);
      assert.deepEqual(await short(dns, 'contiv-c1', 'AAAA'), ['2001:db8::2']);
      assert.deepEqual(await short(dns, '-x', '10.1.1.3'), ['contiv-c2.']);
      assert.deepEqual(await short(dns, 'PTR', reverseName('2001:db8::2')!), ['contiv-c1.']);
      const full = await dig(dns, 'web', '+noall', '+comments', '+answer');
      assert.match(full, /status: NOERROR/);
      assert.match(full, /flags: qr aa rd ra;/);
      assert.match(full, /^web\.\s+120\s+IN\s+A\s+10\.1\.1\.2$/m);
      assert.match(full, /EDNS: version: 0, flags:; udp: 1232/);
      assert.match(await dig(dns, 'nobody.contiv-net'), /status: NXDOMAIN/);
      assert.deepEqual(await short(dns, '+tcp', 'web'), ['10.1.1.2', '10.1.1.3']);
    });

    it('forwards the rest to the upstream resolver and relays its answer (UDP and TCP)', async () => {
      assert.deepEqual(await short(dns, 'outside.test'), ['192.0.2.10']);
      assert.deepEqual(await short(dns, '+tcp', 'outside.test'), ['192.0.2.10']);
      // dnsmasq gives its hosts-file names TTL 0 (ours are 120): the answer is dnsmasq's, relayed.
      assert.match(
        await dig(dns, 'outside.test', '+noall', '+answer'),
        /^outside\.test\.\s+0\s+IN\s+A\s+192\.0\.2\.10$/m,
      );
    });

    it('keeps tenants apart', async () => {
      assert.deepEqual(await short(blue, 'secret'), ['10.1.1.50']);
      assert.deepEqual(await short(blue, 'web'), []);
      // From default, blue's name is not ours: forwarded, and dnsmasq does not know it either.
      assert.deepEqual(await short(dns, 'secret'), []);
    });

    it('a name added to the store is answered, and gone once removed, within 1 s (also from the native table)', async () => {
      const put = Date.now();
      await store.put(epKey('e3'), ep('e3', 'default', 'contiv-c3', 'web', '10.1.1.4'));
      const added = await until((l) => l.join() === '10.1.1.4', 'contiv-c3');
      // Several queries: after the first, the native table (two threads) answers them.
      for (let i = 0; i < 6; i++)
        assert.deepEqual(await short(dns, 'web'), ['10.1.1.2', '10.1.1.3', '10.1.1.4']);
      assert.ok(Date.now() - put < 1000 + 6 * 500, 'added');
      assert.ok(added < 1000, `added after ${added} ms`);
      await store.delete(epKey('e3'));
      const gone = await until((l) => l.length === 0, 'contiv-c3');
      assert.ok(gone < 1000, `gone after ${gone} ms`);
      for (let i = 0; i < 6; i++) assert.deepEqual(await short(dns, 'web'), ['10.1.1.2', '10.1.1.3']);
    });

    it('repeated questions are answered by the native threads, rotating on from where JavaScript left off', async () => {
      const server = dns.server!;
      assert.equal(server.udpPath, 'native', 'the native UDP hot path is built (make build)');
      const before = server.udpStats()!;
      for (let i = 0; i < 5; i++) assert.deepEqual(await short(dns, 'contiv-c2'), ['10.1.1.3']);
      const after = server.udpStats()!;
      assert.ok(after.hits - before.hits >= 4, `answered natively: ${after.hits - before.hits} of 5`);
      assert.ok(after.misses - before.misses <= 1, `answered by JavaScript: ${after.misses - before.misses}`);
      // web has two members: whoever answers, consecutive answers alternate the first address.
      const firsts: string[] = [];
      for (let i = 0; i < 6; i++) firsts.push((await dig(dns, '+short', 'web')).split('\n')[0]!);
      for (let i = 2; i < firsts.length; i++) assert.equal(firsts[i], firsts[i - 2], firsts.join());
      assert.notEqual(firsts[0], firsts[1], firsts.join());
    });

    it('a large group is truncated over UDP (TC) and complete over TCP; dig retries by itself', async () => {
      for (let i = 0; i < 60; i++)
        await store.put(epKey(`m${i}`), ep(`m${i}`, 'default', `m${i}`, 'big', `10.3.0.${i + 1}`));
      await until((l) => l.length === 60, '+tcp', 'big');
      const udp = await dig(dns, '+ignore', '+noedns', 'big');
      assert.match(udp, /flags: qr aa tc rd ra;/);
      assert.match(udp, /ANSWER: 0,/);
      assert.equal((await short(dns, '+noedns', 'big')).length, 60, 'dig falls back to TCP');
    });

    it('survives junk on both sockets: random datagrams, a malformed TCP frame (FORMERR), a frame cut short', async () => {
      const s = dns.server!;
      const rnd = prng(53);
      const udp = createSocket('udp4');
      let replies = 0;
      udp.on('message', (m) => {
        replies++;
        assert.ok(m.length <= 512, 'never more than a classic answer to junk');
      });
      for (let i = 0; i < 2000; i++) {
        const b = Buffer.alloc(Math.floor(rnd() * 100));
        for (let j = 0; j < b.length; j++) b[j] = Math.floor(rnd() * 256);
        udp.send(b, s.port, s.host);
      }
      await sleep(300);
      udp.close();
      const tcpReply = await new Promise<Buffer>((resolve, reject) => {
        const c = connect(s.port, s.host);
        let got = Buffer.alloc(0);
        c.on('error', reject);
        c.on('data', (d) => {
          got = Buffer.concat([got, d]);
          if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
            c.destroy();
            resolve(got.subarray(2));
          }
        });
        // Twelve header bytes announcing two questions, and nothing else.
        c.write(Buffer.from([0, 12, 0xab, 0xcd, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0]));
      });
      assert.equal(tcpReply.readUInt16BE(0), 0xabcd);
      assert.equal(tcpReply[3]! & 0x0f, 1, 'FORMERR');
      await new Promise<void>((resolve) => {
        const c = connect(s.port, s.host, () => c.end(Buffer.from([0xff, 0xff, 1, 2, 3])));
        c.on('close', () => resolve());
        c.on('error', () => resolve());
      });
      assert.ok(replies > 0, 'junk with a query header got FORMERR');
      assert.deepEqual(await short(dns, 'web'), ['10.1.1.2', '10.1.1.3'], 'still answering');
      assert.deepEqual(await short(dns, '+tcp', 'web'), ['10.1.1.2', '10.1.1.3']);
    });
  },
);
