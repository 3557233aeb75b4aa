// Pipeline throughput: telemetry -> bus -> gateway -> HTTP sink, end to end, in msgs/s arriving
// at the sink, for edgehost and for the same pipeline in plain Node, measured one after the
// other in the same run, with the same offered load.
//
// edgehost: the real host (`node host/main.ts`, a child process) runs the telemetry module on a
// 1 ms timer publishing devices x burst readings per tick (nominally 200k/s with the defaults:
// far more than it can carry, so the host is saturated; whatever the gateway cannot drain fills
// its queue, which then drops its oldest messages: those show up below as seq gaps), and the
// gateway module posting batches to an HttpSink in this process. The per-module rate limits
// (publishPerSecond, httpRequestsPerSecond) are switched off: they are policy, not capacity.
//
// Baseline: bench/pipeline-baseline.ts, the same generator on the same schedule, the host's own
// Bus with the same delivery options, and the gateway's work in plain JS posting with node:http over
// keep-alive. It runs in a worker thread, not on this thread: the sink lives on this thread's
// event loop, and in the edgehost run it has this thread to itself (the host is another
// process), so the baseline pipeline must not share the sink's event loop either. A worker
// rather than a child process because a plain Node app would run the whole pipeline in one
// process (one thread), and both runs then see the same sink code on the same thread.
//
// Reading the figures: at this schedule the baseline is bound by its timer (setInterval(1)
// fires about every 1-1.5 ms), not by CPU: its worker is not busy all the time, so the msgs/s
// ratio flatters edgehost. The "CPU per message" row (CPU time of the pipeline's JS threads
// over the window / messages delivered) is the per-message cost comparison that does not
// depend on saturation or on how many cores the machine has. Each run also prints CPU per
// thread and how busy the whole machine was: other processes on a shared machine show there.
//
// Each run: wait for the first batch at the sink, skip WARMUP_MS, count JSON array elements
// arriving over WINDOW_MS, then stop. Items in the window are checked per device: seq must
// rise; a repeat or a step back counts as duplicate/out of order, a jump as a gap (dropped).
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { HostProcess, writeConfig } from '../test/support/host-process.ts';
import { HttpSink, type SinkRequest } from '../test/support/http-sink.ts';
import { gateway, telemetry } from '../test/support/modules.ts';
import { root, tempDir } from '../test/support/paths.ts';
import type { BaselineOptions } from './pipeline-baseline.ts';
import { type BenchResult, median } from './result.ts';

const num = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);

const DEVICES = num('BENCH_DEVICES', 10);
const BURST = num('BENCH_BURST', 20);
const INTERVAL_MS = num('BENCH_INTERVAL_MS', 1);
const MAX_BATCH = num('BENCH_MAX_BATCH', 256);
const LINGER_MS = num('BENCH_LINGER_MS', 5);
// Small enough (~0.2 s of traffic) that a queue the gateway cannot drain fills during the
// warm-up: the window then sees the steady state (a full queue dropping its oldest), not a
// backlog still growing.
const CAPACITY = num('BENCH_CAPACITY', 10_000);
const WARMUP_MS = num('BENCH_WARMUP_MS', 1000);
const WINDOW_MS = num('BENCH_WINDOW_MS', 3000);
const ROUNDS = num('BENCH_ROUNDS', 3);
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
  /** Median ms from the reading's timestamp to its arrival at the sink, over the window and over its first and last 10% of requests. */
  latencyP50Ms: number;
  latencyStartMs: number;
  latencyEndMs: number;
  malformed: number;
  /** CPU time of the pipeline's JS threads over the window, ms, by thread. */
  cpu: Record<string, number>;
  /** µs of JS-thread CPU per message arriving in the window. */
  cpuPerMessageUs: number;
  /** CPU ms the whole machine (every process, every core) was busy during the window, and stolen by the hypervisor. */
  machineBusyMs: number;
  machineStealMs: number;
}

/** Busy and steal ms of the whole machine (all cores) so far, from /proc/stat. */
function machineCpu(): { busy: number; steal: number } {
  const [, user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  return { busy: (user + nice + system + irq + softirq) * 10, steal: steal * 10 };
}

/** Cumulative CPU ms of the pipeline's threads, by name. */
type CpuSampler = () => Promise<Record<string, number>>;

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
  async measure(what: string, failed: Promise<never>, cpuNow: CpuSampler): Promise<WindowStats> {
    await Promise.race([this.sink.waitFor(() => this.sink.requests.length > 0, 60_000, `first batch from ${what}`), failed]);
    await Promise.race([sleep(WARMUP_MS), failed]);
    this.sink.requests.length = 0; // the warm-up's bodies are not needed: free them
    // This process's main thread runs the sink (and nothing else meanwhile).
    const sinkCpu = () => procCpu(process.pid, []).main ?? 0;
    const cpuFrom: Record<string, number> = { ...(await cpuNow()), '(sink)': sinkCpu() };
    const machineFrom = machineCpu();
    const from = performance.now();
    await Promise.race([sleep(WINDOW_MS), failed]);
    const to = performance.now();
    const machineTo = machineCpu();
    const cpuTo: Record<string, number> = { ...(await cpuNow()), '(sink)': sinkCpu() };
    const cpu: Record<string, number> = {};
    for (const [name, ms] of Object.entries(cpuTo)) cpu[name] = ms - (cpuFrom[name] ?? 0);
    const inWindow = this.sink.requests.filter((r) => {
      const a = this.#arrived.get(r);
      return a !== undefined && a.at >= from && a.at < to;
    });
    const stats = check(inWindow, (r) => this.#arrived.get(r)!.wall, (to - from) / 1000, cpu);
    stats.machineBusyMs = machineTo.busy - machineFrom.busy;
    stats.machineStealMs = machineTo.steal - machineFrom.steal;
    return stats;
  }

  close(): Promise<void> {
    return this.sink.close();
  }
}

function check(requests: SinkRequest[], arrivedAt: (r: SinkRequest) => number, seconds: number, cpu: Record<string, number>): WindowStats {
  const last = new Map<string, number>();
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
      if (prev === undefined) {
        // the device's first item in the window: nothing to compare with
      } else if (item.seq <= prev) {
        duplicatesOrReordered++;
        continue;
      } else gaps += item.seq - prev - 1;
      last.set(item.deviceId, item.seq);
    }
  }
  const tenth = Math.max(1, Math.floor(latencies.length / 10));
  const jsCpuMs = Object.entries(cpu).reduce((sum, [name, ms]) => (name.startsWith('(') ? sum : sum + ms), 0);
  return {
    messages,
    seconds,
    perSecond: messages / seconds,
    requests: requests.length,
    duplicatesOrReordered,
    gaps,
    latencyP50Ms: median(latencies),
    latencyStartMs: median(latencies.slice(0, tenth)),
    latencyEndMs: median(latencies.slice(-tenth)),
    malformed,
    cpu,
    cpuPerMessageUs: (jsCpuMs * 1000) / Math.max(messages, 1),
    machineBusyMs: NaN,
    machineStealMs: NaN,
  };
}

/**
 * CPU ms of a process's threads from /proc (Linux), by thread: the main thread, each worker
 * thread (named after the modules: the host creates their workers in config order, so thread
 * ids ascend in that order), and V8's helper threads (GC, compiler) summed as "(v8 helpers)".
 */
function procCpu(pid: number, workerNames: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  const tick = 1000 / 100; // USER_HZ is 100 on Linux
  const tids = readdirSync(`/proc/${pid}/task`)
    .map(Number)
    .sort((a, b) => a - b);
  let worker = 0;
  for (const tid of tids) {
    let stat: string, comm: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
    } catch {
      continue; // the thread ended meanwhile
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ms = (Number(fields[11]) + Number(fields[12])) * tick; // utime, stime
    const name =
      comm === 'MainThread'
        ? 'main'
        : comm === 'WorkerThread'
          ? (workerNames[worker++] ?? `worker ${worker}`)
          : comm.startsWith('V8')
            ? '(v8 helpers)'
            : `(${comm})`;
    out[name] = (out[name] ?? 0) + ms;
  }
  return out;
}

/** `unref`: for a timeout raced against something else, which must not keep the process alive. */
const sleep = (ms: number, unref = false) =>
  new Promise((r) => {
    const t = setTimeout(r, ms);
    if (unref) t.unref();
  });

/** Rejects (with what it knows) when `exited` resolves: lets a wait fail fast when the pipeline died. */
function failWhen(exited: Promise<unknown>, describe: () => string): Promise<never> {
  const p = exited.then(() => Promise.reject(new Error(describe())));
  p.catch(() => {});
  return p;
}

/**
 * `durable`: the gateway's queue is kept in node:sqlite (commit per publish batch) instead of
 * memory. `metrics: false`: the host config turns metrics off (the workers count nothing and
 * send nothing), for the row that prices metrics.
 */
export async function edgehost({ durable = false, metrics = true }: { durable?: boolean; metrics?: boolean } = {}): Promise<WindowStats> {
  const sink = await new StampedSink().listen();
  const dataDir = tempDir('edgehost-bench-');
  const config = writeConfig({
    // Warnings would be one log line per message the full queue drops: the host would spend
    // its time logging. Readiness is taken from the sink instead of the "ready" lines.
    logLevel: 'error',
    cacheDir: join(root, '.cache/transpile'),
    dataDir,
    metrics,
    modules: {
      // The per-module rate limits (limits.publishPerSecond, limits.httpRequestsPerSecond) are
      // policy, not capacity: off here, or they would be what this measures.
      telemetry: { ...telemetry({ devices: deviceIds, 'interval-ms': INTERVAL_MS, burst: BURST }), limits: { publishPerSecond: 0 } },
      gateway: {
        ...gateway(sink.sink.url, 'telemetry/#', { delivery: { maxBatch: MAX_BATCH, lingerMs: LINGER_MS, capacity: CAPACITY, durable } }),
        limits: { httpRequestsPerSecond: 0 },
      },
    },
  });
  const preload = new URL('./cpu-prof-preload.ts', import.meta.url).pathname;
  const env: Record<string, string> = CPU_PROF_DIR ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${CPU_PROF_DIR} --import=${preload}` } : {};
  const host = new HostProcess(['--config', config], env);
  const killOnExit = () => host.kill();
  process.on('exit', killOnExit);
  try {
    const died = failWhen(
      host.exited,
      () => `the host exited during the bench\n--- stderr ---\n${host.stderr}\n--- log ---\n${host.lines.map((l) => JSON.stringify(l)).join('\n')}`,
    );
    const pid = host.child.pid!;
    return await sink.measure('the edgehost gateway', died, async () => procCpu(pid, ['telemetry', 'gateway']));
  } finally {
    const stopped = await Promise.race([host.stop('SIGINT'), sleep(10_000, true).then(() => undefined)]);
    if (!stopped) {
      host.kill();
      await host.exited;
    }
    process.off('exit', killOnExit);
    await sink.close();
    for (const dir of [dirname(config), dataDir]) rmSync(dir, { recursive: true, force: true });
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
  // The bus module loads node:sqlite (durable queues), whose ExperimentalWarning would land in the table.
  const worker = new Worker(new URL('./pipeline-baseline.ts', import.meta.url), {
    workerData: options,
    execArgv: [...process.execArgv, '--disable-warning=ExperimentalWarning'],
  });
  let error: Error | undefined;
  worker.on('error', (e) => (error = e));
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  try {
    // The worker reports its own thread's CPU time; this process's other threads run the sink.
    const cpuNow = () =>
      new Promise<Record<string, number>>((resolve) => {
        worker.once('message', (m: { t: string; cpuMs: number }) => resolve({ pipeline: m.cpuMs }));
        worker.postMessage({ t: 'cpu' });
      });
    return await sink.measure(
      'the baseline',
      failWhen(exited, () => `the baseline worker exited during the bench: ${error?.stack ?? 'no error'}`),
      cpuNow,
    );
  } finally {
    worker.postMessage({ t: 'stop' });
    await Promise.race([exited, sleep(5000, true).then(() => worker.terminate())]);
    await sink.close();
  }
}

function describe(s: WindowStats): string {
  const pct = (ms: number) => `${Math.round(ms / 10 / s.seconds)}%`;
  const measured = Object.values(s.cpu).reduce((a, b) => a + b, 0);
  const cpu = Object.entries(s.cpu)
    .sort((a, b) => b[1] - a[1])
    .filter(([, ms]) => ms > 0)
    .map(([name, ms]) => `${name} ${pct(ms)}`)
    .join(', ');
  return (
    `${Math.round(s.perSecond)} msgs/s (${s.messages} in ${s.seconds.toFixed(2)} s, ${s.requests} POSTs, ` +
    `${(s.messages / Math.max(s.requests, 1)).toFixed(0)} per POST); seq gaps (dropped) ${s.gaps}; ` +
    `duplicates/reordered ${s.duplicatesOrReordered}; malformed ${s.malformed}\n` +
    `            latency p50 ${Math.round(s.latencyP50Ms)} ms (window start ${Math.round(s.latencyStartMs)} ms, end ${Math.round(s.latencyEndMs)} ms); ` +
    `CPU (of one core) ${cpu}; ${s.cpuPerMessageUs.toFixed(1)} us CPU/msg on the pipeline's JS threads\n` +
    `            whole machine (${os.availableParallelism()} cores): ${pct(s.machineBusyMs)} busy, of which ≈${pct(Math.max(0, s.machineBusyMs - measured))} not by the threads above (other processes); ${pct(s.machineStealMs)} stolen`
  );
}

const range = (xs: number[], digits = 0) => `${Math.min(...xs).toFixed(digits)}..${Math.max(...xs).toFixed(digits)}`;

export async function run(): Promise<BenchResult[]> {
  console.log(
    `pipeline: ${DEVICES} devices x burst ${BURST} every ${INTERVAL_MS} ms, maxBatch ${MAX_BATCH}, lingerMs ${LINGER_MS}, capacity ${CAPACITY}; ` +
      `${ROUNDS} rounds of (edgehost, baseline), each a ${WINDOW_MS} ms window after ${WARMUP_MS} ms; figures are medians over the rounds`,
  );
  const es: WindowStats[] = [];
  const bs: WindowStats[] = [];
  const ds: WindowStats[] = [];
  const offs: WindowStats[] = [];
  // Alternating, so a change in the machine's load during the bench hits both sides alike;
  // metrics off runs before metrics on in every other round, so neither always goes first.
  for (let round = 1; round <= ROUNDS; round++) {
    const off = async () => {
      const o = await edgehost({ metrics: false });
      console.log(`  ${round} edgehost, metrics off: ${describe(o)}`);
      offs.push(o);
    };
    if (round % 2 === 0) await off();
    const e = await edgehost();
    console.log(`  ${round} edgehost: ${describe(e)}`);
    es.push(e);
    if (round % 2 === 1) await off();
    const b = await baseline();
    console.log(`  ${round} baseline: ${describe(b)}`);
    bs.push(b);
    const d = await edgehost({ durable: true });
    console.log(`  ${round} edgehost, durable gateway queue: ${describe(d)}`);
    ds.push(d);
  }
  const rate = { e: median(es.map((s) => s.perSecond)), b: median(bs.map((s) => s.perSecond)), off: median(offs.map((s) => s.perSecond)) };
  const cpu = { e: median(es.map((s) => s.cpuPerMessageUs)), b: median(bs.map((s) => s.cpuPerMessageUs)), off: median(offs.map((s) => s.cpuPerMessageUs)) };
  console.log(
    `  msgs/s with metrics off over the rounds: ${range(offs.map((s) => s.perSecond))}; us CPU/msg ${range(
      offs.map((s) => s.cpuPerMessageUs),
      1,
    )}`,
  );
  console.log(`  msgs/s over the rounds: edgehost ${range(es.map((s) => s.perSecond))}, baseline ${range(bs.map((s) => s.perSecond))}`);
  console.log(
    `  us CPU/msg over the rounds: edgehost ${range(
      es.map((s) => s.cpuPerMessageUs),
      1,
    )}, baseline ${range(
      bs.map((s) => s.cpuPerMessageUs),
      1,
    )}`,
  );
  const sum = (xs: WindowStats[], f: (s: WindowStats) => number) => xs.reduce((a, s) => a + f(s), 0);
  const against = 'plain Node: same generator, host Bus, node:http keep-alive (worker thread)';
  return [
    { name: 'telemetry->bus->gateway->HTTP sink', value: rate.e, unit: 'msgs/s', baseline: against, baselineValue: rate.b, ratio: rate.e / rate.b },
    {
      name: 'same, gateway queue durable (node:sqlite)',
      value: median(ds.map((s) => s.perSecond)),
      unit: 'msgs/s',
      baseline: 'edgehost with the in-memory queue, same run',
      baselineValue: rate.e,
      ratio: median(ds.map((s) => s.perSecond)) / rate.e,
    },
    { name: 'CPU per message (pipeline JS threads)', value: cpu.e, unit: 'us/msg', baseline: 'same, baseline', baselineValue: cpu.b, ratio: cpu.e / cpu.b },
    {
      name: 'same pipeline, metrics on (the default)',
      value: rate.e,
      unit: 'msgs/s',
      baseline: 'edgehost with metrics off (config metrics: false), same run',
      baselineValue: rate.off,
      ratio: rate.e / rate.off,
    },
    {
      name: 'CPU per message, metrics on',
      value: cpu.e,
      unit: 'us/msg',
      baseline: 'same, metrics off',
      baselineValue: cpu.off,
      ratio: cpu.e / cpu.off,
    },
    {
      name: 'latency p50 (reading timestamp->sink)',
      value: median(es.map((s) => s.latencyP50Ms)),
      unit: 'ms',
      baseline: 'same, baseline',
      baselineValue: median(bs.map((s) => s.latencyP50Ms)),
    },
    {
      name: 'seq gaps, all windows (dropped: queue full)',
      value: sum(es, (s) => s.gaps),
      unit: 'msgs',
      baseline: 'same, baseline',
      baselineValue: sum(bs, (s) => s.gaps),
    },
    {
      name: 'duplicates/reordered, all windows',
      value: sum(es, (s) => s.duplicatesOrReordered),
      unit: 'msgs',
      baseline: 'same, baseline',
      baselineValue: sum(bs, (s) => s.duplicatesOrReordered),
    },
  ];
}
