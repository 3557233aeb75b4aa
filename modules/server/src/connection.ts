import type { ProtocolVersion, Will } from './codec/packets.ts';
import { type BufferBudget, PacketParser } from './codec/parser.ts';
import type { Link, Session } from './session.ts';

export type Transport = 'tcp' | 'websocket';

/** Bytes for the host, gathered per connection during one export call and sent once at its end. */
export class Outbox {
  private readonly pending = new Map<number, Uint8Array[]>();
  private readonly closing: number[] = [];

  write(id: number, bytes: Uint8Array): void {
    const list = this.pending.get(id);
    if (list) list.push(bytes);
    else this.pending.set(id, [bytes]);
  }

  /** Closes `id` once what was written to it before is sent. */
  close(id: number): void {
    this.closing.push(id);
  }

  /** Hands everything to the host: one `send` per connection, then the closes. */
  flush(send: (id: number, bytes: Uint8Array) => void, close: (id: number) => void): void {
    for (const [id, list] of this.pending) {
      this.pending.delete(id);
      send(id, list.length === 1 ? list[0] : concat(list));
    }
    for (const id of this.closing.splice(0)) close(id);
  }
}

function concat(list: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const b of list) size += b.length;
  const out = new Uint8Array(size);
  let pos = 0;
  for (const b of list) {
    out.set(b, pos);
    pos += b.length;
  }
  return out;
}

/** The IP address of an `ip:port` or `[ipv6]:port` remote address (an IPv4-mapped IPv6 one as IPv4). */
export function ipOf(remoteAddress: string): string {
  let ip = remoteAddress;
  if (ip.startsWith('[')) {
    const end = ip.indexOf(']');
    ip = end > 0 ? ip.slice(1, end) : ip;
  } else {
    const colon = ip.lastIndexOf(':');
    // One colon: ipv4:port. More (a bare IPv6 address) or none: as it is.
    if (colon > 0 && ip.indexOf(':') === colon) ip = ip.slice(0, colon);
  }
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/** What a connection's parser refuses: bigger packets, more partial-packet memory than the budget, longer topics. */
export interface ParserLimits {
  readonly maxPacketSize: number;
  readonly budget: BufferBudget;
  readonly maxTopicBytes: number;
}

/** One network connection: 'connecting' until its CONNECT is accepted, 'closed' once the server is done with it. */
export class Connection implements Link {
  readonly id: number;
  readonly remoteAddress: string;
  /** The peer's IP address, the key of the per-address limits. */
  readonly ip: string;
  readonly transport: Transport;
  readonly parser: PacketParser;
  readonly openedAt: number;
  state: 'connecting' | 'connected' | 'closed' = 'connecting';
  lastReceivedAt: number;
  /** 1.5 × the CONNECT keep alive, in ms; 0 turns the check off [MQTT-3.1.2-24]. */
  keepaliveLimitMs = 0;
  clientId = '';
  session: Session | undefined;
  will: Will | undefined;
  // 5.0: what the client asked for in CONNECT.
  /** The client's Maximum Packet Size: larger packets are not sent to it [MQTT-3.1.2-24]. */
  maxPacketSize = Infinity;
  /** The client's Receive Maximum: QoS 1/2 messages it takes unacknowledged [MQTT-3.3.4-7]. */
  receiveMaximum = 65535;
  /** The Session Expiry Interval of CONNECT: a DISCONNECT may not raise it from 0 [MQTT-3.14.2-2]. */
  connectSessionExpiry = 0;
  /** Topic aliases the client set up on this connection, by alias (3.3.2.3.4). */
  topicAliases: Map<number, string> | undefined;
  private readonly outbox: Outbox;

  constructor(id: number, remoteAddress: string, transport: Transport, limits: ParserLimits, now: number, outbox: Outbox) {
    this.id = id;
    this.remoteAddress = remoteAddress;
    this.ip = ipOf(remoteAddress);
    this.transport = transport;
    this.parser = new PacketParser(limits.maxPacketSize, limits.budget, limits.maxTopicBytes);
    this.openedAt = now;
    this.lastReceivedAt = now;
    this.outbox = outbox;
  }

  /** 4 (MQTT 3.1.1) until a 5.0 CONNECT was read. */
  get version(): ProtocolVersion {
    return this.parser.version;
  }

  write(bytes: Uint8Array): void {
    if (this.state !== 'closed') this.outbox.write(this.id, bytes);
  }

  /** How the connection is named in logs. */
  get label(): string {
    return this.clientId ? `client "${this.clientId}" (${this.remoteAddress})` : `connection ${this.id} (${this.remoteAddress})`;
  }
}
