// `npm run soak`: the long form of the storms (test/support/storms/, whose short form runs in
// `npm test`), against edgehost's server module and against Mosquitto, one broker at a time on
// the same machine, with the same control client. For each storm it prints the control
// client's QoS 1 round trips lost and their p50/p99, the broker process's RSS before, at its
// peak and after, whether the broker (edgehost: the server module) restarted, and edgehost's
// figures over Mosquitto's. It exits 1 if edgehost missed one of its bounds under any storm
// (test/support/storms/measure.ts: no round trip lost, p99 under 1 s, no restart, RSS under
// its bound and back near where it was).
//
//   SOAK_SEED=<n>        the fuzzer's seed (default: drawn, and printed)
//   SOAK_STORMS=a,b      only the storms whose names contain one of these
//   SOAK_ROUNDS=<n>      run the whole set of storms n times on each broker (default 1)
//   SOAK_BROKERS=edgehost,mosquitto  which brokers (default both)
import { Clients, Processes } from '../test/modules/server/clients.ts';
import type { HostProcess } from '../test/support/host-process.ts';
import type { Mosquitto } from '../test/support/mosquitto.ts';
import { Control } from '../test/support/storms/control.ts';
import { boundsMissed, P99_BOUND_MS, RSS_BOUND_MB, RSS_NEAR_MB, type StormFigures, type StormTarget, underStorm } from '../test/support/storms/measure.ts';
import { type StormContext, storms } from '../test/support/storms/storms.ts';
import { startEdgehost, startMosquitto } from '../test/support/storms/targets.ts';
import { destroyAllRaw } from '../test/support/storms/wire.ts';
import { loadAverage, printMachine } from './machine.ts';

const SEED = Number(process.env.SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));
const ONLY = (process.env.SOAK_STORMS ?? '').split(',').filter(Boolean);
const ROUNDS = Number(process.env.SOAK_ROUNDS ?? 1);
const BROKERS = (process.env.SOAK_BROKERS ?? 'edgehost,mosquitto').split(',');
/** The soak ends by itself: past this, what was measured is printed and it exits 1. */
const BUDGET_MS = Number(process.env.SOAK_BUDGET_MS ?? 30 * 60_000) * Math.max(1, ROUNDS);

const chosen = storms.filter((s) => ONLY.length === 0 || ONLY.some((o) => s.name.includes(o)));

// Whatever ends this process, the brokers go with it: signals go through 'exit'.
const running: { host?: HostProcess; broker?: Mosquitto } = {};
process.on('exit', () => {
  running.host?.kill();
  running.broker?.kill();
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

printMachine('edgehost soak: the storms, long form, next to Mosquitto');
console.log(`  seed ${SEED} (SOAK_SEED=${SEED} repeats the fuzzer's bytes), ${ROUNDS} round(s), storms: ${chosen.map((s) => s.name).join('; ')}`);
console.log(
  `  edgehost's bounds: no control round trip lost, p99 under ${P99_BOUND_MS} ms, no restart, RSS under ${RSS_BOUND_MB} MB and within ${RSS_NEAR_MB} MB of its`,
);
console.log('  level before the storm once it is over\n');

const figures: StormFigures[] = [];
const watchdog = setTimeout(() => {
  console.error(`\nsoak: over its time budget of ${BUDGET_MS / 1000} s; stopping`);
  printTable();
  process.exit(1);
}, BUDGET_MS);
watchdog.unref();

async function soak(target: StormTarget): Promise<void> {
  const clients = new Clients(() => target.port);
  const processes = new Processes();
  const control = await Control.start(target.port);
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const s of chosen) {
        const ctx: StormContext = { target, size: 'long', clients, processes, seed: SEED + round - 1 };
        await s.prepare?.(ctx);
        const f = await underStorm(target, control, ROUNDS > 1 ? `${s.name} (round ${round})` : s.name, async () => (await s.run(ctx)).summary);
        figures.push(f);
        console.log(
          `[${target.name}] ${f.storm}: ${(f.ms / 1000).toFixed(1)} s, ${f.lost} lost, p50 ${f.rtt.p50.toFixed(1)} ms, p99 ${f.rtt.p99.toFixed(1)} ms, RSS ${mb(f)}; ${f.observed} (load ${loadAverage()})`,
        );
      }
    }
  } finally {
    await control.stop();
    processes.killAll();
    destroyAllRaw();
    await clients.closeAll();
  }
}

const started = performance.now();
if (BROKERS.includes('edgehost')) {
  const { target, host } = await startEdgehost();
  running.host = host;
  await soak(target);
  host.kill();
  await host.exited;
}
if (BROKERS.includes('mosquitto')) {
  const { target, broker } = await startMosquitto();
  running.broker = broker;
  await soak(target);
  await broker.stop();
}
clearTimeout(watchdog);
const missed = printTable();
console.log(`\nsoak took ${((performance.now() - started) / 1000).toFixed(0)} s; load average at the end ${loadAverage()}`);
process.exit(missed ? 1 : 0);

function mb(f: StormFigures): string {
  return `${f.rss.before.toFixed(0)} → ${f.rss.peak.toFixed(0)} → ${f.rss.after.toFixed(0)} MB`;
}

/** Prints every storm's figures and edgehost's over Mosquitto's; answers whether edgehost missed a bound. */
function printTable(): boolean {
  const rows: string[][] = [['storm', 'broker', 'round trips', 'lost', 'p50 ms', 'p99 ms', 'RSS before → peak → after', 'restarted', 'p99 ratio']];
  let missedAny = false;
  const notes: string[] = [];
  for (const f of figures) {
    const other = f.target === 'edgehost' ? figures.find((g) => g.target !== 'edgehost' && g.storm === f.storm) : undefined;
    rows.push([
      f.storm,
      f.target,
      String(f.rtt.count),
      String(f.lost),
      f.rtt.p50.toFixed(1),
      f.rtt.p99.toFixed(1),
      mb(f),
      f.trouble.length > 0 ? 'YES' : 'no',
      other ? `${(f.rtt.p99 / other.rtt.p99).toFixed(2)}x` : '',
    ]);
    notes.push(`${f.target}, ${f.storm}: ${f.observed}`);
    if (f.target === 'edgehost') {
      const m = boundsMissed(f);
      if (m.length > 0) {
        missedAny = true;
        notes.push(`  MISSED: ${m.join('; ')}`);
      }
    }
  }
  const widths = rows[0].map((_, col) => Math.max(...rows.map((r) => r[col].length)));
  const line = (r: string[]) =>
    r
      .map((cell, col) => (col < 2 ? cell.padEnd(widths[col]) : cell.padStart(widths[col])))
      .join('  ')
      .trimEnd();
  console.log('');
  console.log(line(rows[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows.slice(1)) console.log(line(r));
  console.log('p99 ratio = edgehost p99 / Mosquitto p99 under the same storm, same control client, same run.\n');
  for (const n of notes) console.log(n);
  console.log(missedAny ? '\nedgehost MISSED a bound (above)' : figures.length > 0 ? '\nedgehost held every bound' : '\nno storm ran');
  return missedAny;
}
