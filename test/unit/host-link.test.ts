// Host plumbing validation without root: interface names, MACs, CIDRs, namespace references, and that
// plugContainer/configureInterface refuse bad input before running any command.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HostCommandError, ipNetnsArg, netnsPath } from '../../datapath/host/exec.js';
import {
  configureInterface,
  createVethPair,
  isMissingLink,
  normalizeMac,
  parseCidr,
  plugContainer,
  validateIfName,
} from '../../datapath/host/index.js';
import { macFromIPv4 } from '../../policy/ipam/addr.js';

describe('interface names', () => {
  test('accepts up to 15 bytes', () => {
    validateIfName('eth0');
    validateIfName('a'.repeat(15));
    validateIfName('vport_1.2-x');
  });

  test('refuses empty, too long, and characters Linux or ip(8) reject, naming the problem', () => {
    assert.throws(() => validateIfName(''), /empty/);
    assert.throws(() => validateIfName('a'.repeat(16)), /"a{16}" is 16 bytes; Linux allows at most 15/);
    // Length is in bytes: three 2-byte characters plus ten ASCII are 16 bytes.
    assert.throws(() => validateIfName(`ééé${'a'.repeat(10)}`), /16 bytes/);
    for (const bad of ['a/b', 'a:b', 'a b', 'a\tb', '.', '..'])
      assert.throws(() => validateIfName(bad), /not a valid Linux interface name/, bad);
    assert.throws(() => validateIfName('-x'), /must not start with "-"/);
    assert.throws(() => validateIfName('x'.repeat(20), 'veth name'), /^Error: veth name "x{20}"/);
  });
});

describe('macFromIPv4 (Contiv: 02:02 + the four address bytes)', () => {
  test('maps addresses', () => {
    assert.equal(macFromIPv4('10.1.1.2'), '02:02:0a:01:01:02');
    assert.equal(macFromIPv4('192.168.255.0'), '02:02:c0:a8:ff:00');
    assert.equal(macFromIPv4('0.0.0.0'), '02:02:00:00:00:00');
    assert.equal(macFromIPv4('255.255.255.255'), '02:02:ff:ff:ff:ff');
  });

  test('refuses anything but a plain IPv4 address', () => {
    for (const bad of ['10.1.1.2/24', '10.1.1', '10.1.1.256', '::1', 'fd00::1', '', 'abc', ' 10.1.1.2'])
      assert.throws(() => macFromIPv4(bad), /not an IPv4 address/, bad);
  });
});

describe('MACs', () => {
  test('normalizes case', () => {
    assert.equal(normalizeMac('02:AB:cd:00:00:01'), '02:ab:cd:00:00:01');
  });
  test('refuses malformed, multicast and zero MACs', () => {
    for (const bad of ['02:ab:cd:00:00', '02-ab-cd-00-00-01', '02:ab:cd:00:00:0g', '0:1:2:3:4:5'])
      assert.throws(() => normalizeMac(bad), /invalid MAC .*six hex pairs/, bad);
    assert.throws(() => normalizeMac('01:00:5e:00:00:01'), /multicast/);
    assert.throws(() => normalizeMac('ff:ff:ff:ff:ff:ff'), /multicast/);
    assert.throws(() => normalizeMac('00:00:00:00:00:00'), /all zeros/);
  });
});

describe('CIDRs', () => {
  test('parses IPv4 and IPv6 (canonical text)', () => {
    assert.deepEqual(parseCidr('10.1.0.2/24'), { address: '10.1.0.2', prefixLen: 24, family: 4 });
    assert.deepEqual(parseCidr('10.1.0.2/32'), { address: '10.1.0.2', prefixLen: 32, family: 4 });
    assert.deepEqual(parseCidr('FD00:0:0::02/64'), { address: 'fd00::2', prefixLen: 64, family: 6 });
  });
  test('refuses a missing or oversized prefix and non-addresses', () => {
    assert.throws(() => parseCidr('10.1.0.2'), /expected address\/prefix/);
    assert.throws(() => parseCidr('10.1.0.2/'), /expected address\/prefix/);
    assert.throws(() => parseCidr('10.1.0.2/33'), /prefix length 33 exceeds 32/);
    assert.throws(() => parseCidr('fd00::1/129'), /exceeds 128/);
    assert.throws(() => parseCidr('10.1.0.300/24'), /not an IP address/);
    assert.throws(() => parseCidr('host/24'), /not an IP address/);
  });
});

describe('namespace references', () => {
  test('names, pids and paths resolve to namespace files', () => {
    assert.equal(netnsPath('c1'), '/var/run/netns/c1');
    assert.equal(netnsPath({ name: 'c1' }), '/var/run/netns/c1');
    assert.equal(netnsPath({ pid: 42 }), '/proc/42/ns/net');
    assert.equal(netnsPath({ path: '/run/netns/x' }), '/run/netns/x');
    assert.equal(ipNetnsArg({ pid: 42 }), '42');
    assert.equal(ipNetnsArg({ name: 'c1' }), 'c1');
  });
  test('refuses names that are paths or options, bad pids and relative paths', () => {
    assert.throws(() => netnsPath('../etc'), /invalid netns name/);
    assert.throws(() => netnsPath({ name: '-n' }), /invalid netns name/);
    assert.throws(() => netnsPath({ pid: 0 }), /invalid netns pid/);
    assert.throws(() => netnsPath({ pid: 1.5 }), /invalid netns pid/);
    assert.throws(() => netnsPath({ path: 'netns/x' }), /must be absolute/);
  });
});

describe('bad input is refused before any command runs', () => {
  // Each of these would reach ip(8) only after validation; the messages show they never got there.
  const base = { hostIf: 'vh1', netns: { name: 'c1' }, ifName: 'eth0', ip: '10.1.0.2/24' };

  test('plugContainer', async () => {
    await assert.rejects(
      plugContainer({ ...base, hostIf: 'a-very-long-name' }),
      /host interface name .* 16 bytes/,
    );
    await assert.rejects(plugContainer({ ...base, ifName: 'eth:0' }), /container interface name/);
    await assert.rejects(plugContainer({ ...base, ip: '10.1.0.2' }), /invalid CIDR/);
    await assert.rejects(plugContainer({ ...base, gateway: '10.1.0' }), /gateway "10.1.0" is not an IP/);
    await assert.rejects(plugContainer({ ...base, mtu: 10 }), /invalid MTU 10/);
    await assert.rejects(plugContainer({ ...base, mac: '01:00:00:00:00:01' }), /multicast/);
    await assert.rejects(plugContainer({ ...base, ip: 'fd00::2/64' }), /needs an explicit mac/);
    await assert.rejects(plugContainer({ ...base, netns: { name: 'a/b' } }), /invalid netns name/);
    await assert.rejects(plugContainer({ ...base, hostNetns: { pid: -1 } }), /invalid netns pid/);
  });

  test('configureInterface and createVethPair', async () => {
    await assert.rejects(
      configureInterface({ ifName: 'eth0', rename: 'x'.repeat(16) }),
      /new interface name/,
    );
    await assert.rejects(configureInterface({ ifName: 'eth0', addresses: ['10.0.0.1/40'] }), /exceeds 32/);
    await assert.rejects(configureInterface({ ifName: 'eth0', defaultGateway: 'gw' }), /default gateway/);
    await assert.rejects(createVethPair('same', 'same'), /two different names/);
  });
});

describe('a link that is not there', () => {
  const failed = (stderr: string) =>
    new HostCommandError(['ip', 'link', 'show', 'dev', 'x'], 1, stderr, 'exit 1');
  test("is told by ip's three messages, including a link gone between lookup and request (ENODEV)", () => {
    assert.ok(isMissingLink(failed('Device "x" does not exist.\n')));
    assert.ok(isMissingLink(failed('Cannot find device "x"\n')));
    assert.ok(
      isMissingLink(
        failed('RTNETLINK answers: No such device\nCannot send link get request: No such device\n'),
      ),
    );
  });
  test('anything else is an error', () => {
    assert.ok(!isMissingLink(failed('RTNETLINK answers: Operation not permitted\n')));
    assert.ok(!isMissingLink(new Error('No such device')));
  });
});
