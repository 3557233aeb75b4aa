// Pipeline throughput: telemetry -> bus -> gateway -> HTTP sink, end to end, in msgs/s arriving
// at the sink, for edgehost and for the same pipeline in plain Node, measured one after the
// other in the same run.
//
// edgehost: the real host (`node host/main.ts`, a child process) runs the telemetry module on a
// 1 ms timer publishing devices x burst readings per tick (more than the pipeline can carry, so
// the host is saturated: the gateway's queue fills and drops its oldest messages, which show up
// below as seq gaps), and the gateway module posting batches to an HttpSink in this process.
//
// Baseline: bench/pipeline-baseline.ts, the same generator, the host's own Bus with the same
// delivery options, and the gateway's work in plain JS posting with got over keep-alive. It runs
// in a worker thread, not on this thread: the sink lives on this thread's event loop, and in the
// edgehost run it has this thread to itself (the host is another process), so the baseline
// pipeline must not share the sink's event loop either. A worker rather than a child process
// because a plain Node app would run the whole pipeline in one process, and a worker costs less
// to start; both runs see the same sink code on the same thread.
//
// Each run: wait for the first batch at the sink, skip WARMUP_MS, count JSON array elements
// arriving over WINDOW_MS, then stop. Items in the window are checked per device: seq must
// rise; a repeat or a step back counts as duplicate/out of order, a jump as a gap (dropped).
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { HostProcess, writeConfig } from '../test/support/host-process.ts';
import { HttpSink, type SinkRequest } from '../test/support/http-sink.ts';
import { gateway, telemetry } from '../test/support/modules.ts';
import { root, tempDir } from '../test/support/paths.ts';
import type { BaselineOptions } from './pipeline-baseline.ts';
import type { BenchResult } from './result.ts';

const num = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);

const DEVICES = num('BENCH_DEVICES', 10);
const BURST = num('BENCH_BURST', 20);
const INTERVAL_MS = num('BENCH_INTERVAL_MS', 1);
const MAX_BATCH = num('BENCH_MAX_BATCH', 256);
const LINGER_MS = num('BENCH_LINGER_MS', 5);
const CAPACITY = num('BENCH_CAPACITY', 100_000);
const WARMUP_MS = num('BENCH_WARMUP_MS', 1000);
const WINDOW_MS = num('BENCH_WINDOW_MS', 5000);
/** Set to a directory to write V8 CPU profiles of the host child (all its threads) there. */
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF_DIR;

const deviceIds = Array.from({ length: DEVICES }, (_, i) => `d${i + 1}`);

interface Reading {
  deviceId: string;
  temperature: number;
  pressure: number;
  timestamp: number;
  seq: number;
}

export interface WindowStats {
  /** JSON array elements that arrived in the window. */
  messages: number;
  seconds: number;
  perSecond: number;
  requests: number;
  duplicatesOrReordered: number;
  /** Seq numbers skipped (messages the pipeline dropped). */
  gaps: number;
  /** Readings generated over the seq span seen in the window, per second: the offered load. */
  generatedPerSecond: number;
  /** Median ms from the reading's timestamp to its arrival at the sink. */
  latencyP50Ms: number;
  malformed: number;
}

/** An HttpSink that stamps each request's arrival, so a window can be cut out afterwards. */
class StampedSink {
  readonly sink = new HttpSink();
  readonly #arrived = new WeakMap<SinkRequest, { at: number; wall: number }>();

  constructor() {
    this.sink.respond = (r) => {
      this.#arrived.set(r, { at: performance.now(), wall: Date.now() });
      return 200;
    };
  }

  async listen(): Promise<this> {
    await this.sink.listen();
    return this;
  }

  /** Waits for the first batch, skips the warm-up, then collects a window of arrivals. */
  async measure(what: string, failed: Promise<never>): Promise<WindowStats> {
    await Promise.race([this.sink.waitFor(() => this.sink.requests.length > 0, 60_000, `first batch from ${what}`), failed]);
    await Promise.race([sleep(WARMUP_MS), failed]);
    this.sink.requests.length = 0; // the warm-up's bodies are not needed: free them
    const from = performance.now();
    await Promise.race([sleep(WINDOW_MS), failed]);
    const to = performance.now();
    const inWindow = this.sink.requests.filter((r) => {
      const a = this.#arrived.get(r);
      return a !== undefined && a.at >= from && a.at < to;
    });
    return check(inWindow, (r) => this.#arrived.get(r)!.wall, (to - from) / 1000);
  }

  close(): Promise<void> {
    return this.sink.close();
  }
}

function check(requests: SinkRequest[], arrivedAt: (r: SinkRequest) => number, seconds: number): WindowStats {
  const last = new Map<string, number>();
  const first = new Map<string, number>();
  let messages = 0;
  let duplicatesOrReordered = 0;
  let gaps = 0;
  let malformed = 0;
  const latencies: number[] = [];
  for (const r of requests) {
    let items: Reading[];
    try {
      items = JSON.parse(r.body);
      if (!Array.isArray(items)) throw new Error('not an array');
    } catch {
      malformed++;
      continue;
    }
    const wall = arrivedAt(r);
    for (const item of items) {
      messages++;
      if (typeof item?.deviceId !== 'string' || typeof item.seq !== 'number') {
        malformed++;
        continue;
      }
      // One latency sample per request is enough for a median and keeps this cheap.
      if (item === items[0]) latencies.push(wall - item.timestamp);
      const prev = last.get(item.deviceId);
      if (prev === undefined) first.set(item.deviceId, item.seq);
      else if (item.seq <= prev) {
        duplicatesOrReordered++;
        continue;
      } else gaps += item.seq - prev - 1;
      last.set(item.deviceId, item.seq);
    }
  }
  let span = 0;
  for (const [id, s] of first) span += last.get(id)! - s + 1;
  latencies.sort((a, b) => a - b);
  return {
    messages,
    seconds,
    perSecond: messages / seconds,
    requests: requests.length,
    duplicatesOrReordered,
    gaps,
    generatedPerSecond: span / seconds,
    latencyP50Ms: latencies.length ? latencies[Math.floor(latencies.length / 2)] : NaN,
    malformed,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Rejects (with what it knows) when `exited` resolves: lets a wait fail fast when the pipeline died. */
function failWhen(exited: Promise<unknown>, describe: () => string): Promise<never> {
  const p = exited.then(() => Promise.reject(new Error(describe())));
  p.catch(() => {});
  return p;
}

export async function edgehost(): Promise<WindowStats> {
  const sink = await new StampedSink().listen();
  const config = writeConfig({
    // Warnings would be one log line per message the full queue drops: the host would spend
    // its time logging. Readiness is taken from the sink instead of the "ready" lines.
    logLevel: 'error',
    cacheDir: join(root, '.cache/transpile'),
    dataDir: tempDir('edgehost-bench-'),
    modules: {
      telemetry: telemetry({ devices: deviceIds, 'interval-ms': INTERVAL_MS, burst: BURST }),
      gateway: gateway(sink.sink.url, 'telemetry/#', { delivery: { maxBatch: MAX_BATCH, lingerMs: LINGER_MS, capacity: CAPACITY } }),
    },
  });
  const env: Record<string, string> = CPU_PROF_DIR ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${CPU_PROF_DIR}` } : {};
  const host = new HostProcess(['--config', config], env);
  const killOnExit = () => host.kill();
  process.on('exit', killOnExit);
  try {
    const died = failWhen(host.exited, () => `the host exited during the bench\n--- stderr ---\n${host.stderr}\n--- log ---\n${host.lines.map((l) => JSON.stringify(l)).join('\n')}`);
    return await sink.measure('the edgehost gateway', died);
  } finally {
    const stopped = await Promise.race([host.stop('SIGINT'), sleep(10_000).then(() => undefined)]);
    if (!stopped) {
      host.kill();
      await host.exited;
    }
    process.off('exit', killOnExit);
    await sink.close();
  }
}

export async function baseline(): Promise<WindowStats> {
  const sink = await new StampedSink().listen();
  const options: BaselineOptions = {
    url: sink.sink.url,
    devices: deviceIds,
    burst: BURST,
    intervalMs: INTERVAL_MS,
    maxBatch: MAX_BATCH,
    lingerMs: LINGER_MS,
    capacity: CAPACITY,
  };
  const worker = new Worker(new URL('./pipeline-baseline.ts', import.meta.url), { workerData: options });
  let error: Error | undefined;
  worker.on('error', (e) => (error = e));
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  try {
    return await sink.measure('the baseline', failWhen(exited, () => `the baseline worker exited during the bench: ${error?.stack ?? 'no error'}`));
  } finally {
    worker.postMessage({ t: 'stop' });
    await Promise.race([exited, sleep(5000).then(() => worker.terminate())]);
    await sink.close();
  }
}

function describe(s: WindowStats): string {
  return (
    `${Math.round(s.perSecond)} msgs/s (${s.messages} in ${s.seconds.toFixed(2)} s, ${s.requests} POSTs, ` +
    `${(s.messages / Math.max(s.requests, 1)).toFixed(0)} per POST); generated ${Math.round(s.generatedPerSecond)}/s; ` +
    `seq gaps ${s.gaps}; duplicates/reordered ${s.duplicatesOrReordered}; malformed ${s.malformed}; latency p50 ${Math.round(s.latencyP50Ms)} ms`
  );
}

export async function run(): Promise<BenchResult[]> {
  const setup = `${DEVICES} devices x burst ${BURST} every ${INTERVAL_MS} ms, maxBatch ${MAX_BATCH}, lingerMs ${LINGER_MS}, window ${WINDOW_MS} ms after ${WARMUP_MS} ms`;
  console.log(`pipeline: ${setup}`);
  const e = await edgehost();
  console.log(`  edgehost: ${describe(e)}`);
  const b = await baseline();
  console.log(`  baseline: ${describe(b)}`);
  const against = 'plain Node: same generator, host Bus, got keep-alive (worker thread)';
  return [
    { name: 'pipeline telemetry->bus->gateway->HTTP', value: e.perSecond, unit: 'msgs/s', baseline: against, baselineValue: b.perSecond, ratio: e.perSecond / b.perSecond },
    { name: 'pipeline: seq gaps in window (dropped)', value: e.gaps, unit: 'msgs', baseline: 'same, baseline', baselineValue: b.gaps },
    { name: 'pipeline: duplicates/reordered in window', value: e.duplicatesOrReordered, unit: 'msgs', baseline: 'same, baseline', baselineValue: b.duplicatesOrReordered },
    { name: 'pipeline: latency p50 (timestamp->sink)', value: e.latencyP50Ms, unit: 'ms', baseline: 'same, baseline', baselineValue: b.latencyP50Ms },
  ];
}
