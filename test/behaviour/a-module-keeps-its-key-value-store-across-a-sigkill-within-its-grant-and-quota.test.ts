// A module (the kv test guest, through the real host and its WIT glue) uses every
// function of edgehost:platform/key-value on the buckets it is granted: what it writes
// is there after the host is SIGKILLed and started again on the same --data-dir. A
// bucket outside the grant is denied, a value over the limit invalid, a batch past the
// quota limited and written not at all. Each module has its own store: another module
// granted every bucket name does not see the first one's keys, and a module without
// the grant gets denied and no file.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { driver, gateway, testGuest } from '../support/modules.ts';
import { tempDir } from '../support/paths.ts';

interface Answer {
  id: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}

const notes = [
  { op: 'set', bucket: 'notes', key: 'a', value: '1' },
  { op: 'get', bucket: 'notes', key: 'a' },
  { op: 'exists', bucket: 'notes', key: 'a' },
  {
    op: 'set-many',
    bucket: 'notes',
    entries: [
      ['b', '2'],
      ['c', '3'],
    ],
  },
  { op: 'get-many', bucket: 'notes', keys: ['a', 'x', 'c'] },
  { op: 'list', bucket: 'notes' },
  { op: 'delete', bucket: 'notes', key: 'b' },
  { op: 'delete-many', bucket: 'notes', keys: ['c', 'zz'] },
  { op: 'list', bucket: 'notes' },
  { op: 'get', bucket: 'secret', key: 'a' },
  { op: 'set', bucket: 'notes', key: 'big', size: 2 * 1024 * 1024 },
  {
    op: 'set-many',
    bucket: 'notes',
    entries: [
      ['q1', 400_000],
      ['q2', 400_000],
      ['q3', 400_000],
    ],
  },
  { op: 'set', bucket: 'notes', key: 'q1', size: 400_000 },
  { op: 'exists', bucket: 'notes', key: 'q2' },
].map((r, id) => ({ id, ...r }));
const other = [
  { op: 'get', bucket: 'notes', key: 'a' },
  { op: 'set', bucket: 'notes', key: 'a', value: "other's" },
].map((r, id) => ({ id, ...r }));
const bare = [{ id: 0, op: 'get', bucket: 'notes', key: 'a' }];
const afterRestart = {
  notes: [
    { op: 'get', bucket: 'notes', key: 'a' },
    { op: 'list', bucket: 'notes' },
  ].map((r, id) => ({ id, ...r })),
  other: [{ id: 0, op: 'get', bucket: 'notes', key: 'a' }],
};

const dataDir = tempDir();
const sinks: Record<string, HttpSink> = {};
let host: HostProcess | undefined;
const first: Record<string, Answer[]> = {};
const second: Record<string, Answer[]> = {};

function config(requests: Record<string, { id: number }[]>): string {
  const kv = (prefix: string, grant: object, extra: object = {}) =>
    testGuest('kv', 'probe', {
      grants: { pubsub: { subscribe: [`${prefix}/run`], publish: [`${prefix}/result`] }, ...grant },
      subscriptions: [`${prefix}/run`],
      config: { prefix },
      ...extra,
    });
  const modules: Record<string, unknown> = {
    notes: kv('notes', { keyValue: { buckets: ['notes'] } }, { limits: { keyValueQuotaMb: 1 } }),
    other: kv('other', { keyValue: { buckets: ['*'] } }),
    bare: kv('bare', {}),
    driver: driver(
      Object.keys(requests).map((p) => `${p}/run`),
      Object.entries(requests).flatMap(([prefix, list]) => list.map((r, i) => ({ topic: `${prefix}/run`, payload: JSON.stringify(r), 'at-ms': 300 + i * 20 }))),
    ),
  };
  for (const prefix of Object.keys(requests)) modules[`${prefix}-answers`] = gateway(sinks[prefix].url, `${prefix}/result`);
  return writeConfig({ modules });
}

async function run(requests: Record<string, { id: number }[]>, into: Record<string, Answer[]>): Promise<void> {
  for (const s of Object.values(sinks)) s.requests.length = 0;
  host = new HostProcess(['--config', config(requests), '--data-dir', dataDir]);
  for (const [prefix, list] of Object.entries(requests)) {
    await sinks[prefix].waitFor(() => sinks[prefix].items().length === list.length, 30_000, `every answer of ${prefix}`);
    into[prefix] = sinks[prefix].items<Answer>().sort((a, b) => a.id - b.id);
  }
}

before(async () => {
  for (const prefix of ['notes', 'other', 'bare']) sinks[prefix] = await new HttpSink().listen();
  await run({ notes, other, bare }, first);
  host!.kill();
  await host!.exited;
  await run(afterRestart, second);
});

after(async () => {
  host?.kill();
  await Promise.all(Object.values(sinks).map((s) => s.close()));
});

const value = (answers: Answer[], id: number) => {
  const a = answers[id];
  assert.ok(a.ok, `request ${id} failed: ${a.error}`);
  return a.value;
};

test('every function works on a granted bucket, through the real host', () => {
  const a = first.notes;
  assert.equal(value(a, 0), null);
  assert.equal(value(a, 1), '1');
  assert.equal(value(a, 2), true);
  assert.deepEqual(value(a, 4), ['1', null, '3']);
  assert.deepEqual(value(a, 5), { keys: ['a', 'b', 'c'], cursor: null });
  assert.deepEqual(value(a, 8), { keys: ['a'], cursor: null });
});

test('a bucket outside the grant is denied; a value over the limit is invalid; a batch past the quota is limited and writes nothing', () => {
  const a = first.notes;
  assert.match(a[9].error ?? '', /^denied: key-value: bucket "secret" is not granted to module "notes"/);
  assert.match(a[10].error ?? '', /^invalid: a value of 2097152 bytes is larger than 1048576 \(limits\.keyValueMaxValueBytes\)/);
  assert.match(a[11].error ?? '', /^limited: .*quota of 1048576 \(limits\.keyValueQuotaMb\)/);
  assert.equal(value(a, 12), null);
  assert.equal(value(a, 13), false);
});

test('each module has its own store; a module without the grant is denied and gets no file', () => {
  assert.equal(value(first.other, 0), null);
  assert.equal(value(first.other, 1), null);
  assert.match(first.bare[0].error ?? '', /^denied: /);
  assert.ok(existsSync(join(dataDir, 'kv', 'notes.sqlite')));
  assert.ok(existsSync(join(dataDir, 'kv', 'other.sqlite')));
  assert.ok(!existsSync(join(dataDir, 'kv', 'bare.sqlite')));
});

test('what a module wrote is there after SIGKILL and a restart on the same data dir', () => {
  assert.equal(value(second.notes, 0), '1');
  assert.deepEqual(value(second.notes, 1), { keys: ['a', 'q1'], cursor: null });
  assert.equal(value(second.other, 0), "other's");
});
