// The MQTT server module against Mosquitto, and against aedes where aedes can take part, under
// the same load, in the same run.
//
// The brokers run as child processes on loopback ports of their own, one at a time: edgehost
// with only the server module (as `npm start` would run it), Mosquitto from a generated config
// with the same in-flight and queue limits, aedes with its defaults (bench/aedes-broker.ts).
// The clients (mqtt.js) run in this process, so every broker is measured through the same
// client code on the same machine. aedes speaks only MQTT 3.1.1: it is the second baseline of
// every 3.1.1 row.
//
//   fan-in   N publishers, each publishing M messages to bench/<i>; one subscriber on bench/#
//   fan-out  one publisher, S subscribers on bench/fanout; deliveries = messages × subscribers
//
// Each runs with MQTT 3.1.1 clients and again with MQTT 5.0 clients (no properties: the
// cost of speaking 5.0 at all).
//
// Rates are measured from the first publish to the last delivery. Run: `node bench/server.ts`.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import mqtt from 'mqtt';
import { Mosquitto, mosquittoVersion } from '../test/support/mosquitto.ts';
import { freePort } from '../test/support/ports.ts';
import type { BenchResult } from './result.ts';

const root = new URL('../', import.meta.url).pathname;

const PUBLISHERS = 10;
const SUBSCRIBERS = 10;
/** Outstanding QoS 1 publishes per publisher (each waits for its PUBACK). */
const QOS1_WINDOW = 16;
const PAYLOAD = Buffer.from(JSON.stringify({ deviceId: 'bench-device', temperature: 21.37, pressure: 1001.5, seq: 0 }));
/** Broker limits set alike on both, so that neither drops what the other would queue. */
const MAX_INFLIGHT = 100;
const MAX_QUEUED = 1_000_000;
/** A scenario that has not finished by then is reported with what arrived. */
const SCENARIO_TIMEOUT_MS = 20_000;
const STARTUP_TIMEOUT_MS = 60_000;

interface Scenario {
  name: string;
  kind: 'fan-in' | 'fan-out';
  qos: 0 | 1;
  /** The clients' protocol: 4 is MQTT 3.1.1, 5 is MQTT 5.0. */
  version: 4 | 5;
  /** Messages each publisher sends. */
  messages: number;
}

// Sized so that each takes a few seconds on edgehost; Mosquitto is usually quicker.
const shapes: Omit<Scenario, 'name' | 'version'>[] = [
  { kind: 'fan-in', qos: 0, messages: 12000 },
  { kind: 'fan-in', qos: 1, messages: 6000 },
  { kind: 'fan-out', qos: 0, messages: 40000 },
  { kind: 'fan-out', qos: 1, messages: 10000 },
];
const shapeName = (s: Omit<Scenario, 'name' | 'version'>) =>
  s.kind === 'fan-in' ? `fan-in QoS ${s.qos} (${PUBLISHERS} publishers → 1 subscriber)` : `fan-out QoS ${s.qos} (1 publisher → ${SUBSCRIBERS} subscribers)`;
const scenarios: Scenario[] = shapes.flatMap((shape) =>
  ([4, 5] as const).map((version) => ({ ...shape, version, name: `${shapeName(shape)}, MQTT ${version === 5 ? '5.0' : '3.1.1'}` })),
);
/** The scenarios aedes runs too. */
const forAedes = (s: Scenario) => s.version === 4;

interface Measurement {
  /** Messages (fan-in) or deliveries (fan-out) per second. */
  rate: number;
  expected: number;
  received: number;
  ms: number;
}

// ---- brokers ----

interface Broker {
  name: string;
  port: number;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
const mosquittos = new Set<Mosquitto>();
const killChildren = () => {
  for (const c of children) c.kill('SIGKILL');
  for (const m of mosquittos) m.kill();
};

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Resolves when a line of the child's output matches; rejects if it exits or takes too long. */
function waitForLine(child: ChildProcess, stream: 'stdout' | 'stderr', match: (line: string) => boolean, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let output = '';
    const onData = (chunk: string) => {
      output += chunk;
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      if (lines.some(match)) done(undefined);
    };
    const onExit = () => done(new Error(`${what}: the process exited\n${output}`));
    const timer = setTimeout(() => done(new Error(`${what}: timed out after ${STARTUP_TIMEOUT_MS} ms\n${output}`)), STARTUP_TIMEOUT_MS);
    const done = (error: Error | undefined) => {
      clearTimeout(timer);
      child[stream]!.off('data', onData);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    };
    child[stream]!.setEncoding('utf8').on('data', onData);
    child.once('exit', onExit);
  });
}

async function startEdgehost(dir: string): Promise<Broker> {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const config = join(dir, 'edgehost.json');
  writeFileSync(
    config,
    JSON.stringify({
      logLevel: 'info',
      cacheDir: join(root, '.cache/transpile'),
      dataDir: join(dir, 'data'),
      modules: {
        server: {
          component: join(root, 'build/modules/server.wasm'),
          world: 'server',
          grants: { pubsub: { publish: ['#'], subscribe: ['#'] }, socket: { listen: [address] }, metrics: { maxSeries: 50 } },
          config: { listen: [address], 'max-inflight': MAX_INFLIGHT, 'max-queued-messages': MAX_QUEUED },
          delivery: { noLocal: true },
        },
      },
    }),
  );
  const child = track(spawn(process.execPath, [join(root, 'host/main.ts'), '--config', config], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] }));
  child.stderr!.resume();
  await waitForLine(child, 'stdout', (l) => l.includes('"msg":"module server ready"'), 'edgehost to start');
  // Keep draining its log so that a full pipe never stalls the host.
  child.stdout!.resume();
  return { name: 'edgehost', port, stop: () => stopChild(child) };
}

async function startAedes(): Promise<Broker> {
  const port = await freePort();
  const child = track(spawn(process.execPath, [join(root, 'bench/aedes-broker.ts'), String(port)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] }));
  let name = 'aedes';
  await waitForLine(
    child,
    'stdout',
    (l) => {
      const ready = /^(aedes \S+) ready$/.exec(l);
      if (ready) name = ready[1];
      return ready !== null;
    },
    'aedes to start',
  );
  child.stdout!.resume();
  child.stderr!.resume();
  return { name, port, stop: () => stopChild(child) };
}

async function startMosquitto(): Promise<Broker> {
  // Limits set alike on both brokers; no persistence, as the edgehost side has none here.
  const broker = await Mosquitto.start({ persistence: false, maxInflight: MAX_INFLIGHT, maxQueued: MAX_QUEUED });
  mosquittos.add(broker);
  return { name: `mosquitto ${mosquittoVersion()}`, port: broker.port, stop: () => broker.stop() };
}

// ---- load ----

async function connect(port: number, clientId: string, version: 4 | 5): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    clientId,
    protocolVersion: version,
    reconnectPeriod: 0,
    clean: true,
    keepalive: 60,
    connectTimeout: 10_000,
  });
}

/** Publishes `count` messages: QoS 0 as fast as the socket takes them, QoS 1 with a window of unacknowledged ones. */
async function publishAll(c: MqttClient, topic: string, count: number, qos: 0 | 1): Promise<void> {
  if (qos === 0) {
    for (let i = 0; i < count; i++) await c.publishAsync(topic, PAYLOAD, { qos: 0 });
    return;
  }
  let next = 0;
  const lane = async () => {
    while (next < count) {
      next++;
      await c.publishAsync(topic, PAYLOAD, { qos: 1 });
    }
  };
  await Promise.all(Array.from({ length: QOS1_WINDOW }, lane));
}

/** Resolves when `target` messages have arrived over `subscribers`, or when the scenario times out. */
function countUntil(subscribers: MqttClient[], target: number): { done: Promise<number>; received: () => number } {
  let received = 0;
  let finish: (at: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));
  const onMessage = () => {
    if (++received === target) finish(performance.now());
  };
  for (const s of subscribers) s.on('message', onMessage);
  const timer = setTimeout(() => finish(performance.now()), SCENARIO_TIMEOUT_MS);
  void done.then(() => {
    clearTimeout(timer);
    for (const s of subscribers) s.off('message', onMessage);
  });
  return { done, received: () => received };
}

async function measure(broker: Broker, scenario: Scenario, tag: string): Promise<Measurement> {
  const { kind, qos, messages, version } = scenario;
  const publisherCount = kind === 'fan-in' ? PUBLISHERS : 1;
  const subscriberCount = kind === 'fan-in' ? 1 : SUBSCRIBERS;
  const filter = kind === 'fan-in' ? 'bench/#' : 'bench/fanout';
  const clients: MqttClient[] = [];
  try {
    const subscribers = await Promise.all(Array.from({ length: subscriberCount }, (_, i) => connect(broker.port, `${tag}-sub-${i}`, version)));
    clients.push(...subscribers);
    await Promise.all(subscribers.map((s) => s.subscribeAsync(filter, { qos })));
    const publishers = await Promise.all(Array.from({ length: publisherCount }, (_, i) => connect(broker.port, `${tag}-pub-${i}`, version)));
    clients.push(...publishers);

    const expected = publisherCount * messages * subscriberCount;
    const counter = countUntil(subscribers, expected);
    const started = performance.now();
    const publishing = Promise.all(publishers.map((p, i) => publishAll(p, kind === 'fan-in' ? `bench/${i}` : 'bench/fanout', messages, qos)));
    // A publisher failing (its connection cut) ends the scenario with what arrived.
    const ended = await Promise.race([
      counter.done,
      publishing.then(
        () => counter.done,
        () => performance.now(),
      ),
    ]);
    const received = counter.received();
    const ms = ended - started;
    return { rate: (received / ms) * 1000, expected, received, ms };
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
  }
}

/** Runs `list` on `broker`, each scenario's measurement by its name. */
async function runScenarios(broker: Broker, list: Scenario[]): Promise<Map<string, Measurement>> {
  // Warm up (JIT, connection set-up paths), not measured.
  for (const version of new Set(list.map((s) => s.version))) {
    await measure(broker, { name: 'warm-up', kind: 'fan-in', qos: 1, messages: 100, version }, `warmup${version}`);
  }
  const out = new Map<string, Measurement>();
  for (const [i, s] of list.entries()) out.set(s.name, await measure(broker, s, `s${i}`));
  return out;
}

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'edgehost-bench-server-'));
  // However this process ends, the brokers go with it (signals go through 'exit': see the end of this file and bench/run.ts).
  const cleanUp = () => {
    killChildren();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', cleanUp);
  const brokers: Broker[] = [];
  try {
    const edgehost = await startEdgehost(dir);
    brokers.push(edgehost);
    // One broker at a time, so that they never compete for the CPU.
    const ours = await runScenarios(edgehost, scenarios);
    await edgehost.stop();
    const mosquitto = await startMosquitto();
    brokers.push(mosquitto);
    const theirs = await runScenarios(mosquitto, scenarios);
    await mosquitto.stop();
    const aedes = await startAedes();
    brokers.push(aedes);
    const aedesRates = await runScenarios(aedes, scenarios.filter(forAedes));
    await aedes.stop();

    const results: BenchResult[] = [];
    const rows: string[][] = [['scenario', 'edgehost', 'time', mosquitto.name, 'time', 'ratio', aedes.name, 'time', 'ratio']];
    const note = (m: Measurement) => (m.received < m.expected ? ` (${m.received}/${m.expected} in ${Math.round(m.ms)} ms)` : '');
    const secs = (m: Measurement) => `${(m.ms / 1000).toFixed(2)} s`;
    for (const s of scenarios) {
      const a = ours.get(s.name)!;
      const b = theirs.get(s.name)!;
      const c = aedesRates.get(s.name);
      const unit = s.kind === 'fan-in' ? 'msg/s' : 'deliveries/s';
      const row = (baseline: string, m: Measurement, suffix = '') => ({
        name: `${s.name}${suffix}`,
        value: Math.round(a.rate),
        unit,
        baseline: `${baseline}, same clients and load`,
        baselineValue: Math.round(m.rate),
        ratio: a.rate / m.rate,
      });
      results.push(row(mosquitto.name, b));
      if (c) results.push(row(aedes.name, c, ' (vs aedes)'));
      rows.push([
        s.name,
        `${Math.round(a.rate)} ${unit}${note(a)}`,
        secs(a),
        `${Math.round(b.rate)} ${unit}${note(b)}`,
        secs(b),
        (a.rate / b.rate).toFixed(2),
        ...(c ? [`${Math.round(c.rate)} ${unit}${note(c)}`, secs(c), (a.rate / c.rate).toFixed(2)] : ['', '', '']),
      ]);
    }
    printTable(rows);
    return results;
  } finally {
    await Promise.all(brokers.map((b) => b.stop().catch(() => {})));
    cleanUp();
    process.off('exit', cleanUp);
  }
}

function printTable(rows: string[][]): void {
  const widths = rows[0].map((_, col) => Math.max(...rows.map((r) => r[col].length)));
  const line = (r: string[]) => r.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]) : cell.padStart(widths[col]))).join('  ');
  console.log(line(rows[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows.slice(1)) console.log(line(r));
}

if (import.meta.main) {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));
  run().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      killChildren();
      process.exit(1);
    },
  );
}
