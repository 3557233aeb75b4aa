// Drives the server core through a fake Platform, with packets as bytes on the wire.

import defaults from '../../../modules/server/module.json' with { type: 'json' };
import type { ConnectPacket, Packet, ProtocolVersion, QoS, Will } from '../../../modules/server/src/codec/packets.ts';
import { PacketParser } from '../../../modules/server/src/codec/parser.ts';
import type { Properties } from '../../../modules/server/src/codec/properties.ts';
import { serialize } from '../../../modules/server/src/codec/serializer.ts';
import type { KeyValue } from '../../../modules/server/src/kv-store.ts';
import { loadOptions, type ServerOptions } from '../../../modules/server/src/options.ts';
import { type LogLevel, type Platform, type Server, startServer } from '../../../modules/server/src/server.ts';

export const enc = (s: string) => new TextEncoder().encode(s);
export const dec = (b: Uint8Array) => new TextDecoder().decode(b);

export class FakePlatform implements Platform {
  time = 1_700_000_000_000;
  readonly output = new Map<number, Uint8Array[]>();
  readonly closes: number[] = [];
  readonly busPublished: { topic: string; payload: string }[] = [];
  readonly busFilters = new Set<string>();
  readonly busCalls: string[] = [];
  readonly logs: { level: LogLevel; message: string }[] = [];
  sendCalls = 0;
  /** Calls of `wake` not yet answered by `Harness.settle`. */
  wakes = 0;
  /** When set, publishToBus throws this. */
  publishError: Error | undefined;

  send(id: number, bytes: Uint8Array): void {
    this.sendCalls++;
    const list = this.output.get(id) ?? [];
    list.push(bytes.slice());
    this.output.set(id, list);
  }
  close(id: number): void {
    this.closes.push(id);
  }
  publishToBus(topic: string, payload: Uint8Array): void {
    if (this.publishError) throw this.publishError;
    this.busPublished.push({ topic, payload: dec(payload) });
  }
  busSubscribe(filter: string): void {
    this.busCalls.push(`+${filter}`);
    this.busFilters.add(filter);
  }
  busUnsubscribe(filter: string): void {
    this.busCalls.push(`-${filter}`);
    this.busFilters.delete(filter);
  }
  now(): number {
    return this.time;
  }
  log(level: LogLevel, message: string): void {
    this.logs.push({ level, message });
  }
  wake(): void {
    this.wakes++;
  }
}

export class Harness {
  readonly platform = new FakePlatform();
  readonly server: Server;
  private readonly config: Record<string, unknown>;
  private readonly kv: KeyValue | undefined;
  private nextId = 1;

  /** With `kv`, the server keeps its state there (and restores what it holds), as the module does with the host's store. */
  constructor(config: Record<string, unknown> = {}, opts: { kv?: KeyValue; time?: number } = {}) {
    this.config = config;
    this.kv = opts.kv;
    if (opts.time !== undefined) this.platform.time = opts.time;
    const options: ServerOptions = loadOptions((k) => {
      const v = config[k];
      return v === undefined ? undefined : typeof v === 'string' ? v : JSON.stringify(v);
    }, defaults.config);
    this.server = startServer(this.platform, options, opts.kv);
  }

  /** A new instance of the module on the same store, `afterMs` later: what a restart (or a crash after the last call) leaves. */
  restart(afterMs = 0): Harness {
    return new Harness(this.config, { kv: this.kv, time: this.platform.time + afterMs });
  }

  /**
   * Opens a socket; the client has not sent anything yet. Each connection comes from
   * its own address unless `ip` is given.
   */
  open(options: { version?: ProtocolVersion; ip?: string } = {}): Client {
    const c = new Client(this, this.nextId++, options.version ?? 4);
    const ip = options.ip ?? `10.0.${(c.id >> 8) & 0xff}.${c.id & 0xff}`;
    this.server.handleSocketEvents([
      { tag: 'opened', val: { id: c.id, localAddress: '127.0.0.1:1883', remoteAddress: `${ip}:${40000 + c.id}`, transport: 'tcp' } },
    ]);
    return c;
  }

  /** Opens a socket and completes CONNECT (3.1.1); fails unless CONNACK 0 comes back. */
  connect(clientId: string, options: Partial<ConnectPacket> = {}): Client {
    const c = this.open();
    const ack = c.connect(clientId, options);
    if (ack.type !== 'connack' || ack.returnCode !== 0) throw new Error(`connect ${clientId} refused: ${JSON.stringify(ack)}`);
    return c;
  }

  /** Opens a socket and completes an MQTT 5.0 CONNECT; fails unless CONNACK 0 comes back. */
  connect5(clientId: string, options: Partial<ConnectPacket> = {}, ip?: string): Client {
    const c = this.open({ version: 5, ip });
    const ack = c.connect(clientId, options);
    if (ack.type !== 'connack' || ack.returnCode !== 0) throw new Error(`connect ${clientId} refused: ${JSON.stringify(ack)}`);
    return c;
  }

  /** Runs the work the server asked to continue later (Platform.wake) until none is left; returns how many calls it took. */
  settle(maxCalls = 10_000): number {
    let calls = 0;
    while (this.platform.wakes > 0) {
      if (++calls > maxCalls) throw new Error(`still asking for more work after ${maxCalls} calls`);
      this.platform.wakes = 0;
      this.server.work();
    }
    return calls;
  }

  advance(ms: number): void {
    this.platform.time += ms;
    this.server.tick();
  }

  /** A message from another module on the bus. */
  fromBus(topic: string, payload: string): void {
    this.server.handleBusMessages([{ topic, payload: enc(payload) }]);
  }
}

export class Client {
  readonly id: number;
  readonly version: ProtocolVersion;
  private readonly h: Harness;
  private readonly parser = new PacketParser(1 << 28);
  private read = 0;

  constructor(h: Harness, id: number, version: ProtocolVersion) {
    this.h = h;
    this.id = id;
    this.version = version;
    this.parser.version = version;
  }

  /** Sends raw bytes (one data event). */
  write(...chunks: Uint8Array[]): void {
    this.h.server.handleSocketEvents(chunks.map((b) => ({ tag: 'data' as const, val: [this.id, b] as [number, Uint8Array] })));
  }

  send(...packets: Packet[]): void {
    this.write(...packets.map((p) => serialize(p, this.version)));
  }

  /** Packets read by `connect` after the CONNACK, returned by the next `packets`. */
  private backlog: Packet[] = [];

  /** The packets the server sent since the last call. */
  packets(): Packet[] {
    const out: Packet[] = this.backlog;
    this.backlog = [];
    const chunks = this.h.platform.output.get(this.id) ?? [];
    for (; this.read < chunks.length; this.read++) {
      this.parser.feed(chunks[this.read], (p) => {
        out.push(p);
        return true;
      });
    }
    return out;
  }

  /** Exactly one packet must have arrived since the last call. */
  one(): Packet {
    const p = this.packets();
    if (p.length !== 1) throw new Error(`expected one packet, got ${JSON.stringify(p.map(show))}`);
    return p[0];
  }

  get closedByServer(): boolean {
    return this.h.platform.closes.includes(this.id);
  }

  /** The host reports the socket closed (the peer went away, or after the server's close). */
  drop(): void {
    this.h.server.handleSocketEvents([{ tag: 'closed', val: this.id }]);
  }

  connect(clientId: string, options: Partial<ConnectPacket> = {}): Packet {
    this.send({ type: 'connect', protocolName: 'MQTT', protocolLevel: this.version, supported: true, clean: true, keepalive: 0, clientId, ...options });
    const [first, ...rest] = this.packets();
    if (!first) throw new Error('no answer to CONNECT');
    this.backlog = rest;
    return first;
  }

  subscribe(filter: string | string[], qos: QoS = 0, packetId = 1): Packet {
    const filters = Array.isArray(filter) ? filter : [filter];
    this.send({ type: 'subscribe', packetId, subscriptions: filters.map((f) => ({ filter: f, qos })) });
    const p = this.packets();
    const suback = p[0];
    if (suback?.type !== 'suback') throw new Error(`expected SUBACK, got ${JSON.stringify(p.map(show))}`);
    this.pendingAfterSuback = p.slice(1);
    return suback;
  }

  /** Packets that came in the same flush as the last SUBACK (retained messages). */
  pendingAfterSuback: Packet[] = [];

  publish(topic: string, payload: string, qos: QoS = 0, opts: { retain?: boolean; packetId?: number; dup?: boolean; properties?: Properties } = {}): void {
    const p: Packet = { type: 'publish', topic, payload: enc(payload), qos, retain: opts.retain ?? false, dup: opts.dup ?? false };
    if (qos > 0) p.packetId = opts.packetId ?? 1;
    if (opts.properties) p.properties = opts.properties;
    this.send(p);
  }

  disconnect(): void {
    this.send({ type: 'disconnect' });
  }
}

export function will(topic: string, payload: string, qos: QoS = 0, retain = false): Will {
  return { topic, payload: enc(payload), qos, retain };
}

/** A packet in a readable, comparable form (payloads as text). */
export function show(p: Packet): unknown {
  if (p.type === 'publish') return { ...p, payload: dec(p.payload) };
  if (p.type === 'connect') return { ...p, password: p.password && dec(p.password), will: p.will && { ...p.will, payload: dec(p.will.payload) } };
  return p;
}

/** PUBLISH packets as [topic, payload, qos, retain, dup] tuples. */
export function publishes(packets: Packet[]): [string, string, number, boolean, boolean][] {
  return packets
    .filter((p) => p.type === 'publish')
    .map((p) => {
      const q = p as Extract<Packet, { type: 'publish' }>;
      return [q.topic, dec(q.payload), q.qos, q.retain, q.dup];
    });
}

/** Concatenates byte arrays. */
export function bytes(...parts: (number[] | Uint8Array)[]): Uint8Array {
  const arrays = parts.map((p) => (p instanceof Uint8Array ? p : Uint8Array.from(p)));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let pos = 0;
  for (const a of arrays) {
    out.set(a, pos);
    pos += a.length;
  }
  return out;
}
