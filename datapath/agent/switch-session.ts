// Owns the OpenFlow session to the bridge: on every (re)connect the flow table manager attaches
// (a read + diff, so a restart modifies nothing) and the session's packet-ins are passed on.

import type { Logger } from 'pino';
import type { ApplyStats, FlowTableManager } from '../../controller/flowtable/manager.js';
import type { PacketIn } from '../../controller/openflow/messages.js';
import type { SwitchConnection } from '../../controller/switch/connection.js';
import { SwitchClient } from '../../controller/switch/endpoint.js';

export interface SwitchSessionOptions {
  /** OpenFlow target of the bridge, e.g. "unix:/run/openvswitch/contivbr.mgmt". */
  target: string;
  manager: FlowTableManager;
  logger: Logger;
  onAttached: (s: ApplyStats) => void;
  onPacketIn: (pin: PacketIn, conn: SwitchConnection) => void;
  fail: (err: Error) => void;
}

export class SwitchSession {
  private readonly client: SwitchClient;
  private stopped = false;

  constructor(opts: SwitchSessionOptions) {
    this.client = new SwitchClient(opts.target);
    this.client.on('connected', (conn) => {
      conn.on('packetIn', (pin) => opts.onPacketIn(pin, conn));
      opts.manager.attach(conn).then(
        (s) => {
          opts.logger.info(
            { added: s.flowsAdded, modified: s.flowsModified, deleted: s.flowsDeleted, ms: Math.round(s.ms) },
            'switch attached',
          );
          opts.onAttached(s);
        },
        (err: Error) => {
          // An attach cut short by stop() (its requests rejected as the connection closes) is the
          // stop, not a failure: failing then emitted an 'error' nobody listens to any more.
          if (this.stopped) opts.logger.debug({ err: err.message }, 'switch attach ended by stop');
          else opts.fail(err);
        },
      );
    });
    this.client.on('disconnected', (err) => opts.logger.warn({ err: err?.message }, 'switch disconnected'));
  }

  /** The open session, if any. */
  get connection(): SwitchConnection | undefined {
    return this.client.connection;
  }

  start(): void {
    this.client.start();
  }

  stop(): void {
    this.stopped = true;
    this.client.stop();
  }
}
