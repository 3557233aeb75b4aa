// One module's key-value store: a SQLite file (node:sqlite) the module's worker
// opens for itself. Writes go into one transaction, begun by the first write
// and committed by `commit()`, which the worker half calls before anything the
// guest's call produced leaves the worker; so a call's writes are durable, all
// together, before what acknowledges them. The quota is counted here.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';

/** Bumped when the table layout changes, so an old host never misreads a newer file. */
const SCHEMA_VERSION = 1;

/** Longest bucket name, in UTF-8 bytes. */
export const MAX_BUCKET_BYTES = 128;

/** Bytes an entry counts beyond its bucket name, key and value: SQLite's row and index overhead, roughly. */
export const ENTRY_OVERHEAD = 64;

/** What an entry counts against the quota. */
export function entryCost(bucket: string, key: string, valueBytes: number): number {
  return Buffer.byteLength(bucket) + Buffer.byteLength(key) + valueBytes + ENTRY_OVERHEAD;
}

/** A write refused because the store would pass its quota. */
export class QuotaExceeded extends Error {}

export class KvStore {
  readonly file: string;
  readonly #db: DatabaseSync;
  readonly #quota: number;
  readonly #get: StatementSync;
  readonly #size: StatementSync;
  readonly #upsert: StatementSync;
  readonly #delete: StatementSync;
  readonly #firstKeys: StatementSync;
  readonly #keysAfter: StatementSync;
  readonly #begin: StatementSync;
  readonly #commit: StatementSync;
  readonly #savepoint: StatementSync;
  readonly #release: StatementSync;
  readonly #rollback: StatementSync;
  /** Bytes held, measured at the first write, then kept up to date by the writes. */
  #used: number | undefined;
  #inTransaction = false;
  #closed = false;

  /**
   * Opens (or creates, with its folder) the store in `file`; throws when the
   * file holds another schema version. `quotaBytes` bounds what writes may add.
   */
  constructor(file: string, quotaBytes: number) {
    this.file = file;
    this.#quota = quotaBytes;
    mkdirSync(dirname(file), { recursive: true });
    // Loaded here, not at the top: modules that never open a bucket do not pay for SQLite in their thread.
    const { DatabaseSync } = process.getBuiltinModule('node:sqlite') as typeof import('node:sqlite');
    this.#db = new DatabaseSync(file);
    // WAL with synchronous=NORMAL: a commit is a write to the WAL file without
    // fsync, so once it returns a killed process loses nothing; a power loss may
    // undo the last commits. (The bus's durable queues make the same choice.)
    // A busy database can only be an instance of this module still closing.
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY; PRAGMA busy_timeout = 2000');
    this.#migrate();
    this.#get = this.#db.prepare('SELECT value FROM entries WHERE bucket = ? AND key = ?');
    this.#size = this.#db.prepare('SELECT COALESCE(length(value), 0) AS n FROM entries WHERE bucket = ? AND key = ?');
    this.#upsert = this.#db.prepare('INSERT INTO entries (bucket, key, value) VALUES (?, ?, ?) ON CONFLICT (bucket, key) DO UPDATE SET value = excluded.value');
    this.#delete = this.#db.prepare('DELETE FROM entries WHERE bucket = ? AND key = ? RETURNING COALESCE(length(value), 0) AS n');
    this.#firstKeys = this.#db.prepare('SELECT key FROM entries WHERE bucket = ? ORDER BY key LIMIT ?');
    this.#keysAfter = this.#db.prepare('SELECT key FROM entries WHERE bucket = ? AND key > ? ORDER BY key LIMIT ?');
    this.#begin = this.#db.prepare('BEGIN IMMEDIATE');
    this.#commit = this.#db.prepare('COMMIT');
    this.#savepoint = this.#db.prepare('SAVEPOINT batch');
    this.#release = this.#db.prepare('RELEASE batch');
    this.#rollback = this.#db.prepare('ROLLBACK TO batch');
  }

  #migrate(): void {
    const { user_version: version } = this.#db.prepare('PRAGMA user_version').get() as { user_version: number };
    if (version > SCHEMA_VERSION) {
      throw new Error(`${this.file} was written by a newer edgehost (schema ${version}, this one reads ${SCHEMA_VERSION})`);
    }
    if (version === SCHEMA_VERSION) return;
    // Keys compare as their UTF-8 bytes (SQLite's BINARY collation), which is the order list-keys gives.
    // An empty value is NULL: node:sqlite binds an empty Uint8Array as NULL.
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS entries (
        bucket TEXT NOT NULL,
        key TEXT NOT NULL,
        value BLOB,
        PRIMARY KEY (bucket, key)
      );
      PRAGMA user_version = ${SCHEMA_VERSION};
    `);
  }

  /** Bytes the entries count against the quota. */
  used(): number {
    if (this.#used === undefined) {
      const row = this.#db
        .prepare(
          `SELECT COALESCE(SUM(length(CAST(bucket AS BLOB)) + length(CAST(key AS BLOB)) + COALESCE(length(value), 0) + ${ENTRY_OVERHEAD}), 0) AS n FROM entries`,
        )
        .get() as { n: number };
      this.#used = row.n;
    }
    return this.#used;
  }

  get(bucket: string, key: string): Uint8Array | undefined {
    const row = this.#get.get(bucket, key) as { value: Uint8Array | null } | undefined;
    return row === undefined ? undefined : (row.value ?? new Uint8Array(0));
  }

  exists(bucket: string, key: string): boolean {
    return this.#size.get(bucket, key) !== undefined;
  }

  /** Up to `limit` keys after `after` (from the first without it), in order; `more` when the bucket has further keys. */
  listKeys(bucket: string, after: string | undefined, limit: number): { keys: string[]; more: boolean } {
    const rows = (after === undefined ? this.#firstKeys.all(bucket, limit + 1) : this.#keysAfter.all(bucket, after, limit + 1)) as { key: string }[];
    const more = rows.length > limit;
    return { keys: rows.slice(0, limit).map((r) => r.key), more };
  }

  /**
   * The values of `keys`, in order; undefined when the values would together
   * pass `maxBytes` (the host then holds at most that much and one value more).
   */
  getMany(bucket: string, keys: readonly string[], maxBytes: number): (Uint8Array | undefined)[] | undefined {
    const out: (Uint8Array | undefined)[] = [];
    let total = 0;
    for (const key of keys) {
      const value = this.get(bucket, key);
      if (value !== undefined) {
        total += value.length;
        if (total > maxBytes) return undefined;
      }
      out.push(value);
    }
    return out;
  }

  /** Sets every entry, all or nothing; throws QuotaExceeded (nothing written) when they would pass the quota. */
  setMany(bucket: string, entries: readonly (readonly [string, Uint8Array])[]): void {
    // The last value of a key given twice wins; its cost is counted once.
    const last = new Map<string, Uint8Array>();
    for (const [key, value] of entries) last.set(key, value);
    let growth = 0;
    for (const [key, value] of last) {
      const old = this.#size.get(bucket, key) as { n: number } | undefined;
      growth += old === undefined ? entryCost(bucket, key, value.length) : value.length - old.n;
    }
    const used = this.used();
    if (growth > 0 && used + growth > this.#quota) {
      throw new QuotaExceeded(
        `the module's key-value store holds ${used} bytes; this write needs ${growth} more, past its quota of ${this.#quota} (limits.keyValueQuotaMb)`,
      );
    }
    this.#atomically(last.size, () => {
      for (const [key, value] of last) this.#upsert.run(bucket, key, value);
    });
    this.#used = used + growth;
  }

  /** Removes every key, all or nothing; keys that are not there are skipped. */
  deleteMany(bucket: string, keys: readonly string[]): void {
    let freed = 0;
    this.#atomically(keys.length, () => {
      for (const key of keys) {
        const row = this.#delete.get(bucket, key) as { n: number } | undefined;
        if (row !== undefined) freed += entryCost(bucket, key, row.n);
      }
    });
    if (this.#used !== undefined) this.#used = Math.max(0, this.#used - freed);
  }

  /** Commits the writes since the last commit; throws when SQLite cannot (then nothing may acknowledge them). */
  commit(): void {
    if (!this.#inTransaction) return;
    this.#commit.run();
    this.#inTransaction = false;
  }

  /** Commits, then closes the file. */
  close(): void {
    if (this.#closed) return;
    try {
      this.commit();
    } finally {
      this.#closed = true;
      this.#db.close();
    }
  }

  /** Runs `work` (`statements` writes) inside the open transaction as one unit: if it throws, none of it stays. */
  #atomically(statements: number, work: () => void): void {
    if (!this.#inTransaction) {
      this.#begin.run();
      this.#inTransaction = true;
    }
    // One statement is atomic by itself.
    if (statements <= 1) {
      work();
      return;
    }
    this.#savepoint.run();
    try {
      work();
    } catch (e) {
      this.#rollback.run();
      this.#release.run();
      throw e;
    }
    this.#release.run();
  }
}
