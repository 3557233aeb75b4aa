// Hostile clients against the real host and the built server component, while a
// control client keeps doing QoS 1 round trips (publish, PUBACK, its own message back).
// Each scenario ends by checking that the control client lost no round trip, that its
// p99 stayed under a second, and that the server module was never restarted.
//
// Abusers connect from their own loopback addresses (127.0.0.x), so the per-address
// limits apply to them and not to the control client on 127.0.0.1.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { WebSocket } from 'ws';
import { HostProcess, writeConfig } from '../../support/host-process.ts';
import { server } from '../../support/modules.ts';
import { freePort } from '../../support/ports.ts';
import { assertNoRestart, Clients, type Inbox, Processes, WAIT_MS, withTimeout } from './clients.ts';

let host: HostProcess;
let port = 0;
const clients = new Clients(() => port);
const processes = new Processes();
const sockets = new Set<net.Socket>();

const RETAINED_TOPICS = 20_000;

before(async () => {
  port = await freePort();
  const address = `127.0.0.1:${port}`;
  const config = writeConfig({
    modules: {
      server: {
        ...server(address, { 'max-retained-messages': 50_000 }),
        // More sockets than the default 1000, so that the scenarios below reach the guest's own limits.
        // A short handshake deadline, so the slow-upgrade scenario ends within the test's time.
        grants: {
          pubsub: { publish: ['#'], subscribe: ['#'] },
          socket: { listen: [address], maxConnections: 2000, maxConnectionsPerAddress: 500, handshakeTimeoutMs: 1500 },
        },
      },
    },
  });
  host = new HostProcess(['--config', config]);
  await host.ready(['server']);
  control = await Control.start();
});

after(async () => {
  await control?.stop();
  processes.killAll();
  for (const s of sockets) s.destroy();
  await clients.closeAll();
  host?.kill();
});

// ---- raw MQTT, for what no well-behaved client sends ----

function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

const str = (s: string) => {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
};
const packet = (first: number, body: Buffer) => Buffer.concat([Buffer.from([first, ...remainingLength(body.length)]), body]);
const connectPacket = (clientId: string) => packet(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, 0x02, 0, 60]), str(clientId)]));
const publishPacket = (topic: string, payload: string) => packet(0x30, Buffer.concat([str(topic), Buffer.from(payload)]));
const subscribePacket = (filters: string[]) =>
  packet(0x82, Buffer.concat([Buffer.from([0, 1]), ...filters.map((f) => Buffer.concat([str(f), Buffer.from([0])]))]));

/** A raw TCP connection from `localAddress`, that counts what it receives and notes who closed it. */
class Raw {
  readonly socket: net.Socket;
  received = 0;
  /** The first bytes received (a CONNACK's four). */
  head = Buffer.alloc(0);
  endedByServer = false;
  readonly closed: Promise<void>;
  readonly opened: Promise<void>;

  constructor(localAddress: string) {
    this.socket = net.connect({ host: '127.0.0.1', port, localAddress });
    sockets.add(this.socket);
    this.socket.on('data', (d) => {
      this.received += d.length;
      if (this.head.length < 4) this.head = Buffer.concat([this.head, d]).subarray(0, 4);
    });
    this.socket.on('end', () => {
      this.endedByServer = true;
    });
    this.socket.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET') this.endedByServer = true;
    });
    this.closed = new Promise((resolve) =>
      this.socket.once('close', () => {
        sockets.delete(this.socket);
        resolve();
      }),
    );
    this.opened = new Promise((resolve, reject) => this.socket.once('connect', () => resolve()).once('error', reject));
  }

  static async open(localAddress: string): Promise<Raw> {
    const raw = new Raw(localAddress);
    await withTimeout(raw.opened, WAIT_MS, `a connection from ${localAddress}`);
    return raw;
  }

  /** Sends CONNECT and waits for the CONNACK's 4 bytes. */
  static async connected(localAddress: string, clientId: string): Promise<Raw> {
    const raw = await Raw.open(localAddress);
    raw.socket.write(connectPacket(clientId));
    await withTimeout(
      new Promise<void>((resolve) => {
        const check = () => (raw.received >= 4 ? resolve() : raw.socket.once('data', check));
        check();
      }),
      WAIT_MS,
      `CONNACK for ${clientId}`,
    );
    return raw;
  }

  async closedByServer(what: string): Promise<void> {
    await withTimeout(this.closed, WAIT_MS, `the server to close the connection after ${what}`);
    assert.ok(this.endedByServer, `closed after ${what}, but not by the server`);
  }
}

/** Opens `count` connections from `localAddress`, `batch` at a time. */
async function openMany(count: number, localAddress: string, batch = 50): Promise<Raw[]> {
  const out: Raw[] = [];
  for (let i = 0; i < count; i += batch) out.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - i) }, () => Raw.open(localAddress)))));
  return out;
}

/** Resident memory of the host process (all its worker threads included), in MB. */
function hostRssMb(): number {
  const status = readFileSync(`/proc/${host.child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

// ---- the control client ----

let control: Control;

/** QoS 1 round trips one after another: publish, PUBACK, the message back through its own subscription. */
class Control {
  readonly rtts: number[] = [];
  lost = 0;
  private running = true;
  private readonly done: Promise<void>;
  private readonly c: MqttClient;
  private readonly inbox: Inbox;

  private constructor(c: MqttClient, inbox: Inbox) {
    this.c = c;
    this.inbox = inbox;
    this.done = this.loop();
  }

  static async start(): Promise<Control> {
    const { c, inbox } = await clients.connect('control', { protocolVersion: 4 });
    // Without this, Nagle on the client's socket holds each PUBLISH behind the ACK of its
    // previous PUBACK: a 40 ms delayed-ACK floor that has nothing to do with the server.
    (c as unknown as { stream: net.Socket }).stream.setNoDelay(true);
    await withTimeout(c.subscribeAsync('control/rt', { qos: 1 }), WAIT_MS, 'SUBACK');
    return new Control(c, inbox);
  }

  private async loop(): Promise<void> {
    let seq = 0;
    while (this.running) {
      const payload = String(++seq);
      const started = performance.now();
      try {
        await withTimeout(this.c.publishAsync('control/rt', payload, { qos: 1 }), 5000, 'PUBACK');
        await this.inbox.wait((m) => m.payload === payload, `round trip ${payload}`, 5000);
        this.rtts.push(performance.now() - started);
      } catch {
        this.lost++;
      }
      this.inbox.messages.length = 0;
    }
  }

  /** Round trips since `from` (an index into rtts): count, p50, p99, max in ms. */
  stats(from = 0): { count: number; p50: number; p99: number; max: number } {
    const s = this.rtts.slice(from).sort((a, b) => a - b);
    const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
    return { count: s.length, p50: at(0.5), p99: at(0.99), max: s.at(-1) ?? 0 };
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

/** Runs `scenario` and checks the control client's round trips during it. */
async function underLoad(t: { diagnostic(m: string): void }, name: string, scenario: () => Promise<void>): Promise<void> {
  const from = control.rtts.length;
  const lostBefore = control.lost;
  const rssBefore = hostRssMb();
  const started = performance.now();
  await scenario();
  // At least a few round trips within the scenario's aftermath too.
  const target = control.rtts.length + 5;
  await withTimeout(
    (async () => {
      while (control.rtts.length < target && control.lost === lostBefore) await new Promise((r) => setTimeout(r, 20));
    })(),
    WAIT_MS,
    'control round trips',
  );
  const s = control.stats(from);
  t.diagnostic(
    `${name}: ${Math.round(performance.now() - started)} ms; control ${s.count} round trips, p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, max ${s.max.toFixed(1)} ms; host RSS ${rssBefore.toFixed(0)} → ${hostRssMb().toFixed(0)} MB`,
  );
  assert.equal(control.lost - lostBefore, 0, 'the control client lost a round trip');
  assert.ok(s.p99 < 1000, `control p99 ${s.p99.toFixed(0)} ms`);
  assertNoRestart(host);
}

const warned = (limit: string) => host.lines.some((l) => l.level === 40 && l.msg.startsWith(`limit ${limit}:`));

// A hang anywhere fails the scenario instead of holding up the run.
describe('abuse: the server holds while a control client keeps its QoS 1 round trips', { timeout: 60_000 }, () => {
  it('deep and long topics: each offending connection is closed, deep filters refused', async (t) => {
    await underLoad(t, 'deep topics', async () => {
      const deepTopic = '/'.repeat(999); // 1000 levels in 999 bytes: within max-topic-length, over max-topic-levels
      const longTopic = `a/${'x'.repeat(60_000)}`; // over max-topic-length
      const raws = await Promise.all(Array.from({ length: 40 }, (_, i) => Raw.connected(`127.0.0.2`, `deep-${i}`)));
      raws.forEach((r, i) => {
        r.socket.write(publishPacket(i % 2 === 0 ? deepTopic : longTopic, 'x'));
      });
      await Promise.all(raws.map((r, i) => r.closedByServer(`a ${i % 2 === 0 ? 'deep' : 'long'} topic`)));
      // A SUBSCRIBE of deep filters is refused per filter; the connection stays.
      const sub = await Raw.connected('127.0.0.2', 'deep-filters');
      sub.socket.write(subscribePacket([`${'+/'.repeat(500)}#`, 'ok/#']));
      await withTimeout(
        new Promise<void>((resolve) => {
          const check = () => (sub.received >= 4 + 6 ? resolve() : sub.socket.once('data', check));
          check();
        }),
        WAIT_MS,
        'SUBACK',
      );
      sub.socket.destroy();
    });
    assert.ok(warned('max-topic-levels'), 'a max-topic-levels warning was logged');
    assert.ok(warned('max-topic-length'), 'a max-topic-length warning was logged');
  });

  it('huge claimed lengths: over max-packet-size closed from the header; under it, memory follows the bytes that arrived', async (t) => {
    await underLoad(t, 'huge claimed lengths', async () => {
      // 300 connections claiming 256 MB: refused from the header.
      const over: Raw[] = [];
      for (let i = 0; i < 300; i += 50) {
        over.push(...(await Promise.all(Array.from({ length: 50 }, (_, k) => Raw.connected(`127.0.0.${10 + ((i + k) % 10)}`, `huge-${i + k}`)))));
      }
      for (const r of over) r.socket.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]));
      await Promise.all(over.map((r) => r.closedByServer('a 256 MB remaining length')));
      // 520 more claiming 260 kB each (under the limit) and sending 100 bytes, then nothing:
      // 135 MB, past the module's 128 MB memory limit, if memory followed the claims.
      const under: Raw[] = [];
      for (let i = 0; i < 520; i += 52) {
        under.push(...(await Promise.all(Array.from({ length: 52 }, (_, k) => Raw.connected(`127.0.0.${20 + ((i + k) % 10)}`, `claim-${i + k}`)))));
      }
      const header = Buffer.from([0x30, ...remainingLength(260_000)]);
      for (const r of under) r.socket.write(Buffer.concat([header, Buffer.from([0, 1, 0x74]), Buffer.alloc(97)]));
      // The control client's round trips go on meanwhile; then they all go.
      await new Promise((r) => setTimeout(r, 1000));
      for (const r of under) {
        assert.equal(r.endedByServer, false, 'a partial packet within the limits is not closed');
        r.socket.destroy();
      }
    });
    assert.ok(warned('max-packet-size'), 'a max-packet-size warning was logged');
  });

  it('half-open connections that never send CONNECT: past max-pending-per-address they are closed at once; other addresses connect', async (t) => {
    await underLoad(t, 'half-open connections', async () => {
      // 400 that send one byte (so that the host hands them to the server) and nothing more.
      const oneByte = await openMany(400, '127.0.0.40');
      for (const r of oneByte) r.socket.write(Buffer.from([0x10]));
      // 200 that send nothing at all: the host holds them until its handshake deadline.
      const silent = await openMany(200, '127.0.0.41');
      let closed = 0;
      await withTimeout(
        Promise.all(
          oneByte.map((r) =>
            r.closed.then(() => {
              closed++;
            }),
          ),
        ).catch(() => {}),
        2000,
        'closes',
      ).catch(() => {});
      assert.ok(closed >= 400 - 16, `${closed} of 400 closed at once (16 may wait for their CONNECT)`);
      // A client from another address connects and works in the middle of it.
      const { c } = await clients.connect('during-flood', { protocolVersion: 4 });
      await withTimeout(c.publishAsync('x', 'y', { qos: 1 }), WAIT_MS, 'PUBACK during the flood');
      c.end(true);
      for (const r of [...oneByte, ...silent]) r.socket.destroy();
    });
    assert.ok(warned('max-pending-per-address'), 'a max-pending-per-address warning was logged');
  });

  it('one address connecting more clients than max-connections-per-address: the rest are refused with CONNACK 0x03', async (t) => {
    await underLoad(t, 'connections from one address', async () => {
      const results: Raw[] = [];
      for (let i = 0; i < 120; i += 15) {
        results.push(...(await Promise.all(Array.from({ length: 15 }, (_, k) => Raw.connected('127.0.0.50', `same-address-${i + k}`)))));
      }
      const refused = results.filter((r) => r.head[3] !== 0);
      assert.equal(refused.length, 20, `${refused.length} of 120 refused (max-connections-per-address is 100)`);
      assert.deepEqual(new Set(refused.map((r) => r.head[3])), new Set([3]), 'CONNACK 0x03 (server unavailable)');
      await Promise.all(refused.map((r) => r.closedByServer('CONNACK 0x03')));
      for (const r of results) r.socket.destroy();
    });
    assert.ok(warned('max-connections-per-address'));
  });

  it(`many wildcard filters against ${RETAINED_TOPICS} retained topics: retained messages go out over many calls, nobody waits`, async (t) => {
    // Seed the retained topics (QoS 0, then one QoS 1 marker to know they all arrived).
    const { c: seeder } = await clients.connect('seeder', { protocolVersion: 4 });
    for (let i = 0; i < RETAINED_TOPICS; i++) seeder.publish(`r/${i % 100}/${i}`, `${i}`, { qos: 0, retain: true });
    await withTimeout(seeder.publishAsync('r/marker', 'done', { qos: 1, retain: true }), 30_000, 'the seeded retained messages');
    await underLoad(t, 'many filters × many retained', async () => {
      const filters = ['r/#', 'r/+/+', '+/+/+', 'r/+/#', '#', ...Array.from({ length: 95 }, (_, i) => `r/${i}/+`)];
      // Matches 5 × 20,001 + 95 × 200 = 119,005 retained deliveries: seconds of work for QuickJS,
      // which must not happen in one call (the host would stop the module at its deadline).
      const expected = 5 * (RETAINED_TOPICS + 1) + 95 * (RETAINED_TOPICS / 100);
      // A C client in its own process, so that reading ~119,000 messages does not stall
      // this process, where the control client measures its round trips.
      const subscribed = performance.now();
      const hog = processes.run('mosquitto_sub', [
        ...['-h', '127.0.0.1', '-p', String(port), '-A', '127.0.0.60', '-i', 'hog', '-q', '0'],
        ...filters.flatMap((f) => ['-t', f]),
        ...['-C', String(expected), '-W', '30', '-N', '-F', '.'],
      ]);
      const code = await withTimeout(hog.exited, 30_000, `all ${expected} retained messages`);
      assert.equal(code, 0, hog.output().slice(0, 2000));
      t.diagnostic(`hog received ${expected} retained messages in ${Math.round(performance.now() - subscribed)} ms`);
    });
  });

  it('slow upgrades: 200 connections trickling an HTTP upgrade a byte at a time lose their slots at the deadline counted from accept', async (t) => {
    await underLoad(t, 'slow upgrades', async () => {
      const slow = await openMany(200, '127.0.0.70');
      for (const r of slow) r.socket.write('GET /mqtt HTTP/1.1\r\n');
      const trickle = setInterval(() => {
        for (const r of slow) if (r.socket.writable) r.socket.write('X');
      }, 100);
      try {
        await withTimeout(Promise.all(slow.map((r) => r.closed)), 10_000, 'the host to cut the slow upgrades');
      } finally {
        clearInterval(trickle);
      }
      assert.ok(
        slow.every((r) => r.endedByServer),
        'every slow upgrade was cut by the host',
      );
    });
  });

  it('subscribers that do not read: each is cut at its unsent-bytes limit, the others and the host are unaffected', async (t) => {
    await underLoad(t, 'non-reading subscribers', async () => {
      const readers = await Promise.all(Array.from({ length: 5 }, (_, i) => Raw.connected('127.0.0.80', `slow-reader-${i}`)));
      for (const r of readers) r.socket.write(subscribePacket(['flood/#']));
      await new Promise((resolve) => setTimeout(resolve, 200));
      for (const r of readers) r.socket.pause();
      const { c: flooder } = await clients.connect('flooder', { protocolVersion: 4 });
      const payload = 'x'.repeat(32 * 1024);
      // 12 MB for each of them: past what the kernel's socket buffers on loopback take, and
      // far past the 1 MiB the host holds for a peer.
      for (let i = 0; i < 384; i++) flooder.publish('flood/x', payload, { qos: 0 });
      await withTimeout(flooder.publishAsync('flood/x', 'last', { qos: 1 }), 30_000, 'the flood sent');
      await withTimeout(
        host.waitForLog(
          (l) =>
            l.module === 'server' && /not keeping up|not reading/.test(l.msg) && readers.some((r) => l.remoteAddress === `127.0.0.80:${r.socket.localPort}`),
        ),
        30_000,
        'the host to cut a subscriber that does not read',
      );
      // A paused socket sees its end only once it reads what is left in the kernel's buffers.
      for (const r of readers) r.socket.resume();
      await withTimeout(Promise.all(readers.map((r) => r.closed)), 30_000, 'the host to cut the subscribers that do not read');
      assert.ok(
        readers.every((r) => r.endedByServer),
        'every subscriber that did not read was cut by the host',
      );
      flooder.end(true);
    });
    assert.ok(host.lines.some((l) => l.module === 'server' && /not keeping up|not reading/.test(l.msg)));
  });

  it('oversized WebSocket messages from 40 clients: each closed at the size limit, the host never holds one whole', async (t) => {
    const rssBefore = hostRssMb();
    let peak = rssBefore;
    const sampler = setInterval(() => {
      peak = Math.max(peak, hostRssMb());
    }, 20);
    try {
      await underLoad(t, 'oversized WebSocket messages', async () => {
        const big = Buffer.alloc(512 * 1024, 0x30);
        const codes = await Promise.all(
          Array.from({ length: 40 }, async () => {
            const ws = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, ['mqtt'], { localAddress: '127.0.0.90' });
            await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
            const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
            ws.on('error', () => {});
            ws.send(big);
            return closed;
          }),
        );
        // 1009: too big, from the host; 1000: closed by the server module first (more
        // connections from one address waiting for CONNECT than it lets wait).
        assert.ok(
          codes.every((c) => c === 1009 || c === 1000 || c === 1006),
          `close codes ${[...new Set(codes)].join(', ')}`,
        );
        assert.ok(codes.includes(1009), 'no connection was closed for its message size');
      });
    } finally {
      clearInterval(sampler);
    }
    // 40 × 512 KiB; the host takes at most 256 KiB of a message before closing it (and holding 16 MB
    // messages, as it did, would cost 640 MB).
    t.diagnostic(`host RSS ${rssBefore.toFixed(0)} MB, peak ${peak.toFixed(0)} MB during 40 oversized WebSocket messages`);
    assert.ok(peak - rssBefore < 100, `host RSS rose ${(peak - rssBefore).toFixed(0)} MB`);
  });

  it('after all of it: the server module was never restarted, and a new client still works', async () => {
    const { c, inbox } = await clients.connect('afterwards', { protocolVersion: 5 });
    await withTimeout(c.subscribeAsync('after/x', { qos: 1 }), WAIT_MS, 'SUBACK');
    await withTimeout(c.publishAsync('after/x', 'fine', { qos: 1 }), WAIT_MS, 'PUBACK');
    await inbox.wait((m) => m.payload === 'fine', 'its own message');
    assertNoRestart(host);
    const s = control.stats();
    assert.equal(control.lost, 0);
    assert.ok(s.p99 < 1000, `overall control p99 ${s.p99.toFixed(0)} ms`);
  });
});
