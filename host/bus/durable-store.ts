import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { BusMessage, QueueJournal } from './subscriber.ts';

/** Bumped when the table layout changes, so an old host never misreads a newer file. */
const SCHEMA_VERSION = 1;

/** Rows read per query while recovering, so a long backlog is not read into memory at once. */
const RECOVER_CHUNK = 1024;

/**
 * The queues of durable subscribers, in one SQLite file: a row per message and
 * subscriber, deleted once the message was delivered (or dropped, or
 * dead-lettered). A message published to several durable subscribers is stored
 * once for each, which keeps acknowledging a single-row delete.
 *
 * Writes go into one transaction, begun by the first write and committed by
 * commit() or, at the latest, at the end of the tick (setImmediate). What was
 * committed survives the host process being killed; what was not is gone
 * after a crash, as if it had never been written. Losing deletes or attempt
 * counts that way only means a message is delivered again.
 *
 * One store per file and process: a second writer would meet a locked database.
 */
export class DurableStore {
  readonly file: string;
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #delete: StatementSync;
  readonly #setAttempts: StatementSync;
  readonly #select: StatementSync;
  /** Set while a transaction is open: the commit that closes it at the end of the tick. */
  #tickCommit: NodeJS.Immediate | undefined;
  #closed = false;

  /** Creates the file and its folder when missing; throws when the file holds another schema version. */
  constructor(file: string) {
    this.file = file;
    mkdirSync(dirname(file), { recursive: true });
    this.#db = new DatabaseSync(file);
    // In WAL mode with synchronous=NORMAL a commit is a write to the WAL file
    // without fsync: once the OS has it, a killed process loses nothing, but a
    // power loss may undo the last commits. synchronous=FULL would fsync on
    // every commit to survive that too, at a large cost per commit.
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL');
    this.#migrate();
    this.#insert = this.#db.prepare('INSERT INTO messages (subscriber, topic, payload, published_at, publisher) VALUES (?, ?, ?, ?, ?)');
    this.#delete = this.#db.prepare('DELETE FROM messages WHERE id = ?');
    this.#setAttempts = this.#db.prepare('UPDATE messages SET attempts = ? WHERE id = ?');
    this.#select = this.#db.prepare(
      'SELECT id, topic, payload, published_at, publisher, attempts FROM messages WHERE subscriber = ? AND id > ? ORDER BY id LIMIT ?',
    );
  }

  /**
   * The queue of the durable subscriber `subscriberId`, for the bus to hand
   * to it. Its rows stay when the subscriber is removed: the next queue opened
   * for that id recovers them.
   */
  queue(subscriberId: string): QueueJournal {
    if (this.#closed) throw new Error(`durable store ${this.file} is closed`);
    // Messages held in memory are shared by every subscriber they went to,
    // so their row ids are kept here, per queue, rather than on the message.
    const ids = new Map<BusMessage, number>();
    return {
      recover: () => this.#recover(subscriberId, ids),
      append: (message) => {
        // Unlike the writes below, losing this one would lose the message: refuse it.
        if (this.#closed) throw new Error(`durable store ${this.file} is closed`);
        const { lastInsertRowid } = this.#write(() =>
          this.#insert.run(subscriberId, message.topic, message.payload, message.publishedAt, message.publisher ?? null),
        );
        ids.set(message, Number(lastInsertRowid));
      },
      recordAttempt: (message, attempts) => {
        const id = ids.get(message);
        if (id !== undefined && !this.#closed) this.#write(() => this.#setAttempts.run(attempts, id));
      },
      remove: (message) => {
        const id = ids.get(message);
        if (id === undefined) return;
        ids.delete(message);
        if (!this.#closed) this.#write(() => this.#delete.run(id));
      },
    };
  }

  /**
   * Commits everything written so far; when it returns, it survives a crash
   * of the process. Cheap when nothing is pending. A failed commit closes the
   * store and throws: what it held is lost, and row ids of the rolled-back
   * rows could be reused by later rows, so going on could delete the wrong ones.
   */
  commit(): void {
    if (this.#tickCommit === undefined) return;
    clearImmediate(this.#tickCommit);
    this.#tickCommit = undefined;
    const started = performance.now();
    try {
      this.#db.exec('COMMIT');
    } catch (e) {
      this.#fail();
      throw e;
    }
    this.onCommit?.((performance.now() - started) / 1000);
  }

  /** Called after each commit with how long it took (seconds), for the host's metrics. */
  onCommit: ((seconds: number) => void) | undefined;

  /**
   * Commits and closes. Afterwards appends throw (their messages would be
   * lost), while deletes and attempt counts are ignored (a late delivery
   * outcome then only causes a redelivery after the restart).
   */
  close(): void {
    if (this.#closed) return;
    this.commit();
    this.#closed = true;
    this.#db.close();
  }

  *#recover(subscriberId: string, ids: Map<BusMessage, number>): Generator<{ message: BusMessage; attempts: number }> {
    let after = 0;
    for (;;) {
      const rows = this.#select.all(subscriberId, after, RECOVER_CHUNK) as unknown as Row[];
      for (const row of rows) {
        const message: BusMessage = { topic: row.topic, payload: row.payload, publishedAt: row.published_at, publisher: row.publisher ?? undefined };
        ids.set(message, row.id);
        yield { message, attempts: row.attempts };
      }
      if (rows.length < RECOVER_CHUNK) return;
      after = rows[rows.length - 1].id;
    }
  }

  #write<T>(statement: () => T): T {
    if (this.#tickCommit === undefined) {
      this.#db.exec('BEGIN');
      this.#tickCommit = setImmediate(() => this.commit());
    }
    try {
      return statement();
    } catch (e) {
      // Some errors (a full disk, an I/O error) roll back the whole
      // transaction; what is in memory then no longer matches the file.
      if (!this.#db.isTransaction) this.#fail();
      throw e;
    }
  }

  #fail() {
    clearImmediate(this.#tickCommit);
    this.#tickCommit = undefined;
    this.#closed = true;
    // Closing rolls back whatever is left of the transaction.
    this.#db.close();
  }

  #migrate() {
    const { user_version: version } = this.#db.prepare('PRAGMA user_version').get() as { user_version: number };
    if (version === SCHEMA_VERSION) return;
    if (version !== 0) {
      this.#db.close();
      throw new Error(`durable store ${this.file} has schema version ${version}; this host reads version ${SCHEMA_VERSION}`);
    }
    this.#db.exec(`
      BEGIN;
      CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        subscriber TEXT NOT NULL,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        published_at INTEGER NOT NULL,
        publisher TEXT,
        attempts INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX messages_by_subscriber ON messages (subscriber, id);
      PRAGMA user_version = ${SCHEMA_VERSION};
      COMMIT;
    `);
  }
}

interface Row {
  id: number;
  topic: string;
  payload: Uint8Array;
  published_at: number;
  publisher: string | null;
  attempts: number;
}
