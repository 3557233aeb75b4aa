// The storms: what hostile or broken clients do to an MQTT broker, each written once and run
// in two sizes, short (the abuse tests in `npm test`, against edgehost) and long (`npm run soak`,
// against edgehost and against Mosquitto, same storm, same control client).
//
// A storm observes and reports; it asserts nothing about the broker, because Mosquitto has
// other limits (or none) where edgehost has its budgets. The abuse tests assert edgehost's
// behaviour on the results. Where a broker without a given limit would leave a storm waiting
// forever (connections it never closes), the storm watches for a bounded time and reports
// what it saw.
//
// Each storm connects from loopback addresses of its own (127.0.<storm>.x), so that the
// per-address limits apply to the storm and not to the control client on 127.0.0.1, nor to
// the next storm while the broker is still closing the last one's connections.
import { type Clients, type Processes, WAIT_MS, withTimeout } from '../../modules/server/clients.ts';
import { chunks, corpusBytes, fuzzSequence, rng } from './fuzz.ts';
import type { StormTarget } from './measure.ts';
import { closedByServerWithin, connectMany, openMany, publishPacket, Raw, remainingLength, sendWebSocketMessage, subscribePacket } from './wire.ts';

export type StormSize = 'short' | 'long';

export interface StormContext {
  target: StormTarget;
  size: StormSize;
  /** MQTT.js clients on the target; the caller ends them. */
  clients: Clients;
  /** Command-line clients; the caller kills what is left. */
  processes: Processes;
  /** For the storms that draw at random (the fuzzer); printed by whoever runs them. */
  seed: number;
}

export interface Storm<R> {
  name: string;
  /** What the broker must hold before the storm (not measured). */
  prepare?(ctx: StormContext): Promise<void>;
  run(ctx: StormContext): Promise<{ result: R; summary: string }>;
}

/** How long a storm watches for closes that a broker with the limit makes at once. */
const CLOSE_WINDOW_MS = 5000;

const count = <T>(list: T[], keep: (x: T) => boolean) => list.filter(keep).length;

// ---- deep and long topics ----

export const deepTopics: Storm<{ connections: number; closed: number; subackCodes: number[] | 'closed' }> = {
  name: 'deep and long topics',
  async run({ target, size }) {
    const n = size === 'short' ? 40 : 400;
    const deepTopic = '/'.repeat(999); // 1000 levels in 999 bytes
    const longTopic = `a/${'x'.repeat(60_000)}`;
    const raws = await connectMany(
      target.port,
      n,
      (i) => `127.0.1.${1 + (i % 8)}`,
      (i) => `deep-${i}`,
    );
    const fates = await Promise.all(
      raws.map((r, i) => {
        r.write(publishPacket(i % 2 === 0 ? deepTopic : longTopic, 'x'));
        return r.fate(`a ${i % 2 === 0 ? 'deep' : 'long'} topic`);
      }),
    );
    // A SUBSCRIBE of a deep filter and a fine one, in one packet.
    const sub = await Raw.connected(target.port, '127.0.1.100', 'deep-filters');
    sub.write(subscribePacket([`${'+/'.repeat(500)}#`, 'ok/#']));
    await sub.receivedAtLeast(4 + 6, 'SUBACK');
    const subackCodes = sub.isClosed ? 'closed' : [...sub.head.subarray(8, 10)];
    for (const r of [...raws, sub]) r.socket.destroy();
    const closed = count(fates, (f) => f === 'closed');
    return {
      result: { connections: n, closed, subackCodes },
      summary: `${closed}/${n} publishers of deep or long topics closed; SUBACK for a 501-level filter: ${subackCodes === 'closed' ? 'connection closed' : subackCodes.map((c) => `0x${c.toString(16)}`).join(',')}`,
    };
  },
};

// ---- huge claimed lengths ----

export const hugeClaims: Storm<{ over: number; overClosed: number; under: number; underClosed: number }> = {
  name: 'huge claimed lengths',
  async run({ target, size }) {
    const [overCount, underCount, holdMs] = size === 'short' ? [300, 520, 1000] : [1000, 900, 5000];
    // Claiming 256 MB (the largest remaining length MQTT can say) and sending nothing more.
    const over = await connectMany(
      target.port,
      overCount,
      (i) => `127.0.2.${1 + (i % 20)}`,
      (i) => `huge-${i}`,
    );
    for (const r of over) r.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]));
    const overClosed = await closedByServerWithin(over, CLOSE_WINDOW_MS);
    for (const r of over) r.socket.destroy();
    // Then claiming 260 kB each (under edgehost's packet limit) and sending 100 bytes: more in all
    // than the server module's 128 MB of memory, if memory followed the claims.
    const under = await connectMany(
      target.port,
      underCount,
      (i) => `127.0.2.${101 + (i % 20)}`,
      (i) => `claim-${i}`,
      52,
    );
    const header = Buffer.from([0x30, ...remainingLength(260_000)]);
    for (const r of under) r.write(Buffer.concat([header, Buffer.from([0, 1, 0x74]), Buffer.alloc(97)]));
    // The storm is these partial packets held open: the control client's round trips go on meanwhile.
    await new Promise((r) => setTimeout(r, holdMs));
    const underClosed = count(under, (r) => r.endedByServer);
    for (const r of under) r.socket.destroy();
    return {
      result: { over: overCount, overClosed, under: underCount, underClosed },
      summary: `${overClosed}/${overCount} claiming 256 MB closed; ${underClosed}/${underCount} holding partial 260 kB packets closed`,
    };
  },
};

// ---- half-open connections ----

export const halfOpen: Storm<{ oneByte: number; addresses: number; closedAtOnce: number; silent: number; bystanderOk: boolean }> = {
  name: 'half-open connections',
  async run({ target, size, clients }) {
    const [addresses, perAddress, silentCount] = size === 'short' ? [1, 400, 200] : [3, 450, 400];
    // Connections that send one byte (so that edgehost's host hands them to the server) and nothing more.
    const oneByte: Raw[] = [];
    for (let a = 0; a < addresses; a++) oneByte.push(...(await openMany(target.port, perAddress, `127.0.3.${1 + a}`)));
    for (const r of oneByte) r.write(Buffer.from([0x10]));
    // And connections that send nothing at all.
    const silent: Raw[] = [];
    for (let i = 0; i < silentCount; i += 200) silent.push(...(await openMany(target.port, Math.min(200, silentCount - i), `127.0.3.${50 + i / 200}`)));
    // How many are closed at once: a broker that lets them wait keeps them.
    const closedAtOnce = await closedByServerWithin(oneByte, 2000);
    // A client from another address connects and works in the middle of it.
    let bystanderOk = false;
    try {
      const { c } = await clients.connect(`during-flood-${size}`, { protocolVersion: 4 });
      await withTimeout(c.publishAsync('x', 'y', { qos: 1 }), WAIT_MS, 'PUBACK during the flood');
      c.end(true);
      bystanderOk = true;
    } catch {
      // reported
    }
    for (const r of [...oneByte, ...silent]) r.socket.destroy();
    return {
      result: { oneByte: oneByte.length, addresses, closedAtOnce, silent: silent.length, bystanderOk },
      summary: `${closedAtOnce}/${oneByte.length} half-open (from ${addresses} addresses) closed within 2 s, ${silent.length} silent held; a new client ${bystanderOk ? 'connected and published' : 'FAILED'}`,
    };
  },
};

// ---- many connections from one address ----

export const oneAddress: Storm<{ connections: number; refusedCodes: number[] }> = {
  name: 'connections from one address',
  async run({ target, size }) {
    const n = size === 'short' ? 120 : 480;
    const raws = await connectMany(
      target.port,
      n,
      () => '127.0.4.1',
      (i) => `same-address-${i}`,
      15,
    );
    const refused = raws.filter((r) => r.head[3] !== 0);
    // A refusing CONNACK is followed by the close.
    await closedByServerWithin(refused, CLOSE_WINDOW_MS);
    const refusedCodes = refused.map((r) => r.head[3]);
    for (const r of raws) r.socket.destroy();
    return {
      result: { connections: n, refusedCodes },
      summary: `${refused.length}/${n} from one address refused${refused.length > 0 ? ` (CONNACK 0x${refusedCodes[0].toString(16).padStart(2, '0')})` : ''}`,
    };
  },
};

// ---- many filters against many retained topics ----

const retainedTopics = (size: StormSize) => (size === 'short' ? 20_000 : 50_000);

export const filtersTimesRetained: Storm<{ expected: number; received: number; ms: number }> = {
  name: 'many filters × many retained',
  async prepare({ size, clients }) {
    const n = retainedTopics(size);
    // QoS 0 as fast as the socket takes them, then one QoS 1 marker: its PUBACK says all arrived.
    const { c: seeder } = await clients.connect(`seeder-${size}`, { protocolVersion: 4 });
    for (let i = 0; i < n; i++) seeder.publish(`r/${i % 100}/${i}`, `${i}`, { qos: 0, retain: true });
    await withTimeout(seeder.publishAsync('r/marker', 'done', { qos: 1, retain: true }), size === 'short' ? 60_000 : 180_000, 'the seeded retained messages');
    seeder.end(true);
  },
  async run({ target, size, processes }) {
    const n = retainedTopics(size);
    const filters = ['r/#', 'r/+/+', '+/+/+', 'r/+/#', '#', ...Array.from({ length: 95 }, (_, i) => `r/${i}/+`)];
    // Each of the five wide filters matches every retained topic and the marker; each narrow one, a hundredth of them.
    const expected = 5 * (n + 1) + 95 * (n / 100);
    const waitS = size === 'short' ? 30 : 120;
    // A C client in its own process, so that reading them all does not stall the process where
    // the control client measures its round trips.
    const started = performance.now();
    const hog = processes.run('mosquitto_sub', [
      ...['-h', '127.0.0.1', '-p', String(target.port), '-A', '127.0.5.1', '-i', `hog-${size}`, '-q', '0'],
      ...filters.flatMap((f) => ['-t', f]),
      ...['-C', String(expected), '-W', String(waitS), '-N', '-F', '.'],
    ]);
    await withTimeout(hog.exited, (waitS + 10) * 1000, `all ${expected} retained messages`);
    const ms = performance.now() - started;
    const received = hog.stdout().length;
    return {
      result: { expected, received, ms },
      summary: `${received}/${expected} retained deliveries for 100 filters over ${n} topics in ${Math.round(ms)} ms`,
    };
  },
};

// ---- slow upgrades ----

export const slowUpgrades: Storm<{ connections: number; cutByServer: number }> = {
  name: 'slow upgrades',
  async run({ target, size }) {
    const [addresses, perAddress, watchMs] = size === 'short' ? [1, 200, 10_000] : [2, 450, 15_000];
    const slow: Raw[] = [];
    for (let a = 0; a < addresses; a++) slow.push(...(await openMany(target.wsPort, perAddress, `127.0.6.${1 + a}`)));
    // An HTTP upgrade that never ends: one more header byte every 100 ms.
    for (const r of slow) r.write(Buffer.from('GET /mqtt HTTP/1.1\r\n'));
    const trickle = setInterval(() => {
      for (const r of slow) r.write(Buffer.from('X'));
    }, 100);
    let cutByServer: number;
    try {
      cutByServer = await closedByServerWithin(slow, watchMs);
    } finally {
      clearInterval(trickle);
    }
    for (const r of slow) r.socket.destroy();
    return {
      result: { connections: slow.length, cutByServer },
      summary: `${cutByServer}/${slow.length} trickled upgrades cut within ${watchMs / 1000} s`,
    };
  },
};

// ---- subscribers that do not read ----

const FLOOD_PAYLOAD = 32 * 1024;

export const nonReaders: Storm<{ readers: number; cut: number; deliveredAll: number }> = {
  name: 'non-reading subscribers',
  async run({ target, size, clients }) {
    // 12 MB (short) or 24 MB (long) for each reader: past what the kernel's socket buffers on
    // loopback take, and far past the 1 MiB edgehost's host holds for a peer.
    const [readerCount, messages] = size === 'short' ? [5, 384] : [10, 768];
    const readers = await connectMany(
      target.port,
      readerCount,
      () => '127.0.7.1',
      (i) => `slow-reader-${size}-${i}`,
    );
    for (const r of readers) r.write(subscribePacket(['flood/#']));
    await Promise.all(readers.map((r) => r.receivedAtLeast(4 + 5, 'SUBACK')));
    for (const r of readers) r.socket.pause();
    const { c: flooder } = await clients.connect(`flooder-${size}`, { protocolVersion: 4 });
    const payload = 'x'.repeat(FLOOD_PAYLOAD);
    for (let i = 0; i < messages; i++) flooder.publish('flood/x', payload, { qos: 0 });
    await withTimeout(flooder.publishAsync('flood/x', 'last', { qos: 1 }), 60_000, 'the flood sent');
    flooder.end(true);
    await target.notReadingCut?.(readers.map((r) => `127.0.7.1:${r.socket.localPort}`));
    // A paused socket sees its end only once it reads what is left in the kernel's buffers: each
    // reader now reads until the server closes it or the whole flood has arrived.
    for (const r of readers) r.socket.resume();
    await Promise.all(readers.map((r) => r.receivedAtLeast(messages * FLOOD_PAYLOAD, 'the flood, or a close', 60_000).catch(() => {})));
    const cut = count(readers, (r) => r.endedByServer);
    const deliveredAll = count(readers, (r) => r.received >= messages * FLOOD_PAYLOAD);
    for (const r of readers) r.socket.destroy();
    return {
      result: { readers: readerCount, cut, deliveredAll },
      summary: `${readerCount} readers of ${(messages * FLOOD_PAYLOAD) / 2 ** 20} MB paused: ${cut} cut, ${deliveredAll} got it all once they read`,
    };
  },
};

// ---- oversized WebSocket messages ----

export const oversizedWebSocket: Storm<{ clients: number; codes: number[] }> = {
  name: 'oversized WebSocket messages',
  async run({ target, size }) {
    const [n, bytes] = size === 'short' ? [40, 512 * 1024] : [200, 1024 * 1024];
    const big = Buffer.alloc(bytes, 0x30);
    const codes = await Promise.all(Array.from({ length: n }, (_, i) => sendWebSocketMessage(target.wsPort, `127.0.8.${1 + (i % 10)}`, big, CLOSE_WINDOW_MS)));
    const tally = new Map<number, number>();
    for (const c of codes) tally.set(c, (tally.get(c) ?? 0) + 1);
    const said = [...tally].map(([c, k]) => `${k}× ${c === -1 ? 'upgrade refused' : c === 0 ? 'still open' : c}`).join(', ');
    return { result: { clients: n, codes }, summary: `${n} clients sent ${bytes / 1024} KiB each; close codes: ${said}` };
  },
};

// ---- the seeded fuzzer, over TCP ----

export const fuzz: Storm<{ sequences: number; hung: number; answered: number }> = {
  name: 'seeded fuzzer',
  async run({ target, size, seed }) {
    const perVersion = size === 'short' ? 300 : 3000;
    const concurrency = 16;
    let hung = 0;
    let answered = 0;
    for (const version of [4, 5] as const) {
      const r = rng(seed ^ (version * 0x9e37));
      const packets = corpusBytes(version);
      let next = 0;
      const lane = async () => {
        while (next < perVersion) {
          const i = next++;
          // Drawn before the connection opens, so that a given seed sends the same bytes whatever the timing.
          const { connect, rest } = fuzzSequence(r, version, packets, `fz${version}-${i % 50}`);
          const parts = chunks(rest, r);
          const raw = await Raw.open(target.port, `127.0.9.${1 + (i % 20)}`);
          if (connect) {
            // The CONNACK first, so that the mutated packets meet a session rather than a connection in CONNECT.
            raw.write(connect);
            await raw.receivedAtLeast(1, 'CONNACK to a valid CONNECT').catch(() => {});
          }
          for (const p of parts) raw.write(p);
          // Our end of the stream: the broker closes its side once it has read what came before it.
          raw.socket.end();
          await withTimeout(raw.closed, CLOSE_WINDOW_MS, 'a close').catch(() => {
            hung++;
          });
          if (raw.received > 0) answered++;
          raw.socket.destroy();
        }
      };
      await Promise.all(Array.from({ length: concurrency }, lane));
    }
    const sequences = 2 * perVersion;
    return {
      result: { sequences, hung, answered },
      summary: `seed ${seed}: ${sequences} mutated sequences (3.1.1 and 5.0), ${answered} connections answered, ${hung} left open ${CLOSE_WINDOW_MS / 1000} s after our FIN`,
    };
  },
};

/** Every storm, in the order the soak runs them. */
export const storms: Storm<unknown>[] = [
  deepTopics,
  hugeClaims,
  halfOpen,
  oneAddress,
  filtersTimesRetained,
  slowUpgrades,
  nonReaders,
  oversizedWebSocket,
  fuzz,
];
