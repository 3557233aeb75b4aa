// Session state (4.1): what the server keeps for a client id, across connections when
// the client asked for a persistent session (clean session 0).

import type { QoS } from './codec/packets.ts';
import { encodeAck, encodePublish } from './codec/serializer.ts';
import { type Message, qos0Packet } from './message.ts';

/** Where a session writes its packets while its client is connected. */
export interface Link {
  write(bytes: Uint8Array): void;
}

/** An outgoing QoS 1/2 message that has a packet identifier and awaits its acknowledgement. */
export interface Inflight {
  readonly message: Message;
  readonly qos: 1 | 2;
  readonly retain: boolean;
  readonly packetId: number;
  /** 'publish': PUBLISH sent, awaiting PUBACK or PUBREC. 'pubrel': PUBREL sent, awaiting PUBCOMP. */
  state: 'publish' | 'pubrel';
}

interface Pending {
  readonly message: Message;
  readonly qos: 1 | 2;
  readonly retain: boolean;
}

export interface SessionLimits {
  maxInflight: number;
  maxQueued: number;
  /** Told when a queued message is dropped for lack of room. */
  onDrop(session: Session): void;
}

export class Session {
  readonly clientId: string;
  /** Clean session 1: the session ends with the connection [MQTT-3.1.2-6]. */
  clean: boolean;
  /** The connected client, if any. */
  link: Link | undefined;
  /** Topic filter → granted QoS. */
  readonly subscriptions = new Map<string, QoS>();
  /** Outgoing messages awaiting acknowledgement, by packet id, in the order they were sent. */
  readonly inflight = new Map<number, Inflight>();
  /**
   * Packet ids of incoming QoS 2 messages delivered onwards but not yet released by
   * PUBREL: a resent PUBLISH with one of these ids is not delivered again [MQTT-4.3.3-2].
   */
  readonly awaitingRelease = new Set<number>();
  /** Messages dropped because the queue was full. */
  dropped = 0;

  private readonly limits: SessionLimits;
  private queue: (Pending | undefined)[] = [];
  private head = 0;
  private nextPacketId = 1;

  constructor(clientId: string, clean: boolean, limits: SessionLimits) {
    this.clientId = clientId;
    this.clean = clean;
    this.limits = limits;
  }

  /** Messages waiting for room in the in-flight window (or for the client to reconnect). */
  get queued(): number {
    return this.queue.length - this.head;
  }

  /**
   * Delivers `message` at `qos` (already reduced to the subscription's). QoS 0 goes
   * out now or not at all; QoS 1/2 is sent when the window has room and the client is
   * connected, else queued (the session state of [MQTT-4.1.0-1]).
   */
  deliver(message: Message, qos: QoS, retain: boolean): void {
    if (qos === 0) {
      if (!this.link) return; // QoS 0 is not kept for offline clients (3.1.2.4 allows either).
      this.link.write(retain ? encodePublish(message.topicBytes, message.payload, 0, true, false) : qos0Packet(message));
      return;
    }
    if (this.link && this.queued === 0 && this.inflight.size < this.limits.maxInflight) {
      this.send({ message, qos, retain });
      return;
    }
    if (this.limits.maxQueued === 0) {
      this.dropped++;
      this.limits.onDrop(this);
      return;
    }
    if (this.queued >= this.limits.maxQueued) {
      // Drop the oldest: a client catching up wants the latest values most.
      this.queue[this.head++] = undefined;
      this.dropped++;
      this.limits.onDrop(this);
    }
    this.queue.push({ message, qos, retain });
    this.pump();
  }

  /** PUBACK: a QoS 1 delivery is complete. */
  puback(packetId: number): boolean {
    const m = this.inflight.get(packetId);
    if (!m || m.qos !== 1) return false;
    this.inflight.delete(packetId);
    this.pump();
    return true;
  }

  /** PUBREC: the client has the QoS 2 message; answer PUBREL (again, for a resent PUBREC). */
  pubrec(packetId: number): boolean {
    const m = this.inflight.get(packetId);
    if (!m || m.qos !== 2) return false;
    // From here the message must not be sent again, only the PUBREL [MQTT-4.3.3-1].
    m.state = 'pubrel';
    this.link?.write(encodeAck('pubrel', packetId));
    return true;
  }

  /** PUBCOMP: a QoS 2 delivery is complete. */
  pubcomp(packetId: number): boolean {
    const m = this.inflight.get(packetId);
    if (!m || m.state !== 'pubrel') return false;
    this.inflight.delete(packetId);
    this.pump();
    return true;
  }

  /**
   * After a reconnect with clean session 0: resend unacknowledged PUBLISH packets
   * (DUP set) and PUBREL packets with their original ids, in order [MQTT-4.4.0-1]
   * [MQTT-3.3.1-1], then what was queued.
   */
  resume(): void {
    const link = this.link;
    if (!link) return;
    for (const m of this.inflight.values()) {
      if (m.state === 'pubrel') link.write(encodeAck('pubrel', m.packetId));
      else link.write(encodePublish(m.message.topicBytes, m.message.payload, m.qos, m.retain, true, m.packetId));
    }
    this.pump();
  }

  /** Sends queued messages while the window has room. */
  pump(): void {
    while (this.link && this.queued > 0 && this.inflight.size < this.limits.maxInflight) {
      const p = this.queue[this.head]!;
      this.queue[this.head++] = undefined;
      this.send(p);
    }
    if (this.head > 0 && (this.queued === 0 || this.head > 1024)) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private send(p: Pending): void {
    const packetId = this.allocatePacketId();
    this.inflight.set(packetId, { message: p.message, qos: p.qos, retain: p.retain, packetId, state: 'publish' });
    this.link!.write(encodePublish(p.message.topicBytes, p.message.payload, p.qos, p.retain, false, packetId));
  }

  /** A non-zero id not in use by an unacknowledged message [MQTT-2.3.1-2]; the window is below 65535. */
  private allocatePacketId(): number {
    let id = this.nextPacketId;
    while (this.inflight.has(id)) id = id === 65535 ? 1 : id + 1;
    this.nextPacketId = id === 65535 ? 1 : id + 1;
    return id;
  }
}
