import type { Will } from './codec/packets.ts';
import { PacketParser } from './codec/parser.ts';
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

/** One network connection: 'connecting' until its CONNECT is accepted, 'closed' once the server is done with it. */
export class Connection implements Link {
  readonly id: number;
  readonly remoteAddress: string;
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
  private readonly outbox: Outbox;

  constructor(id: number, remoteAddress: string, transport: Transport, maxPacketSize: number, now: number, outbox: Outbox) {
    this.id = id;
    this.remoteAddress = remoteAddress;
    this.transport = transport;
    this.parser = new PacketParser(maxPacketSize);
    this.openedAt = now;
    this.lastReceivedAt = now;
    this.outbox = outbox;
  }

  write(bytes: Uint8Array): void {
    if (this.state !== 'closed') this.outbox.write(this.id, bytes);
  }

  /** How the connection is named in logs. */
  get label(): string {
    return this.clientId ? `client "${this.clientId}" (${this.remoteAddress})` : `connection ${this.id} (${this.remoteAddress})`;
  }
}
