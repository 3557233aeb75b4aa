/// <reference path="../../../build/guest-types/interfaces/edgehost-platform-socket-handler.d.ts" />
// The server's core state: connections, sessions, the subscription index, retained
// messages and the bridge to the bus. The platform is injected (see index.ts for the
// WIT wiring), so all of this runs in plain Node under test.
// (The reference above gives programs that include this file, the host's tests too, the
// generated declaration of the socket events: `npm run build` writes it.)

import type { Event as SocketEvent } from 'edgehost:platform/socket-handler@0.1.0';
import {
  isSharedFilter,
  parseSharedFilter,
  type SharedFilter,
  type TopicLimits,
  topicFilterProblem,
  topicNameProblem,
} from '../../../packages/mqtt-topic/topic.ts';
import { describeError as describe, errorPayload } from '../../shared/errors.ts';
import { Acl } from './acl.ts';
import type { QoS, Will } from './codec/packets.ts';
import { describeReason, REASON } from './codec/reason-codes.ts';
import { encodeConnack, encodeDisconnect5, packetSize } from './codec/serializer.ts';
import { Connection, Outbox, type ParserLimits, type Transport } from './connection.ts';
import type { Core, Platform, SubscribeOutcome } from './core.ts';
import { ProtocolError } from './errors.ts';
import type { Figures } from './figures.ts';
import { dispatch } from './handlers/dispatch.ts';
import { type KeyValue, openKvStore, type RestoreTarget } from './kv-store.ts';
import { AddressBook, LimitLog, PartialPacketBudget } from './limits.ts';
import { type Message, makeMessage, messageProperties } from './message.ts';
import type { ServerOptions } from './options.ts';
import type { SessionRecord } from './records.ts';
import { type RetainedCursor, RetainedStore } from './retained.ts';
import { type Inflight, NEVER_EXPIRES, type Pending, Session, type SessionLimits, type SubscriptionOptions } from './session.ts';
import { NO_STORE, type StateStore } from './store.ts';
import { type Entry, SubscriptionIndex } from './subscriptions.ts';

export type { LogLevel, Platform } from './core.ts';

export interface BusMessage {
  topic: string;
  payload: Uint8Array;
}

const MAX_WARNINGS_REMEMBERED = 1000;
/** Retained-message work one subscription gets before the next one's turn. */
const RETAINED_SLICE = 64;

/** Retained messages still to be sent for a new subscription. */
interface RetainedJob {
  readonly session: Session;
  readonly filter: string;
  readonly cursor: RetainedCursor;
  readonly options: SubscriptionOptions;
}

/** A will whose Will Delay Interval is running (5.0) [MQTT-3.1.3-9]. */
interface PendingWill {
  readonly will: Will;
  readonly at: number;
}

export class Server implements Core, RestoreTarget {
  readonly options: ServerOptions;
  readonly platform: Platform;
  readonly acl: Acl;
  readonly topicLimits: TopicLimits;
  readonly retained: RetainedStore;
  readonly subscriptions = new SubscriptionIndex<Session, SubscriptionOptions>();
  readonly sessions = new Map<string, Session>();
  /** Every open connection, by socket id, until the host reports it closed. */
  readonly connections = new Map<number, Connection>();
  /** Connected clients by client id. */
  readonly clients = new Map<string, Connection>();
  readonly addresses = new AddressBook();
  readonly partialBudget: PartialPacketBudget;
  private readonly parserLimits: ParserLimits;
  readonly sessionLimits: SessionLimits;
  /** Where lasting state is kept across restarts (see store.ts): the host's key-value store, or nowhere. */
  readonly store: StateStore;
  private readonly outbox = new Outbox();
  /** Bus subscriptions: filter → number of subscriptions that need it. */
  private readonly busFilters = new Map<string, number>();
  private readonly warned = new Set<string>();
  private readonly limitLog: LimitLog;
  /** Offline sessions that expire, checked on each tick. */
  private readonly expiring = new Set<Session>();
  private readonly pendingWills = new Map<string, PendingWill>();
  private jobs: RetainedJob[] = [];
  private nextAssignedId = 1;
  /** Time of the export call being handled, read once per call. */
  now = 0;
  /** What the server counts about its traffic, reported through edgehost:platform/metrics (figures.ts). */
  readonly figures: Figures = { received: [0, 0, 0], sent: [0, 0, 0], dropped: 0 };

  constructor(platform: Platform, options: ServerOptions, store: StateStore = NO_STORE) {
    this.platform = platform;
    this.options = options;
    this.store = store;
    this.acl = new Acl(options.acl);
    this.topicLimits = { maxLevels: options.maxTopicLevels, maxBytes: options.maxTopicLength };
    this.retained = new RetainedStore(options.maxRetained, options.maxRetainedBytes);
    this.partialBudget = new PartialPacketBudget(options.maxPartialPacketBytes);
    this.parserLimits = { maxPacketSize: options.maxPacketSize, budget: this.partialBudget, maxTopicBytes: options.maxTopicLength };
    this.limitLog = new LimitLog((message) => this.platform.log('warn', message));
    this.sessionLimits = {
      maxInflight: options.maxInflight,
      maxQueued: options.maxQueued,
      now: () => this.now,
      onDrop: (s) => {
        this.figures.dropped++;
        this.warnOnce(`drop:${s.clientId}`, `queue of client "${s.clientId}" is full (${options.maxQueued}): dropping its oldest messages`);
      },
      onTooLarge: (s, m) =>
        this.platform.log('debug', `client "${s.clientId}": message on "${m.topic}" exceeds its maximum packet size; discarded [MQTT-3.1.2-25]`),
      sent: this.figures.sent,
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
    this.finish();
  }

  /** Messages from other modules: delivered as QoS 1, not retained (the bus has no retain). */
  handleBusMessages(messages: readonly BusMessage[]): void {
    this.now = this.platform.now();
    for (const m of messages) {
      try {
        if (topicNameProblem(m.topic)) continue;
        this.route(makeMessage(m.topic, m.payload), 1, false);
      } catch (e) {
        this.platform.log('error', `bus message on "${m.topic}" failed: ${describe(e)}`);
      }
    }
    this.finish();
  }

  /** Periodic checks: connect timeouts, keep alives, delayed wills, session expiry. */
  tick(): void {
    this.now = this.platform.now();
    const now = this.now;
    for (const conn of this.connections.values()) {
      try {
        if (conn.state === 'connecting' && now - conn.openedAt > this.options.connectTimeoutMs) {
          this.closeConnection(conn, 'no CONNECT in time', false);
        } else if (conn.state === 'connected' && conn.keepaliveLimitMs > 0 && now - conn.lastReceivedAt > conn.keepaliveLimitMs) {
          this.closeConnection(conn, 'keep alive timeout', true, REASON.keepAliveTimeout); // [MQTT-3.1.2-24] (5.0: [MQTT-3.1.2-22])
        }
      } catch (e) {
        this.platform.log('error', `timer check of ${conn.label} failed: ${describe(e)}`);
      }
    }
    for (const [clientId, pending] of this.pendingWills) {
      if (pending.at > now) continue;
      this.pendingWills.delete(clientId);
      this.publishWill(clientId, pending.will);
    }
    for (const session of this.expiring) {
      if (session.link || session.expiresAt === undefined) this.expiring.delete(session);
      else if (session.expiresAt <= now) {
        this.platform.log('debug', `session of "${session.clientId}" expired`);
        this.endSession(session);
      }
    }
    this.finish();
  }

  /** Work left over from an earlier call (retained messages for new subscriptions), asked for by `Platform.wake`. */
  work(): void {
    this.now = this.platform.now();
    this.finish();
  }

  // ---- Socket events ----

  private opened(id: number, remoteAddress: string, transport: Transport): void {
    const stale = this.connections.get(id);
    if (stale) this.lost(stale);
    const conn = new Connection(id, remoteAddress, transport, this.parserLimits, this.now, this.outbox);
    if (this.addresses.pending(conn.ip) >= this.options.maxPendingPerAddress) {
      // It has sent nothing yet, so there is nothing to answer: it is closed at once, which
      // also frees the host's connection slot it holds.
      this.limitHit(
        'max-pending-per-address',
        `closed connection ${id} from ${conn.ip}: ${this.options.maxPendingPerAddress} connections from that address have not completed CONNECT`,
      );
      this.outbox.close(id);
      return;
    }
    this.addresses.add(conn.ip, 'pending');
    this.connections.set(id, conn);
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
      if (e instanceof ProtocolError) this.protocolError(conn, e);
      else {
        this.platform.log('error', `${conn.label}: ${describe(e)}`);
        this.closeConnection(conn, 'internal error', true, REASON.implementationSpecificError);
      }
    }
  }

  /** [MQTT-4.8.0-1] a protocol error closes that connection only. A 5.0 client is told why first [MQTT-4.13.1-1]. */
  private protocolError(conn: Connection, e: ProtocolError): void {
    if (e.limit !== undefined) this.limitHit(e.limit, `closing ${conn.label}: ${e.message}`);
    if (conn.state === 'connecting' && conn.version === 5) {
      // The CONNECT itself was refused: CONNACK with the reason, then close (3.2.2.2).
      conn.write(encodeConnack(false, e.reasonCode, this.reasonProperties(conn, e.message)));
    }
    this.closeConnection(conn, `${e.message} (${describeReason(e.reasonCode)})`, true, e.reasonCode);
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
    this.release(conn, true);
  }

  // ---- Connections and sessions ----

  closeConnection(conn: Connection, reason: string, publishWill: boolean, reasonCode?: number): void {
    if (conn.state === 'closed') return;
    this.platform.log('debug', `closing ${conn.label}: ${reason}`);
    if (reasonCode !== undefined && conn.state === 'connected' && conn.version === 5) {
      // DISCONNECT with the reason before closing (4.13.1), within the client's maximum packet size.
      const props = this.reasonProperties(conn, reason);
      const packet = encodeDisconnect5(reasonCode, props);
      conn.write(packet.length <= conn.maxPacketSize ? packet : encodeDisconnect5(reasonCode));
    }
    this.outbox.close(conn.id);
    this.release(conn, publishWill);
  }

  /** Marks `conn` closed and lets go of what it held: its address slot, its partial packet, its session. */
  private release(conn: Connection, publishWill: boolean): void {
    const wasConnected = conn.state === 'connected';
    conn.state = 'closed';
    conn.parser.dispose();
    this.addresses.remove(conn.ip, wasConnected ? 'connected' : 'pending');
    if (wasConnected) this.detach(conn, publishWill);
  }

  /** A short reason string for a CONNACK or DISCONNECT to a 5.0 client. */
  private reasonProperties(conn: Connection, reason: string): { reasonString: string } | undefined {
    const text = reason.length > 200 ? `${reason.slice(0, 197)}...` : reason;
    return conn.maxPacketSize < packetSize(8 + text.length * 3) ? undefined : { reasonString: text };
  }

  attach(conn: Connection, session: Session, will: Will | undefined): void {
    conn.clientId = session.clientId;
    conn.session = session;
    conn.state = 'connected';
    conn.will = will; // [MQTT-3.1.2-8] kept until published or discarded
    session.link = conn;
    session.expiresAt = undefined;
    this.expiring.delete(session);
    this.clients.set(session.clientId, conn);
    this.addresses.remove(conn.ip, 'pending');
    this.addresses.add(conn.ip, 'connected');
  }

  private detach(conn: Connection, publishWill: boolean): void {
    if (this.clients.get(conn.clientId) === conn) this.clients.delete(conn.clientId);
    const session = conn.session;
    conn.session = undefined;
    const will = conn.will;
    conn.will = undefined;
    let offline: Session | undefined;
    if (session && session.link === conn) {
      session.link = undefined;
      offline = session;
    }
    // [MQTT-3.1.2-6] (5.0: Session Expiry Interval 0) the session ends with the connection.
    const sessionEnds = offline !== undefined && offline.expirySeconds === 0;
    if (publishWill && will) {
      const delay = will.properties?.willDelayInterval ?? 0;
      // [MQTT-3.1.3-9] a delayed will waits, unless the session ends first.
      if (delay === 0 || sessionEnds) this.publishWill(conn.clientId, will);
      else this.pendingWills.set(conn.clientId, { will, at: this.now + delay * 1000 });
    }
    if (!offline || this.sessions.get(offline.clientId) !== offline) return;
    if (sessionEnds) {
      this.endSession(offline);
      return;
    }
    offline.expiresAt = offline.expirySeconds === NEVER_EXPIRES ? undefined : this.now + offline.expirySeconds * 1000;
    if (offline.expiresAt !== undefined) this.expiring.add(offline);
    this.store.sessionChanged(offline);
  }

  endSession(session: Session): void {
    const id = session.clientId;
    if (this.sessions.get(id) === session) this.sessions.delete(id);
    this.expiring.delete(session);
    const pending = this.pendingWills.get(id);
    if (pending) {
      this.pendingWills.delete(id);
      this.publishWill(id, pending.will);
    }
    for (const filter of session.subscriptions.keys()) this.unindex(session, filter);
    session.subscriptions.clear();
    this.store.sessionEnded(session);
  }

  sessionResumed(session: Session): void {
    this.pendingWills.delete(session.clientId);
  }

  createSession(clientId: string, expirySeconds: number): Session {
    const session = new Session(clientId, expirySeconds, this.sessionLimits);
    this.sessions.set(clientId, session);
    this.store.sessionChanged(session);
    return session;
  }

  sessionChanged(session: Session): void {
    this.store.sessionChanged(session);
  }

  assignClientId(): string {
    let id: string;
    do id = `edgehost-${this.now.toString(36)}-${(this.nextAssignedId++).toString(36)}`;
    while (this.sessions.has(id) || this.clients.has(id));
    return id;
  }

  private publishWill(clientId: string, will: Will): void {
    // A will is a publish by the client, so the same ACL applies.
    if (!this.acl.canPublish(will.topic)) {
      this.platform.log('debug', `client "${clientId}": will to "${will.topic}" denied by the ACL`);
      return;
    }
    const p = will.properties;
    const properties = messageProperties(p);
    const expiry = p?.messageExpiryInterval;
    const meta: { properties?: typeof properties; expiresAt?: number; from: string } = { from: clientId };
    if (properties) meta.properties = properties;
    if (expiry !== undefined) meta.expiresAt = this.now + expiry * 1000;
    try {
      this.publish(makeMessage(will.topic, will.payload, meta), will.qos, will.retain);
    } catch (e) {
      // Its connection is gone: nobody can send it again.
      this.platform.log('warn', `client "${clientId}": will to "${will.topic}" not published: ${describe(e)}`);
    }
  }

  // ---- Subscriptions ----

  subscribe(session: Session, filter: string, options: SubscriptionOptions): SubscribeOutcome {
    const existed = session.subscriptions.has(filter);
    if (!existed && session.subscriptions.size >= this.options.maxSubscriptionsPerClient) return 'quota';
    session.subscriptions.set(filter, options);
    const share = sharedPart(filter);
    this.subscriptions.add(session, filter, options, share);
    if (!existed) this.holdBusFilter(share ? share.filter : filter);
    this.store.subscriptionChanged(session, filter, options);
    return existed ? 'replaced' : 'new';
  }

  unsubscribe(session: Session, filter: string): boolean {
    if (!session.subscriptions.delete(filter)) return false;
    this.unindex(session, filter);
    this.store.subscriptionChanged(session, filter, undefined);
    return true;
  }

  private unindex(session: Session, filter: string): void {
    const share = sharedPart(filter);
    if (this.subscriptions.remove(session, filter, share)) this.releaseBusFilter(share ? share.filter : filter);
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
   * The bus carries topic and payload only: 5.0 properties and expiry stay in this server.
   */
  publish(message: Message, qos: QoS, retain: boolean): void {
    // The bus first: when a queue it would fill is full, the host answers `full` and the
    // message goes nowhere, so the client is not acknowledged and sends it again later.
    try {
      this.platform.publishToBus(message.topic, message.payload);
    } catch (e) {
      if (errorPayload(e)?.tag === 'full') {
        throw new ProtocolError(
          `the host's queue for "${message.topic}" is full (${describe(e)}): not acknowledged; the client will send it again`,
          REASON.quotaExceeded,
          'bus-full',
        );
      }
      this.warnOnce(`pub:${message.topic}`, `bus publish to "${message.topic}" failed: ${describe(e)}`);
    }
    // Counted once it is taken: a message refused above is sent again by its client.
    this.figures.received[qos]++;
    if (retain) {
      const outcome = this.retained.set(message, qos);
      if (outcome === 'too-many') {
        this.limitHit('max-retained-messages', `retained message on "${message.topic}" not kept: ${this.options.maxRetained} topics are retained`);
      } else if (outcome === 'too-large') {
        this.limitHit(
          'max-retained-bytes',
          `retained message on "${message.topic}" not kept: retained messages would exceed ${this.options.maxRetainedBytes} bytes`,
        );
      } else this.store.retainedChanged(message.topic, outcome === 'stored' ? this.retained.get(message.topic) : undefined);
    }
    this.route(message, qos, retain);
  }

  /**
   * Sends `message` to every session subscribed to its topic: once per session, at the
   * highest QoS of its matching subscriptions, each capped by the message's (3.3.4),
   * with the identifiers of all of them [MQTT-3.3.4-3]; and to one member of each
   * matching shared subscription group (4.8.2).
   */
  route(message: Message, qos: QoS, retain: boolean): void {
    // The matching subscriptions are combined per session in `Target`s kept between calls
    // and reset by a per-route mark: routing a message allocates nothing per subscriber.
    const r = this.routing;
    r.mark++;
    r.from = message.from;
    r.qos = qos;
    r.retain = retain;
    this.subscriptions.match(message.topic, this.visitSubscription);
    const sessions = r.sessions;
    for (let i = 0; i < sessions.length; i++) {
      const t = sessions[i].target;
      sessions[i].deliver(message, t.qos, t.retain, t.ids);
      t.ids = undefined;
    }
    sessions.length = 0;
    if (this.subscriptions.groupCount === 0) return;
    this.subscriptions.matchShared(message.topic, (group) => {
      const { subscriber, options: o } = group.pick(isOnline);
      subscriber.deliver(message, o.qos < qos ? o.qos : qos, retain && o.retainAsPublished, o.id === undefined ? undefined : [o.id]);
    });
  }

  /** What `route` is delivering, for `visitSubscription`. */
  private readonly routing = { mark: 0, from: undefined as string | undefined, qos: 0 as QoS, retain: false, sessions: [] as Session[] };

  private readonly visitSubscription = (e: Entry<Session, SubscriptionOptions>): void => {
    const r = this.routing;
    const o = e.options;
    const session = e.subscriber;
    if (o.noLocal && r.from !== undefined && session.clientId === r.from) return; // [MQTT-3.8.3-3]
    const q = Math.min(o.qos, r.qos) as QoS;
    // RETAIN is forwarded only with retain-as-published (5.0: [MQTT-3.3.1-12] [MQTT-3.3.1-13]); never in 3.1.1 [MQTT-3.3.1-9].
    const retain = r.retain && o.retainAsPublished;
    const t = session.target;
    if (t.mark !== r.mark) {
      t.mark = r.mark;
      t.qos = q;
      t.retain = retain;
      t.ids = o.id === undefined ? undefined : [o.id];
      r.sessions.push(session);
      return;
    }
    if (q > t.qos) t.qos = q;
    if (retain) t.retain = true;
    if (o.id !== undefined) {
      if (t.ids === undefined) t.ids = [o.id];
      else t.ids.push(o.id);
    }
  };

  sendRetained(session: Session, filter: string, options: SubscriptionOptions): void {
    this.jobs.push({ session, filter, cursor: this.retained.cursor(filter), options });
  }

  /**
   * Sends retained messages for new subscriptions, within `retained-work-per-call`
   * steps per call, a slice per subscription in turn. A subscription whose client has
   * a full window waits for its acknowledgements; the rest continues in the next call.
   */
  private runJobs(): void {
    if (this.jobs.length === 0) return;
    let budget = this.options.retainedWorkPerCall;
    const now = this.now;
    let runnable = false;
    while (budget > 0) {
      let progressed = false;
      runnable = false;
      const kept: RetainedJob[] = [];
      for (const job of this.jobs) {
        const { session, cursor, options } = job;
        // Gone (the session ended or the subscription was removed or replaced), or nothing
        // to send it to (QoS 0 is not queued for offline sessions).
        if (this.sessions.get(session.clientId) !== session || session.subscriptions.get(job.filter) !== options || (options.qos === 0 && !session.link)) {
          continue;
        }
        if (budget <= 0 || (options.qos > 0 && session.queued >= session.window)) {
          kept.push(job);
          if (budget <= 0) runnable = true;
          continue;
        }
        let deliveries = 0;
        // A step delivers at most one message: a QoS 1/2 walk takes no more steps than the window has room for.
        const slice = options.qos > 0 ? Math.min(RETAINED_SLICE, session.window - session.queued) : RETAINED_SLICE;
        const steps = cursor.next(Math.min(budget, slice), now, (r) => {
          deliveries++;
          // Sent with RETAIN set on a new subscription [MQTT-3.3.1-6] [MQTT-3.3.1-8], at the lower QoS (3.8.4).
          session.deliver(r.message, Math.min(r.qos, options.qos) as QoS, true, options.id === undefined ? undefined : [options.id]);
        });
        budget -= steps + deliveries;
        progressed = true;
        if (!cursor.done) {
          kept.push(job);
          runnable = true;
        }
      }
      this.jobs = kept;
      if (!progressed || this.jobs.length === 0) break;
    }
    if (runnable) this.wake();
  }

  /** Asks for another call soon (the platform ignores the request while one is pending). */
  private wake(): void {
    try {
      this.platform.wake();
    } catch (e) {
      // The 1 s tick continues the work then.
      this.warnOnce('wake', `scheduling more work failed: ${describe(e)}`);
    }
  }

  // ---- Housekeeping ----

  /**
   * Ends an export call: work left in the budget, then what changed is written to the
   * store, and everything queued goes to the host (which commits the store's writes
   * before it sends any of it).
   */
  private finish(): void {
    try {
      this.runJobs();
    } catch (e) {
      this.platform.log('error', `retained messages: ${describe(e)}`);
    }
    try {
      this.store.endCall();
    } catch (e) {
      this.platform.log('error', `state store: ${describe(e)}`);
    }
    this.flush();
  }

  // ---- Restoring what a store kept (at init, before any client connects) ----

  restoreSession(
    record: SessionRecord,
    subscriptions: readonly [string, SubscriptionOptions][],
    inflight: readonly Inflight[],
    queued: readonly Pending[],
    awaiting: readonly number[],
  ): Session | undefined {
    if (this.sessions.has(record.clientId)) return undefined;
    const session = new Session(record.clientId, record.expirySeconds, this.sessionLimits);
    session.expiresAt = record.expiresAt;
    for (const [filter, options] of subscriptions) {
      const share = sharedPart(filter);
      // Checked when it was made; a filter this server would not take now is left out.
      if (share === undefined && (isSharedFilter(filter) || topicFilterProblem(filter))) continue;
      session.subscriptions.set(filter, options);
      this.subscriptions.add(session, filter, options, share);
      this.holdBusFilter(share ? share.filter : filter);
    }
    session.restore(inflight, queued, awaiting);
    this.sessions.set(record.clientId, session);
    if (session.expiresAt !== undefined) this.expiring.add(session);
    return session;
  }

  restoreRetained(message: Message, qos: QoS): boolean {
    return this.retained.set(message, qos) === 'stored';
  }

  /** Writes what restoring changed (an init that restored ends with it). */
  endRestore(): void {
    this.store.endCall();
  }

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

  limitHit(limit: string, message: string): void {
    this.limitLog.hit(limit, message, this.now);
  }

  /** Logs a warning once per key, so that a misbehaving client or grant does not flood the log. */
  warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    if (this.warned.size >= MAX_WARNINGS_REMEMBERED) this.warned.clear();
    this.warned.add(key);
    this.platform.log('warn', message);
  }
}

const isOnline = (s: Session): boolean => s.link !== undefined;

/**
 * A server, with what `kv` kept restored when `options.persist` and the grant allow it
 * (kv-store.ts). Call in `lifecycle.init`: its writes are committed when init returns.
 */
export function startServer(platform: Platform, options: ServerOptions, kv?: KeyValue): Server {
  const store = kv === undefined ? undefined : openKvStore(kv, options.persist, platform);
  if (!store) return new Server(platform, options);
  const server = new Server(platform, options, store);
  server.now = platform.now();
  const c = store.restore(server);
  server.endRestore();
  const kept = [store.keepSessions ? 'persistent sessions' : '', store.keepRetained ? 'retained messages' : ''].filter((k) => k !== '').join(' and ');
  platform.log(
    'info',
    `persist: keeping ${kept} in the key-value store; restored ${c.sessions} sessions holding ${c.messages} messages, and ${c.retained} retained messages` +
      (c.discarded > 0 ? ` (${c.discarded} stored entries could not be used and were deleted)` : ''),
  );
  return server;
}

/** The group and inner filter of a `$share/...` filter (already validated), or undefined. */
function sharedPart(filter: string): SharedFilter | undefined {
  if (!isSharedFilter(filter)) return undefined;
  const parsed = parseSharedFilter(filter);
  return typeof parsed === 'string' ? undefined : parsed;
}
