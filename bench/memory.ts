// Memory: the host's resident set (VmRSS from /proc) with the three reference modules, and
// what each added module costs: RSS with the reference modules plus N extra telemetry modules
// against plus one, divided by N-1 (one module's figure alone is noisy), same run, same
// machine. Each host is started fresh, waits until every module is ready, lets the first
// ticks run, and is read twice a settle interval apart (the larger reading counts).
// Before the host-core change (workers compiled their own code, loaded pino and Node's
// TypeScript stripper), the same measure gave 35.4 MB per added module (250.5 MB for three).
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { HostProcess, writeConfig } from '../test/support/host-process.ts';
import { HttpSink } from '../test/support/http-sink.ts';
import { gateway, server, telemetry } from '../test/support/modules.ts';
import { freePort } from '../test/support/ports.ts';
import type { BenchResult } from './result.ts';

const num = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);
const EXTRA = num('BENCH_MEMORY_EXTRA', 11);
/** RSS per added module before the host-core change, measured with this file on the same kind of machine. */
const BEFORE_MB = 35.4;
const SETTLE_MS = num('BENCH_MEMORY_SETTLE_MS', 1500);

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

async function measure(modules: Record<string, unknown>): Promise<number> {
  const host = new HostProcess(['--config', writeConfig({ modules })]);
  try {
    await host.ready(Object.keys(modules), 120_000);
    await sleep(SETTLE_MS);
    const a = rssMb(host.child.pid!);
    await sleep(SETTLE_MS);
    return Math.max(a, rssMb(host.child.pid!));
  } finally {
    await host.stop();
  }
}

export async function run(): Promise<BenchResult[]> {
  const sink = await new HttpSink().listen();
  try {
    const reference = { telemetry: telemetry(), gateway: gateway(sink.url), server: server(`127.0.0.1:${await freePort()}`) };
    const three = await measure(reference);
    console.log(`  three reference modules: ${three.toFixed(1)} MB`);
    const withExtra = async (n: number) => {
      const modules: Record<string, unknown> = { ...reference };
      for (let i = 1; i <= n; i++) modules[`extra-${i}`] = telemetry({ 'interval-ms': 1000 });
      return measure(modules);
    };
    const before = await withExtra(1);
    const after = await withExtra(EXTRA);
    const perModule = (after - before) / (EXTRA - 1);
    console.log(`  ${3 + 1} modules: ${before.toFixed(1)} MB; ${3 + EXTRA} modules: ${after.toFixed(1)} MB`);
    return [
      { name: 'host RSS, three reference modules', value: three, unit: 'MB' },
      {
        name: 'RSS per added module',
        value: perModule,
        unit: 'MB',
        baseline: `before the host-core change (goal: 20 MB or less)`,
        baselineValue: BEFORE_MB,
        ratio: perModule / BEFORE_MB,
      },
    ];
  } finally {
    await sink.close();
  }
}
