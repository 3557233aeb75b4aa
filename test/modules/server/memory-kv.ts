// An in-memory stand-in for the host's key-value store (wit/key-value.wit), for driving
// the server's store in plain Node: the same functions, host errors thrown with their
// `payload` as the WIT glue throws them, buckets granted by name, batches of at most
// 1000, and a quota counted as the host counts it.
import type { KeyValue } from '../../../modules/server/src/kv-store.ts';

const OVERHEAD = 64;
const byteLength = (s: string) => new TextEncoder().encode(s).length;

export class HostError extends Error {
  readonly payload: { tag: string; val: string };
  constructor(tag: string, val: string) {
    super(`${tag}: ${val}`);
    this.payload = { tag, val };
  }
}

export class MemoryKeyValue implements KeyValue {
  readonly buckets = new Map<string, Map<string, Uint8Array>>();
  /** Calls by function name, to check how writes are batched. */
  readonly calls: Record<string, number> = {};
  granted: Set<string>;
  quotaBytes: number;
  /** Largest value accepted (the host's limits.keyValueMaxValueBytes). */
  maxValueBytes = 1024 * 1024;

  constructor(granted: string[] = ['sessions', 'retained'], quotaBytes = 64 * 1024 * 1024) {
    this.granted = new Set(granted);
    this.quotaBytes = quotaBytes;
  }

  /** The keys of a bucket, sorted. */
  keys(bucket: string): string[] {
    return [...(this.buckets.get(bucket)?.keys() ?? [])].sort();
  }

  used(): number {
    let n = 0;
    for (const [bucket, entries] of this.buckets) for (const [k, v] of entries) n += byteLength(bucket) + byteLength(k) + v.length + OVERHEAD;
    return n;
  }

  private bucket(name: string, op: string): Map<string, Uint8Array> {
    this.calls[op] = (this.calls[op] ?? 0) + 1;
    if (!this.granted.has(name)) throw new HostError('denied', `bucket "${name}" is not granted`);
    let b = this.buckets.get(name);
    if (!b) {
      b = new Map();
      this.buckets.set(name, b);
    }
    return b;
  }

  get(bucket: string, key: string): Uint8Array | undefined {
    return this.bucket(bucket, 'get').get(key)?.slice();
  }

  listKeys(bucket: string, cursor: string | undefined): { keys: string[]; cursor?: string } {
    this.bucket(bucket, 'listKeys');
    const all = this.keys(bucket).filter((k) => cursor === undefined || k > cursor);
    const keys = all.slice(0, 1000);
    return all.length > 1000 ? { keys, cursor: keys[keys.length - 1] } : { keys };
  }

  getMany(bucket: string, keys: string[]): (Uint8Array | undefined)[] {
    const b = this.bucket(bucket, 'getMany');
    if (keys.length > 1000) throw new HostError('limited', `${keys.length} keys`);
    return keys.map((k) => b.get(k)?.slice());
  }

  setMany(bucket: string, entries: [string, Uint8Array][]): void {
    const b = this.bucket(bucket, 'setMany');
    if (entries.length > 1000) throw new HostError('limited', `${entries.length} entries`);
    let growth = 0;
    for (const [k, v] of entries) {
      if (v.length > this.maxValueBytes) throw new HostError('invalid', `a value of ${v.length} bytes is larger than ${this.maxValueBytes}`);
      const old = b.get(k);
      growth += old === undefined ? byteLength(bucket) + byteLength(k) + v.length + OVERHEAD : v.length - old.length;
    }
    if (growth > 0 && this.used() + growth > this.quotaBytes) throw new HostError('limited', 'past the quota (limits.keyValueQuotaMb)');
    for (const [k, v] of entries) b.set(k, v.slice());
  }

  deleteMany(bucket: string, keys: string[]): void {
    const b = this.bucket(bucket, 'deleteMany');
    if (keys.length > 1000) throw new HostError('limited', `${keys.length} keys`);
    for (const k of keys) b.delete(k);
  }
}
