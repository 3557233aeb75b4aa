// Raw guest call costs, in this thread (nothing else runs meanwhile): the reference modules'
// components, transpiled exactly as the host does it (same cache entries), instantiated with
// the host's own sandbox WASI and minimal stand-ins for the platform imports (publish and
// send accept and do nothing), then called in a loop. Baselines: the same work in plain JS
// (bench/plain.ts). No worker boundary, no bus, no HTTP: just the call and the guest's work.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import v8 from 'node:v8';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { create as createMetrics } from '../host/capabilities/metrics/worker.ts';
import { transpileCached } from '../host/components/transpile-cache.ts';
import { platform } from '../host/components/wit.ts';
import type { ResolvedModule } from '../host/config/load.ts';
import { createLogger } from '../host/logger.ts';
import { createWasi } from '../host/sandbox/wasi/index.ts';
import { WorkerMetrics } from '../host/sandbox/worker-metrics.ts';
import { fakeWorkerContext } from '../test/support/capability-fakes.ts';
import { root } from '../test/support/paths.ts';
import { batchBody, device } from './plain.ts';
import type { BenchResult } from './result.ts';

type Exports = Record<string, Record<string, (...args: unknown[]) => unknown>>;
const unversioned = (name: string) => name.replace(/@[^@/]*$/, '');

async function instantiate(name: 'telemetry' | 'gateway', config: Record<string, unknown>): Promise<Exports> {
  const world = platform().worlds.get(name)!;
  const { transpileOptions } = await import('../host/components/load.ts');
  const { capabilitiesOf } = await import('../host/capabilities/index.ts');
  const transpiled = await transpileCached(
    join(root, 'build/modules', `${name}.wasm`),
    join(root, '.cache/transpile'),
    transpileOptions({ worldSpec: world, capabilities: capabilitiesOf(world.imports) } as ResolvedModule),
  );
  const values = new Map(Object.entries(config).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  const logger = createLogger('silent');
  const wasi = createWasi({ env: [], logger, denied: (_c, target) => `denied: ${target}` });
  const imports: Record<string, unknown> = {
    ...wasi.interfaces,
    'edgehost:platform/types': {},
    'edgehost:platform/logging': { log() {} },
    'edgehost:platform/config': { get: (k: string) => values.get(k), getAll: () => [...values] },
    'edgehost:platform/pubsub': { publish: () => undefined, publishBatch: () => undefined, subscribe: () => undefined, unsubscribe: () => undefined },
    'edgehost:platform/timer': { after: () => 1, every: () => 1, cancel() {}, nowMs: () => BigInt(Date.now()) },
    'edgehost:platform/outbound-http': { send: async () => ({ status: 200, headers: [], body: new Uint8Array() }) },
    'edgehost:platform/metrics': { counterAdd: () => undefined, gaugeSet: () => undefined },
  };
  // Interfaces the reference modules import but do not call on this path.
  const unused = new Proxy({}, { get: () => () => undefined });
  const proxy = new Proxy(imports, {
    get: (t, k) => (typeof k === 'string' ? (t[k] ?? t[unversioned(k)] ?? (k.startsWith('edgehost:') ? unused : undefined)) : undefined),
  });
  const dir = dirname(transpiled.jsPath);
  const { instantiate } = await import(transpiled.jsPath);
  const instance = await instantiate((file: string) => WebAssembly.compile(readFileSync(join(dir, file))), proxy);
  const out: Exports = {};
  for (const [k, v] of Object.entries(instance as Record<string, unknown>)) if (k.includes(':')) out[unversioned(k)] = v as Exports[string];
  await out['edgehost:platform/lifecycle'].init();
  return out;
}

/** Mean µs per call of `fn` over about `ms` of calls, after a warm-up. */
async function perCall(fn: () => unknown, ms = 700): Promise<number> {
  const isAsync = fn() instanceof Promise;
  const loop = async (n: number) => {
    if (isAsync) for (let i = 0; i < n; i++) await fn();
    else for (let i = 0; i < n; i++) fn();
  };
  await loop(200);
  let n = 100;
  for (;;) {
    const t0 = performance.now();
    await loop(n);
    const took = performance.now() - t0;
    if (took >= ms) return (took * 1000) / n;
    n = Math.ceil(n * Math.min(10, (ms * 1.1) / Math.max(took, 1)));
  }
}

/**
 * Runs the measurements in a worker thread: as in the host (module-instance.ts), JSPI (for the
 * gateway's suspending `send`) is switched on with a V8 flag that only isolates created
 * afterwards see.
 */
export async function run(): Promise<BenchResult[]> {
  if (typeof (WebAssembly as { Suspending?: unknown }).Suspending !== 'function') v8.setFlagsFromString('--experimental-wasm-jspi');
  const worker = new Worker(new URL(import.meta.url), { execArgv: [...process.execArgv, '--disable-warning=ExperimentalWarning'] });
  return new Promise((resolve, reject) => {
    worker.once('message', (m: { rows?: BenchResult[]; error?: string }) => (m.rows ? resolve(m.rows) : reject(new Error(m.error))));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`guest-call worker exited with code ${code}`)));
  });
}

if (!isMainThread && parentPort) {
  measure()
    .then(
      (rows) => parentPort!.postMessage({ rows }),
      (e: unknown) => parentPort!.postMessage({ error: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
    )
    .finally(() => process.exit(0));
}

async function measure(): Promise<BenchResult[]> {
  const rows: BenchResult[] = [];
  const plainDevice = device('d1');
  const sink = (_topic: string, _payload: Uint8Array) => {};

  // A trivial export call: telemetry's message handler ignores what it gets.
  const t1 = await instantiate('telemetry', { devices: ['d1'], 'interval-ms': 1000, burst: 1 });
  const handle = t1['edgehost:platform/message-handler'].handle;
  const trivial = await perCall(() => handle([]));
  rows.push({ name: 'trivial export call (telemetry handle([]))', value: trivial, unit: 'us/call' });

  // What metrics add to each call, next to the trivial call: the worker's own counting after
  // every guest call (WorkerInstance.callGuest, the clock read it needs anyway included), and the host side of a guest's counter-add
  // for a series it reported before (edgehost:platform/metrics, host/capabilities/metrics).
  const counted = new WorkerMetrics();
  const perGuestCall = await perCall(() => {
    const started = performance.now();
    const ended = performance.now();
    counted.call('edgehost:platform/message-handler#handle', (ended - started) / 1000);
    counted.memory(1 << 20);
    counted.due(ended);
  });
  rows.push({
    name: "a guest call's own metrics (worker counts)",
    value: perGuestCall,
    unit: 'us/call',
    baseline: 'trivial export call',
    baselineValue: trivial,
    ratio: perGuestCall / trivial,
  });
  const { ctx } = fakeWorkerContext('bench', { metrics: new WorkerMetrics() });
  const { counterAdd } = createMetrics(ctx, { maxSeries: 10 })['edgehost:platform/metrics'] as {
    counterAdd: (name: string, labels: [string, string][], value: number) => unknown;
  };
  const qos: [string, string][] = [['qos', '1']];
  const hostSide = await perCall(() => counterAdd('mqtt_messages_received_total', qos, 1));
  rows.push({
    name: 'metrics counter-add, host side (known series)',
    value: hostSide,
    unit: 'us/call',
    baseline: 'trivial export call',
    baselineValue: trivial,
    ratio: hostSide / trivial,
  });

  // One tick producing one reading: one export call, one publish import, the guest's own work.
  const onTick1 = t1['edgehost:platform/timer-handler'].onTick;
  const plain1 = await perCall(() => sink(plainDevice.topic, plainDevice.reading(`,"timestamp":${Date.now()}`)));
  const guest1 = await perCall(() => onTick1(1));
  rows.push({
    name: 'telemetry tick producing 1 reading',
    value: guest1,
    unit: 'us/call',
    baseline: 'plain JS reading',
    baselineValue: plain1,
    ratio: guest1 / plain1,
  });

  // 100 readings per tick: the per-reading cost, with one export call spread over 100.
  const t100 = await instantiate('telemetry', { devices: ['d1'], 'interval-ms': 1000, burst: 100 });
  const onTick100 = t100['edgehost:platform/timer-handler'].onTick;
  const guest100 = (await perCall(() => onTick100(1))) / 100;
  rows.push({
    name: 'telemetry per reading (tick of 100)',
    value: guest100,
    unit: 'us/msg',
    baseline: 'plain JS reading',
    baselineValue: plain1,
    ratio: guest100 / plain1,
  });

  // The gateway's handler on a batch of 256 readings (send answers 200 at once, through JSPI).
  const gw = await instantiate('gateway', { url: 'http://127.0.0.1:9/ingest', filter: 'telemetry/#' });
  const gwHandle = gw['edgehost:platform/message-handler'].handle;
  const ts = `,"timestamp":${Date.now()}`;
  const payloads = Array.from({ length: 256 }, () => plainDevice.reading(ts));
  const batch = payloads.map((payload) => ({ topic: 'telemetry/d1', payload, publishedAt: BigInt(Date.now()) }));
  const gwGuest = (await perCall(() => gwHandle(batch))) / batch.length;
  const gwPlain = (await perCall(() => batchBody(payloads))) / payloads.length;
  rows.push({
    name: 'gateway handle, per message (batch of 256)',
    value: gwGuest,
    unit: 'us/msg',
    baseline: 'plain JS check + join',
    baselineValue: gwPlain,
    ratio: gwGuest / gwPlain,
  });
  return rows;
}
