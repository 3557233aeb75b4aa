// The StateStore that keeps persistent sessions and retained messages in the host's
// key-value store (wit/key-value.wit), so that they survive a restart of the module
// or of the host, a SIGKILL included. Changes are gathered during an export call and
// written at its end (`endCall`), in as few batch calls as they fit; the host commits
// them before anything the call sent leaves it.
//
// Bucket "sessions" (sessions whose expiry is above 0; others end with their connection):
//   s/<sid>           the session: client id, expiry, and when it ends while offline
//   u/<sid>/<n>       one subscription: filter and options
//   m/<sid>/<seq>     one QoS 1/2 message, queued or in flight (then with its packet id and state)
//   f/<sid>/<seq>     packet id and state of a message that was sent after its m/ was written
//   a/<sid>/<id>      an incoming QoS 2 packet id awaiting PUBREL (empty value)
// Bucket "retained":
//   <rid>             one retained message (topic inside)
// Session and retained ids are numbers, so that keys stay short whatever the client id
// or topic (the host bounds keys, limits.keyValueMaxKeyBytes).
//
// When the store refuses a write (quota, a value over the host's size limit), what it
// was for stays in memory, not kept across a restart; this is logged as a limit hit.

import { describeError as describe, errorPayload } from '../../shared/errors.ts';
import type { QoS } from './codec/packets.ts';
import type { LogLevel } from './core.ts';
import { LimitLog } from './limits.ts';
import type { Message } from './message.ts';
import {
  decodeEntry,
  decodeInflightState,
  decodeRetained,
  decodeSession,
  decodeSubscription,
  encodeEntry,
  encodeInflightState,
  encodeMessage,
  encodeRetained,
  encodeSession,
  encodeSubscription,
  type InflightState,
  type SessionRecord,
} from './records.ts';
import type { RetainedMessage } from './retained.ts';
import { type Inflight, NEVER_EXPIRES, type Pending, type Session, type SessionJournal, type SubscriptionOptions } from './session.ts';
import type { StateStore } from './store.ts';

export const SESSIONS = 'sessions';
export const RETAINED = 'retained';

/** Keys (or entries) per batch call: the host takes at most 1000. */
const BATCH = 1000;
/** Bytes of values per set-many call, so that one call's list stays small in guest and host memory. */
const BATCH_BYTES = 4 * 1024 * 1024;
/** Keys per get-many while loading; the host returns at most 16 MiB per call, and this keeps a chunk small. */
const LOAD_CHUNK = 64;

/**
 * The host's key-value functions as the store uses them (index.ts passes the WIT
 * imports themselves). A host error is thrown, with its `host-error` as `payload`.
 */
export interface KeyValue {
  get(bucket: string, key: string): Uint8Array | undefined | null;
  listKeys(bucket: string, cursor: string | undefined): { keys: string[]; cursor?: string | null };
  getMany(bucket: string, keys: string[]): (Uint8Array | undefined | null)[];
  setMany(bucket: string, keyValues: [string, Uint8Array][]): void;
  deleteMany(bucket: string, keys: string[]): void;
}

/** What the server does with what was kept (Server implements it). */
export interface RestoreTarget {
  /** Creates an offline session as the record says, with its subscriptions and messages; undefined if it cannot be. */
  restoreSession(
    record: SessionRecord,
    subscriptions: readonly [string, SubscriptionOptions][],
    inflight: readonly Inflight[],
    queued: readonly Pending[],
    awaiting: readonly number[],
  ): Session | undefined;
  /** Keeps a retained message; false when the server's limits refuse it now. */
  restoreRetained(message: Message, qos: QoS): boolean;
}

export interface RestoreCounts {
  sessions: number;
  messages: number;
  retained: number;
  /** Values that did not decode, sessions or messages that could not be restored, retained messages now expired or over the limits: deleted. */
  discarded: number;
}

/** A write of one call: bytes, a message entry encoded at the end of the call (its latest state), or a delete. */
type Op = Uint8Array | Pending | Inflight | null;

const EMPTY = new Uint8Array(0);

const sKey = (sid: number) => `s/${sid}`;
const uKey = (sid: number, n: number) => `u/${sid}/${n}`;
const mKey = (sid: number, seq: number) => `m/${sid}/${seq}`;
const fKey = (sid: number, seq: number) => `f/${sid}/${seq}`;
const aKey = (sid: number, id: number) => `a/${sid}/${id}`;

const isEntry = (op: Op | undefined): op is Pending | Inflight => op !== undefined && op !== null && !(op instanceof Uint8Array);

/** What the store knows of one session it keeps: its id and its subscriptions' numbers. It is the session's journal. */
class KeptSession implements SessionJournal {
  readonly sid: number;
  readonly subs = new Map<string, number>();
  nextSub = 1;
  /** Messages whose packet id and state are written apart (f/): only theirs need deleting with them. */
  readonly apart = new Set<number>();
  private readonly ops: Map<string, Op>;

  constructor(sid: number, ops: Map<string, Op>) {
    this.sid = sid;
    this.ops = ops;
  }

  added(entry: Pending | Inflight): void {
    this.ops.set(mKey(this.sid, entry.seq), entry);
  }

  sent(entry: Inflight): void {
    this.changed(entry);
  }

  released(entry: Inflight): void {
    this.changed(entry);
  }

  /** The packet id or state changed: rewritten whole while the entry is new in this call, else apart (f/). */
  private changed(entry: Inflight): void {
    const m = mKey(this.sid, entry.seq);
    if (isEntry(this.ops.get(m))) this.ops.set(m, entry);
    else {
      this.ops.set(fKey(this.sid, entry.seq), encodeInflightState(entry));
      this.apart.add(entry.seq);
    }
  }

  removed(seq: number): void {
    const m = mKey(this.sid, seq);
    if (isEntry(this.ops.get(m))) {
      // Entered and left within this call: never written.
      this.ops.delete(m);
      return;
    }
    this.ops.set(m, null);
    if (this.apart.delete(seq)) this.ops.set(fKey(this.sid, seq), null);
  }

  awaiting(packetId: number, waiting: boolean): void {
    this.ops.set(aKey(this.sid, packetId), waiting ? EMPTY : null);
  }
}

export class KvStateStore implements StateStore {
  /** Whether sessions and retained messages are kept (their bucket is granted). */
  readonly keepSessions: boolean;
  readonly keepRetained: boolean;
  private readonly kv: KeyValue;
  private readonly limitLog: LimitLog;
  private readonly now: () => number;
  private readonly sessionOps = new Map<string, Op>();
  private readonly retainedOps = new Map<string, RetainedMessage | null>();
  /** Sessions whose record (expiry, expiresAt) is to be written at the end of the call. */
  private readonly dirty = new Set<Session>();
  /** Topic → its retained message's id. */
  private readonly retainedIds = new Map<string, number>();
  private nextSid = 1;
  private nextRid = 1;

  constructor(kv: KeyValue, keep: { sessions: boolean; retained: boolean }, log: (message: string) => void, now: () => number) {
    this.kv = kv;
    this.keepSessions = keep.sessions;
    this.keepRetained = keep.retained;
    this.limitLog = new LimitLog(log);
    this.now = now;
  }

  // ---- Hooks (store.ts) ----

  sessionChanged(session: Session): void {
    if (!this.keepSessions) return;
    const kept = session.journal as KeptSession | undefined;
    if (session.expirySeconds === 0) {
      // It ends with its connection now: nothing of it may come back after a restart.
      if (kept) this.forget(session, kept);
      return;
    }
    if (!kept) this.keep(session);
    this.dirty.add(session);
  }

  sessionEnded(session: Session): void {
    const kept = session.journal as KeptSession | undefined;
    if (kept) this.forget(session, kept);
  }

  subscriptionChanged(session: Session, filter: string, options: SubscriptionOptions | undefined): void {
    const kept = session.journal as KeptSession | undefined;
    if (!kept) return;
    let n = kept.subs.get(filter);
    if (options) {
      if (n === undefined) {
        n = kept.nextSub++;
        kept.subs.set(filter, n);
      }
      this.sessionOps.set(uKey(kept.sid, n), encodeSubscription(filter, options));
    } else if (n !== undefined) {
      kept.subs.delete(filter);
      this.sessionOps.set(uKey(kept.sid, n), null);
    }
  }

  retainedChanged(topic: string, retained: RetainedMessage | undefined): void {
    if (!this.keepRetained) return;
    let rid = this.retainedIds.get(topic);
    if (retained) {
      if (rid === undefined) {
        rid = this.nextRid++;
        this.retainedIds.set(topic, rid);
      }
      this.retainedOps.set(String(rid), retained);
    } else if (rid !== undefined) {
      this.retainedIds.delete(topic);
      this.retainedOps.set(String(rid), null);
    }
  }

  endCall(): void {
    for (const session of this.dirty) {
      const kept = session.journal as KeptSession | undefined;
      if (!kept) continue;
      const record: SessionRecord = { clientId: session.clientId, expirySeconds: session.expirySeconds };
      if (session.expiresAt !== undefined) record.expiresAt = session.expiresAt;
      this.sessionOps.set(sKey(kept.sid), encodeSession(record));
    }
    this.dirty.clear();
    if (this.sessionOps.size > 0) {
      const ops = [...this.sessionOps];
      this.sessionOps.clear();
      // A message kept by several sessions is encoded once per call (not kept: it would double the memory of what is queued).
      const parts = new Map<Message, Uint8Array>();
      const part = (m: Message) => {
        let p = parts.get(m);
        if (p === undefined) {
          p = encodeMessage(m);
          parts.set(m, p);
        }
        return p;
      };
      this.write(
        SESSIONS,
        ops.map(([key, op]) => [key, op === null ? null : op instanceof Uint8Array ? () => op : () => encodeEntry(op, part(op.message))]),
      );
    }
    if (this.retainedOps.size > 0) {
      const ops = [...this.retainedOps];
      this.retainedOps.clear();
      this.write(
        RETAINED,
        ops.map(([key, r]) => [key, r === null ? null : () => encodeRetained(r.message, r.qos)]),
      );
    }
  }

  // ---- Keeping and forgetting sessions ----

  /** Starts keeping `session`: everything it holds now is written (it is usually new and holds nothing). */
  private keep(session: Session): void {
    const kept = new KeptSession(this.nextSid++, this.sessionOps);
    session.journal = kept;
    for (const [filter, options] of session.subscriptions) this.subscriptionChanged(session, filter, options);
    for (const m of session.messages()) kept.added(m);
    for (const id of session.awaitingRelease) kept.awaiting(id, true);
  }

  /** Stops keeping `session` and deletes all it had written. */
  private forget(session: Session, kept: KeptSession): void {
    this.dirty.delete(session);
    for (const m of session.messages()) kept.removed(m.seq);
    for (const id of session.awaitingRelease) kept.awaiting(id, false);
    for (const n of kept.subs.values()) this.sessionOps.set(uKey(kept.sid, n), null);
    this.sessionOps.set(sKey(kept.sid), null);
    session.journal = undefined;
  }

  // ---- Writing ----

  /** Deletes, then sets, in batches; a refused batch is written entry by entry, so that only what cannot be kept is lost. */
  private write(bucket: string, ops: [string, (() => Uint8Array) | null][]): void {
    const deletes: string[] = [];
    const puts: [string, Uint8Array][] = [];
    for (const [key, value] of ops) {
      if (value === null) deletes.push(key);
      else puts.push([key, value()]);
    }
    for (let i = 0; i < deletes.length; i += BATCH) {
      const keys = deletes.slice(i, i + BATCH);
      try {
        this.kv.deleteMany(bucket, keys);
      } catch (e) {
        this.problem(bucket, `deleting ${keys.length} entries failed`, e);
      }
    }
    let batch: [string, Uint8Array][] = [];
    let bytes = 0;
    const flush = () => {
      if (batch.length === 0) return;
      const entries = batch;
      batch = [];
      bytes = 0;
      try {
        this.kv.setMany(bucket, entries);
        return;
      } catch (e) {
        if (entries.length === 1) {
          this.problem(bucket, `"${entries[0][0]}" (${entries[0][1].length} bytes) is not kept across restarts`, e);
          return;
        }
      }
      for (const entry of entries) {
        try {
          this.kv.setMany(bucket, [entry]);
        } catch (e) {
          this.problem(bucket, `"${entry[0]}" (${entry[1].length} bytes) is not kept across restarts`, e);
        }
      }
    };
    for (const entry of puts) {
      if (batch.length >= BATCH || (batch.length > 0 && bytes + entry[1].length > BATCH_BYTES)) flush();
      batch.push(entry);
      bytes += entry[1].length;
    }
    flush();
  }

  private problem(bucket: string, what: string, e: unknown): void {
    const tag = errorPayload(e)?.tag ?? 'error';
    this.limitLog.hit(`key-value ${tag}`, `bucket "${bucket}": ${what}: ${describe(e)}`, this.now());
  }

  // ---- Loading ----

  /** Reads what was kept and hands it to `into`; deletes what cannot be used. Call once, in init, before clients connect. */
  restore(into: RestoreTarget): RestoreCounts {
    const counts: RestoreCounts = { sessions: 0, messages: 0, retained: 0, discarded: 0 };
    if (this.keepSessions) this.restoreSessions(into, counts);
    if (this.keepRetained) this.restoreRetained(into, counts);
    return counts;
  }

  private restoreSessions(into: RestoreTarget, counts: RestoreCounts): void {
    const now = this.now();
    interface Keys {
      s?: string;
      u: Map<number, string>;
      m: Map<number, string>;
      f: Map<number, string>;
      a: Map<number, string>;
    }
    const bySid = new Map<number, Keys>();
    const discard = (key: string) => {
      this.sessionOps.set(key, null);
      counts.discarded++;
    };
    for (const key of this.allKeys(SESSIONS)) {
      const parts = key.split('/');
      const sid = Number(parts[1]);
      const n = Number(parts[2]);
      const kind = parts[0];
      const valid =
        Number.isSafeInteger(sid) && sid > 0 && (kind === 's' ? parts.length === 2 : parts.length === 3 && Number.isSafeInteger(n) && 'umfa'.includes(kind));
      if (!valid || kind.length !== 1) {
        discard(key);
        continue;
      }
      if (sid >= this.nextSid) this.nextSid = sid + 1;
      let keys = bySid.get(sid);
      if (!keys) {
        keys = { u: new Map(), m: new Map(), f: new Map(), a: new Map() };
        bySid.set(sid, keys);
      }
      if (kind === 's') keys.s = key;
      else keys[kind as 'u' | 'm' | 'f' | 'a'].set(n, key);
    }
    // Newest first: a client id kept twice (never written so, but a store is read
    // defensively) keeps its later session.
    const restored = new Set<string>();
    for (const sid of [...bySid.keys()].sort((a, b) => b - a)) {
      const keys = bySid.get(sid)!;
      const all = [...(keys.s ? [keys.s] : []), ...keys.u.values(), ...keys.m.values(), ...keys.f.values(), ...keys.a.values()];
      let record: SessionRecord | undefined;
      if (keys.s) {
        try {
          record = decodeSession(this.read(SESSIONS, [keys.s])[0]!);
        } catch {
          record = undefined;
        }
      }
      if (!record || record.expirySeconds === 0 || restored.has(record.clientId)) {
        // Pieces of a session that ended (or was never fully written): of no use.
        for (const key of all) discard(key);
        continue;
      }
      const kept = new KeptSession(sid, this.sessionOps);
      const subscriptions: [string, SubscriptionOptions][] = [];
      this.readEach(SESSIONS, [...keys.u], (n, value, key) => {
        try {
          const sub = decodeSubscription(value);
          kept.subs.set(sub[0], n);
          if (n >= kept.nextSub) kept.nextSub = n + 1;
          subscriptions.push(sub);
        } catch {
          discard(key);
        }
      });
      const states = new Map<number, InflightState>();
      this.readEach(SESSIONS, [...keys.f], (seq, value, key) => {
        try {
          states.set(seq, decodeInflightState(value));
          kept.apart.add(seq);
        } catch {
          discard(key);
        }
      });
      const inflight: Inflight[] = [];
      const queued: Pending[] = [];
      const messages = [...keys.m].sort((a, b) => a[0] - b[0]);
      this.readEach(SESSIONS, messages, (seq, value, key) => {
        try {
          const entry = decodeEntry(value, seq, states.get(seq));
          if ('packetId' in entry) inflight.push(entry);
          else queued.push(entry);
        } catch {
          discard(key);
          if (kept.apart.delete(seq)) discard(keys.f.get(seq)!);
        }
      });
      for (const [seq, key] of keys.f) {
        if (keys.m.has(seq)) continue;
        kept.apart.delete(seq);
        discard(key);
      }
      const awaiting = [...keys.a.keys()].filter((id) => id >= 1 && id <= 65535);
      // It was connected when the module or host stopped: offline from now on, its expiry counted from now.
      const wasConnected = record.expiresAt === undefined && record.expirySeconds !== NEVER_EXPIRES;
      if (wasConnected) record.expiresAt = now + record.expirySeconds * 1000;
      const session = into.restoreSession(record, subscriptions, inflight, queued, awaiting);
      if (!session) {
        for (const key of all) discard(key);
        continue;
      }
      session.journal = kept;
      if (wasConnected) this.dirty.add(session);
      restored.add(record.clientId);
      counts.sessions++;
      counts.messages += inflight.length + queued.length;
    }
  }

  private restoreRetained(into: RestoreTarget, counts: RestoreCounts): void {
    const now = this.now();
    const keys: [number, string][] = [];
    for (const key of this.allKeys(RETAINED)) {
      const rid = Number(key);
      if (!Number.isSafeInteger(rid) || rid < 1 || String(rid) !== key) {
        this.retainedOps.set(key, null);
        counts.discarded++;
        continue;
      }
      if (rid >= this.nextRid) this.nextRid = rid + 1;
      keys.push([rid, key]);
    }
    keys.sort((a, b) => a[0] - b[0]);
    this.readEach(RETAINED, keys, (rid, value, key) => {
      let r: { message: Message; qos: QoS } | undefined;
      try {
        r = decodeRetained(value);
      } catch {
        r = undefined;
      }
      if (!r || (r.message.expiresAt !== undefined && r.message.expiresAt <= now) || !into.restoreRetained(r.message, r.qos)) {
        this.retainedOps.set(key, null);
        counts.discarded++;
        return;
      }
      // A topic kept twice: the later id wins (restoreRetained replaced the earlier message).
      const earlier = this.retainedIds.get(r.message.topic);
      if (earlier !== undefined) {
        this.retainedOps.set(String(earlier), null);
        counts.retained--;
      }
      this.retainedIds.set(r.message.topic, rid);
      counts.retained++;
    });
  }

  /** Every key of `bucket`, page by page. */
  private allKeys(bucket: string): string[] {
    const keys: string[] = [];
    let cursor: string | undefined;
    do {
      const page = this.kv.listKeys(bucket, cursor);
      for (const k of page.keys) keys.push(k);
      cursor = page.cursor ?? undefined;
    } while (cursor !== undefined);
    return keys;
  }

  /** The values of `keys` (absent ones undefined), a chunk at a time, one by one where a chunk is too large for one call. */
  private read(bucket: string, keys: string[]): (Uint8Array | undefined)[] {
    try {
      return this.kv.getMany(bucket, keys).map((v) => v ?? undefined);
    } catch (e) {
      if (keys.length === 1 || errorPayload(e)?.tag !== 'limited') throw e;
      return keys.map((k) => this.kv.get(bucket, k) ?? undefined);
    }
  }

  /** Reads `[id, key]` pairs in chunks and calls `each` with the value of each present key, in order. */
  private readEach(bucket: string, items: [number, string][], each: (id: number, value: Uint8Array, key: string) => void): void {
    for (let i = 0; i < items.length; i += LOAD_CHUNK) {
      const chunk = items.slice(i, i + LOAD_CHUNK);
      const values = this.read(
        bucket,
        chunk.map(([, key]) => key),
      );
      chunk.forEach(([id, key], j) => {
        const value = values[j];
        if (value !== undefined) each(id, value, key);
      });
    }
  }
}

/**
 * The store for sessions and retained messages, as `persist` and the grant allow:
 * with 'auto' each kind is kept when its bucket is granted, with 'on' both must be
 * (else this throws, and init fails); undefined when nothing is kept.
 */
export function openKvStore(
  kv: KeyValue,
  mode: 'auto' | 'on' | 'off',
  platform: { log(level: LogLevel, message: string): void; now(): number },
): KvStateStore | undefined {
  if (mode === 'off') return undefined;
  const granted = (bucket: string): boolean => {
    try {
      kv.listKeys(bucket, undefined);
      return true;
    } catch (e) {
      if (mode === 'auto' && errorPayload(e)?.tag === 'denied') return false;
      throw new Error(`persist: key-value bucket "${bucket}": ${describe(e)}`);
    }
  };
  const sessions = granted(SESSIONS);
  const retained = granted(RETAINED);
  if (!sessions && !retained) {
    platform.log(
      'info',
      'persist: no key-value bucket is granted: sessions and retained messages are kept in memory only (grant the buckets "sessions" and "retained" to keep them)',
    );
    return undefined;
  }
  return new KvStateStore(
    kv,
    { sessions, retained },
    (message) => platform.log('warn', message),
    () => platform.now(),
  );
}
