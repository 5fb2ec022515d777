// Owns the unit tests of DNS answers: every record type and header flag, rotation, tenant
// isolation, cache invalidation, EDNS0 and truncation, malformed queries. No sockets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import DNS from 'dns2';
import { Answerer } from '../../dns/answer.js';
import { reverseName } from '../../dns/names.js';
import { NameRegistry } from '../../dns/registry.js';
import { parseResolvConf, parseUpstream } from '../../dns/upstreams.js';
import { parseQuery } from '../../dns/wire.js';
import { dnsQuery, type QueryOpts } from '../harness/dns-query.js';

const { Packet } = DNS;
const A = 1;
const PTR = 12;
const MX = 15;
const AAAA = 28;
const ANY = 255;

interface Parsed {
  id: number;
  flags: number;
  rcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  cd: boolean;
  answers: { name: string; type: number; ttl: number; data: string }[];
  opt?: { size: number; dnssecOk: boolean; extRcode: number };
}

function parse(b: Buffer): Parsed {
  const p = Packet.parse(b);
  const flags = b.readUInt16BE(2);
  const optRr = p.additionals.find((r) => r.type === 41);
  const rr = optRr as unknown as { class: number; ttl: number } | undefined;
  return {
    id: b.readUInt16BE(0),
    flags,
    rcode: flags & 0x0f,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    cd: (flags & 0x0010) !== 0,
    answers: p.answers.map((a) => {
      const r = a as unknown as {
        name: string;
        type: number;
        ttl: number;
        address?: string;
        domain?: string;
      };
      return { name: r.name, type: r.type, ttl: r.ttl, data: r.address ?? r.domain ?? '' };
    }),
    ...(rr ? { opt: { size: rr.class, dnssecOk: (rr.ttl & 0x8000) !== 0, extRcode: rr.ttl >>> 24 } } : {}),
  };
}

const ep = (id: string, f: Record<string, string>) => ({
  key: `/contiv.io/oper/endpoints/${id}`,
  value: JSON.stringify({ endpointID: id, network: 'contiv-net', endpointGroup: '', ipv6Address: '', ...f }),
});

function fixture(ttl?: number) {
  const registry = new NameRegistry();
  registry.replaceAll([
    ep('e1', {
      tenant: 'default',
      containerName: 'contiv-c1',
      endpointGroup: 'web',
      ipAddress: '10.1.1.2',
      ipv6Address: '2001:db8::2',
    }),
    ep('e2', { tenant: 'default', containerName: 'contiv-c2', endpointGroup: 'web', ipAddress: '10.1.1.3' }),
    ep('e3', { tenant: 'default', containerName: 'contiv-c3', endpointGroup: 'web', ipAddress: '10.1.1.4' }),
    ep('e4', { tenant: 'default', containerName: 'db1', endpointGroup: 'db', ipAddress: '10.1.1.10' }),
    ep('b1', {
      tenant: 'blue',
      network: 'blue-net',
      containerName: 'secret',
      endpointGroup: 'app',
      ipAddress: '10.1.1.2',
    }),
    {
      key: '/contiv.io/config/endpointGroup/default:empty',
      value: JSON.stringify({ tenantName: 'default', groupName: 'empty', networkName: 'contiv-net' }),
    },
    {
      key: '/contiv.io/oper/servicevip/default:svc',
      value: JSON.stringify({
        tenantName: 'default',
        serviceName: 'svc',
        networkName: 'svc-net',
        serviceVip: '10.254.0.1',
      }),
    },
    {
      key: '/contiv.io/config/network/default:other-net',
      value: JSON.stringify({ tenantName: 'default', networkName: 'other-net' }),
    },
  ]);
  return { registry, answerer: new Answerer(registry, ttl !== undefined ? { ttl } : {}) };
}

function ask(
  a: Answerer,
  name: string,
  type: number,
  o: QueryOpts = {},
  tenant = 'default',
): Parsed | undefined {
  const b = a.answer(dnsQuery(name, type, o), tenant);
  return b ? parse(b) : undefined;
}

const sortedData = (p: Parsed | undefined) => (p?.answers ?? []).map((x) => x.data).sort();

describe('dns answers', () => {
  it('A for a container name, a group bare and as group.network, a serviceLB; authoritative, TTL 120', () => {
    const { answerer } = fixture();
    const c = ask(answerer, 'contiv-c1', A)!;
    assert.deepEqual(sortedData(c), ['10.1.1.2']);
    assert.equal(c.rcode, 0);
    assert.ok(c.aa && c.ra && c.rd, 'AA, RA, RD echoed');
    assert.equal(c.answers[0]!.ttl, 120);
    assert.equal(c.answers[0]!.name, 'contiv-c1');
    assert.deepEqual(sortedData(ask(answerer, 'web', A)), ['10.1.1.2', '10.1.1.3', '10.1.1.4']);
    assert.deepEqual(sortedData(ask(answerer, 'web.contiv-net', A)), ['10.1.1.2', '10.1.1.3', '10.1.1.4']);
    assert.deepEqual(sortedData(ask(answerer, 'svc', A)), ['10.254.0.1']);
    assert.deepEqual(sortedData(ask(answerer, 'web.contiv-net.', A)), ['10.1.1.2', '10.1.1.3', '10.1.1.4']);
  });

  it('AAAA, ANY, PTR (IPv4 and IPv6), NODATA for other types and for a group without members', () => {
    const { answerer } = fixture();
    assert.deepEqual(sortedData(ask(answerer, 'contiv-c1', AAAA)), ['2001:db8::2']);
    const none = ask(answerer, 'contiv-c2', AAAA)!;
    assert.equal(none.rcode, 0);
    assert.equal(none.answers.length, 0);
    assert.deepEqual(sortedData(ask(answerer, 'contiv-c1', ANY)), ['10.1.1.2', '2001:db8::2']);
    assert.deepEqual(sortedData(ask(answerer, reverseName('10.1.1.3')!, PTR)), ['contiv-c2']);
    assert.deepEqual(sortedData(ask(answerer, reverseName('2001:db8::2')!, PTR)), ['contiv-c1']);
    assert.deepEqual(sortedData(ask(answerer, reverseName('10.254.0.1')!, PTR)), ['svc']);
    assert.equal(
      ask(answerer, reverseName('10.1.1.2')!, A)?.answers.length,
      0,
      'PTR name, other type: NODATA',
    );
    assert.equal(ask(answerer, reverseName('10.9.9.9')!, PTR), undefined, 'not our address');
    const mx = ask(answerer, 'web', MX)!;
    assert.ok(mx.aa);
    assert.equal(mx.rcode, 0);
    assert.equal(mx.answers.length, 0);
    const empty = ask(answerer, 'empty.contiv-net', A)!;
    assert.equal(empty.rcode, 0);
    assert.equal(empty.answers.length, 0);
  });

  it('NXDOMAIN in our zones; not ours (undefined) for bare unknown names, other zones, other classes', () => {
    const { answerer } = fixture();
    const nx = ask(answerer, 'nobody.contiv-net', A)!;
    assert.equal(nx.rcode, 3);
    assert.ok(nx.aa);
    assert.equal(ask(answerer, 'nobody.other-net', A)?.rcode, 3, 'a configured network without endpoints');
    assert.equal(ask(answerer, 'nobody', A), undefined);
    assert.equal(ask(answerer, 'example.com', A), undefined);
    assert.equal(ask(answerer, 'web', A, { qclass: 3 }), undefined, 'CHAOS class');
  });

  it('copies id, RD and CD; keeps the question case; answers case-insensitively', () => {
    const { answerer } = fixture();
    const q = dnsQuery('WeB.Contiv-Net', A, { id: 0xbeef, rd: false, cd: true });
    const r = parse(answerer.answer(q, 'default')!);
    assert.equal(r.id, 0xbeef);
    assert.ok(!r.rd && r.cd);
    assert.equal(r.answers.length, 3);
    assert.equal(r.answers[0]!.name, 'WeB.Contiv-Net');
    // The cached copy for the next asker gets that asker's id.
    assert.equal(
      parse(answerer.answer(dnsQuery('WeB.Contiv-Net', A, { id: 7, rd: false, cd: true }), 'default')!).id,
      7,
    );
  });

  it('TTL is configurable', () => {
    const { answerer } = fixture(5);
    assert.equal(ask(answerer, 'web', A)?.answers[0]?.ttl, 5);
  });

  it('rotates the members of a multi-member answer', () => {
    const { answerer } = fixture();
    const firsts = Array.from({ length: 6 }, () => ask(answerer, 'web', A)?.answers[0]?.data);
    assert.deepEqual(firsts, ['10.1.1.2', '10.1.1.3', '10.1.1.4', '10.1.1.2', '10.1.1.3', '10.1.1.4']);
    for (let i = 0; i < 3; i++)
      assert.deepEqual(sortedData(ask(answerer, 'web', A)), ['10.1.1.2', '10.1.1.3', '10.1.1.4']);
  });

  it('keeps tenants apart: blue names are not visible from default and the other way round', () => {
    const { answerer } = fixture();
    assert.equal(ask(answerer, 'secret', A), undefined);
    assert.equal(ask(answerer, 'app', A), undefined);
    assert.deepEqual(sortedData(ask(answerer, 'secret', A, {}, 'blue')), ['10.1.1.2']);
    assert.equal(ask(answerer, 'web', A, {}, 'blue'), undefined);
    assert.equal(ask(answerer, 'web.contiv-net', A, {}, 'blue'), undefined);
    // The same address in two tenants: each PTR answers its own tenant's name.
    assert.deepEqual(sortedData(ask(answerer, reverseName('10.1.1.2')!, PTR, {}, 'blue')), ['secret']);
    assert.deepEqual(sortedData(ask(answerer, reverseName('10.1.1.2')!, PTR)), ['contiv-c1']);
  });

  it('follows registry changes: a cached answer is dropped when its tenant changes', () => {
    const { registry, answerer } = fixture();
    assert.equal(sortedData(ask(answerer, 'web', A)).length, 3);
    assert.equal(ask(answerer, 'newbie', A), undefined);
    const e = ep('e9', {
      tenant: 'default',
      containerName: 'newbie',
      endpointGroup: 'web',
      ipAddress: '10.1.1.9',
    });
    registry.put(e.key, e.value);
    assert.equal(sortedData(ask(answerer, 'web', A)).length, 4);
    assert.deepEqual(sortedData(ask(answerer, 'newbie', A)), ['10.1.1.9']);
    registry.delete(e.key);
    assert.equal(sortedData(ask(answerer, 'web', A)).length, 3);
    assert.equal(ask(answerer, 'newbie', A), undefined);
    registry.delete('/contiv.io/oper/endpoints/e4');
    assert.equal(ask(answerer, 'db', A), undefined, 'last member gone, no group config: not ours');
    assert.equal(ask(answerer, 'db.contiv-net', A)?.rcode, 3);
  });

  it('a change drops only the changed names: another name keeps its cached answers (and rotation)', () => {
    const { registry, answerer } = fixture();
    const first = () => ask(answerer, 'web', A)?.answers[0]?.data;
    assert.deepEqual([first(), first()], ['10.1.1.2', '10.1.1.3']);
    const other = ep('z1', { tenant: 'default', containerName: 'zzz', ipAddress: '10.1.1.99' });
    registry.put(other.key, other.value);
    assert.equal(first(), '10.1.1.4', 'rotation went on: the cached answer survived');
    assert.deepEqual(sortedData(ask(answerer, 'zzz', A)), ['10.1.1.99']);
    const member = ep('e5', {
      tenant: 'default',
      containerName: 'c5',
      endpointGroup: 'web',
      ipAddress: '10.1.1.5',
    });
    registry.put(member.key, member.value);
    assert.equal(first(), '10.1.1.2', 'rebuilt: rotation starts over');
    assert.equal(sortedData(ask(answerer, 'web.contiv-net', A)).length, 4);
    assert.deepEqual(sortedData(ask(answerer, reverseName('10.1.1.5')!, PTR)), ['c5']);
    registry.delete(member.key);
    assert.equal(ask(answerer, reverseName('10.1.1.5')!, PTR), undefined);
    assert.equal(ask(answerer, 'c5', A), undefined);
  });

  it('a network that appears makes unknown names under it NXDOMAIN (zone changes drop the tenant cache)', () => {
    const { registry, answerer } = fixture();
    assert.equal(ask(answerer, 'x.new-net', A), undefined);
    registry.put(
      '/contiv.io/config/network/default:new-net',
      JSON.stringify({ tenantName: 'default', networkName: 'new-net' }),
    );
    assert.equal(ask(answerer, 'x.new-net', A)?.rcode, 3);
    registry.delete('/contiv.io/config/network/default:new-net');
    assert.equal(ask(answerer, 'x.new-net', A), undefined);
  });

  it('EDNS0: our OPT with DO echoed; BADVERS for version 1', () => {
    const { answerer } = fixture();
    const r = ask(answerer, 'web', A, { edns: { size: 4096, dnssecOk: true } })!;
    assert.deepEqual(r.opt, { size: 1232, dnssecOk: true, extRcode: 0 });
    assert.equal(r.answers.length, 3);
    assert.equal(ask(answerer, 'web', A)!.opt, undefined, 'no OPT to a query without one');
    const bad = ask(answerer, 'web', A, { edns: { size: 4096, version: 1 } })!;
    assert.equal(bad.opt?.extRcode, 1);
    assert.equal(bad.answers.length, 0);
  });

  it('truncates (TC, no records) what does not fit the size the query allows; TCP gets it all', () => {
    const { registry, answerer } = fixture();
    registry.replaceAll(
      Array.from({ length: 100 }, (_, i) =>
        ep(`m${i}`, {
          tenant: 'default',
          containerName: `m${i}`,
          endpointGroup: 'big',
          ipAddress: `10.2.0.${i + 1}`,
        }),
      ),
    );
    const udp = (b: Buffer) => {
      const r = answerer.resolve(b, 'default', 'udp');
      assert.equal(r.kind, 'answer');
      return r.kind === 'answer' ? r.buf : Buffer.alloc(0);
    };
    const small = udp(dnsQuery('big', A));
    assert.ok(small.length <= 512);
    assert.ok(parse(small).tc);
    assert.equal(parse(small).answers.length, 0);
    const edns = udp(dnsQuery('big', A, { edns: { size: 4096 } }));
    assert.ok(edns.length <= 1232 && parse(edns).tc, '100 × 16 bytes exceed our 1232');
    const r = answerer.resolve(dnsQuery('big', A), 'default', 'tcp');
    assert.equal(r.kind, 'answer');
    if (r.kind === 'answer') {
      assert.ok(!parse(r.buf).tc);
      assert.equal(parse(r.buf).answers.length, 100);
    }
    // 20 members fit in 512 bytes: no truncation.
    registry.replaceAll(
      Array.from({ length: 20 }, (_, i) =>
        ep(`m${i}`, {
          tenant: 'default',
          containerName: `m${i}`,
          endpointGroup: 'big',
          ipAddress: `10.2.0.${i + 1}`,
        }),
      ),
    );
    const fits = parse(udp(dnsQuery('big', A)));
    assert.ok(!fits.tc);
    assert.equal(fits.answers.length, 20);
  });

  it('the punt (answer()) sends the records that fit, without TC, rotating which ones', () => {
    const { registry, answerer } = fixture();
    registry.replaceAll(
      Array.from({ length: 100 }, (_, i) =>
        ep(`m${i}`, {
          tenant: 'default',
          containerName: `m${i}`,
          endpointGroup: 'big',
          ipAddress: `10.2.0.${i + 1}`,
        }),
      ),
    );
    const firsts = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const b = answerer.answer(dnsQuery('big', A), 'default')!;
      assert.ok(b.length <= 512, `${b.length} bytes`);
      const r = parse(b);
      assert.ok(!r.tc);
      // (512 - 12 header - 9 question) / 16 bytes per record
      assert.equal(r.answers.length, 30);
      firsts.add(r.answers[0]!.data);
    }
    assert.equal(firsts.size, 4);
    const big = parse(answerer.answer(dnsQuery('big', A, { edns: { size: 1232 } }), 'default')!);
    assert.equal(big.answers.length, 75, '(1232 - 12 - 9 - 11 OPT) / 16');
  });

  it('malformed: dropped (short, a response) or FORMERR/NOTIMP with the header only', () => {
    const { answerer } = fixture();
    const ok = dnsQuery('web', A);
    assert.equal(answerer.resolve(ok.subarray(0, 11), 'default', 'udp').kind, 'drop');
    const resp = Buffer.from(ok);
    resp[2]! |= 0x80;
    assert.equal(answerer.resolve(resp, 'default', 'udp').kind, 'drop', 'a response is never answered');
    const cases: [string, Buffer, number][] = [];
    const two = Buffer.from(ok);
    two.writeUInt16BE(2, 4);
    cases.push(['two questions', two, 1]);
    const an = Buffer.from(ok);
    an.writeUInt16BE(0xffff, 6);
    cases.push(['huge answer count', an, 1]);
    cases.push(['truncated question', ok.subarray(0, ok.length - 2), 1]);
    cases.push(['trailing bytes', Buffer.concat([ok, Buffer.from([0, 0])]), 1]);
    const ptr = Buffer.concat([ok.subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]);
    cases.push(['compression loop in the question', ptr, 1]);
    const long = Buffer.concat([
      ok.subarray(0, 12),
      Buffer.from([64]),
      Buffer.alloc(64, 97),
      Buffer.from([0, 0, 1, 0, 1]),
    ]);
    cases.push(['label over 63', long, 1]);
    const op = Buffer.from(ok);
    op[2] = (2 << 3) | 1;
    cases.push(['opcode STATUS', op, 4]);
    const notOpt = Buffer.from(dnsQuery('web', A, { edns: { size: 1232 } }));
    notOpt.writeUInt16BE(1, ok.length + 1);
    cases.push(['additional record not OPT', notOpt, 1]);
    for (const [what, q, rcode] of cases) {
      const r = answerer.resolve(q, 'default', 'udp');
      assert.equal(r.kind, 'answer', what);
      if (r.kind !== 'answer') continue;
      assert.equal(r.buf.length, 12, `${what}: header only`);
      assert.equal(r.buf.readUInt16BE(0), 0x1234, what);
      assert.equal(r.buf[3]! & 0x0f, rcode, what);
      assert.ok(r.buf[2]! & 0x80, `${what}: QR`);
    }
    // A 255-byte name limit: 4 labels of 63 = 256 with the root byte.
    const name = Array.from({ length: 4 }, () => 'a'.repeat(63)).join('.');
    assert.equal('reject' in parseQuery(dnsQuery(name, A)), true);
  });

  it('reverse names and upstream parsing', () => {
    assert.equal(reverseName('10.1.2.3'), '3.2.1.10.in-addr.arpa');
    assert.equal(
      reverseName('2001:db8::1'),
      '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
    );
    assert.equal(reverseName('web'), undefined);
    assert.deepEqual(parseUpstream('127.0.0.1:5353'), { host: '127.0.0.1', port: 5353, family: 4 });
    assert.deepEqual(parseUpstream('[::1]:53'), { host: '::1', port: 53, family: 6 });
    assert.deepEqual(parseUpstream('10.0.0.1'), { host: '10.0.0.1', port: 53, family: 4 });
    assert.throws(() => parseUpstream('dns.example:53'));
    assert.deepEqual(
      parseResolvConf(
        '# c\nnameserver 10.0.0.2\nsearch x\nnameserver ::1\nnameserver fe80::1%eth0\nnameserver bogus\n',
      ).map((u) => u.host),
      ['10.0.0.2', '::1', 'fe80::1%eth0'],
    );
  });
});
