// Web services: the reference web module (modules/web, QuickJS, world http-service) answering
// GET /latest (the latest reading of DEVICES devices, as JSON) under the same load as a plain
// Node `http` server doing the same work (bench/http-baseline.ts), one after the other in the
// same run, with the same load generator: autocannon, in this process, CONNECTIONS connections
// for DURATION_S seconds after a warm-up. Both servers run in a process of their own.
//
// Rows: requests/s and p99 latency for each, and the first request to a module in idle sleep
// against the same request to an awake one.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { HostProcess, writeConfig } from '../test/support/host-process.ts';
import { httpRequest } from '../test/support/http-client.ts';
import { web } from '../test/support/modules.ts';
import { root } from '../test/support/paths.ts';
import { freePort } from '../test/support/ports.ts';
import { type BenchResult, median } from './result.ts';

const num = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);
const DEVICES = num('BENCH_HTTP_DEVICES', 20);
const CONNECTIONS = num('BENCH_HTTP_CONNECTIONS', 10);
const DURATION_S = num('BENCH_HTTP_DURATION_S', 5);
const WARMUP_S = num('BENCH_HTTP_WARMUP_S', 1);

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}
// autocannon ships no types: the part of its API used here.
const autocannon = createRequire(import.meta.url)('autocannon') as (opts: {
  url: string;
  connections: number;
  duration: number;
  pipelining?: number;
}) => Promise<AutocannonResult>;

async function postReadings(address: string): Promise<void> {
  for (let i = 1; i <= DEVICES; i++) {
    const body = JSON.stringify({ deviceId: `device-${i}`, temperature: 20 + i / 10, pressure: 1000 + i, timestamp: Date.now(), seq: 1 });
    const r = await httpRequest(address, { method: 'POST', path: '/readings', body });
    if (r.status !== 202) throw new Error(`posting a reading to ${address} answered ${r.status}: ${r.body}`);
  }
  // The module sees its readings through the bus: wait until /latest has them all.
  for (;;) {
    const r = await httpRequest(address, { path: '/latest' });
    if (Object.keys(JSON.parse(r.body)).length === DEVICES) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function load(address: string, label: string): Promise<AutocannonResult> {
  const url = `http://${address}/latest`;
  await autocannon({ url, connections: CONNECTIONS, duration: WARMUP_S });
  const r = await autocannon({ url, connections: CONNECTIONS, duration: DURATION_S });
  if (r.errors + r.timeouts + r.non2xx > 0) throw new Error(`${label}: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx answers`);
  console.log(`  ${label}: ${Math.round(r.requests.average)} requests/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms (${r.requests.total} requests)`);
  return r;
}

async function edgehost(): Promise<AutocannonResult> {
  const address = `127.0.0.1:${await freePort()}`;
  const entry = web(address);
  const config = writeConfig({
    cacheDir: join(root, '.cache/transpile'),
    // The host's per-module request cap is policy, not capacity: the load's connections all fit.
    modules: { web: { ...entry, limits: { ...entry.limits, httpMaxConcurrentRequests: CONNECTIONS * 4 } } },
  });
  const host = new HostProcess(['--config', config]);
  try {
    await host.ready(['web']);
    await postReadings(address);
    return await load(address, 'edgehost, web module');
  } finally {
    await host.stop();
  }
}

async function baseline(): Promise<AutocannonResult> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [join(root, 'bench/http-baseline.ts'), String(port)], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the baseline server exited (${code})`)));
      child.stdout?.setEncoding('utf8').on('data', (s: string) => s.includes('listening') && resolve());
    });
    const address = `127.0.0.1:${port}`;
    await postReadings(address);
    return await load(address, 'plain Node http');
  } finally {
    child.removeAllListeners('exit');
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }
}

const SLEEP_ROUNDS = num('BENCH_HTTP_SLEEP_ROUNDS', 5);

/**
 * The first request to a web module in idle sleep (idle.afterMs): it wakes the module (the
 * service gets the worker through `module.worker()`) and waits for it. Next to it, the same
 * request to an awake web module on the same host at the same moment. Medians over rounds.
 */
async function firstRequestToSleepingModule(): Promise<BenchResult> {
  const [sleepyAt, awakeAt] = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
  const config = writeConfig({
    cacheDir: join(root, '.cache/transpile'),
    modules: { sleepy: { ...web(sleepyAt), idle: { afterMs: 100 } }, awake: web(awakeAt) },
  });
  const host = new HostProcess(['--config', config]);
  const sleeping: number[] = [];
  const awake: number[] = [];
  try {
    await host.ready(['sleepy', 'awake']);
    for (let round = 1; round <= SLEEP_ROUNDS; round++) {
      const asleep = () => host.lines.filter((l) => l.msg === 'module sleepy asleep: its worker is freed').length;
      await host.waitForLog(() => asleep() >= round, 30_000, 'the sleepy web module asleep');
      const started = performance.now();
      const timed = (address: string) =>
        httpRequest(address, { path: '/latest' }).then((r) => {
          if (r.status !== 200) throw new Error(`GET /latest on ${address} answered ${r.status}`);
          return performance.now() - started;
        });
      const [a, b] = await Promise.all([timed(sleepyAt), timed(awakeAt)]);
      sleeping.push(a);
      awake.push(b);
    }
  } finally {
    await host.stop();
  }
  console.log(
    `  first request to a sleeping web module: ${sleeping.map((x) => x.toFixed(0)).join(', ')} ms; awake: ${awake.map((x) => x.toFixed(0)).join(', ')} ms`,
  );
  return {
    name: 'HTTP: first request to a sleeping web module (median)',
    value: median(sleeping),
    unit: 'ms',
    baseline: 'the same request to an awake web module, same moment',
    baselineValue: median(awake),
    ratio: median(sleeping) / median(awake),
  };
}

export async function run(): Promise<BenchResult[]> {
  console.log(`  GET /latest with ${DEVICES} devices, ${CONNECTIONS} connections, ${DURATION_S} s after ${WARMUP_S} s of warm-up (autocannon)`);
  const module = await edgehost();
  const plain = await baseline();
  const rows: BenchResult[] = [
    {
      name: 'HTTP: web module GET /latest',
      value: module.requests.average,
      unit: 'requests/s',
      baseline: 'plain Node http, same work and load',
      baselineValue: plain.requests.average,
      ratio: module.requests.average / plain.requests.average,
    },
    {
      name: 'HTTP: web module GET /latest, p99 latency',
      value: module.latency.p99,
      unit: 'ms',
      baseline: 'plain Node http, same work and load',
      baselineValue: plain.latency.p99,
      // autocannon reports whole milliseconds: plain Node's p99 is often 0, and no ratio then.
      ...(plain.latency.p99 > 0 ? { ratio: module.latency.p99 / plain.latency.p99 } : {}),
    },
  ];
  rows.push(await firstRequestToSleepingModule());
  return rows;
}
