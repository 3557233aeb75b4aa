// `npm run bench`: runs each bench module in turn and prints one table: per scenario the
// figure, its baseline measured in the same run on the same machine, and their ratio.
// A bench module is bench/<name>.ts exporting `run(): Promise<BenchResult[]>` (bench/result.ts).
// `npm run bench -- pipeline server` runs only those.
import { existsSync } from 'node:fs';
import { printMachine } from './machine.ts';
import type { BenchModule, BenchResult } from './result.ts';

/** The whole bench must end by itself: past this, what was measured is printed and it exits 1. */
const BUDGET_MS = Number(process.env.BENCH_BUDGET_MS ?? 900_000);

const modules: { name: string; file: string; what: string }[] = [
  { name: 'pipeline', file: './pipeline.ts', what: 'telemetry -> bus -> gateway -> HTTP sink, end to end' },
  { name: 'guest-call', file: './guest-call.ts', what: 'raw guest call costs, in process' },
  { name: 'server', file: './server.ts', what: 'the server module (MQTT)' },
  { name: 'http', file: './http.ts', what: 'the web module (wasi:http) against plain Node http' },
  { name: 'bridge', file: './bridge.ts', what: 'host A -> Mosquitto -> host B over bridges, next to the same clients on Mosquitto alone' },
  { name: 'memory', file: './memory.ts', what: 'host RSS, and RSS per added module' },
  { name: 'start', file: './start.ts', what: 'warm start of the host with the three reference modules' },
  { name: 'idle', file: './idle.ts', what: 'the first message to a module in idle sleep' },
];

// Child processes (the host) are killed in 'exit' handlers: make signals go through exit.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

printMachine('edgehost bench');

const results: { module: string; rows: BenchResult[] }[] = [];
const notes: string[] = [];
let failed = false;
const started = performance.now();

const watchdog = setTimeout(() => {
  console.error(`\nbench: over its time budget of ${BUDGET_MS / 1000} s; stopping`);
  printTable();
  process.exit(1);
}, BUDGET_MS);
watchdog.unref();

const only = process.argv.slice(2);
const unknown = only.filter((name) => !modules.some((m) => m.name === name));
if (unknown.length > 0) {
  console.error(`bench: no bench named ${unknown.join(', ')}; the benches are ${modules.map((m) => m.name).join(', ')}`);
  process.exit(2);
}

for (const m of modules.filter((m) => only.length === 0 || only.includes(m.name))) {
  const url = new URL(m.file, import.meta.url);
  if (!existsSync(url)) {
    notes.push(`${m.name}: skipped, ${m.file.slice(2)} does not exist yet`);
    console.log(`[${m.name}] skipped: bench/${m.file.slice(2)} does not exist yet`);
    continue;
  }
  console.log(`[${m.name}] ${m.what}`);
  const t0 = performance.now();
  try {
    const mod = (await import(url.href)) as BenchModule;
    const rows = await mod.run();
    results.push({ module: m.name, rows });
    console.log(`[${m.name}] done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  } catch (e) {
    failed = true;
    notes.push(`${m.name}: FAILED: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    console.error(`[${m.name}] FAILED after ${((performance.now() - t0) / 1000).toFixed(1)} s: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  }
}
clearTimeout(watchdog);
printTable();
console.log(`\nbench took ${((performance.now() - started) / 1000).toFixed(1)} s`);
process.exit(failed ? 1 : 0);

function fmt(n: number | undefined): string {
  if (n === undefined) return '';
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  const digits = Number.isInteger(n) || a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function printTable() {
  const header = ['scenario', 'value', 'unit', 'baseline', 'ratio', 'baseline is'];
  const body: string[][] = [];
  for (const { module, rows } of results) {
    for (const r of rows) {
      body.push([`${module}: ${r.name}`, fmt(r.value), r.unit, fmt(r.baselineValue), r.ratio === undefined ? '' : `${fmt(r.ratio)}x`, r.baseline ?? '']);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const right = new Set([1, 3, 4]);
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  console.log('');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of body) console.log(line(row));
  if (body.length === 0) console.log('(no results)');
  for (const n of notes) console.log(`note: ${n}`);
  console.log('ratio = value / baseline, both measured in this run on this machine.');
}
