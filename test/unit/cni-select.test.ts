// The CNI call's pure parts: which Contiv object (pod labels over config, by source precedence),
// labels and pod name for the record, a requested address, CNI_ARGS parsing, results per version.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cniHostIf, endpointIdOf } from '../../api/cni/handler.js';
import {
  CniError,
  checkNetConf,
  ERR,
  type NetConf,
  parseCniArgs,
  resultFor,
} from '../../api/cni/protocol.js';
import { selectTarget } from '../../api/cni/select.js';
import { parseNetpluginArgs } from '../../cli/netplugin.js';

const conf = (extra: Partial<NetConf> = {}): NetConf => ({
  cniVersion: '1.0.0',
  name: 'n',
  type: 'contiv-cni',
  ...extra,
});

describe('CNI selection', () => {
  test('the config alone: tenant defaults to "default", group to the network itself', () => {
    const s = selectTarget(conf({ network: 'n1' }), '');
    assert.deepEqual(s, { tenant: 'default', network: 'n1', group: '', labels: {}, podName: '', ip: '' });
  });

  test('CNI_ARGS over runtimeConfig.labels over args.cni.labels over the config', () => {
    const c = conf({
      tenant: 't0',
      network: 'n0',
      group: 'g0',
      args: {
        cni: {
          labels: [
            { key: 'io.contiv.net-group', value: 'g1' },
            { key: 'io.contiv.network', value: 'n1' },
          ],
        },
      },
      runtimeConfig: { labels: { 'io.contiv.net-group': 'g2', app: 'x' } },
    });
    assert.deepEqual(
      { ...selectTarget(c, ''), labels: undefined },
      { tenant: 't0', network: 'n1', group: 'g2', labels: undefined, podName: '', ip: '' },
    );
    const s = selectTarget(
      c,
      'IgnoreUnknown=1;K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web-1;io.contiv.net-group=g3;io.contiv.tenant=t3',
    );
    assert.equal(s.group, 'g3');
    assert.equal(s.tenant, 't3');
    assert.equal(s.podName, 'web-1');
    assert.deepEqual(s.labels, {
      'io.contiv.net-group': 'g3',
      'io.contiv.network': 'n1',
      'io.contiv.tenant': 't3',
      app: 'x',
      'io.kubernetes.pod.namespace': 'prod',
    });
  });

  test('a requested address from CNI_ARGS IP or runtimeConfig.ips; not IPv4 is refused', () => {
    assert.equal(selectTarget(conf({ network: 'n' }), 'IP=10.0.0.7').ip, '10.0.0.7');
    assert.equal(
      selectTarget(conf({ network: 'n', runtimeConfig: { ips: ['10.0.0.8/24'] } }), '').ip,
      '10.0.0.8',
    );
    assert.throws(() => selectTarget(conf({ network: 'n' }), 'IP=fd00::1'), CniError);
  });

  test('no network anywhere is a config error naming the label', () => {
    assert.throws(
      () => selectTarget(conf(), 'io.contiv.net-group=web'),
      (e: unknown) =>
        e instanceof CniError && e.code === ERR.invalidConfig && /io\.contiv\.network/.test(e.message),
    );
  });
});

describe('CNI protocol', () => {
  test('CNI_ARGS pairs; a pair without "=" is an env error', () => {
    assert.deepEqual(
      [...parseCniArgs('A=1;B=x=y;;')],
      [
        ['A', '1'],
        ['B', 'x=y'],
      ],
    );
    assert.throws(
      () => parseCniArgs('A'),
      (e: unknown) => e instanceof CniError && e.code === ERR.invalidEnv,
    );
  });

  test('config checks: version, name, field types', () => {
    assert.throws(
      () => checkNetConf({ cniVersion: '0.2.0', name: 'x' }),
      (e: unknown) => (e as CniError).code === ERR.incompatibleVersion,
    );
    assert.throws(
      () => checkNetConf({ cniVersion: '1.0.0' }),
      (e: unknown) => (e as CniError).code === ERR.invalidConfig,
    );
    assert.throws(
      () => checkNetConf({ cniVersion: '1.0.0', name: 'x', group: 3 }),
      /"group" must be a string/,
    );
    assert.throws(
      () => checkNetConf([]),
      (e: unknown) => (e as CniError).code === ERR.decode,
    );
  });

  test('results: 1.0.0 without ip versions, 0.4.0 with them', () => {
    const r = { ips: [{ address: '10.0.0.2/24', interface: 0 }] };
    assert.deepEqual(resultFor('1.0.0', r), {
      cniVersion: '1.0.0',
      ips: [{ address: '10.0.0.2/24', interface: 0 }],
    });
    assert.deepEqual(resultFor('0.4.0', r).ips, [{ version: '4', address: '10.0.0.2/24', interface: 0 }]);
  });

  test('endpoint id and host interface name derive from container id + ifname only', () => {
    assert.equal(endpointIdOf('abc', 'eth0'), 'abc-eth0');
    assert.throws(
      () => endpointIdOf('a/b', 'eth0'),
      (e: unknown) => (e as CniError).code === ERR.invalidEnv,
    );
    assert.throws(() => endpointIdOf('', 'eth0'), CniError);
    assert.match(cniHostIf('abc-eth0'), /^cni[0-9a-f]{12}$/);
    assert.equal(cniHostIf('abc-eth0'), cniHostIf('abc-eth0'));
    assert.notEqual(cniHostIf('abc-eth0'), cniHostIf('abc-net1'));
  });
});

describe('netplugin CNI flags', () => {
  test('--cni and --cni-socket, or their environment; off by default', () => {
    const on = parseNetpluginArgs(['--cni', '--cni-socket', '/tmp/x.sock'], {});
    assert.ok(on !== 'help' && on.cni === true && on.cniSocket === '/tmp/x.sock');
    const env = parseNetpluginArgs([], { CONTIV_NETPLUGIN_CNI: 'true', CONTIV_CNI_SOCKET: '/tmp/y.sock' });
    assert.ok(env !== 'help' && env.cni === true && env.cniSocket === '/tmp/y.sock');
    const off = parseNetpluginArgs([], {});
    assert.ok(off !== 'help' && off.cni === false && off.cniSocket === '/run/contiv/cni.sock');
  });
});
