// Proves contiv-ts a drop-in for Contiv's users: Contiv's own netctl (built from Contiv's source) runs
// the same long list of commands against Contiv's netmaster and against ours, and sees the same;
// then our netctl and Contiv's netctl see the same against ours. Lists compare as sets of rows (Contiv
// lists in Go map order), JSON after dropping what Go's omitempty drops, errors by failing alike.
// Where contiv-ts differs on purpose, the step says why (docs/architecture.md, "Deliberate differences").
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { onCleanup, runCleanups } from '../harness/cleanup.js';
import {
  CONTIV_NETCTL,
  type ContivNetmaster,
  contivToolsPresent,
  netctl,
  type Seen,
  seen,
  startContivNetmaster,
} from '../harness/contiv.js';
import { tempDirPrefix } from '../harness/names.js';
import { startNetmaster } from '../harness/netmaster.js';
import { requireCommands } from '../harness/require.js';

const OUR_NETCTL = [process.execPath, fileURLToPath(new URL('../../cli/netctl/main.js', import.meta.url))];

interface Step {
  /** The command line after `netctl --netmaster URL`. */
  cmd: string;
  /** Why contiv-ts answers this one differently from Contiv's netmaster, on purpose. */
  differs?: string;
}

const IDEMPOTENT = 'a create repeated with the same fields succeeds (a retried request must not fail)';
const STRICT_REFS =
  "a rule's group or network cannot be deleted under it (the rule would silently match nothing)";
const SHARED_VIP =
  "a service's preferred address held by another service is refused (Contiv gave both services the one VIP)";
const UNDERSCORE = "names may hold '_' (Contiv's own README creates prod_web; its model's regex refuses it)";

/** Every command and flag form of shared/reference/contiv.md and the seeds, with their error cases. */
const STEPS: Step[] = [
  { cmd: 'version', differs: 'our netmaster reports its version; the reference build has none' },
  { cmd: 'tenant ls' },
  { cmd: 'tenant create blue' },
  { cmd: 'tenant create blue', differs: IDEMPOTENT },
  { cmd: 'tenant create red' },
  { cmd: 'tenant ls' },
  { cmd: 'tenant ls -q' },
  { cmd: 'tenant ls -j' },
  { cmd: 'tenant inspect blue' },
  { cmd: 'tenant inspect nosuch' },
  // Networks: every flag, the seeds' forms, and the error cases.
  { cmd: 'net create contiv-net --subnet=20.1.1.0/24 --gateway=20.1.1.254 --pkt-tag=1001' },
  {
    cmd: 'net create contiv-net --subnet=20.1.1.0/24 --gateway=20.1.1.254 --pkt-tag=1001',
    differs: IDEMPOTENT,
  },
  { cmd: 'net create --subnet=10.1.2.0/24 seednet' },
  { cmd: 'net create -p 112 -e vlan -s 10.1.3.0/24 contiv-vlan' },
  { cmd: 'net create -t blue --subnet=10.1.2.0/24 contiv-net' },
  { cmd: 'network create contiv-net-1 -s 200.1.1.1/24 -g 200.1.1.200' },
  { cmd: 'net create -e vlan -p 300 -s 30.1.1.0/24 -g 30.1.1.254 vlan300' },
  { cmd: 'net create --encap=vxlan --pkt-tag=5000 --subnet=40.1.1.0/24 vx5000' },
  { cmd: 'net create -n infra -s 60.1.1.0/24 -g 60.1.1.1 infranet' },
  { cmd: 'net create -s 50.1.1.10-50.1.1.20/24 -g 50.1.1.1 ranged' },
  { cmd: 'net create -s 70.1.1.0/24 -s6 2001:db8::/64 -g6 2001:db8::1 dual' },
  { cmd: 'net create -s 71.1.1.0/24 -tag net71 tagged' },
  { cmd: 'net create -t nosuch -s 80.1.1.0/24 orphan' },
  { cmd: 'net create -s 300.1.1.0/24 badsubnet' },
  { cmd: 'net create -s 81.1.1.0/24 -g 82.1.1.1 badgateway' },
  { cmd: 'net create -p 1001 -s 83.1.1.0/24 tagtaken' },
  { cmd: 'net create -e vlan -p 5000 -s 84.1.1.0/24 vlanrange' },
  { cmd: 'net create -e gre -s 85.1.1.0/24 badencap' },
  { cmd: 'net create -s 86.1.1.0/24' },
  { cmd: 'net ls' },
  { cmd: 'net ls -t blue' },
  { cmd: 'net ls -a' },
  { cmd: 'net ls -q' },
  { cmd: 'net ls -j' },
  { cmd: 'net inspect contiv-net' },
  { cmd: 'net inspect contiv-vlan' },
  { cmd: 'net inspect ranged' },
  { cmd: 'net inspect -t blue contiv-net' },
  { cmd: 'net inspect nosuch' },
  // Policies and rules.
  { cmd: 'policy create prodweb' },
  { cmd: 'policy create prodweb' },
  { cmd: 'policy create p1' },
  { cmd: 'policy create -t blue bluepol' },
  { cmd: 'policy create -t nosuch nopol' },
  { cmd: 'policy create prod_web', differs: UNDERSCORE },
  { cmd: 'policy rm prod_web', differs: UNDERSCORE },
  { cmd: 'policy ls' },
  { cmd: 'policy ls -a' },
  { cmd: 'policy rule-add prodweb 1 -direction=in -protocol=tcp -action=deny' },
  { cmd: 'policy rule-add prodweb 2 -direction=in -protocol=tcp -port=80 -action=allow -priority=10' },
  { cmd: 'policy rule-add prodweb 3 -direction=in -protocol=tcp -port=443 -action=allow -priority=10' },
  { cmd: 'policy rule-add prodweb 4 -d out -l udp -P 53 -j allow -o contiv-net' },
  { cmd: 'policy rule-add prodweb 5 -d in -l icmp -j deny -i 10.0.0.0/8' },
  {
    cmd: 'policy rule-add prodweb 6 --direction out --protocol tcp --to-ip-address 30.1.1.0/24 --action deny',
  },
  { cmd: 'policy rule-add prodweb 7 -d in -n contiv-vlan -l tcp -P 22 -j allow -p 50' },
  { cmd: 'policy rule-add prodweb 8 -d in -l 47 -j deny' },
  { cmd: 'policy rule-add nosuch 1 -direction=in -protocol=tcp -action=deny' },
  { cmd: 'policy rule-add prodweb 9 -d sideways -l tcp -j deny' },
  { cmd: 'policy rule-add prodweb 10 -d in -l tcp -j deny -p 101' },
  { cmd: 'policy rule-add prodweb 11 -d in -l tcp -j maybe' },
  { cmd: 'policy rule-add prodweb 12 -d out -l tcp -j deny -g nosuchgroup' },
  { cmd: 'policy rule-add prodweb 13 -d in -l tcp -j deny -g nosuchgroup' },
  { cmd: 'policy rule-add prodweb 14 -d in -l tcp -j deny -n contiv-net -i 10.0.0.0/8' },
  { cmd: 'policy rule-ls prodweb' },
  { cmd: 'policy rule-ls -j prodweb' },
  { cmd: 'policy rule-ls nosuch' },
  { cmd: 'policy inspect prodweb' },
  { cmd: 'policy rule-rm prodweb 99' },
  { cmd: 'policy rule-rm prodweb 8' },
  { cmd: 'policy rule-ls prodweb' },
  // Groups.
  { cmd: 'group create contiv-net web -policy=prodweb' },
  { cmd: 'group create contiv-net web -policy=prodweb' },
  { cmd: 'group create contiv-net db' },
  { cmd: 'group create -p p1 -tag policylabel contiv-net-1 group1' },
  { cmd: 'group create -r 20.1.1.10-20.1.1.20 contiv-net pooled' },
  { cmd: 'group create -r 20.1.1.15-20.1.1.25 contiv-net overlapping' },
  { cmd: 'group create -r 90.1.1.1-90.1.1.5 contiv-net outside' },
  { cmd: 'group create -t blue contiv-net blueweb' },
  { cmd: 'group create contiv-net app -p nosuch' },
  { cmd: 'group create nosuchnet g1' },
  { cmd: 'group create contiv-net seednet' },
  { cmd: 'group ls' },
  { cmd: 'group ls -a' },
  { cmd: 'group ls -q' },
  { cmd: 'group inspect web' },
  { cmd: 'group inspect pooled' },
  { cmd: 'group inspect nosuch' },
  { cmd: 'policy rule-add prodweb 15 -direction=in -protocol=tcp -port=443 -action=allow -from-group=db' },
  { cmd: 'policy rule-add prodweb 16 -d out -l tcp -P 5432 -j allow -e db' },
  { cmd: 'policy rule-ls prodweb' },
  { cmd: 'group inspect db' },
  { cmd: 'policy inspect prodweb' },
  // Services: their virtual address allocated in the network, preferred or the first free one.
  { cmd: 'service create svc1 -s contiv-net -l app=web -p 80:8080:TCP' },
  {
    cmd: 'service create svc2 --network contiv-net --selector=app=db --port=5432:5432:TCP --preferred-ip 20.1.1.100',
  },
  { cmd: 'service create svc3 -s contiv-net -l app=x -p 1:1:TCP --ip 20.1.1.100', differs: SHARED_VIP },
  { cmd: 'service inspect svc3', differs: SHARED_VIP },
  { cmd: 'service rm svc3', differs: SHARED_VIP },
  { cmd: 'service create svc4 -s nosuchnet -l app=x -p 1:1:TCP' },
  { cmd: 'service ls' },
  { cmd: 'service inspect svc1' },
  { cmd: 'service inspect svc2' },
  { cmd: 'service rm svc1' },
  { cmd: 'service rm svc2' },
  { cmd: 'service ls' },
  // Deletes of what is in use.
  { cmd: 'policy rm prodweb' },
  { cmd: 'net rm contiv-net' },
  { cmd: 'group rm db', differs: STRICT_REFS },
  { cmd: 'policy rule-rm prodweb 15' },
  { cmd: 'policy rule-rm prodweb 16' },
  { cmd: 'group rm db', differs: `Contiv removed it one step earlier (${STRICT_REFS})` },
  { cmd: 'tenant rm blue' },
  // Net profiles.
  { cmd: 'netprofile create -b 10mbps -d 6 -s 100 np1' },
  { cmd: 'netprofile create --bandwidth 2gbps np2' },
  { cmd: 'netprofile create -d 64 badnp' },
  { cmd: 'netprofile ls' },
  { cmd: 'netprofile inspect np1' },
  { cmd: 'group create contiv-net npg -n np1' },
  { cmd: 'group create contiv-net npbad -n nosuch' },
  { cmd: 'netprofile inspect np1' },
  { cmd: 'netprofile rm np1' },
  { cmd: 'group rm npg' },
  { cmd: 'netprofile rm np1' },
  { cmd: 'netprofile rm np2' },
  // Global settings.
  { cmd: 'global info' },
  { cmd: 'global inspect' },
  { cmd: 'global set -v 1-400' },
  { cmd: 'global set -v 1-200' },
  { cmd: 'global set -x 1-6000' },
  { cmd: 'global set -x 1-4000' },
  { cmd: 'global set -v 1-4094' },
  { cmd: 'global set -x 1-10000' },
  { cmd: 'global set -a flood' },
  { cmd: 'global set -a proxy' },
  { cmd: 'global set -a bogus' },
  { cmd: 'global set -s 172.20.0.0/16' },
  { cmd: 'global info' },
  // App profiles.
  { cmd: 'app-profile create -g web,pooled ap1' },
  { cmd: 'app-profile create -g nosuch ap2' },
  { cmd: 'app-profile ls' },
  { cmd: 'group inspect web' },
  { cmd: 'group rm web' },
  { cmd: 'app-profile update -g web ap1' },
  { cmd: 'app-profile rm ap1' },
  // BGP.
  { cmd: 'bgp create host1 --router-ip 50.1.1.1/24 --as 65002 --neighbor-as 500 --neighbor 50.1.1.2' },
  { cmd: 'bgp ls' },
  {
    cmd: 'bgp inspect host1',
    differs: 'ours answers from the store with no netplugin; Contiv asks a netplugin on :9090',
  },
  { cmd: 'bgp rm host1' },
  { cmd: 'bgp rm host1' },
  // External contracts.
  { cmd: 'external-contracts create -p -a "cn=foo" ec1' },
  { cmd: 'external-contracts ls' },
  { cmd: 'external-contracts rm ec1' },
  // Endpoints.
  { cmd: 'endpoint inspect nosuchep' },
  // Teardown: the delete of what is no longer in use succeeds, of what is gone fails.
  { cmd: 'group rm web' },
  { cmd: 'group rm pooled' },
  { cmd: 'group rm group1' },
  { cmd: 'group rm seednet' },
  { cmd: 'group rm -t blue blueweb' },
  { cmd: 'policy rm prodweb' },
  { cmd: 'policy rm prodweb' },
  { cmd: 'policy rm p1' },
  { cmd: 'policy rm -t blue bluepol' },
  { cmd: 'net rm contiv-net' },
  { cmd: 'net rm contiv-net' },
  { cmd: 'net rm -t blue contiv-net' },
  { cmd: 'tenant rm blue' },
  { cmd: 'tenant rm blue' },
  { cmd: 'tenant rm red' },
  { cmd: 'net ls -a' },
  { cmd: 'group ls -a' },
  { cmd: 'policy ls -a' },
];

/** Splits a command line the way a shell would for these (quotes only around one word). */
const argv = (cmd: string) => cmd.match(/"[^"]*"|\S+/g)?.map((w) => w.replace(/^"|"$/g, '')) ?? [];

const same = (a: Seen, b: Seen): boolean =>
  a.ok === b.ok && (!a.ok || JSON.stringify(a) === JSON.stringify(b));

let contiv: ContivNetmaster | undefined;
let oursUrl = '';
let ready = false;

before(async () => {
  const dir = await mkdtemp(tempDirPrefix('nm-diff'));
  onCleanup(() => rm(dir, { recursive: true, force: true }), { label: `rm ${dir}` });
  oursUrl = (await startNetmaster(['--data-dir', dir, '--mode', 'test'])).url;
  if (!contivToolsPresent()) {
    if (process.env.CI === 'true')
      throw new Error(`Contiv's netctl and netmaster missing from ${CONTIV_NETCTL}`);
    return;
  }
  contiv = await startContivNetmaster();
  ready = true;
});
after(runCleanups);

describe("Contiv's netctl against Contiv's netmaster and ours", () => {
  it(`sees the same for each of ${STEPS.length} commands, but where contiv-ts differs on purpose`, async (t) => {
    if (!requireCommands(t, 'etcd', 'ip') || !ready || !contiv) return t.skip("Contiv's tools missing");
    const mismatches: string[] = [];
    let matched = 0;
    for (const step of STEPS) {
      const args = argv(step.cmd);
      const theirs = seen(await netctl([CONTIV_NETCTL], contiv.url, args, contiv.ns.name));
      const ours = seen(await netctl([CONTIV_NETCTL], oursUrl, args));
      const alike = same(theirs, ours);
      if (alike) matched++;
      if (alike === (step.differs !== undefined)) {
        mismatches.push(
          `${step.cmd}${step.differs ? ` (expected to differ: ${step.differs})` : ''}\n  Contiv: ${JSON.stringify(theirs)}\n  ours:   ${JSON.stringify(ours)}`,
        );
      }
    }
    t.diagnostic(
      `${STEPS.length} commands compared, ${matched} alike, ${STEPS.length - matched} differ on purpose`,
    );
    assert.deepEqual(mismatches, []);
  });
});

describe("our netctl and Contiv's netctl, each against a netmaster of ours", () => {
  it('see the same for every command, errors with the same message', async (t) => {
    if (!ready) return t.skip("Contiv's tools missing");
    // Two fresh worlds, one per client, so that every write is compared too.
    const urls: string[] = [];
    for (const name of ['a', 'b']) {
      const dir = await mkdtemp(tempDirPrefix(`nm-diff-${name}`));
      onCleanup(() => rm(dir, { recursive: true, force: true }), { label: `rm ${dir}` });
      urls.push((await startNetmaster(['--data-dir', dir, '--mode', 'test'])).url);
    }
    const [forContiv, forOurs] = urls as [string, string];
    const mismatches: string[] = [];
    for (const step of STEPS) {
      const args = argv(step.cmd);
      const theirs = seen(await netctl([CONTIV_NETCTL], forContiv, args));
      const ours = seen(await netctl(OUR_NETCTL, forOurs, args));
      // Each client prints its own version.
      if (args[0] === 'version') continue;
      // Our netctl checks some flags itself, in its own words; netmaster's words must reach both alike.
      const alike =
        theirs.ok || ours.ok
          ? JSON.stringify(theirs) === JSON.stringify(ours)
          : !ours.server || theirs.message === ours.message;
      if (!alike) {
        mismatches.push(
          `${step.cmd}\n  Contiv's netctl: ${JSON.stringify(theirs)}\n  ours:            ${JSON.stringify(ours)}`,
        );
      }
    }
    assert.deepEqual(mismatches, []);
  });
});
