// Web services: the reference web module (modules/web, QuickJS, world http-service) answering
// GET /latest (the latest reading of DEVICES devices, as JSON) under the same load as a plain
// Node `http` server doing the same work (bench/http-baseline.ts), one after the other in the
// same run, with the same load generator: autocannon, in this process, CONNECTIONS connections
// for DURATION_S seconds after a warm-up. Both servers run in a process of their own.
//
// Rows: requests/s and p99 latency for each, and (once the module runtime can put a module to
// sleep: see firstRequestToSleepingModule) the first request to a sleeping module.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { HostProcess, writeConfig } from '../test/support/host-process.ts';
import { httpRequest } from '../test/support/http-client.ts';
import { web } from '../test/support/modules.ts';
import { root } from '../test/support/paths.ts';
import { freePort } from '../test/support/ports.ts';
import type { BenchResult } from './result.ts';

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

/**
 * HOOK for idle sleep (host/runtime): once a module can be put to sleep, measure here how long
 * the first request to a sleeping web module takes (it wakes the module and waits for it:
 * the service gets the module's worker through `module.worker()`), against a request to the
 * same module awake, and return that row. Until then there is nothing to measure.
 */
async function firstRequestToSleepingModule(): Promise<BenchResult | undefined> {
  return undefined;
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
      ratio: module.latency.p99 / plain.latency.p99,
    },
  ];
  const sleeping = await firstRequestToSleepingModule();
  if (sleeping) rows.push(sleeping);
  else console.log('  first request to a sleeping module: not measured (idle sleep is not in the module runtime yet)');
  return rows;
}
