// Proves a host that registers while another host's agent is starting is not missed: its tunnel
// follows within the settle delay, not at the next unrelated write. The registration is made to
// land exactly in the start's port sync (the window where no intent exists yet to diff against).
// Also that the tunnels use the VXLAN port netplugin is given (--vxlan-port).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { HostAgent, tunnelPortName } from '../../datapath/agent/agent.js';
import { OvsdbClient } from '../../datapath/ovsdb/client.js';
import { allFeatures } from '../../datapath/pipeline/all.js';
import { type PortInfo, VSwitch } from '../../datapath/vswitch.js';
import { hostKey } from '../../policy/model/endpoint.js';
import { EmbeddedStore } from '../../state/embedded.js';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import { tempDirPrefix, uniqueName } from '../harness/names.js';
import { startOvs } from '../harness/ovs.js';
import { LAB_COMMANDS, requireCommands } from '../harness/require.js';

after(runCleanups);

const h2 = { name: 'h2', vtepIP: '192.0.2.2', controlIP: '192.0.2.2', uplinks: [] };

/** A private OVS and store, and an agent for h1 on a bridge driven by `makeVSwitch`'s VSwitch. */
async function agentLab(
  makeVSwitch: (
    client: OvsdbClient,
    bridge: string,
    datapath: 'dummy' | 'netdev',
    store: EmbeddedStore,
  ) => VSwitch,
  vxlanPort?: number,
): Promise<{ agent: HostAgent; vswitch: VSwitch; store: EmbeddedStore; start: () => Promise<void> }> {
  const ovs = await startOvs();
  const dir = await mkdtemp(tempDirPrefix('agent-start'));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  const store = await EmbeddedStore.open(dir);
  onCleanup(() => store.close());
  const client = await OvsdbClient.connect(`unix:${ovs.dbSock}`);
  onCleanup(() => client.close());
  const bridge = uniqueName('br');
  const vswitch = makeVSwitch(client, bridge, ovs.datapath, store);
  const agent = new HostAgent({
    store,
    host: { name: 'h1', vtepIP: '192.0.2.1', controlIP: '192.0.2.1', uplinks: [] },
    vswitch,
    switchTarget: ovs.mgmt(bridge),
    features: allFeatures,
    logger: pino({ level: 'silent' }),
    ...(vxlanPort !== undefined ? { vxlanPort } : {}),
  });
  onCleanup(() => agent.stop());
  return { agent, vswitch, store, start: () => agent.start() };
}

describe('agent start', () => {
  it('a host registering during the start gets its tunnel right after it', async (t) => {
    if (!requireCommands(t, ...LAB_COMMANDS)) return;
    let registered = false;
    // The first port listing is the start's port sync: h2 registers then, and its event arrives.
    const lab = await agentLab((client, name, datapathType, store) => {
      class Racing extends VSwitch {
        override async ports(): Promise<PortInfo[]> {
          if (!registered) {
            registered = true;
            await store.put(hostKey(h2.name), JSON.stringify(h2));
            await new Promise((r) => setTimeout(r, 200));
          }
          return super.ports();
        }
      }
      return new Racing(client, { name, datapathType, owner: 'netplugin' });
    });
    await lab.start();
    assert.ok(registered, 'the registration landed in the start');
    const tunnel = tunnelPortName(h2.vtepIP);
    for (const deadline = Date.now() + 2000; !(await lab.vswitch.ports()).some((p) => p.name === tunnel); ) {
      assert.ok(Date.now() < deadline, `no tunnel ${tunnel} to h2 2 s after the start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  it('tunnels use the VXLAN UDP port the agent is given', async (t) => {
    if (!requireCommands(t, ...LAB_COMMANDS)) return;
    const lab = await agentLab(
      (client, name, datapathType) => new VSwitch(client, { name, datapathType, owner: 'netplugin' }),
      8472,
    );
    await lab.store.put(hostKey(h2.name), JSON.stringify(h2));
    await lab.start();
    const tunnel = (await lab.vswitch.ports()).find((p) => p.name === tunnelPortName(h2.vtepIP));
    assert.equal(tunnel?.options.dst_port, '8472');
    assert.equal(tunnel?.options.remote_ip, h2.vtepIP);
  });
});
