// Proves the compiled netctl against the compiled netmaster, both real processes: the developers' guide session.
// It must never listen beyond 127.0.0.1, and it kills its netmaster and removes its data dir whatever happens.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseArgs } from '../../cli/netmaster.js';
import { runCleanups } from '../harness/cleanup.js';
import { startEtcd } from '../harness/etcd.js';
import { startNetmaster } from '../harness/netmaster.js';

const NETCTL = fileURLToPath(new URL('../../cli/netctl/main.js', import.meta.url));

let proc: ChildProcess | undefined;
let dir = '';
let url = '';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
function netctl(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [NETCTL, '--netmaster', url, ...args],
      { env: { PATH: process.env.PATH }, timeout: 20_000 },
      (e, stdout, stderr) =>
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, stdout, stderr }),
    );
  });
}
async function ok(...args: string[]): Promise<string> {
  const r = await netctl(...args);
  assert.equal(r.code, 0, `netctl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The guide's session against a netmaster on a store: the embedded one, or a private etcd. */
function guideSession(storeName: string, storeArgs: () => Promise<string[]>): void {
  describe(`netctl against netmaster (${storeName} store): the developers guide`, () => {
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'netctl-netmaster-'));
      const s = await startNetmaster(['--data-dir', dir, ...(await storeArgs())]);
      proc = s.p;
      url = s.url;
    });

    after(async () => {
      if (proc && proc.exitCode === null) {
        const exited = new Promise<number | null>((r) => proc?.once('exit', (code) => r(code)));
        proc.kill('SIGTERM');
        // SIGTERM is a clean shutdown: the server and the store close, and the exit code is 0.
        assert.equal(await exited, 0);
      }
      await rm(dir, { recursive: true, force: true });
    });

    it('creates a network, a policy with rules and a group, and lists them', async () => {
      await ok(
        'net',
        'create',
        'contiv-net',
        '--subnet=20.1.1.0/24',
        '--gateway=20.1.1.254',
        '--pkt-tag=1001',
      );
      await ok('policy', 'create', 'prod_web');
      await ok('policy', 'rule-add', 'prod_web', '1', '-direction=in', '-protocol=tcp', '-action=deny');
      await ok(
        'policy',
        'rule-add',
        'prod_web',
        '2',
        '-direction=in',
        '-protocol=tcp',
        '-port=80',
        '-action=allow',
        '-priority=10',
      );
      await ok('group', 'create', 'contiv-net', 'web', '-policy=prod_web');

      const nets = (await ok('net', 'ls')).split('\n');
      assert.match(nets[0] ?? '', /^Tenant\s+Network\s+Nw Type\s+Encap type\s+Packet tag\s+Subnet\s+Gateway/);
      assert.match(
        nets[2] ?? '',
        /^default\s+contiv-net\s+data\s+vxlan\s+1001\s+20\.1\.1\.0\/24\s+20\.1\.1\.254/,
      );

      const groups = (await ok('group', 'ls')).split('\n');
      assert.match(groups[2] ?? '', /^default\s+web\s+contiv-net\s+.*prod_web/);

      const rules = await ok('policy', 'rule-ls', 'prod_web');
      assert.match(rules, /Incoming Rules:/);
      assert.match(rules, /\n2\s+10\s.*tcp\s+80\s+allow/);
      assert.match(rules, /\n1\s+1\s.*tcp\s+0\s+deny/);

      const inspect = JSON.parse(await ok('net', 'inspect', 'contiv-net')) as {
        Config: { networkName: string; pktTag: number };
        Oper: { externalPktTag: number; availableIPAddresses: string };
      };
      assert.equal(inspect.Config.networkName, 'contiv-net');
      assert.equal(inspect.Oper.externalPktTag, 1001);
      assert.equal(inspect.Oper.availableIPAddresses, '20.1.1.1-20.1.1.253');
    });

    it('refuses deleting what is in use, then deletes in order', async () => {
      const net = await netctl('net', 'rm', 'contiv-net');
      assert.equal(net.code, 1);
      assert.match(net.stderr, /in use by endpointGroup default:web/);
      const pol = await netctl('policy', 'rm', 'prod_web');
      assert.equal(pol.code, 1);
      assert.match(pol.stderr, /in use by endpointGroup default:web/);

      await ok('group', 'rm', 'web');
      await ok('policy', 'rule-rm', 'prod_web', '1');
      await ok('policy', 'rm', 'prod_web');
      await ok('net', 'rm', 'contiv-net');
      assert.equal((await ok('net', 'ls')).split('\n').filter(Boolean).length, 2);
      assert.equal((await ok('policy', 'ls')).split('\n').filter(Boolean).length, 2);
    });
  });
}

/** Columns of a table line, whitespace folded: transcripts and our tab-aligned output compare equal. */
const cols = (line: string) => line.trim().split(/\s+/).join(' ');

/** The commands of the seed transcripts (shared/seeds), with the outputs they show. */
function seedSession(storeName: string, storeArgs: () => Promise<string[]>): void {
  describe(`netctl against netmaster (${storeName} store): the seed transcripts`, () => {
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'netctl-seeds-'));
      const s = await startNetmaster(['--data-dir', dir, ...(await storeArgs())]);
      proc = s.p;
      url = s.url;
    });
    after(async () => {
      if (proc && proc.exitCode === null) {
        const exited = new Promise<number | null>((r) => proc?.once('exit', (code) => r(code)));
        proc.kill('SIGTERM');
        assert.equal(await exited, 0);
      }
      await rm(dir, { recursive: true, force: true });
    });

    it('global, tenants, networks in two tenants, a vlan network, groups with policies and tags', async () => {
      await ok('global', 'set', '--fwd-mode', 'routing');
      assert.match(await ok('global', 'info'), /^Forward mode: routing$/m);
      await ok('global', 'set', '--fwd-mode', 'bridge');

      assert.equal(await ok('tenant', 'create', 'blue'), 'Creating tenant: blue\n');
      const tenants = (await ok('tenant', 'ls')).split('\n').filter(Boolean).map(cols);
      assert.deepEqual(tenants.slice(0, 2), ['Name', '------']);
      assert.deepEqual(tenants.slice(2).sort(), ['blue', 'default']);

      assert.equal(
        await ok('net', 'create', '--subnet=10.1.2.0/24', 'contiv-net'),
        'Creating network default:contiv-net\n',
      );
      assert.equal(
        await ok('net', 'create', '-p', '112', '-e', 'vlan', '-s', '10.1.3.0/24', 'contiv-vlan'),
        'Creating network default:contiv-vlan\n',
      );
      const nets = (await ok('net', 'ls')).split('\n').filter(Boolean).map(cols);
      assert.equal(
        nets[0],
        'Tenant Network Nw Type Encap type Packet tag Subnet Gateway IPv6Subnet IPv6Gateway Cfgd Tag',
      );
      assert.deepEqual(nets.slice(2).sort(), [
        'default contiv-net data vxlan 0 10.1.2.0/24',
        'default contiv-vlan data vlan 112 10.1.3.0/24',
      ]);

      assert.equal(
        await ok('net', 'create', '-t', 'blue', '--subnet=10.1.2.0/24', 'contiv-net'),
        'Creating network blue:contiv-net\n',
      );
      const blue = (await ok('net', 'ls', '-t', 'blue')).split('\n').filter(Boolean).map(cols);
      assert.deepEqual(blue.slice(2), ['blue contiv-net data vxlan 0 10.1.2.0/24']);

      await ok('network', 'create', 'contiv-net-1', '-s', '200.1.1.1/24', '-g', '200.1.1.200');
      await ok('policy', 'create', 'p1');
      await ok('group', 'create', '-p', 'p1', '-tag', 'policylabel', 'contiv-net-1', 'group1');
      const groups = (await ok('group', 'ls')).split('\n').filter(Boolean).map(cols);
      assert.ok(
        groups.some((g) => /^default group1 contiv-net-1 .*policylabel.*p1/.test(g)),
        `group ls: ${groups.join(' | ')}`,
      );

      const version = await ok('version');
      assert.match(version, /Client Version:/);
      assert.match(version, /Server Version:/);
    });
  });
}

guideSession('embedded', async () => []);
seedSession('embedded', async () => []);
guideSession('etcd', async () => {
  const etcd = await startEtcd();
  return ['--etcd', etcd.endpoint];
});
after(runCleanups);

describe('netmaster flags', () => {
  it('reads --listen-url, --etcd/--cluster-store, --data-dir and --mode over the CONTIV_* env and the defaults', () => {
    assert.deepEqual(parseArgs([], {}), {
      host: '0.0.0.0',
      port: 9999,
      etcdEndpoints: [],
      dataDir: '/var/lib/contiv-ts',
      mode: 'docker',
      tls: {},
      adminConf: '/etc/contiv/admin.conf',
    });
    assert.deepEqual(
      parseArgs([], {
        CONTIV_NETMASTER_EXTERNAL_ADDRESS: '10.0.0.1:9998',
        CONTIV_NETMASTER_ETCD_ENDPOINTS: 'http://a:2379,http://b:2379',
        CONTIV_NETMASTER_MODE: 'kubernetes',
      }),
      {
        host: '10.0.0.1',
        port: 9998,
        etcdEndpoints: ['http://a:2379', 'http://b:2379'],
        dataDir: '/var/lib/contiv-ts',
        mode: 'kubernetes',
        tls: {},
        adminConf: '/etc/contiv/admin.conf',
      },
    );
    assert.deepEqual(
      parseArgs(
        ['--listen-url=http://127.0.0.1:1234', '--cluster-store', 'etcd://e:2379', '--data-dir', '/d'],
        {
          CONTIV_NETMASTER_LISTEN_URL: ':1',
        },
      ),
      {
        host: '127.0.0.1',
        port: 1234,
        etcdEndpoints: ['http://e:2379'],
        dataDir: '/d',
        mode: 'docker',
        tls: {},
        adminConf: '/etc/contiv/admin.conf',
      },
    );
    const secure = parseArgs(
      ['--tls-cert', '/c.pem', '--tls-key', '/k.pem', '--insecure-listen', '127.0.0.1:9998'],
      { CONTIV_NETMASTER_ADMIN_CONF: '/a.conf' },
    );
    assert.ok(secure !== 'help');
    assert.deepEqual(secure.tls, { certFile: '/c.pem', keyFile: '/k.pem' });
    assert.equal(secure.adminConf, '/a.conf');
    assert.deepEqual(secure.insecureListen, { host: '127.0.0.1', port: 9998 });
    assert.throws(
      () => parseArgs(['--insecure-listen', '0.0.0.0:9998'], {}),
      /--insecure-listen 0\.0\.0\.0:9998: plain HTTP only on loopback/,
    );
    assert.equal((parseArgs(['--mode', 'swarm-mode'], {}) as { mode: string }).mode, 'swarm-mode');
    assert.throws(
      () => parseArgs(['--mode', 'mesos'], {}),
      /--mode: "mesos" is not one of docker, kubernetes/,
    );
    assert.equal(parseArgs(['--help'], {}), 'help');
    assert.throws(() => parseArgs(['--bogus'], {}), /unknown flag --bogus/);
    assert.throws(() => parseArgs(['--listen-url', ':99999'], {}), /bad --listen-url/);
  });

  it("takes Contiv's netmaster flags: --fwdmode and --infra set the global, --netmode and --name show in /info", async () => {
    const flags = parseArgs(
      [
        '--fwdmode=routing',
        '--netmode',
        'vlan',
        '--infra',
        'default',
        '--plugin-name',
        'contiv/v2plugin:1',
        '--control-url',
        '127.0.0.1:9100',
      ],
      {},
    );
    assert.ok(flags !== 'help');
    // netplugins reach netmaster over TLS: the control URL says https.
    assert.equal(flags.controlUrl, 'https://127.0.0.1:9100');
    assert.throws(() => parseArgs(['--consul', 'http://c:8500'], {}), /consul is not supported/);
    assert.throws(
      () => parseArgs(['--fwdmode', 'switching'], {}),
      /--fwdmode: "switching" is not one of bridge, routing/,
    );
    const dir = await mkdtemp(join(tmpdir(), 'nm-flags-'));
    try {
      const first = await startNetmaster([
        '--data-dir',
        dir,
        '--fwdmode',
        'routing',
        '--netmode',
        'vlan',
        '--name',
        'np2',
      ]);
      const get = async (path: string) =>
        (await fetch(`${first.url}${path}`)).json() as Promise<Record<string, unknown>>;
      assert.equal((await get('/api/v1/globals/global/')).fwdMode, 'routing');
      const info = await get('/info');
      assert.equal(info.NetworkMode, 'vlan');
      assert.equal(info.PluginName, 'np2');
      url = first.url;
      await ok('net', 'create', 'n1', '-s', '10.9.9.0/24');
      first.p.kill('SIGTERM');
      await new Promise((r) => first.p.once('exit', r));
      // The global cannot change under a network: netmaster refuses to start, naming both values.
      await assert.rejects(
        startNetmaster(['--data-dir', dir, '--fwdmode', 'bridge']),
        /--fwdmode bridge \(global fwdMode is routing\): .*cannot change while networks exist/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
