// Helpers for behaviour tests of bridges: config entries, waiting for a bridge's log lines,
// and checking what reached a sink per device (order, gaps, duplicates).
import assert from 'node:assert/strict';
import type { HostProcess, LogLine } from './host-process.ts';

export interface Rule {
  filter: string;
  localPrefix?: string;
  remotePrefix?: string;
  qos?: 0 | 1;
}

/** A bridge entry with a quick reconnect, as tests want it (the defaults are 0.5 s to 30 s). */
export function bridge(url: string, clientId: string, rules: { out?: Rule[]; in?: Rule[] }, extra: Record<string, unknown> = {}) {
  return { url, clientId, reconnect: { initialMs: 100, maxMs: 1000 }, out: rules.out ?? [], in: rules.in ?? [], ...extra };
}

/** Resolves when the bridge has logged that it is connected and, when it has in rules, subscribed. */
export async function bridgeUp(host: HostProcess, name: string, opts: { subscribed?: boolean; after?: number; timeoutMs?: number } = {}): Promise<LogLine> {
  const since = opts.after ?? 0;
  const match = (msg: RegExp) => (l: LogLine) => l.bridge === name && msg.test(l.msg) && host.lines.indexOf(l) >= since;
  const line = await host.waitForLog(match(/^bridge \S+ connected to /), opts.timeoutMs ?? 30_000, `bridge ${name} connected`);
  if (opts.subscribed) await host.waitForLog(match(/^bridge \S+ subscribed to /), opts.timeoutMs ?? 30_000, `bridge ${name} subscribed`);
  return line;
}

export interface Reading {
  deviceId: string;
  seq: number;
}

/** Per device, the seq numbers in arrival order. */
export function seqsByDevice(items: Reading[]): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const r of items) m.set(r.deviceId, [...(m.get(r.deviceId) ?? []), r.seq]);
  return m;
}

export interface DeviceReport {
  device: string;
  distinct: number;
  duplicates: number;
}

/**
 * Asserts, per device, that the seqs without their repeats are 1..n in order (none missing,
 * none out of order), reaching at least `atLeast`, and returns how many arrived twice or more
 * (at-least-once allows them). With `fromFirstArrival` they run from the first seq that
 * arrived instead of 1.
 */
export function checkDevices(items: Reading[], devices: string[], atLeast = 1, fromFirstArrival = false): DeviceReport[] {
  const by = seqsByDevice(items);
  return devices.map((device) => {
    const seqs = by.get(device) ?? [];
    const firsts: number[] = [];
    const seen = new Set<number>();
    for (const s of seqs) {
      if (seen.has(s)) continue;
      seen.add(s);
      firsts.push(s);
    }
    const first = fromFirstArrival && firsts.length > 0 ? firsts[0] : 1;
    assert.deepEqual(
      firsts,
      Array.from({ length: firsts.length }, (_, i) => i + first),
      `${device}: readings missing or out of order (first arrivals: ${firsts.join(',')})`,
    );
    assert.ok(first + firsts.length - 1 >= atLeast, `${device}: readings ${first} to ${first + firsts.length - 1}, expected up to ${atLeast} at least`);
    return { device, distinct: firsts.length, duplicates: seqs.length - firsts.length };
  });
}
