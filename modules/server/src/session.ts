// Session state (4.1): what the server keeps for a client id, across connections
// until the session expires (3.1.1: clean session 0; 5.0: Session Expiry Interval).
// Its lasting state (client id, expiry, subscriptions, messages) is plain data, so a
// store can keep it: see `snapshot()`, `journal` and store.ts.

import type { ProtocolVersion, QoS } from './codec/packets.ts';
import { encodeAck } from './codec/serializer.ts';
import { expired, type Message, type MessageSnapshot, messageSnapshot, type PublishTarget, publishPacket } from './message.ts';

/** The connected client a session writes to. */
export interface Link extends PublishTarget {
  write(bytes: Uint8Array): void;
  readonly version: ProtocolVersion;
  /** 5.0 Receive Maximum of the client: QoS 1/2 messages it accepts unacknowledged. */
  readonly receiveMaximum: number;
}

/** A session expiry that never comes (5.0: 0xFFFFFFFF). */
export const NEVER_EXPIRES = 0xffff_ffff;

/** Options of one subscription (3.8.3.1); 3.1.1 subscriptions have the defaults. Plain data. */
export interface SubscriptionOptions {
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  /** 5.0 Subscription Identifier, sent with every message this subscription matches. */
  id?: number;
}

/** An outgoing QoS 1/2 message that has a packet identifier and awaits its acknowledgement. */
export interface Inflight {
  /** Numbers the session's QoS 1/2 messages in the order they entered it (kept from its Pending). */
  readonly seq: number;
  readonly message: Message;
  readonly qos: 1 | 2;
  readonly retain: boolean;
  readonly packetId: number;
  readonly subscriptionIds?: readonly number[];
  /** 'publish': PUBLISH sent, awaiting PUBACK or PUBREC. 'pubrel': PUBREL sent, awaiting PUBCOMP. */
  state: 'publish' | 'pubrel';
}

/** An outgoing QoS 1/2 message waiting for room in the window, or for its client to come back. */
export interface Pending {
  readonly seq: number;
  readonly message: Message;
  readonly qos: 1 | 2;
  readonly retain: boolean;
  readonly subscriptionIds?: readonly number[];
}

/**
 * Told of every change to what a session holds of its QoS 1/2 messages and incoming
 * QoS 2 exchanges, while a store keeps the session (see store.ts). Called in the
 * export call that makes the change.
 */
export interface SessionJournal {
  /** A message entered the session: queued (a Pending), or sent at once (an Inflight, with its packet id). */
  added(entry: Pending | Inflight): void;
  /** A queued message was sent: it has a packet id now. */
  sent(entry: Inflight): void;
  /** PUBREC arrived for it: only its PUBREL is sent again from now on. */
  released(entry: Inflight): void;
  /** The message left the session: acknowledged, dropped, expired, or too large for its client. */
  removed(seq: number): void;
  /** An incoming QoS 2 packet id was delivered onwards and awaits PUBREL (true), or was released (false). */
  awaiting(packetId: number, waiting: boolean): void;
}

export interface SessionLimits {
  maxInflight: number;
  maxQueued: number;
  /** Milliseconds since the epoch, for message expiry. */
  now(): number;
  /** Told when a queued message is dropped for lack of room. */
  onDrop(session: Session): void;
  /** Told when a message is dropped because it would exceed the client's maximum packet size. */
  onTooLarge(session: Session, message: Message): void;
  /** PUBLISH packets sent to clients, by QoS (a resend is not counted again): the server's figures. */
  readonly sent: number[];
}

/** A session's lasting state as plain data, for a store (see store.ts). Messages are listed once and referred to by index. */
export interface SessionSnapshot {
  clientId: string;
  expirySeconds: number;
  expiresAt?: number;
  subscriptions: [string, SubscriptionOptions][];
  messages: MessageSnapshot[];
  inflight: {
    seq: number;
    message: number;
    qos: 1 | 2;
    retain: boolean;
    packetId: number;
    subscriptionIds?: readonly number[];
    state: 'publish' | 'pubrel';
  }[];
  queued: { seq: number; message: number; qos: 1 | 2; retain: boolean; subscriptionIds?: readonly number[] }[];
  awaitingRelease: number[];
}

/**
 * How the matching subscriptions of one session combine for the message being routed
 * (3.3.4): the highest QoS, RETAIN if any keeps it, every subscription identifier.
 * Scratch space of `Server.route`, valid while `mark` is its current mark; not session state.
 */
export interface RouteTarget {
  mark: number;
  qos: QoS;
  retain: boolean;
  ids: number[] | undefined;
}

export class Session {
  readonly clientId: string;
  /** Session Expiry Interval in seconds: 0 ends it with its connection [MQTT-3.1.2-6]; NEVER_EXPIRES keeps it. */
  expirySeconds: number;
  /** While no client is connected: when it ends (ms since the epoch); undefined: never, or connected. */
  expiresAt: number | undefined;
  /** The connected client, if any. */
  link: Link | undefined;
  /** Topic filter (a `$share/...` one included) → its options. */
  readonly subscriptions = new Map<string, SubscriptionOptions>();
  /** Outgoing messages awaiting acknowledgement, by packet id, in the order they were sent. */
  readonly inflight = new Map<number, Inflight>();
  /**
   * Packet ids of incoming QoS 2 messages delivered onwards but not yet released by
   * PUBREL: a resent PUBLISH with one of these ids is not delivered again [MQTT-4.3.3-2].
   */
  readonly awaitingRelease = new Set<number>();
  /** Messages dropped because the queue was full. */
  dropped = 0;
  /** Routing scratch space (see RouteTarget). */
  readonly target: RouteTarget = { mark: 0, qos: 0, retain: false, ids: undefined };
  /** Set by a store that keeps this session: told of every message change (see SessionJournal). */
  journal: SessionJournal | undefined;

  private readonly limits: SessionLimits;
  private queue: (Pending | undefined)[] = [];
  private head = 0;
  private nextPacketId = 1;
  private nextSeq = 1;

  constructor(clientId: string, expirySeconds: number, limits: SessionLimits) {
    this.clientId = clientId;
    this.expirySeconds = expirySeconds;
    this.expiresAt = undefined;
    this.limits = limits;
  }

  /** Messages waiting for room in the in-flight window (or for the client to reconnect). */
  get queued(): number {
    return this.queue.length - this.head;
  }

  /** QoS 1/2 messages the connected client may have unacknowledged: the server's window or the client's Receive Maximum. */
  get window(): number {
    const max = this.limits.maxInflight;
    const link = this.link;
    return link !== undefined && link.receiveMaximum < max ? link.receiveMaximum : max;
  }

  /**
   * Delivers `message` at `qos` (already reduced to the subscription's). QoS 0 goes
   * out now or not at all; QoS 1/2 is sent when the window has room and the client is
   * connected, else queued (the session state of [MQTT-4.1.0-1]).
   */
  deliver(message: Message, qos: QoS, retain: boolean, subscriptionIds?: readonly number[]): void {
    if (message.expiresAt !== undefined && expired(message, this.limits.now())) return; // [MQTT-3.3.2-5]
    if (qos === 0) {
      const link = this.link;
      if (!link) return; // QoS 0 is not kept for offline clients (3.1.2.4 allows either).
      const packet = publishPacket(link, message, 0, retain, false, 0, subscriptionIds, this.limits.now());
      if (packet) {
        link.write(packet);
        this.limits.sent[0]++;
      } else this.limits.onTooLarge(this, message);
      return;
    }
    const seq = this.nextSeq++;
    const pending: Pending = subscriptionIds === undefined ? { seq, message, qos, retain } : { seq, message, qos, retain, subscriptionIds };
    if (this.link && this.queued === 0 && this.inflight.size < this.window) {
      const sent = this.send(pending);
      if (sent) this.journal?.added(sent);
      return;
    }
    if (this.limits.maxQueued === 0) {
      this.dropped++;
      this.limits.onDrop(this);
      return;
    }
    if (this.queued >= this.limits.maxQueued) {
      // Drop the oldest: a client catching up wants the latest values most.
      const oldest = this.queue[this.head];
      this.queue[this.head++] = undefined;
      if (oldest) this.journal?.removed(oldest.seq);
      this.dropped++;
      this.limits.onDrop(this);
    }
    this.queue.push(pending);
    this.journal?.added(pending);
    this.pump();
  }

  /** PUBACK: a QoS 1 delivery is complete (whatever its 5.0 reason code). */
  puback(packetId: number): boolean {
    const m = this.inflight.get(packetId);
    if (m?.qos !== 1) return false;
    this.inflight.delete(packetId);
    this.journal?.removed(m.seq);
    this.pump();
    return true;
  }

  /**
   * PUBREC: the client has the QoS 2 message; answer PUBREL (again, for a resent PUBREC).
   * A 5.0 PUBREC with a failure reason code ends the exchange instead (4.3.3).
   */
  pubrec(packetId: number, failed = false): boolean {
    const m = this.inflight.get(packetId);
    if (m?.qos !== 2) return false;
    if (failed) {
      this.inflight.delete(packetId);
      this.journal?.removed(m.seq);
      this.pump();
      return true;
    }
    // From here the message must not be sent again, only the PUBREL [MQTT-4.3.3-1].
    if (m.state !== 'pubrel') {
      m.state = 'pubrel';
      this.journal?.released(m);
    }
    this.link?.write(encodeAck('pubrel', packetId));
    return true;
  }

  /** PUBCOMP: a QoS 2 delivery is complete. */
  pubcomp(packetId: number): boolean {
    const m = this.inflight.get(packetId);
    if (m?.state !== 'pubrel') return false;
    this.inflight.delete(packetId);
    this.journal?.removed(m.seq);
    this.pump();
    return true;
  }

  /**
   * After a reconnect to an existing session: resend unacknowledged PUBLISH packets
   * (DUP set) and PUBREL packets with their original ids, in order [MQTT-4.4.0-1]
   * [MQTT-3.3.1-1], then what was queued.
   */
  resume(): void {
    const link = this.link;
    if (!link) return;
    for (const m of this.inflight.values()) {
      if (m.state === 'pubrel') {
        link.write(encodeAck('pubrel', m.packetId));
        continue;
      }
      const packet = publishPacket(link, m.message, m.qos, m.retain, true, m.packetId, m.subscriptionIds, this.limits.now());
      if (packet) link.write(packet);
      else {
        this.inflight.delete(m.packetId);
        this.journal?.removed(m.seq);
        this.limits.onTooLarge(this, m.message);
      }
    }
    this.pump();
  }

  /** Sends queued messages while the window has room; expired ones are dropped [MQTT-3.3.2-5]. */
  pump(): void {
    const now = this.limits.now();
    while (this.link && this.queued > 0 && this.inflight.size < this.window) {
      const p = this.queue[this.head]!;
      this.queue[this.head++] = undefined;
      const sent = expired(p.message, now) ? undefined : this.send(p);
      if (sent) this.journal?.sent(sent);
      else this.journal?.removed(p.seq);
    }
    if (this.head > 0 && (this.queued === 0 || this.head > 1024)) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * An incoming QoS 2 message with `packetId` was delivered onwards: a resent PUBLISH
   * with that id is not delivered again until PUBREL releases it [MQTT-4.3.3-2].
   */
  awaitRelease(packetId: number): void {
    this.awaitingRelease.add(packetId);
    this.journal?.awaiting(packetId, true);
  }

  /** PUBREL: the id may be used for a new message; whether it was awaited. */
  release(packetId: number): boolean {
    if (!this.awaitingRelease.delete(packetId)) return false;
    this.journal?.awaiting(packetId, false);
    return true;
  }

  /** The QoS 1/2 messages the session holds: in flight, then queued, each in the order they entered it. */
  *messages(): IterableIterator<Pending | Inflight> {
    yield* this.inflight.values();
    for (let i = this.head; i < this.queue.length; i++) {
      const p = this.queue[i];
      if (p !== undefined) yield p;
    }
  }

  /**
   * Puts back what a store kept of an offline session: its messages in flight (sent,
   * unacknowledged, with their packet ids) and queued, each list in `seq` order, and
   * the incoming QoS 2 ids awaiting PUBREL. They go out when its client returns (`resume`).
   */
  restore(inflight: readonly Inflight[], queued: readonly Pending[], awaiting: readonly number[]): void {
    for (const m of inflight) this.inflight.set(m.packetId, m);
    for (const p of queued) this.queue.push(p);
    for (const id of awaiting) this.awaitingRelease.add(id);
    for (const m of this.messages()) if (m.seq >= this.nextSeq) this.nextSeq = m.seq + 1;
  }

  /** The session's lasting state as plain data. */
  snapshot(): SessionSnapshot {
    const messages: MessageSnapshot[] = [];
    const index = new Map<Message, number>();
    const ref = (m: Message): number => {
      let i = index.get(m);
      if (i === undefined) {
        i = messages.push(messageSnapshot(m)) - 1;
        index.set(m, i);
      }
      return i;
    };
    const inflight: SessionSnapshot['inflight'] = [];
    for (const { message, ...rest } of this.inflight.values()) inflight.push({ ...rest, message: ref(message) });
    const queued: SessionSnapshot['queued'] = [];
    for (let i = this.head; i < this.queue.length; i++) {
      const p = this.queue[i];
      if (p === undefined) continue;
      const { message, ...rest } = p;
      queued.push({ ...rest, message: ref(message) });
    }
    const out: SessionSnapshot = {
      clientId: this.clientId,
      expirySeconds: this.expirySeconds,
      subscriptions: [...this.subscriptions.entries()].map(([f, o]) => [f, { ...o }]),
      messages,
      inflight,
      queued,
      awaitingRelease: [...this.awaitingRelease],
    };
    if (this.expiresAt !== undefined) out.expiresAt = this.expiresAt;
    return out;
  }

  /** Sends `p` with a new packet id; undefined when it is too large for the client (then discarded). */
  private send(p: Pending): Inflight | undefined {
    const link = this.link!;
    const packetId = this.allocatePacketId();
    const packet = publishPacket(link, p.message, p.qos, p.retain, false, packetId, p.subscriptionIds, this.limits.now());
    if (!packet) {
      // [MQTT-3.1.2-25] too large for this client: discarded as if it had been delivered.
      this.limits.onTooLarge(this, p.message);
      return undefined;
    }
    const m: Inflight = { seq: p.seq, message: p.message, qos: p.qos, retain: p.retain, packetId, state: 'publish' };
    if (p.subscriptionIds !== undefined) (m as { subscriptionIds?: readonly number[] }).subscriptionIds = p.subscriptionIds;
    this.inflight.set(packetId, m);
    link.write(packet);
    this.limits.sent[p.qos]++;
    return m;
  }

  /** A non-zero id not in use by an unacknowledged message [MQTT-2.3.1-2]; the window is below 65535. */
  private allocatePacketId(): number {
    let id = this.nextPacketId;
    while (this.inflight.has(id)) id = id === 65535 ? 1 : id + 1;
    this.nextPacketId = id === 65535 ? 1 : id + 1;
    return id;
  }
}
