// Bridges: host A -> Mosquitto -> host B, next to the same MQTT clients talking straight to
// the same Mosquitto, in the same run.
//
// Host A runs the server module (where the publishers connect) and a bridge sending bench/#
// out; host B runs the server module (where the subscriber connects) and a bridge bringing
// bench/# in. Both hosts are real (`node host/main.ts`, child processes); Mosquitto is
// Debian's, with persistence off. The clients (MQTT.js, QoS 1, in this process) are the same
// in every row; only where they connect changes:
//
//   A -> broker -> B   publishers on A, subscriber on B        (both bridges, both server modules)
//   A -> broker        publishers on A, subscriber on Mosquitto (A's out path)
//   broker -> B        publishers on Mosquitto, subscriber on B (B's in path)
//   baseline           publishers and subscriber on Mosquitto
//
// Rates are messages per second from the first publish to the last delivery. Run alone:
// `node bench/bridge.ts`.
import mqtt, { type MqttClient } from 'mqtt';
import { HostProcess, writeConfig } from '../test/support/host-process.ts';
import { Mosquitto, mosquittoVersion } from '../test/support/mosquitto.ts';
import { moduleWasm, root } from '../test/support/paths.ts';
import { freePort } from '../test/support/ports.ts';
import type { BenchResult } from './result.ts';

const num = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);
const PUBLISHERS = num('BENCH_BRIDGE_PUBLISHERS', 10);
const MESSAGES = num('BENCH_BRIDGE_MESSAGES', 2000);
/** Unacknowledged QoS 1 publishes per publisher. */
const WINDOW = 16;
const TIMEOUT_MS = 30_000;
/** Set to a directory to write V8 CPU profiles of both hosts' main threads there (diagnostic only). */
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF_DIR;
const PAYLOAD = Buffer.from(JSON.stringify({ deviceId: 'bench-device', temperature: 21.37, pressure: 1001.5, seq: 0 }));

interface Measurement {
  rate: number;
  received: number;
  expected: number;
  ms: number;
}

function serverModule(address: string) {
  return {
    component: moduleWasm('server'),
    world: 'server',
    grants: { pubsub: { publish: ['#'], subscribe: ['#'] }, socket: { listen: [address] }, metrics: { maxSeries: 50 } },
    config: { listen: [address], 'max-inflight': 100, 'max-queued-messages': 1_000_000 },
    delivery: { noLocal: true },
  };
}

async function startHost(name: string, brokerUrl: string, rules: Record<string, unknown>): Promise<{ host: HostProcess; port: number }> {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const config = writeConfig({
    cacheDir: `${root}.cache/transpile`,
    logLevel: 'info',
    modules: { server: serverModule(address) },
    bridges: { broker: { url: brokerUrl, clientId: `bench-${name}`, ...rules } },
  });
  const host = new HostProcess(['--config', config], CPU_PROF_DIR ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${CPU_PROF_DIR}/${name}` } : {});
  await host.ready(['server']);
  await host.waitForLog((l) => l.bridge === 'broker' && /^bridge broker connected/.test(l.msg), 30_000, `bridge of host ${name} connected`);
  if ('in' in rules)
    await host.waitForLog((l) => l.bridge === 'broker' && /^bridge broker subscribed/.test(l.msg), 30_000, `bridge of host ${name} subscribed`);
  return { host, port };
}

const connect = (port: number, clientId: string): Promise<MqttClient> =>
  mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId, protocolVersion: 4, reconnectPeriod: 0, clean: true, keepalive: 60, connectTimeout: 10_000 });

async function publishAll(c: MqttClient, topic: string, messages: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < messages) {
      next++;
      await c.publishAsync(topic, PAYLOAD, { qos: 1 });
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, lane));
}

/** PUBLISHERS clients on `pubPort` publish MESSAGES each at QoS 1; one subscriber on `subPort` counts them. */
async function measure(pubPort: number, subPort: number, tag: string, messages = MESSAGES): Promise<Measurement> {
  const clients: MqttClient[] = [];
  try {
    const sub = await connect(subPort, `${tag}-sub`);
    clients.push(sub);
    await sub.subscribeAsync('bench/#', { qos: 1 });
    const pubs = await Promise.all(Array.from({ length: PUBLISHERS }, (_, i) => connect(pubPort, `${tag}-pub-${i}`)));
    clients.push(...pubs);
    const expected = PUBLISHERS * messages;
    let received = 0;
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    sub.on('message', () => {
      if (++received === expected) finish();
    });
    const timer = setTimeout(finish, TIMEOUT_MS);
    const started = performance.now();
    await Promise.race([Promise.all(pubs.map((p, i) => publishAll(p, `bench/${i}`, messages))), done]);
    await done;
    clearTimeout(timer);
    const ms = performance.now() - started;
    return { rate: (received / ms) * 1000, received, expected, ms };
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
  }
}

export async function run(): Promise<BenchResult[]> {
  const broker = await Mosquitto.start({ persistence: false, maxInflight: 100, maxQueued: 1_000_000 });
  const hosts: HostProcess[] = [];
  const cleanUp = () => {
    broker.kill();
    for (const h of hosts) h.kill();
  };
  process.once('exit', cleanUp);
  try {
    const a = await startHost('a', broker.url, { out: [{ filter: 'bench/#' }] });
    hosts.push(a.host);
    const b = await startHost('b', broker.url, { in: [{ filter: 'bench/#' }] });
    hosts.push(b.host);
    // Warm up every path (JIT, connections, the guests), not measured.
    for (const [p, q] of [
      [a.port, b.port],
      [a.port, broker.port],
      [broker.port, b.port],
      [broker.port, broker.port],
    ]) {
      await measure(p, q, 'warmup', MESSAGES / 10);
    }
    // Each row right after its own baseline: the machine's load drifts (other processes share it).
    const paths: [string, number, number][] = [
      ['host A -> Mosquitto -> host B, QoS 1', a.port, b.port],
      ['host A -> Mosquitto (the out path)', a.port, broker.port],
      ['Mosquitto -> host B (the in path)', broker.port, b.port],
    ];
    const rows: [string, Measurement, Measurement][] = [];
    for (const [i, [label, pub, sub]] of paths.entries()) {
      const baseline = await measure(broker.port, broker.port, `direct-${i}`);
      rows.push([label, await measure(pub, sub, `path-${i}`), baseline]);
    }
    const name = `mosquitto ${mosquittoVersion()}`;
    const note = (m: Measurement) => (m.received < m.expected ? ` (${m.received}/${m.expected} in ${Math.round(m.ms)} ms)` : '');
    console.log(
      `  ${PUBLISHERS} publishers x ${MESSAGES} messages at QoS 1 (window ${WINDOW}) -> 1 subscriber; baseline: the same clients straight to ${name}`,
    );
    for (const [label, m, base] of rows) {
      console.log(
        `  ${label}: ${Math.round(m.rate)} msg/s${note(m)}; baseline ${Math.round(base.rate)} msg/s${note(base)}; ${(m.rate / base.rate).toFixed(2)}x`,
      );
    }
    return rows.map(([label, m, base]) => ({
      name: label,
      value: Math.round(m.rate),
      unit: 'msg/s',
      baseline: `the same clients straight to ${name}`,
      baselineValue: Math.round(base.rate),
      ratio: m.rate / base.rate,
    }));
  } finally {
    await Promise.all(hosts.map((h) => h.stop('SIGTERM').catch(() => {})));
    await broker.stop();
    process.off('exit', cleanUp);
  }
}

if (import.meta.main) {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));
  run().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
