import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { keyValueGrant } from '../../../../host/capabilities/key-value/index.ts';
import { create, MAX_BATCH, MAX_GET_MANY_BYTES } from '../../../../host/capabilities/key-value/worker.ts';
import { moduleLimits } from '../../../../host/config/schema.ts';
import { fakeWorkerContext } from '../../../support/capability-fakes.ts';
import { tempDir } from '../../../support/paths.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: unknown) => new TextDecoder().decode(b as Uint8Array);
type Result = { tag: 'ok' | 'err'; val?: unknown };
type Kv = Record<'get' | 'set' | 'delete' | 'exists' | 'listKeys' | 'getMany' | 'setMany' | 'deleteMany', (...args: unknown[]) => Result>;

function setup(buckets: string[], limits: Record<string, number> = {}, dataDir = tempDir()) {
  const fake = fakeWorkerContext('m', { limits: { ...(moduleLimits.parse({}) as Record<string, number>), ...limits }, dataDir });
  const kv = create(fake.ctx, keyValueGrant.parse({ buckets }))['edgehost:platform/key-value'] as unknown as Kv;
  return { kv, fake, dataDir, file: join(dataDir, 'kv', 'm.sqlite') };
}

const errTag = (r: Result) => (r.tag === 'err' ? (r.val as { tag: string }).tag : 'ok');

function committedKeys(file: string): string[] {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return (db.prepare('SELECT key FROM entries ORDER BY key').all() as { key: string }[]).map((r) => r.key);
  } finally {
    db.close();
  }
}

test("every function works on a granted bucket, in the module's own file under <data-dir>/kv/", () => {
  const { kv, file } = setup(['b']);
  assert.deepEqual(kv.get('b', 'k'), { tag: 'ok', val: undefined });
  assert.deepEqual(kv.set('b', 'k', bytes('v')), { tag: 'ok', val: undefined });
  assert.equal(text(kv.get('b', 'k').val), 'v');
  assert.deepEqual(kv.exists('b', 'k'), { tag: 'ok', val: true });
  assert.deepEqual(
    kv.setMany('b', [
      ['x', bytes('1')],
      ['y', bytes('')],
    ]),
    { tag: 'ok', val: undefined },
  );
  const many = kv.getMany('b', ['y', 'nope', 'x']).val as (Uint8Array | undefined)[];
  assert.deepEqual(
    many.map((v) => (v === undefined ? null : text(v))),
    ['', null, '1'],
  );
  assert.deepEqual(kv.listKeys('b', undefined), { tag: 'ok', val: { keys: ['k', 'x', 'y'], cursor: undefined } });
  assert.deepEqual(kv.delete('b', 'k'), { tag: 'ok', val: undefined });
  assert.deepEqual(kv.delete('b', 'k'), { tag: 'ok', val: undefined });
  assert.deepEqual(kv.exists('b', 'k'), { tag: 'ok', val: false });
  assert.deepEqual(kv.deleteMany('b', ['x', 'y', 'z']), { tag: 'ok', val: undefined });
  assert.deepEqual(kv.listKeys('b', null), { tag: 'ok', val: { keys: [], cursor: undefined } });
  assert.ok(existsSync(file));
});

test('a bucket outside the grant is denied, naming the key that allows it; no grant denies everything and opens no file', () => {
  const { kv, fake } = setup(['sessions']);
  const r = kv.set('other', 'k', bytes('v'));
  assert.equal(errTag(r), 'denied');
  assert.deepEqual(fake.denials, [{ target: 'bucket "other"', allowWith: 'add "other" (or "*") to modules.m.grants.keyValue.buckets' }]);
  const none = setup([]);
  for (const r of [none.kv.get('b', 'k'), none.kv.listKeys('b', undefined), none.kv.deleteMany('b', ['k'])]) assert.equal(errTag(r), 'denied');
  assert.equal(existsSync(none.file), false);
  const any = setup(['*']);
  assert.equal(errTag(any.kv.set('whatever', 'k', bytes('v'))), 'ok');
  assert.equal(errTag(any.kv.get('', 'k')), 'invalid');
  assert.equal(errTag(any.kv.get('x'.repeat(129), 'k')), 'invalid');
});

test('keys and values over their limits are invalid, batches over 1000 keys limited, and nothing is written', () => {
  const { kv, fake, file } = setup(['b'], { keyValueMaxKeyBytes: 4, keyValueMaxValueBytes: 3 });
  assert.equal(errTag(kv.set('b', 'abcd', bytes('123'))), 'ok');
  // é is two bytes in UTF-8: four UTF-16 units, five bytes.
  assert.equal(errTag(kv.set('b', 'abcé', bytes('1'))), 'invalid');
  assert.equal(errTag(kv.set('b', 'a', bytes('1234'))), 'invalid');
  assert.equal(errTag(kv.get('b', 'abcde')), 'invalid');
  assert.equal(errTag(kv.listKeys('b', 'abcde')), 'invalid');
  assert.equal(
    errTag(
      kv.setMany('b', [
        ['ok', bytes('1')],
        ['bad', bytes('1234')],
      ]),
    ),
    'invalid',
  );
  const keys = Array.from({ length: MAX_BATCH + 1 }, (_, i) => String(i % 100));
  assert.equal(errTag(kv.getMany('b', keys)), 'limited');
  assert.equal(errTag(kv.deleteMany('b', keys)), 'limited');
  assert.equal(
    errTag(
      kv.setMany(
        'b',
        keys.map((k) => [k, bytes('1')]),
      ),
    ),
    'limited',
  );
  fake.endCall();
  assert.deepEqual(committedKeys(file), ['abcd']);
});

test('a write past the quota is limited and writes nothing', () => {
  const { kv } = setup(['b'], { keyValueQuotaMb: 1 });
  const value = new Uint8Array(400 * 1024);
  assert.equal(errTag(kv.set('b', 'a', value)), 'ok');
  assert.equal(errTag(kv.set('b', 'b', value)), 'ok');
  const r = kv.set('b', 'c', value);
  assert.equal(errTag(r), 'limited');
  assert.match((r.val as { val: string }).val, /quota of 1048576 \(limits\.keyValueQuotaMb\)/);
  assert.equal(
    errTag(
      kv.setMany('b', [
        ['d', new Uint8Array(10)],
        ['e', value],
      ]),
    ),
    'limited',
  );
  assert.deepEqual((kv.listKeys('b', undefined).val as { keys: string[] }).keys, ['a', 'b']);
  assert.equal(errTag(kv.delete('b', 'a')), 'ok');
  assert.equal(errTag(kv.set('b', 'c', value)), 'ok');
});

test('get-many refuses values over 16 MiB together', () => {
  const { kv } = setup(['b'], { keyValueQuotaMb: 64, keyValueMaxValueBytes: 8 * 1024 * 1024 });
  const big = new Uint8Array(6 * 1024 * 1024);
  kv.setMany('b', [
    ['1', big],
    ['2', big],
  ]);
  kv.set('b', '3', big);
  assert.equal(errTag(kv.getMany('b', ['1', '2'])), 'ok');
  const r = kv.getMany('b', ['1', '2', '3']);
  assert.equal(errTag(r), 'limited');
  assert.match((r.val as { val: string }).val, new RegExp(`more than ${MAX_GET_MANY_BYTES} bytes`));
});

test('list-keys pages by 1000 with a cursor', () => {
  const { kv } = setup(['b']);
  const all = Array.from({ length: 2500 }, (_, i) => `k${String(i).padStart(5, '0')}`);
  for (let i = 0; i < all.length; i += MAX_BATCH)
    kv.setMany(
      'b',
      all.slice(i, i + MAX_BATCH).map((k) => [k, bytes('')]),
    );
  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = kv.listKeys('b', cursor).val as { keys: string[]; cursor?: string };
    pages++;
    seen.push(...page.keys);
    cursor = page.cursor;
  } while (cursor !== undefined);
  assert.equal(pages, 3);
  assert.deepEqual(seen, all);
});

test("a call's writes are committed when the call ends, before its output leaves; a clean stop commits and closes", async () => {
  const { kv, fake, file, dataDir } = setup(['b']);
  kv.set('b', 'one', bytes('1'));
  kv.setMany('b', [['two', bytes('2')]]);
  assert.deepEqual(committedKeys(file), []);
  fake.endCall();
  assert.deepEqual(committedKeys(file), ['one', 'two']);
  kv.delete('b', 'one');
  kv.set('b', 'three', bytes('3'));
  await fake.close();
  assert.deepEqual(committedKeys(file), ['three', 'two']);
  // The next instance of the module sees the same store.
  const next = setup(['b'], {}, dataDir);
  assert.equal(text(next.kv.get('b', 'two').val), '2');
});
