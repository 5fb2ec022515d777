// Owns the compiled intent and the switch's flows following it: store events settle (10 ms), the
// new intent is diffed against the last and each change goes through the compilation as one
// delta, applied as one bundle. Endpoint plugs, learned routes and port changes are changes of
// the host's facts. Everything that compiles runs one at a time, in order, on one queue.

import type { Logger } from 'pino';
import type { FlowTableManager } from '../../controller/flowtable/manager.js';
import { SerialQueue } from '../../lib/serial-queue.js';
import { Compilation } from '../../policy/compiler/compile.js';
import { diffIntent, hostFactsChange, type IntentChange } from '../../policy/compiler/diff.js';
import type { PipelineFeature } from '../../policy/compiler/feature.js';
import { intentFromStore } from '../../policy/compiler/from-store.js';
import type { IntentIndex } from '../../policy/compiler/index-intent.js';
import type { HostFacts, Intent } from '../../policy/compiler/intent.js';
import { BULK_PATHS } from '../bgp/speaker.js';
import { applyDelta } from '../pipeline/index.js';
import type { BgpWiring } from './bgp-wiring.js';
import type { IntentWatch } from './intent-watch.js';
import { sameFacts } from './port-labels.js';
import type { PortSync } from './port-sync.js';

export interface CompileLoopOptions {
  hostName: string;
  features: readonly PipelineFeature[];
  manager: FlowTableManager;
  watch: IntentWatch;
  bgp: BgpWiring;
  ports: PortSync;
  /** Batch store events arriving within this many ms into one compile. */
  settleMs: number;
  logger: Logger;
  /** A reconcile finished: the switch (if connected) holds the compiled state. */
  onConverged: (c: { flows: number; owners: number; ms: number }) => void;
  fail: (err: Error) => void;
}

export class CompileLoop {
  private intent: Intent | undefined;
  private compilation: Compilation | undefined;
  private facts: HostFacts;
  private timer: NodeJS.Timeout | undefined;
  private readonly runs = new SerialQueue();
  private stopped = false;
  /** The newest store revision the switch reflects. */
  private compiledRevision = 0;

  constructor(private readonly opts: CompileLoopOptions) {
    this.facts = { name: opts.hostName, endpointPorts: new Map(), tunnelPorts: new Map() };
  }

  get hostFacts(): HostFacts {
    return this.facts;
  }

  /** The store revision up to which intent has been compiled and applied (0 before any event). */
  get appliedRevision(): number {
    return this.compiledRevision;
  }

  /** The tenant whose VRF id this is, in the intent as compiled. */
  tenantOfVrf(vrf: number): string | undefined {
    for (const t of this.compilation?.ix.tenants.values() ?? []) if (t.id === vrf) return t.name;
    return undefined;
  }

  /**
   * Compiles the intent as listed at revision rev (the ports made first) into the manager's
   * desired state; resolves to that intent and its flow count.
   */
  async start(rev: number): Promise<{ intent: Intent; flows: number }> {
    const intent = intentFromStore(this.opts.watch.entries());
    this.opts.bgp.configure();
    await this.syncPorts(intent);
    this.intent = intent;
    this.compilation = new Compilation(intent, this.facts, this.opts.features);
    const state = this.compilation.state();
    this.opts.manager.setFlows(state.flows);
    this.opts.manager.setGroups(state.groups);
    this.opts.manager.setMeters(state.meters);
    // The listing's revision is compiled; events after it arrive through the watches. Those that
    // came while the ports were made (a host registering) found no intent to diff against and were
    // only noted: compile them now, not at the next unrelated change.
    this.compiledRevision = rev;
    if (this.opts.watch.seenRevision > rev) this.schedule();
    return { intent, flows: state.flows.length };
  }

  /** No more compiles are scheduled; resolves once the one under way (if any) is done. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.runs.idle();
  }

  /** The store changed: compile once the settle delay has passed. */
  schedule(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.serially(() => this.reconcile());
    }, this.opts.settleMs);
  }

  /** A local endpoint's port is plugged: only that endpoint's flows change. */
  plugged(endpointId: string, ofport: number): Promise<void> {
    return this.serially(async () => {
      const ports = new Map(this.facts.endpointPorts);
      ports.set(endpointId, ofport);
      await this.applyChanges([hostFactsChangeFor({ ...this.facts, endpointPorts: ports }, endpointId)]);
    });
  }

  /** A local endpoint's port is going: its flows leave the switch first; idempotent. */
  unplugged(endpointId: string): Promise<void> {
    return this.serially(async () => {
      if (!this.facts.endpointPorts.has(endpointId)) return;
      const ports = new Map(this.facts.endpointPorts);
      ports.delete(endpointId);
      await this.applyChanges([hostFactsChangeFor({ ...this.facts, endpointPorts: ports }, endpointId)]);
    });
  }

  /** gobgpd's learned routes changed: queued, since the facts they go into are the queue's. */
  routesLearned(routes: ReadonlyMap<string, string>): void {
    void this.serially(() => this.learnRoutes(routes));
  }

  /**
   * Waits until the endpoint's record (written by netmaster before the runtime plugs the container
   * in) has come through the store watch and its flows are on the switch, so the container's first
   * packets meet them. Bounded: a record that does not come is logged, not waited for forever.
   */
  async endpointCompiled(endpointId: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.stopped && !this.compilation?.ix.endpoints.has(endpointId)) {
      if (Date.now() > deadline) {
        this.opts.logger.warn(
          { endpoint: endpointId },
          'plugged before its record arrived; its flows follow the record',
        );
        return;
      }
      if (this.timer) {
        // Store events are waiting out the settle delay (the record among them, usually): a Join
        // waiting on them is reason enough to compile them now.
        clearTimeout(this.timer);
        this.timer = undefined;
        await this.serially(() => this.reconcile());
        continue;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await this.runs.idle();
  }

  private serially(fn: () => Promise<void>): Promise<void> {
    return this.runs.run(fn).catch((err: Error) => this.opts.fail(err));
  }

  private async reconcile(): Promise<void> {
    if (!this.intent || !this.compilation) return;
    const t0 = performance.now();
    const upTo = this.opts.watch.seenRevision;
    try {
      await this.reconcileIntent(t0);
    } finally {
      this.compiledRevision = Math.max(this.compiledRevision, upTo);
    }
  }

  private async reconcileIntent(t0: number): Promise<void> {
    if (!this.intent || !this.compilation) return;
    const { bgp } = this.opts;
    const next = intentFromStore(this.opts.watch.entries());
    const changes = diffIntent(this.intent, next);
    const routerChanged = bgp.configure();
    if (changes.length === 0 && !routerChanged) return;
    const factsBefore = this.facts;
    // Hosts make tunnels; the private subnet (global) makes the host port's address; the Bgp
    // object the router port.
    // The session must end (NOTIFICATION sent) before its port goes, or the ToR keeps our routes
    // until its hold timer expires.
    if (routerChanged) await bgp.hook.settled();
    if (routerChanged || changes.some((c) => c.change.kind === 'host' || c.change.kind === 'global'))
      await this.syncPorts(next);
    if (this.facts !== factsBefore) changes.push(hostFactsChange(this.facts));
    this.intent = next;
    // Announced as the records join, before they are compiled and their flows reach the switch:
    // the ports follow the records anyway. A burst (thousands of endpoints at once) is handed to
    // gobgpd before the compile holds the event loop for a while; bounded, so a hung gobgpd
    // cannot hold the datapath up.
    if (bgp.hook.announce(next, this.opts.hostName) >= BULK_PATHS) {
      let timer: NodeJS.Timeout | undefined;
      const cap = new Promise((r) => {
        timer = setTimeout(r, 2000);
      });
      await Promise.race([bgp.hook.settled(), cap]);
      clearTimeout(timer);
    }
    const owners = await this.applyChanges(changes);
    this.opts.onConverged({ flows: this.opts.manager.desiredCount, owners, ms: performance.now() - t0 });
  }

  /** The host ports made to match the intent; facts read back that say something new replace ours. */
  private async syncPorts(intent: Intent): Promise<void> {
    const facts = await this.opts.ports.sync(intent);
    if (!sameFacts(facts, this.facts)) this.facts = facts;
  }

  /** Feeds changes to the compilation and their delta to the switch as one bundle. */
  private async applyChanges(changes: IntentChange[]): Promise<number> {
    const c = this.compilation;
    if (!c) return 0;
    const delta = c.changeAll(
      changes.map((ch) => ({
        change: ch.change,
        mutate: (ix: IntentIndex) => {
          const before = ch.mutate(ix);
          this.facts = ix.host;
          return before;
        },
      })),
    );
    await applyDelta(this.opts.manager, delta);
    return delta.owners;
  }

  /** Learned routes (resolved) into the facts and the flows: one change for the prefixes that moved. */
  private async learnRoutes(routes: ReadonlyMap<string, string>): Promise<void> {
    const prefixes = this.opts.bgp.learn(routes);
    if (!this.facts.bgp) return;
    if (prefixes.length === 0) return;
    await this.applyChanges([
      {
        change: { kind: 'bgpRoutes', prefixes },
        mutate: (ix) => {
          const before = ix.host;
          if (before.bgp) ix.host = { ...before, bgp: { ...before.bgp, routes } };
          return before;
        },
      },
    ]);
  }
}

function hostFactsChangeFor(facts: HostFacts, endpointId: string): IntentChange {
  // Plugging one endpoint changes only that endpoint's flows: tell the features so.
  const c = hostFactsChange(facts);
  return { change: { kind: 'endpoint', id: endpointId }, mutate: c.mutate };
}
