// What a storm did to a broker, measured the same way on edgehost and on Mosquitto: the
// control client's round trips lost and their p50/p99, the broker process's resident
// memory before, at its peak and after, and whether the broker (edgehost: the server
// module) restarted. And the bounds edgehost must hold under every storm.
import { readFileSync } from 'node:fs';
import type { Control, RoundTripStats } from './control.ts';

/** A broker under a storm: edgehost's host process with the server module, or Mosquitto. */
export interface StormTarget {
  name: string;
  /** MQTT over TCP. */
  port: number;
  /** MQTT over WebSocket, subprotocol `mqtt` (edgehost: the same port). */
  wsPort: number;
  /** The process whose memory is measured: edgehost's host (module workers are its threads) or Mosquitto. */
  pid(): number;
  /** What says the broker restarted or failed so far: the host's log lines of a module stop or restart, an exit. */
  trouble(): string[];
  /**
   * Resolves once the broker says it cut one of these subscribers (`address:port` as it
   * sees them) for not reading: edgehost logs it. Absent for a broker that does not say.
   */
  notReadingCut?(peers: string[]): Promise<void>;
}

export interface StormFigures {
  storm: string;
  target: string;
  ms: number;
  /** Control round trips lost during the storm and its aftermath. */
  lost: number;
  rtt: RoundTripStats;
  /** MB of VmRSS: before the storm, the highest seen during it (sampled every 25 ms), after it settled. */
  rss: { before: number; peak: number; after: number };
  trouble: string[];
  /** What the storm saw of the broker (how many connections it closed, ...). */
  observed: string;
}

/**
 * Edgehost's resident memory under any storm, for the host these storms run (one server
 * module with its default budgets). What a client of the server module can make the host
 * hold adds up to about 460 MB: the guest's 128 MB of linear memory, its 64 MB worker heap,
 * 64 MB of unsent socket bytes, 32 MB of socket input host-wide, on top of the host's own
 * ~150 MB and the module's ~18 MB (README, Reliability). The module's delivery queue is left
 * out: its own publishes do not come back to it, so no client of it fills it. The bound adds
 * some headroom for V8's own growth.
 */
export const RSS_BOUND_MB = 512;
/** After a storm, the host's RSS comes back to within this of where it was before it. */
export const RSS_NEAR_MB = 64;
/** The control client's p99 under any storm. */
export const P99_BOUND_MS = 1000;
/** How long "after" may take to come down to within RSS_NEAR_MB of "before". */
const SETTLE_MS = 15_000;

/** VmRSS of `pid` in MB (NaN once the process is gone). */
export function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
  } catch {
    return Number.NaN;
  }
}

/**
 * Runs `storm` against `target` while `control` keeps its round trips, then waits for a few
 * more round trips (the aftermath counts too) and for the RSS to settle.
 */
export async function underStorm(target: StormTarget, control: Control, storm: string, run: () => Promise<string>): Promise<StormFigures> {
  const from = control.rtts.length;
  const lostBefore = control.lost;
  const troubleBefore = target.trouble().length;
  const before = rssMb(target.pid());
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMb(target.pid()));
  }, 25);
  const started = performance.now();
  try {
    const observed = await run();
    const ms = performance.now() - started;
    await control.roundTrips(5).catch(() => {});
    // Memory is measured, not waited on: it is read until it is back near where it was, or the time is up.
    let after = rssMb(target.pid());
    const settleBy = performance.now() + SETTLE_MS;
    while (after > before + RSS_NEAR_MB && performance.now() < settleBy) {
      await new Promise((r) => setTimeout(r, 250));
      after = rssMb(target.pid());
    }
    return {
      storm,
      target: target.name,
      ms,
      lost: control.lost - lostBefore,
      rtt: control.stats(from),
      rss: { before, peak: Math.max(peak, after), after },
      trouble: target.trouble().slice(troubleBefore),
      observed,
    };
  } finally {
    clearInterval(sampler);
  }
}

/** How `f` misses edgehost's acceptance bounds; empty when it meets them all. */
export function boundsMissed(f: StormFigures): string[] {
  const missed: string[] = [];
  if (f.lost > 0) missed.push(`the control client lost ${f.lost} QoS 1 round trips`);
  if (!(f.rtt.p99 < P99_BOUND_MS)) missed.push(`control p99 ${f.rtt.p99.toFixed(0)} ms is not under ${P99_BOUND_MS} ms`);
  if (f.rtt.count === 0) missed.push('no control round trip completed');
  if (f.trouble.length > 0) missed.push(`restarted or failed: ${f.trouble.slice(0, 3).join(' | ')}`);
  if (!(f.rss.peak < RSS_BOUND_MB)) missed.push(`peak RSS ${f.rss.peak.toFixed(0)} MB is not under ${RSS_BOUND_MB} MB`);
  if (!(f.rss.after <= f.rss.before + RSS_NEAR_MB)) {
    missed.push(`RSS ${f.rss.after.toFixed(0)} MB afterwards, more than ${RSS_NEAR_MB} MB over the ${f.rss.before.toFixed(0)} MB before`);
  }
  return missed;
}

/** One line of figures. */
export function describeFigures(f: StormFigures): string {
  return `${f.storm} on ${f.target}: ${Math.round(f.ms)} ms; control ${f.rtt.count} round trips, ${f.lost} lost, p50 ${f.rtt.p50.toFixed(1)} ms, p99 ${f.rtt.p99.toFixed(1)} ms, max ${f.rtt.max.toFixed(1)} ms; RSS ${f.rss.before.toFixed(0)} → peak ${f.rss.peak.toFixed(0)} → ${f.rss.after.toFixed(0)} MB; ${f.observed}`;
}
