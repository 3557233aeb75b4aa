/// <reference path="../../../build/guest-types/interfaces/edgehost-platform-socket-handler.d.ts" />
// The server's core state: connections, sessions, the subscription index, retained
// messages and the bridge to the bus. The platform is injected (see index.ts for the
// WIT wiring), so all of this runs in plain Node under test.
// (The reference above gives programs that include this file, the host's tests too, the
// generated declaration of the socket events: `npm run build` writes it.)

import type { Event as SocketEvent } from 'edgehost:platform/socket-handler@0.1.0';
import { topicNameProblem } from '../../../packages/mqtt-topic/topic.ts';
import { describeError as describe } from '../../shared/errors.ts';
import { Acl } from './acl.ts';
import type { QoS } from './codec/packets.ts';
import { Connection, Outbox, type Transport } from './connection.ts';
import { ProtocolError } from './errors.ts';
import { dispatch } from './handlers/dispatch.ts';
import { type Message, makeMessage } from './message.ts';
import type { ServerOptions } from './options.ts';
import { RetainedStore } from './retained.ts';
import { Session, type SessionLimits } from './session.ts';
import { SubscriptionIndex } from './subscriptions.ts';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/** What the core needs from the host. Functions may throw (host errors); the core catches. */
export interface Platform {
  send(id: number, bytes: Uint8Array): void;
  close(id: number): void;
  publishToBus(topic: string, payload: Uint8Array): void;
  busSubscribe(filter: string): void;
  busUnsubscribe(filter: string): void;
  /** Milliseconds since the epoch. */
  now(): number;
  log(level: LogLevel, message: string): void;
}

export interface BusMessage {
  topic: string;
  payload: Uint8Array;
}

const MAX_WARNINGS_REMEMBERED = 1000;

export class Server {
  readonly options: ServerOptions;
  readonly platform: Platform;
  readonly acl: Acl;
  readonly retained: RetainedStore;
  readonly subscriptions = new SubscriptionIndex<Session>();
  readonly sessions = new Map<string, Session>();
  /** Every open connection, by socket id, until the host reports it closed. */
  readonly connections = new Map<number, Connection>();
  /** Connected clients by client id. */
  readonly clients = new Map<string, Connection>();
  readonly sessionLimits: SessionLimits;
  private readonly outbox = new Outbox();
  /** Bus subscriptions: filter → number of sessions subscribed to it. */
  private readonly busFilters = new Map<string, number>();
  private readonly warned = new Set<string>();
  private nextAssignedId = 1;
  /** Time of the export call being handled, read once per call. */
  now = 0;

  constructor(platform: Platform, options: ServerOptions) {
    this.platform = platform;
    this.options = options;
    this.acl = new Acl(options.acl);
    this.retained = new RetainedStore(options.maxRetained);
    this.sessionLimits = {
      maxInflight: options.maxInflight,
      maxQueued: options.maxQueued,
      onDrop: (s) => this.warnOnce(`drop:${s.clientId}`, `queue of client "${s.clientId}" is full (${options.maxQueued}): dropping its oldest messages`),
    };
  }

  // ---- Entry points: one per export; each ends by handing queued bytes to the host. ----

  handleSocketEvents(events: readonly SocketEvent[]): void {
    this.now = this.platform.now();
    for (const event of events) {
      try {
        if (event.tag === 'opened') this.opened(event.val.id, event.val.remoteAddress, event.val.transport);
        else if (event.tag === 'data') this.data(event.val[0], event.val[1]);
        else this.closed(event.val);
      } catch (e) {
        // A bug, not a protocol error (those are caught per connection): keep the other connections going.
        this.platform.log('error', `socket event ${event.tag} failed: ${describe(e)}`);
      }
    }
    this.flush();
  }

  /** Messages from other modules: delivered as QoS 1, not retained (the bus has no retain). */
  handleBusMessages(messages: readonly BusMessage[]): void {
    this.now = this.platform.now();
    for (const m of messages) {
      try {
        if (topicNameProblem(m.topic)) continue;
        this.route(makeMessage(m.topic, m.payload), 1);
      } catch (e) {
        this.platform.log('error', `bus message on "${m.topic}" failed: ${describe(e)}`);
      }
    }
    this.flush();
  }

  /** Periodic check of connect timeouts and keep alives. */
  tick(): void {
    const now = (this.now = this.platform.now());
    for (const conn of this.connections.values()) {
      try {
        if (conn.state === 'connecting' && now - conn.openedAt > this.options.connectTimeoutMs) {
          this.closeConnection(conn, 'no CONNECT in time', false);
        } else if (conn.state === 'connected' && conn.keepaliveLimitMs > 0 && now - conn.lastReceivedAt > conn.keepaliveLimitMs) {
          this.closeConnection(conn, 'keep alive timeout', true); // [MQTT-3.1.2-24]
        }
      } catch (e) {
        this.platform.log('error', `timer check of ${conn.label} failed: ${describe(e)}`);
      }
    }
    this.flush();
  }

  // ---- Socket events ----

  private opened(id: number, remoteAddress: string, transport: Transport): void {
    const stale = this.connections.get(id);
    if (stale) this.lost(stale);
    this.connections.set(id, new Connection(id, remoteAddress, transport, this.options.maxPacketSize, this.now, this.outbox));
  }

  private data(id: number, bytes: Uint8Array): void {
    const conn = this.connections.get(id);
    if (!conn || conn.state === 'closed') return; // after DISCONNECT or an error nothing more is read
    conn.lastReceivedAt = this.now;
    try {
      conn.parser.feed(bytes, (packet) => {
        dispatch(this, conn, packet);
        return conn.state !== 'closed';
      });
    } catch (e) {
      if (e instanceof ProtocolError) {
        this.closeConnection(conn, e.message, true); // [MQTT-4.8.0-1]
      } else {
        this.platform.log('error', `${conn.label}: ${describe(e)}`);
        this.closeConnection(conn, 'internal error', true);
      }
    }
  }

  private closed(id: number): void {
    const conn = this.connections.get(id);
    if (!conn) return;
    this.connections.delete(id);
    // Closed by the peer or the network without DISCONNECT: publish its will [MQTT-3.1.2-8].
    this.lost(conn);
  }

  private lost(conn: Connection): void {
    if (conn.state === 'closed') return;
    if (conn.state === 'connected') this.platform.log('debug', `${conn.label} lost its connection`);
    const wasConnected = conn.state === 'connected';
    conn.state = 'closed';
    if (wasConnected) this.detach(conn, true);
  }

  // ---- Connections and sessions ----

  /**
   * Closes `conn` after what was written to it. Its will is published when asked
   * (abnormal ends) and it had one; its session ends if it was a clean one.
   */
  closeConnection(conn: Connection, reason: string, publishWill: boolean): void {
    if (conn.state === 'closed') return;
    this.platform.log('debug', `closing ${conn.label}: ${reason}`);
    const wasConnected = conn.state === 'connected';
    this.outbox.close(conn.id);
    conn.state = 'closed';
    if (wasConnected) this.detach(conn, publishWill);
  }

  private detach(conn: Connection, publishWill: boolean): void {
    if (this.clients.get(conn.clientId) === conn) this.clients.delete(conn.clientId);
    const session = conn.session;
    conn.session = undefined;
    if (session && session.link === conn) {
      session.link = undefined;
      if (session.clean) this.discardSession(session); // [MQTT-3.1.2-6]
    }
    const will = conn.will;
    conn.will = undefined;
    if (publishWill && will) {
      // A will is a publish by the client, so the same ACL applies.
      if (this.acl.canPublish(will.topic)) this.publish(makeMessage(will.topic, will.payload), will.qos, will.retain);
      else this.platform.log('debug', `${conn.label}: will to "${will.topic}" denied by the ACL`);
    }
  }

  /** Ends a session: its subscriptions go, and with them bus filters no one else needs. */
  discardSession(session: Session): void {
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
    for (const filter of session.subscriptions.keys()) {
      this.subscriptions.remove(filter, session);
      this.releaseBusFilter(filter);
    }
    session.subscriptions.clear();
  }

  createSession(clientId: string, clean: boolean): Session {
    const session = new Session(clientId, clean, this.sessionLimits);
    this.sessions.set(clientId, session);
    return session;
  }

  /** A client id no session has, for a client that sent an empty one [MQTT-3.1.3-6]. */
  assignClientId(): string {
    let id: string;
    do id = `edgehost-${this.now.toString(36)}-${(this.nextAssignedId++).toString(36)}`;
    while (this.sessions.has(id) || this.clients.has(id));
    return id;
  }

  // ---- Subscriptions ----

  /** Adds or replaces [MQTT-3.8.4-3] a subscription of `session`. */
  subscribe(session: Session, filter: string, qos: QoS): void {
    if (!session.subscriptions.has(filter)) this.holdBusFilter(filter);
    session.subscriptions.set(filter, qos);
    this.subscriptions.add(filter, session, qos);
  }

  unsubscribe(session: Session, filter: string): void {
    if (!session.subscriptions.delete(filter)) return;
    this.subscriptions.remove(filter, session);
    this.releaseBusFilter(filter);
  }

  private holdBusFilter(filter: string): void {
    const n = this.busFilters.get(filter) ?? 0;
    this.busFilters.set(filter, n + 1);
    if (n > 0) return;
    try {
      this.platform.busSubscribe(filter);
    } catch (e) {
      // Clients still get each other's messages on it; only other modules' are missing.
      this.warnOnce(`sub:${filter}`, `bus subscribe to "${filter}" failed: ${describe(e)}`);
    }
  }

  private releaseBusFilter(filter: string): void {
    const n = this.busFilters.get(filter);
    if (n === undefined) return;
    if (n > 1) {
      this.busFilters.set(filter, n - 1);
      return;
    }
    this.busFilters.delete(filter);
    try {
      this.platform.busUnsubscribe(filter);
    } catch (e) {
      this.warnOnce(`unsub:${filter}`, `bus unsubscribe from "${filter}" failed: ${describe(e)}`);
    }
  }

  // ---- Messages ----

  /**
   * An application message from a client (or its will): kept if retained, sent to
   * matching clients, and published onto the bus for other modules. The ACL was checked
   * by the caller. (Bus messages take `route` only: the bus does not get back its own.)
   */
  publish(message: Message, qos: QoS, retain: boolean): void {
    if (retain) {
      if (this.retained.set(message, qos) === 'full') {
        this.warnOnce('retained-full', `retained message store is full (${this.options.maxRetained} topics): new retained topics are not kept`);
      }
    }
    this.route(message, qos);
    try {
      this.platform.publishToBus(message.topic, message.payload);
    } catch (e) {
      this.warnOnce(`pub:${message.topic}`, `bus publish to "${message.topic}" failed: ${describe(e)}`);
    }
  }

  /** Sends `message` to every session subscribed to its topic, once each, at the lower of the two QoS (3.8.4). */
  route(message: Message, qos: QoS): void {
    for (const [session, granted] of this.subscriptions.match(message.topic)) {
      // Forwarded messages never carry RETAIN [MQTT-3.3.1-9].
      session.deliver(message, granted < qos ? granted : qos, false);
    }
  }

  /** Sends the retained messages matching a new subscription, with RETAIN set [MQTT-3.3.1-6] [MQTT-3.3.1-8]. */
  sendRetained(session: Session, filter: string, granted: QoS): void {
    for (const r of this.retained.matching(filter)) {
      session.deliver(r.message, r.qos < granted ? r.qos : granted, true);
    }
  }

  // ---- Housekeeping ----

  flush(): void {
    this.outbox.flush(
      (id, bytes) => {
        try {
          this.platform.send(id, bytes);
        } catch (e) {
          // The connection is gone or over its buffer limit (the host closes it); `closed` follows.
          this.platform.log('debug', `send to connection ${id} failed: ${describe(e)}`);
        }
      },
      (id) => {
        try {
          this.platform.close(id);
        } catch (e) {
          this.platform.log('debug', `close of connection ${id} failed: ${describe(e)}`);
        }
      },
    );
  }

  /** Logs a warning once per key, so that a misbehaving client or grant does not flood the log. */
  warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    if (this.warned.size >= MAX_WARNINGS_REMEMBERED) this.warned.clear();
    this.warned.add(key);
    this.platform.log('warn', message);
  }
}
