// Memory: the host's resident set (VmRSS from /proc) with the three reference modules, and
// what each added module costs: RSS with N telemetry modules against N-1, same run, same
// machine. Each host is started fresh, waits until every module is ready, lets the first
// ticks run, and is read twice a settle interval apart (the larger reading counts).
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { HostProcess, writeConfig } from '../test/support/host-process.ts';
import { HttpSink } from '../test/support/http-sink.ts';
import { gateway, server, telemetry } from '../test/support/modules.ts';
import { freePort } from '../test/support/ports.ts';
import type { BenchResult } from './result.ts';

const num = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);
const EXTRA = num('BENCH_MEMORY_EXTRA', 4);
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
    const before = await withExtra(EXTRA - 1);
    const after = await withExtra(EXTRA);
    const perModule = after - before;
    console.log(`  ${3 + EXTRA - 1} modules: ${before.toFixed(1)} MB; ${3 + EXTRA} modules: ${after.toFixed(1)} MB`);
    return [
      { name: 'host RSS, three reference modules', value: three, unit: 'MB' },
      {
        name: 'RSS per added module',
        value: perModule,
        unit: 'MB',
        baseline: `the same host with one module fewer (${(3 + EXTRA - 1).toString()} modules: ${before.toFixed(0)} MB)`,
        baselineValue: before,
        ratio: after / before,
      },
    ];
  } finally {
    await sink.close();
  }
}
