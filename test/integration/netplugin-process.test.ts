// netplugin as a real process: its flags and environment, and the all-in-one role (netmaster in the
// same process, sharing the embedded store): netctl creates intent, the bridge gets the flows, a
// SIGTERM ends it cleanly and a restart converges without touching a flow. Against a cluster, a
// --fwd-mode or --netmode the cluster does not have is refused before the host is touched.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseNetpluginArgs } from '../../cli/netplugin.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { tempDirPrefix } from '../harness/names.js';
import { startNetmaster } from '../harness/netmaster.js';
import { type OvsInstance, startOvs } from '../harness/ovs.js';
import { LAB_COMMANDS, missingFor } from '../harness/require.js';

const run = promisify(execFile);
const NETPLUGIN = fileURLToPath(new URL('../../cli/netplugin.js', import.meta.url));
const NETCTL = fileURLToPath(new URL('../../cli/netctl/main.js', import.meta.url));
const missing = missingFor(...LAB_COMMANDS);
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')}` : false;

describe('netplugin flags', () => {
  test('CONTIV_NETPLUGIN_* environment, overridden by flags in any of their forms', () => {
    const cfg = parseNetpluginArgs(['-fwd-mode=routing', '--vlan-if', 'eth2,eth3', '--vtep-ip=10.0.0.5'], {
      CONTIV_NETPLUGIN_HOST: 'node1',
      CONTIV_NETPLUGIN_FORWARD_MODE: 'bridge',
      CONTIV_NETPLUGIN_NET_MODE: 'vlan',
      CONTIV_NETPLUGIN_MODE: 'docker',
      CONTIV_NETPLUGIN_ETCD_ENDPOINTS: 'etcd://127.0.0.1:2379,http://10.0.0.2:2379',
      CONTIV_NETPLUGIN_VXLAN_PORT: '8472',
      CONTIV_NETPLUGIN_LOG_LEVEL: 'DEBUG',
      CONTIV_ROLE: 'netmaster',
    });
    assert.notEqual(cfg, 'help');
    if (cfg === 'help') return;
    assert.equal(cfg.host, 'node1');
    assert.equal(cfg.fwdMode, 'routing');
    assert.equal(cfg.netMode, 'vlan');
    assert.deepEqual(cfg.vlanUplinks, ['eth2', 'eth3']);
    assert.equal(cfg.vtepIp, '10.0.0.5');
    assert.equal(cfg.controlIp, '10.0.0.5');
    assert.deepEqual(cfg.etcdEndpoints, ['http://127.0.0.1:2379', 'http://10.0.0.2:2379']);
    assert.equal(cfg.vxlanPort, 8472);
    assert.equal(cfg.logLevel, 'debug');
    assert.equal(cfg.role, 'netmaster');
  });

  test('a bad value names the flag and the reason; --help lists the environment', async () => {
    assert.throws(() => parseNetpluginArgs(['--fwd-mode', 'magic'], {}), /--fwd-mode: "magic" is not one of/);
    assert.throws(() => parseNetpluginArgs(['--vxlan-port=70000'], {}), /--vxlan-port: "70000"/);
    assert.throws(() => parseNetpluginArgs(['--nope'], {}), /unknown flag --nope/);
    const bad = await run(process.execPath, [NETPLUGIN, '--vtep-ip', 'x.y'], {}).catch(
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal((bad as { code: number }).code, 2);
    assert.match((bad as { stderr: string }).stderr, /--vtep-ip: "x.y" is not an IPv4 address/);
    const help = await run(process.execPath, [NETPLUGIN, '--help']);
    for (const v of [
      'CONTIV_NETPLUGIN_VLAN_UPLINKS',
      'CONTIV_NETPLUGIN_VTEP_IP',
      'CONTIV_ROLE',
      'CONTIV_NETPLUGIN_FORWARD_MODE',
    ]) {
      assert.ok(help.stdout.includes(v), `--help mentions ${v}`);
    }
  });

  test('without etcd, netmaster URL or the netmaster role there is no store: said so', async () => {
    const out = await run(process.execPath, [NETPLUGIN, '--host', 'h', '--vtep-ip', '10.0.0.1'], {
      env: { PATH: process.env.PATH },
    }).catch((e: { code: number; stderr: string }) => e);
    assert.equal((out as { code: number }).code, 1);
    assert.match(
      (out as { stderr: string }).stderr,
      /no store: give --etcd ENDPOINTS, --netmaster URL, or --role netmaster/,
    );
  });
});

describe('netplugin all-in-one (role netmaster)', { skip }, () => {
  let ovs: OvsInstance;
  let dir: string;
  // A fixed high port: the process cannot report a picked one before the test needs it.
  const dnsPort = 20_000 + (process.pid % 20_000);

  before(async () => {
    if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}`);
    ovs = await startOvs();
    dir = await mkdtemp(tempDirPrefix('aio'));
    onCleanup(() => rm(dir, { recursive: true, force: true }));
  });
  after(runCleanups);

  const args = () => [
    '--role',
    'netmaster',
    '--data-dir',
    dir,
    '--ovs-rundir',
    ovs.dir,
    '--datapath',
    'dummy',
    '--host',
    'aio',
    '--vtep-ip',
    '127.0.0.1',
    // No dockerd here: the Docker side has tests of its own (docker-*.test.ts).
    '--plugin-mode',
    'kubernetes',
    // Kubernetes mode serves CNI: its socket in the temp dir, not /run/contiv.
    '--cni-socket',
    `${dir}/cni.sock`,
    '--dns-listen',
    `127.0.0.1:${dnsPort}`,
  ];

  async function flows(): Promise<string[]> {
    const out = await ovs.ofctl('dump-flows', ovs.mgmt('contivbr'), '--no-stats');
    return out.split('\n').filter((l) => l.includes('priority='));
  }

  test('netctl intent becomes flows; SIGTERM ends it; a restart changes no flow', async () => {
    const first = await startNetmaster(args(), 'netplugin');
    const netctl = (...a: string[]) => run(process.execPath, [NETCTL, '--netmaster', first.url, ...a]);
    await netctl('net', 'create', 'contiv-net', '--subnet=20.1.1.0/24', '--gateway=20.1.1.254');
    await netctl('policy', 'create', 'prod_web');
    await netctl('policy', 'rule-add', 'prod_web', '1', '-direction=in', '-protocol=tcp', '-action=deny');
    await netctl('group', 'create', 'contiv-net', 'web', '-policy=prod_web');
    let lines: string[] = [];
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      lines = await flows().catch(() => []);
      if (lines.some((l) => /tcp/.test(l) && /table=(60|70)/.test(l))) break;
      await sleep(100);
    }
    assert.ok(
      lines.some((l) => /table=(60|70)/.test(l) && /tcp/.test(l)),
      `policy flows: ${lines.join('\n')}`,
    );
    // The listening DNS answers the group's members as netmaster records them.
    const created = await fetch(`${first.url}/plugin/createEndpoint`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ endpointID: 'ep1', network: 'contiv-net', group: 'web', host: 'elsewhere' }),
    });
    const text = await created.text();
    assert.equal(created.status, 200, text);
    const ip = (JSON.parse(text) as { ipAddress: string }).ipAddress;
    let answer = '';
    for (let i = 0; i < 50 && answer.trim() !== ip; i++) {
      answer = (
        await run('dig', ['+short', '+tries=1', '+time=1', '-p', String(dnsPort), '@127.0.0.1', 'web'])
      ).stdout;
      if (answer.trim() !== ip) await sleep(100);
    }
    assert.equal(answer.trim(), ip, 'dig @netplugin web');
    const before = (await flows()).sort();
    first.p.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => first.p.once('exit', resolve));
    assert.equal(code, 0);
    assert.deepEqual((await flows()).sort(), before, 'flows stay while netplugin is down');
    const second = await startNetmaster(args(), 'netplugin');
    await sleep(1000);
    assert.deepEqual((await flows()).sort(), before, 'the restarted netplugin keeps every flow');
    second.p.kill('SIGTERM');
    await new Promise((resolve) => second.p.once('exit', resolve));
  });
});

describe('netplugin against the cluster: --fwd-mode and --netmode', { skip }, () => {
  let ovs: OvsInstance;
  let dir: string;
  before(async () => {
    if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}`);
    ovs = await startOvs();
    dir = await mkdtemp(tempDirPrefix('fwdmode'));
    onCleanup(() => rm(dir, { recursive: true, force: true }));
  });
  after(runCleanups);

  /** netplugin on netmaster's store API: its exit code and stderr, or 'started' once the agent runs. */
  function netplugin(
    url: string,
    extra: string[],
  ): Promise<{ code: number | null; err: string } | 'started'> {
    const bridge = 'fwdbr';
    const p: ChildProcess = spawn(
      process.execPath,
      [
        NETPLUGIN,
        '--netmaster',
        url,
        '--ovs-rundir',
        ovs.dir,
        '--datapath',
        'dummy',
        '--bridge',
        bridge,
        '--host',
        'h1',
        '--vtep-ip',
        '127.0.0.1',
        '--plugin-mode',
        'kubernetes',
        '--cni-socket',
        `${dir}/cni.sock`,
        '--dns=false',
        ...extra,
      ],
      { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    onCleanup(() => {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    });
    let out = '';
    let err = '';
    let started = false;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`netplugin neither started nor exited: ${out}${err}`)),
        15_000,
      );
      p.stderr?.on('data', (d: Buffer) => {
        err += d.toString();
      });
      p.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (!started && out.includes('agent started')) {
          started = true;
          p.kill('SIGTERM');
        }
      });
      p.once('exit', (code) => {
        clearTimeout(timer);
        resolve(started ? 'started' : { code, err });
      });
    });
  }

  async function bridges(): Promise<string[]> {
    return (await ovs.vsctl('list-br')).split('\n').filter(Boolean);
  }

  test('a conflicting flag is refused naming both values; a matching or absent one starts', async () => {
    const nm = await startNetmaster(['--data-dir', `${dir}/nm`, '--fwdmode', 'routing']);
    const netctl = (...a: string[]) => run(process.execPath, [NETCTL, '--netmaster', nm.url, ...a]);
    const refused = await netplugin(nm.url, ['--fwd-mode', 'bridge']);
    assert.notEqual(refused, 'started');
    assert.equal(refused !== 'started' && refused.code, 2);
    assert.match(
      refused !== 'started' ? refused.err : '',
      /^netplugin: --fwd-mode bridge conflicts with the cluster's forwarding mode routing \(netctl global info\)$/m,
    );
    assert.deepEqual(await bridges(), [], 'nothing made on OVS');
    assert.equal(await netplugin(nm.url, ['--fwd-mode', 'routing']), 'started');
    assert.equal(await netplugin(nm.url, []), 'started', 'no flag: the global is followed');

    await netctl('net', 'create', 'xnet', '--subnet=20.1.1.0/24');
    assert.equal(await netplugin(nm.url, ['--netmode', 'vxlan']), 'started', 'vxlan like every network');
    await netctl('net', 'create', 'vnet', '--encap=vlan', '--pkt-tag=101', '--subnet=20.1.2.0/24');
    const wrongEncap = await netplugin(nm.url, ['--netmode', 'vxlan']);
    assert.notEqual(wrongEncap, 'started');
    assert.equal(wrongEncap !== 'started' && wrongEncap.code, 2);
    assert.match(
      wrongEncap !== 'started' ? wrongEncap.err : '',
      /--netmode vxlan conflicts with the cluster's network default\/vnet, encap vlan \(netctl net ls\)/,
    );
    const noUplink = await netplugin(nm.url, ['--netmode', 'vlan']);
    assert.equal(noUplink !== 'started' && noUplink.code, 2);
    assert.match(noUplink !== 'started' ? noUplink.err : '', /--netmode vlan needs --vlan-if/);
    nm.p.kill('SIGTERM');
    await new Promise((r) => nm.p.once('exit', r));
  });
});
