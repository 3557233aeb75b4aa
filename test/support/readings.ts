// Checking what reached a sink per device: telemetry numbers each device's readings
// from 1 (`seq`), so order, gaps and duplicates show in the numbers alone.
import assert from 'node:assert/strict';

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

/**
 * Asserts that each device's seqs, in arrival order, are exactly 1..n: none missing, none
 * twice, none out of order (what a queue that must not lose or repeat gives). `devices`
 * defaults to every device that arrived. Returns the seqs per device.
 */
export function assertEachDeviceInOrder(items: Reading[], devices?: string[]): Map<string, number[]> {
  const by = seqsByDevice(items);
  for (const device of devices ?? by.keys()) {
    const seqs = by.get(device) ?? [];
    assert.deepEqual(
      seqs,
      Array.from({ length: seqs.length }, (_, i) => i + 1),
      `${device}: out of order, duplicated or missing`,
    );
  }
  return by;
}
