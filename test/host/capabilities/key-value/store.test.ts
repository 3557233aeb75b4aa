import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { ENTRY_OVERHEAD, entryCost, KvStore, QuotaExceeded } from '../../../../host/capabilities/key-value/store.ts';
import { tempDir } from '../../../support/paths.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

function fresh(quota = 1 << 20) {
  const file = join(tempDir(), 'kv', 'm.sqlite');
  return { file, store: new KvStore(file, quota) };
}

/** What another connection sees: only committed writes. */
function committed(file: string): [string, string, string][] {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return (db.prepare('SELECT bucket, key, value FROM entries ORDER BY bucket, key').all() as { bucket: string; key: string; value: Uint8Array | null }[]).map(
      (r) => [r.bucket, r.key, text(r.value ?? new Uint8Array(0))!],
    );
  } finally {
    db.close();
  }
}

test('writes are seen at once by the store, and by others only after commit', () => {
  const { file, store } = fresh();
  store.setMany('b', [['k', bytes('v1')]]);
  assert.equal(text(store.get('b', 'k')), 'v1');
  assert.equal(store.exists('b', 'k'), true);
  assert.deepEqual(committed(file), []);
  store.commit();
  assert.deepEqual(committed(file), [['b', 'k', 'v1']]);
  store.deleteMany('b', ['k']);
  assert.equal(store.get('b', 'k'), undefined);
  assert.deepEqual(committed(file), [['b', 'k', 'v1']]);
  store.commit();
  assert.deepEqual(committed(file), []);
  store.close();
});

test('buckets are separate namespaces; a key given twice in a batch takes its last value', () => {
  const { store } = fresh();
  store.setMany('a', [
    ['k', bytes('1')],
    ['k', bytes('2')],
  ]);
  store.setMany('b', [['k', bytes('3')]]);
  assert.equal(text(store.get('a', 'k')), '2');
  assert.equal(text(store.get('b', 'k')), '3');
  assert.equal(store.used(), entryCost('a', 'k', 1) + entryCost('b', 'k', 1));
  store.close();
});

test('list-keys pages through a bucket in UTF-8 byte order', () => {
  const { store } = fresh();
  const keys = ['b', 'a', 'é', 'z', 'A', 'a/1', ''];
  store.setMany(
    'x',
    keys.map((k) => [k, bytes(k)] as const),
  );
  store.setMany('other', [['m', bytes('')]]);
  const seen: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = store.listKeys('x', after, 3);
    seen.push(...page.keys);
    if (!page.more) break;
    after = page.keys[page.keys.length - 1];
  }
  assert.deepEqual(seen, ['', 'A', 'a', 'a/1', 'b', 'z', 'é']);
  store.close();
});

test('the quota counts bucket, key and value bytes plus a row overhead; a write past it writes nothing', () => {
  const cost = entryCost('b', 'k1', 10);
  assert.equal(cost, 1 + 2 + 10 + ENTRY_OVERHEAD);
  const { store } = fresh(2 * cost);
  store.setMany('b', [['k1', new Uint8Array(10)]]);
  store.setMany('b', [['k2', new Uint8Array(10)]]);
  assert.equal(store.used(), 2 * cost);
  assert.throws(() => store.setMany('b', [['k3', new Uint8Array(0)]]), QuotaExceeded);
  // Replacing a value with a larger one counts the difference only.
  assert.throws(() => store.setMany('b', [['k1', new Uint8Array(11)]]), QuotaExceeded);
  store.setMany('b', [['k1', new Uint8Array(5)]]);
  // A batch is all or nothing.
  assert.throws(
    () =>
      store.setMany('b', [
        ['k1', new Uint8Array(10)],
        ['k9', new Uint8Array(100)],
      ]),
    QuotaExceeded,
  );
  assert.equal(store.get('b', 'k1')?.length, 5);
  assert.equal(store.exists('b', 'k9'), false);
  store.deleteMany('b', ['k2', 'absent']);
  store.setMany('b', [['k3', new Uint8Array(10)]]);
  assert.equal(store.used(), entryCost('b', 'k1', 5) + entryCost('b', 'k3', 10));
  store.close();
});

test('usage is measured again from the file when the store is opened again', () => {
  const { file, store } = fresh();
  store.setMany('b', [
    ['k1', new Uint8Array(100)],
    ['ké', new Uint8Array(7)],
  ]);
  store.close();
  const again = new KvStore(file, 1 << 20);
  assert.equal(again.used(), entryCost('b', 'k1', 100) + entryCost('b', 'ké', 7));
  assert.equal(again.get('b', 'k1')?.length, 100);
  again.close();
});

test('get-many answers in the order asked, and refuses when the values pass the byte cap', () => {
  const { store } = fresh();
  store.setMany('b', [
    ['a', new Uint8Array(10)],
    ['c', new Uint8Array(10)],
  ]);
  const values = store.getMany('b', ['c', 'missing', 'a'], 20);
  assert.deepEqual(
    values?.map((v) => v?.length),
    [10, undefined, 10],
  );
  assert.equal(store.getMany('b', ['a', 'c'], 19), undefined);
  store.close();
});

test('an uncommitted write is gone after the process that made it dies', () => {
  const { file, store } = fresh();
  store.setMany('b', [['kept', bytes('1')]]);
  store.commit();
  store.setMany('b', [['lost', bytes('2')]]);
  // Not closed (close commits): as if the worker were killed here, its connection dropped.
  const other = new KvStore(file, 1 << 20);
  assert.equal(other.exists('b', 'lost'), false);
  assert.equal(text(other.get('b', 'kept')), '1');
  other.close();
});

test('a file of a newer schema is refused', () => {
  const { file, store } = fresh();
  store.close();
  const db = new DatabaseSync(file);
  db.exec('PRAGMA user_version = 99');
  db.close();
  assert.throws(() => new KvStore(file, 1 << 20), /newer edgehost \(schema 99/);
});
