// The v2plugin entrypoint's settings, run on the host with the env Docker would give it: the
// plugin's defaults (config.mjs) plus the seeds' KEY=VALUE lines of both generations, mapped to
// netplugin's flags (V2PLUGIN_DRY_RUN: nothing started); a bad value is one clear line in
// plugin_bootup.log and exit 1 (what makes `docker plugin enable` fail).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { tempDirPrefix } from '../harness/names.js';
import { CHECKOUT } from '../harness/v2plugin.js';

const ENTRY = join(CHECKOUT, 'v2plugin', 'entrypoint.mjs');
const NAME = 'contiv/v2plugin:0.1.0';

interface Plan {
  role: string;
  args: string[];
}

describe('v2plugin settings (entrypoint, both generations)', async () => {
  const { SETTINGS } = (await import(join(CHECKOUT, 'v2plugin', 'config.mjs'))) as {
    SETTINGS: [string, string, string][];
  };
  const logDir = mkdtempSync(tempDirPrefix('v2set'));
  after(() => rmSync(logDir, { recursive: true, force: true }));
  const defaults = Object.fromEntries(SETTINGS.map(([n, v]) => [n, v === '@NAME@' ? NAME : v]));

  const start = (set: Record<string, string>) =>
    spawnSync('node', [ENTRY], {
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH ?? '',
        ...defaults,
        V2PLUGIN_BUILD_NAME: NAME,
        CONTIV_LOG_DIR: logDir,
        V2PLUGIN_DRY_RUN: '1',
        ...set,
      },
    });
  const plan = (set: Record<string, string>): Plan => {
    const r = start(set);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Plan;
  };
  const refused = (set: Record<string, string>, line: RegExp) => {
    const r = start(set);
    assert.equal(r.status, 1, r.stdout);
    assert.match(readFileSync(join(logDir, 'plugin_bootup.log'), 'utf8'), line);
  };

  test("the seed's CONTIV_* line", () => {
    const p = plan({
      CONTIV_ROLE: 'netmaster',
      CONTIV_NETPLUGIN_VLAN_UPLINKS: 'eth2,eth3',
      CONTIV_NETPLUGIN_FORWARD_MODE: 'bridge',
      CONTIV_NETPLUGIN_MODE: 'docker',
      CONTIV_NETPLUGIN_NET_MODE: 'vlan',
      CONTIV_NETMASTER_ETCD_ENDPOINTS: 'http://127.0.0.1:2379',
    });
    assert.equal(p.role, 'netmaster');
    for (const f of [
      '--role=netmaster',
      '--etcd=http://127.0.0.1:2379',
      '--vlan-if=eth2,eth3',
      '--fwd-mode=bridge',
      '--netmode=vlan',
      '--plugin-mode=docker',
      '--listen-url=0.0.0.0:9999',
      `--plugin-name=${NAME}`,
      '--plugin-socket=/run/docker/plugins/netplugin.sock',
    ])
      assert.ok(p.args.includes(f), `${f} in ${p.args.join(' ')}`);
  });

  test('defaults: role netplugin on etcd at 127.0.0.1:2379, docker mode', () => {
    const p = plan({});
    assert.equal(p.role, 'netplugin');
    assert.ok(p.args.includes('--etcd=http://127.0.0.1:2379'));
    assert.ok(p.args.includes('--plugin-mode=docker'));
  });

  test('the older names: plugin_role, cluster_store, iflist, ctrl_ip, vtep_ip, listen_url, dbg_flag, plugin_name', () => {
    const p = plan({
      plugin_role: 'master',
      cluster_store: 'etcd://10.0.0.5:2379',
      iflist: 'eth1,eth2',
      ctrl_ip: '192.168.2.10',
      vtep_ip: '192.168.3.10',
      listen_url: '192.168.2.10:9999',
      dbg_flag: '-debug',
      plugin_name: 'contiv/v2plugin:1.0.0',
    });
    assert.equal(p.role, 'netmaster');
    for (const f of [
      '--etcd=http://10.0.0.5:2379',
      '--vlan-if=eth1,eth2',
      '--ctrl-ip=192.168.2.10',
      '--vtep-ip=192.168.3.10',
      '--listen-url=192.168.2.10:9999',
      '--log-level=DEBUG',
      '--plugin-name=contiv/v2plugin:1.0.0',
    ])
      assert.ok(p.args.includes(f), `${f} in ${p.args.join(' ')}`);
    assert.equal(plan({ plugin_role: 'worker' }).role, 'netplugin');
  });

  test("a worker following the manager's netmaster instead of etcd", () => {
    const p = plan({ plugin_role: 'worker', CONTIV_NETPLUGIN_NETMASTER_URL: 'http://192.168.2.10:9999' });
    assert.equal(p.role, 'netplugin');
    assert.ok(p.args.includes('--etcd='), p.args.join(' '));
    assert.ok(p.args.includes('--netmaster=http://192.168.2.10:9999'), p.args.join(' '));
    refused(
      { CONTIV_NETPLUGIN_NETMASTER_URL: '192.168.2.10' },
      /CONTIV_NETPLUGIN_NETMASTER_URL="192.168.2.10" is not https:\/\/host:port/,
    );
    refused(
      { CONTIV_ROLE: 'netmaster', CONTIV_NETPLUGIN_NETMASTER_URL: 'http://10.0.0.1:9999' },
      /CONTIV_NETPLUGIN_NETMASTER_URL is for role netplugin/,
    );
    // Over TLS it needs the manager's token and CA, and the CA must be one.
    refused(
      { plugin_role: 'worker', CONTIV_NETPLUGIN_NETMASTER_URL: 'https://192.168.2.10:9999' },
      /an https:\/\/ CONTIV_NETPLUGIN_NETMASTER_URL needs CONTIV_NETPLUGIN_NETMASTER_TOKEN and CONTIV_NETPLUGIN_NETMASTER_CA/,
    );
    refused(
      {
        plugin_role: 'worker',
        CONTIV_NETPLUGIN_NETMASTER_URL: 'https://192.168.2.10:9999',
        CONTIV_NETPLUGIN_NETMASTER_TOKEN: 't',
        CONTIV_NETPLUGIN_NETMASTER_CA: Buffer.from('not a certificate').toString('base64'),
      },
      /CONTIV_NETPLUGIN_NETMASTER_CA is not a base64 PEM certificate/,
    );
  });

  test('a bad value: one line in plugin_bootup.log, exit 1', () => {
    refused(
      { CONTIV_ROLE: 'boss' },
      /invalid setting: CONTIV_ROLE="boss" is not one of netmaster, netplugin/,
    );
    refused({ plugin_role: 'leader' }, /invalid setting: plugin_role="leader"/);
    refused(
      { CONTIV_ROLE: 'netmaster', plugin_role: 'worker' },
      /plugin_role=worker contradicts CONTIV_ROLE=netmaster/,
    );
    refused({ cluster_store: 'consul://127.0.0.1:8500' }, /consul is not supported/);
    refused({ CONTIV_NETPLUGIN_VTEP_IP: '1.2.3' }, /CONTIV_NETPLUGIN_VTEP_IP="1.2.3" is not an IPv4 address/);
    refused({ CONTIV_NETPLUGIN_MODE: 'swarm' }, /CONTIV_NETPLUGIN_MODE="swarm" is not one of/);
    refused({ CONTIV_NETMASTER_INFRA: 'aci' }, /only "default" is supported/);
    refused({ CONTIV_NETPLUGIN_ETCD_ENDPOINTS: '' }, /role netplugin needs CONTIV_NETPLUGIN_ETCD_ENDPOINTS/);
  });
});
