// Raw MQTT over raw TCP, for what no well-behaved client sends: hand-built packets and
// connections from a chosen loopback address (127.0.0.x) that count what they receive
// and note who closed them.
import net from 'node:net';
import { WAIT_MS, withTimeout } from '../../modules/server/clients.ts';
import { settle } from '../host-process.ts';

export function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

export const str = (s: string) => {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
};
export const packet = (first: number, body: Buffer) => Buffer.concat([Buffer.from([first, ...remainingLength(body.length)]), body]);

/** MQTT 3.1.1 CONNECT, clean session, keepalive 60 s unless given, with a QoS 0 will if given. */
export function connectPacket(clientId: string, { keepalive = 60, will }: { keepalive?: number; will?: { topic: string; payload: string } } = {}): Buffer {
  const flags = 0x02 /* clean session */ | (will ? 0x04 /* will, QoS 0, not retained */ : 0);
  const body = Buffer.concat([
    str('MQTT'),
    Buffer.from([4, flags, keepalive >> 8, keepalive & 0xff]),
    str(clientId),
    ...(will ? [str(will.topic), str(will.payload)] : []),
  ]);
  return packet(0x10, body);
}
export const publishPacket = (topic: string, payload: string) => packet(0x30, Buffer.concat([str(topic), Buffer.from(payload)]));
/** SUBSCRIBE (packet id 1), each filter at QoS 0. */
export const subscribePacket = (filters: string[]) =>
  packet(0x82, Buffer.concat([Buffer.from([0, 1]), ...filters.map((f) => Buffer.concat([str(f), Buffer.from([0])]))]));
export const PINGREQ = Buffer.from([0xc0, 0]);

/** Every raw socket still open, so that a run can end them all whatever happened. */
const open = new Set<net.Socket>();

export function destroyAllRaw(): void {
  for (const s of open) s.destroy();
}

/** A raw TCP connection from `localAddress`, that counts what it receives and notes who closed it. */
export class Raw {
  readonly socket: net.Socket;
  received = 0;
  /** The first bytes received (a CONNACK's four, and what follows). */
  head = Buffer.alloc(0);
  endedByServer = false;
  isClosed = false;
  readonly closed: Promise<void>;
  readonly opened: Promise<void>;
  #waiters: { bytes: number; resolve: () => void }[] = [];

  constructor(port: number, localAddress: string) {
    this.socket = net.connect({ host: '127.0.0.1', port, localAddress });
    open.add(this.socket);
    this.socket.on('data', (d) => {
      this.received += d.length;
      if (this.head.length < 16) this.head = Buffer.concat([this.head, d]).subarray(0, 16);
      this.#waiters = settle(
        this.#waiters,
        (w) => this.received >= w.bytes,
        (w) => w.resolve(),
      );
    });
    this.socket.on('end', () => {
      this.endedByServer = true;
    });
    this.socket.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') this.endedByServer = true;
    });
    this.closed = new Promise((resolve) =>
      this.socket.once('close', () => {
        open.delete(this.socket);
        this.isClosed = true;
        for (const w of this.#waiters) w.resolve();
        this.#waiters = [];
        resolve();
      }),
    );
    this.opened = new Promise((resolve, reject) => this.socket.once('connect', () => resolve()).once('error', reject));
  }

  static async open(port: number, localAddress: string): Promise<Raw> {
    const raw = new Raw(port, localAddress);
    await withTimeout(raw.opened, WAIT_MS, `a connection from ${localAddress}`);
    return raw;
  }

  /** Sends CONNECT and waits for the CONNACK's 4 bytes. */
  static async connected(port: number, localAddress: string, clientId: string): Promise<Raw> {
    const raw = await Raw.open(port, localAddress);
    raw.socket.write(connectPacket(clientId));
    await raw.receivedAtLeast(4, `CONNACK for ${clientId}`);
    return raw;
  }

  /** Resolves once `bytes` have arrived in all, or the connection closed. */
  receivedAtLeast(bytes: number, what: string, ms = WAIT_MS): Promise<void> {
    if (this.received >= bytes || this.isClosed) return Promise.resolve();
    return withTimeout(new Promise<void>((resolve) => this.#waiters.push({ bytes, resolve })), ms, what);
  }

  /** Writes unless the server already closed it (a write after its close only raises EPIPE). */
  write(data: Buffer | Uint8Array): void {
    if (this.socket.writable) this.socket.write(data);
  }

  /** After what was sent: 'closed' if the server closed the connection, 'alive' if it still answers a PINGREQ. */
  async fate(what: string): Promise<'closed' | 'alive'> {
    const before = this.received;
    this.write(PINGREQ);
    await this.receivedAtLeast(before + 2, `a PINGRESP or a close after ${what}`);
    return this.endedByServer || this.isClosed ? 'closed' : 'alive';
  }
}

/** Opens `count` connections from `localAddress`, `batch` at a time. */
export async function openMany(port: number, count: number, localAddress: string, batch = 50): Promise<Raw[]> {
  const out: Raw[] = [];
  for (let i = 0; i < count; i += batch) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - i) }, () => Raw.open(port, localAddress)))));
  }
  return out;
}

/** Connects `count` raw clients (CONNECT, CONNACK), `batch` at a time, from the address `from(i)` gives the i-th. */
export async function connectMany(port: number, count: number, from: (i: number) => string, clientId: (i: number) => string, batch = 50): Promise<Raw[]> {
  const out: Raw[] = [];
  for (let i = 0; i < count; i += batch) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - i) }, (_, k) => Raw.connected(port, from(i + k), clientId(i + k))))));
  }
  return out;
}

/**
 * Waits until every one of `raws` is closed, or `ms` passed (a broker without the limit
 * in question keeps them open: then the storm goes on with what it saw). Answers how many
 * the server closed.
 */
export async function closedByServerWithin(raws: Raw[], ms: number): Promise<number> {
  await withTimeout(Promise.all(raws.map((r) => r.closed)), ms, 'closes').catch(() => {});
  return raws.filter((r) => r.isClosed && r.endedByServer).length;
}

/**
 * Opens a WebSocket (subprotocol `mqtt`) by hand from `localAddress` and sends `payload` as
 * one binary message, then answers the close code the server sent: 1006 if it dropped the
 * connection without one, 0 if it was still open after `ms`, -1 if it refused the upgrade.
 * By hand because a WebSocket client library masks (so copies) every message it sends: for
 * many large messages that work would land on the process that measures the control client.
 * The mask key here is zero, so the one buffer goes to every connection as it is.
 */
export async function sendWebSocketMessage(port: number, localAddress: string, payload: Buffer, ms: number): Promise<number> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  open.add(socket);
  let data = Buffer.alloc(0);
  let upgraded = false;
  try {
    return await withTimeout(
      new Promise<number>((resolve) => {
        socket.on('error', () => {});
        socket.once('close', () => resolve(upgraded ? 1006 : -1));
        socket.once('connect', () => {
          const key = Buffer.from(Array.from({ length: 16 }, (_, i) => i)).toString('base64');
          socket.write(
            `GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n`,
          );
        });
        socket.on('data', (chunk) => {
          data = Buffer.concat([data, chunk]);
          if (!upgraded) {
            const end = data.indexOf('\r\n\r\n');
            if (end === -1) return;
            if (!/^HTTP\/1\.1 101/.test(data.subarray(0, end).toString('latin1'))) return resolve(-1);
            upgraded = true;
            data = data.subarray(end + 4);
            // FIN + binary; masked, 64-bit length; mask key 0.
            const header = Buffer.alloc(14);
            header[0] = 0x82;
            header[1] = 0x80 | 127;
            header.writeBigUInt64BE(BigInt(payload.length), 2);
            socket.write(header);
            socket.write(payload);
          }
          // A close frame from the server: opcode 8, its first two payload bytes the code.
          if (data.length >= 2 && (data[0] & 0x0f) === 8) {
            const length = data[1] & 0x7f;
            if (length < 2) resolve(1005);
            else if (data.length >= 4) resolve(data.readUInt16BE(2));
          }
        });
      }),
      ms,
      'a close',
    );
  } catch {
    return 0;
  } finally {
    socket.destroy();
    open.delete(socket);
  }
}
