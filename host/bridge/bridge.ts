// One bridge: its connection, its out path and its in path, and the state a user can read
// (in the log lines now; `info()` is what the admin API and metrics will serve).
import type { Bus } from '../bus/bus.ts';
import type { Logger } from '../logger.ts';
import type { ResolvedBridge } from './config.ts';
import { Connection, type ConnectionState, type LastError } from './connection.ts';
import { InPath, type InStats } from './in.ts';
import { echoPaths } from './loops.ts';
import { OutPath, type OutStats } from './out.ts';
import { localFilter, remoteFilter } from './topics.ts';

export interface BridgeInfo {
  name: string;
  url: string;
  clientId: string;
  state: ConnectionState;
  /** The protocol of the current (or next) connection: 5, or 4 after falling back to MQTT 3.1.1. */
  protocolVersion: 4 | 5;
  /** ISO time the current connection was accepted. */
  connectedSince?: string;
  /** Failed attempts since the last successful one. */
  failedAttempts: number;
  /** Since the host started: connections the broker accepted (all but the first are reconnections), and failed attempts. */
  connects: number;
  failedAttemptsTotal: number;
  lastError?: LastError;
  out: OutStats;
  in: InStats;
}

export interface BridgeDeps {
  bus: Bus;
  logger: Logger;
  /** Commits the durable queues (HostServices.commit). */
  commit: () => void;
  /** The client ids of every bridge of this host: messages that carry one as their origin are echoes. */
  ownClientIds: ReadonlySet<string>;
}

export class Bridge {
  readonly spec: ResolvedBridge;
  readonly #out: OutPath;
  readonly #in: InPath;
  readonly #connection: Connection;
  readonly #logger: Logger;

  /** Creates the out queue at once (recovering what an earlier run left), so messages queue for it before it connects. */
  constructor(spec: ResolvedBridge, deps: BridgeDeps) {
    this.spec = spec;
    this.#logger = deps.logger;
    this.#out = new OutPath(deps.bus, spec, deps.logger);
    this.#in = new InPath(deps.bus, spec, deps);
    const echo = echoPaths(spec.out, spec.in)[0];
    this.#connection = new Connection(
      spec,
      deps.logger,
      {
        up: (client, session) => {
          this.#in.subscribe(client, session.protocolVersion);
          this.#out.attach(client, session.protocolVersion);
        },
        down: () => this.#out.detach(),
        message: (client, packet, done) => this.#in.handle(client, packet, done),
        status: () => this.#status(),
      },
      { echoRisk: echo && `in[${echo.in}] (${spec.in[echo.in].remotePrefix}${spec.in[echo.in].filter}) matches what out[${echo.out}] sends` },
    );
  }

  start(): void {
    this.#logger.info(
      {
        bridge: this.spec.name,
        url: this.spec.url,
        clientId: this.spec.clientId,
        out: this.spec.out.map((r) => `${localFilter(r)} -> ${remoteFilter(r)} (QoS ${r.qos})`),
        in: this.spec.in.map((r) => `${remoteFilter(r)} -> ${localFilter(r)} (QoS ${r.qos})`),
        ...this.#status(),
      },
      `bridge ${this.spec.name} connecting to ${this.spec.url}`,
    );
    if (this.spec.tls?.rejectUnauthorized === false) {
      this.#logger.warn(
        { bridge: this.spec.name },
        `bridge ${this.spec.name}: tls.rejectUnauthorized is false, so anyone can pose as the broker; set tls.ca instead`,
      );
    }
    this.#connection.start();
  }

  /**
   * Sends what is queued while connected, for up to `timeoutMs`, then disconnects. What was
   * not acknowledged stays in the durable queue for the next start. Messages from the broker
   * are still taken in meanwhile (see InPath.close).
   */
  async stop(timeoutMs: number): Promise<void> {
    if (this.#connection.state === 'connected') {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([this.#out.idle(), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    }
    await this.#connection.stop();
    this.#in.close();
    const status = this.#status();
    this.#out.close();
    this.#logger.info(
      { bridge: this.spec.name, ...status },
      `bridge ${this.spec.name} stopped${status.queued || status.inFlight ? `; ${Number(status.queued) + Number(status.inFlight)} messages stay queued for the next start` : ''}`,
    );
  }

  info(): BridgeInfo {
    const c = this.#connection;
    return {
      name: this.spec.name,
      url: this.spec.url,
      clientId: this.spec.clientId,
      state: c.state,
      protocolVersion: c.protocolVersion,
      connectedSince: c.connectedSince === undefined ? undefined : new Date(c.connectedSince).toISOString(),
      failedAttempts: c.failedAttempts,
      connects: c.connects,
      failedAttemptsTotal: c.failedAttemptsTotal,
      lastError: c.lastError,
      out: this.#out.stats(),
      in: this.#in.stats(),
    };
  }

  #status(): Record<string, unknown> {
    const out = this.#out.stats();
    const inStats = this.#in.stats();
    return { queued: out.queued, inFlight: out.inFlight, sent: out.sent, received: inStats.received, echoesDropped: inStats.echoesDropped };
  }
}
