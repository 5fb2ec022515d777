// Owns the port-adding benchmark: 1,000 ports in one transaction and 1,000 ports one transaction
// each, ours (VSwitch over our OVSDB client) vs ovs-vsctl, in one private OVS. It never touches a system OVS.

import { OvsdbClient } from '../datapath/ovsdb/client.js';
import { VSwitch } from '../datapath/vswitch.js';
import { type OvsInstance, startOvs } from '../test/harness/ovs.js';
import { LAB_COMMANDS, missingFor } from '../test/harness/require.js';
import { run } from '../test/harness/run.js';
import { log, secondsResult, timed } from './openflow-install.js';
import type { Benchmark, BenchResult } from './run.js';

const PORTS = 1_000;
const ROUNDS = 3;
/** 1,000 ovs-vsctl calls take minutes (each waits for ovs-vswitchd); one round of those. */
const EACH_ROUNDS = 1;
const LONG_MS = 600_000;

/** Internal ports: on the dummy datapath they need no kernel device, for us and ovs-vsctl alike. */
const portName = (side: string, i: number) => `${side}${i}`;

function vsctl(ovs: OvsInstance, args: string[]): Promise<string> {
  return run('ovs-vsctl', [`--db=unix:${ovs.dbSock}`, ...args], { env: ovs.env, timeoutMs: LONG_MS });
}

async function countPorts(ovs: OvsInstance, bridge: string): Promise<number> {
  return (await vsctl(ovs, ['list-ports', bridge])).split('\n').filter(Boolean).length;
}

async function expectPorts(ovs: OvsInstance, bridge: string, n: number): Promise<void> {
  const got = await countPorts(ovs, bridge);
  if (got !== n) throw new Error(`${bridge}: ${got} ports, expected ${n}: the benchmark did not do its work`);
}

async function portsBench(): Promise<BenchResult[]> {
  const missing = missingFor(...LAB_COMMANDS);
  if (missing.length > 0) throw new Error(`benchmark needs ${missing.join(', ')}`);
  const ovs = await startOvs();
  const client = await OvsdbClient.connect(`unix:${ovs.dbSock}`, { requestTimeoutMs: LONG_MS });
  try {
    const ours = new VSwitch(client, { name: 'benchours', datapathType: 'dummy', owner: 'bench' });
    await ours.ensureBridge();
    await vsctl(ovs, ['add-br', 'benchpeer', '--', 'set', 'bridge', 'benchpeer', 'datapath_type=dummy']);
    const specs = (side: string) =>
      Array.from({ length: PORTS }, (_, i) => ({ name: portName(side, i), kind: 'internal' as const }));

    const oneOurs: number[] = [];
    const onePeer: number[] = [];
    const eachOurs: number[] = [];
    const eachPeer: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      // One transaction / one ovs-vsctl call with 1,000 add-port clauses.
      oneOurs.push(await timed(() => ours.addPorts(specs('a'))));
      await expectPorts(ovs, 'benchours', PORTS);
      const clauses = specs('b').flatMap((s) => [
        '--',
        'add-port',
        'benchpeer',
        s.name,
        '--',
        'set',
        'interface',
        s.name,
        'type=internal',
      ]);
      onePeer.push(await timed(() => vsctl(ovs, clauses)));
      await expectPorts(ovs, 'benchpeer', PORTS);
      await ours.removePorts(specs('a').map((s) => s.name));
      await vsctl(
        ovs,
        specs('b').flatMap((s) => ['--', 'del-port', 'benchpeer', s.name]),
      );

      log(
        `round ${r + 1}: one transaction ours ${oneOurs[r]!.toFixed(3)} s, ovs-vsctl ${onePeer[r]!.toFixed(3)} s`,
      );
      if (r >= EACH_ROUNDS) continue;
      // 1,000 transactions / 1,000 ovs-vsctl calls, one port each.
      eachOurs.push(
        await timed(async () => {
          for (const s of specs('c')) await ours.addPort(s);
        }),
      );
      await expectPorts(ovs, 'benchours', PORTS);
      eachPeer.push(
        await timed(async () => {
          for (const s of specs('d')) {
            await vsctl(ovs, [
              'add-port',
              'benchpeer',
              s.name,
              '--',
              'set',
              'interface',
              s.name,
              'type=internal',
            ]);
          }
        }),
      );
      await expectPorts(ovs, 'benchpeer', PORTS);
      await ours.removePorts(specs('c').map((s) => s.name));
      await vsctl(
        ovs,
        specs('d').flatMap((s) => ['--', 'del-port', 'benchpeer', s.name]),
      );
      log(
        `round ${r + 1}: one each ours ${eachOurs[r]!.toFixed(3)} s, ovs-vsctl ${eachPeer[r]!.toFixed(3)} s`,
      );
    }
    return [
      secondsResult(
        'ovsdb-ports/one-transaction',
        oneOurs,
        `ovs-vsctl (one call, ${PORTS} add-port)`,
        onePeer,
      ),
      secondsResult('ovsdb-ports/one-each', eachOurs, `ovs-vsctl (${PORTS} calls)`, eachPeer),
    ];
  } finally {
    await client.close();
    await ovs.stop();
  }
}

export const benchmark: Benchmark = {
  describe: `${PORTS} internal ports in one transaction, and one transaction each, VSwitch vs ovs-vsctl (median of ${ROUNDS}, one-each ${EACH_ROUNDS} round; target ratio ≤ 1)`,
  run: portsBench,
};
