// A module granted a read-only and a read-write directory uses them through
// standard wasi:filesystem, and nothing else: writes to the read-only mount,
// `..` escapes, absolute paths, symlinks out of the mount, hard links and
// writes past the quota each fail with the WASI error for it, while the host
// and the other modules keep running. A module without the grant has no preopens.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { driver, gateway, telemetry, testGuest } from '../support/modules.ts';
import { tempDir } from '../support/paths.ts';

interface Answer {
  id: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}

const requests = [
  { op: 'preopens' },
  { op: 'read', path: '/config/settings.txt' },
  { op: 'write', path: '/data/a.txt', data: 'written' },
  { op: 'read', path: '/data/a.txt' },
  { op: 'write', path: '/config/new.txt', data: 'x' },
  { op: 'open', mount: '/data', rel: '../outside.txt' },
  { op: 'open', mount: '/data', rel: 'sub/../../outside.txt', write: true },
  { op: 'open', mount: '/data', rel: '/etc/hostname' },
  { op: 'read', path: '/data/escape' },
  { op: 'read', path: '/data/inside' },
  { op: 'link', mount: '/data', from: 'a.txt', to: 'b.txt' },
  { op: 'symlink', mount: '/data', from: '/etc/hostname', to: 'host' },
  { op: 'write', path: '/data/big.bin', size: 2 * 1024 * 1024 },
  { op: 'append', path: '/data/a.txt', data: ' and more' },
  { op: 'read', path: '/data/a.txt' },
  { op: 'mkdir', path: '/data/sub' },
  { op: 'list', path: '/data' },
].map((r, id) => ({ id, ...r }));

let host: HostProcess;
let answers: HttpSink;
let bare: HttpSink;
let uplink: HttpSink;
let dirs: { ro: string; rw: string; outside: string };

before(async () => {
  const base = tempDir();
  dirs = { ro: join(base, 'ro'), rw: join(base, 'rw'), outside: join(base, 'outside') };
  for (const d of Object.values(dirs)) mkdirSync(d);
  writeFileSync(join(dirs.ro, 'settings.txt'), 'from the host');
  writeFileSync(join(dirs.outside, 'secret.txt'), 'not for guests');
  symlinkSync(join(dirs.outside, 'secret.txt'), join(dirs.rw, 'escape'));
  symlinkSync('a.txt', join(dirs.rw, 'inside'));
  answers = await new HttpSink().listen();
  bare = await new HttpSink().listen();
  uplink = await new HttpSink().listen();
  const files = (prefix: string, grant: object) =>
    testGuest('files', 'probe', {
      grants: { pubsub: { subscribe: [`${prefix}/run`], publish: [`${prefix}/result`] }, ...grant },
      subscriptions: [`${prefix}/run`],
      config: { prefix },
      limits: { filesystemQuotaMb: 1 },
    });
  const config = writeConfig({
    modules: {
      files: files('files', {
        filesystem: {
          mounts: [
            { host: dirs.ro, guest: '/config', mode: 'ro' },
            { host: dirs.rw, guest: '/data', mode: 'rw' },
          ],
        },
      }),
      bare: files('bare', {}),
      driver: driver(
        ['files/run', 'bare/run'],
        [
          ...requests.map((r, i) => ({ topic: 'files/run', payload: JSON.stringify(r), 'at-ms': 300 + i * 30 })),
          { topic: 'bare/run', payload: JSON.stringify({ id: 0, op: 'preopens' }), 'at-ms': 300 },
        ],
      ),
      answers: gateway(answers.url, 'files/result'),
      'bare-answers': gateway(bare.url, 'bare/result'),
      telemetry: telemetry(),
      uplink: gateway(uplink.url, 'telemetry/#'),
    },
  });
  host = new HostProcess(['--config', config]);
  await answers.waitFor(() => answers.items().length === requests.length, 30_000, 'every answer');
  await bare.waitFor(() => bare.items().length === 1, 10_000, 'the answer of the module without the grant');
});

after(async () => {
  host?.kill();
  await Promise.all([answers?.close(), bare?.close(), uplink?.close()]);
});

const answer = (id: number) => answers.items<Answer>().find((a) => a.id === id)!;
const byOp = (op: string, n = 0) => answer(requests.filter((r) => r.op === op)[n].id);

test('the granted mounts are the only preopens, at their guest paths', () => {
  assert.deepEqual(byOp('preopens'), { id: 0, ok: true, value: ['/config', '/data'] });
});

test('a file is read from the read-only mount and written to the read-write one, where the host sees it', () => {
  assert.deepEqual(byOp('read'), { id: 1, ok: true, value: 'from the host' });
  assert.deepEqual(byOp('write'), { id: 2, ok: true, value: 7 });
  assert.deepEqual(byOp('read', 1), { id: 3, ok: true, value: 'written' });
  assert.equal(readFileSync(join(dirs.rw, 'a.txt'), 'utf8'), 'written and more');
});

test('writing to the read-only mount fails with read-only', () => {
  assert.deepEqual(byOp('write', 1), { id: 4, ok: false, error: 'read-only' });
});

test('.. out of the mount and absolute paths fail with not-permitted', () => {
  assert.deepEqual(byOp('open', 0), { id: 5, ok: false, error: 'not-permitted' });
  assert.deepEqual(byOp('open', 1), { id: 6, ok: false, error: 'not-permitted' });
  assert.deepEqual(byOp('open', 2), { id: 7, ok: false, error: 'not-permitted' });
});

test('a symlink out of the mount fails with not-permitted; one inside it works', () => {
  assert.deepEqual(byOp('read', 2), { id: 8, ok: false, error: 'not-permitted' });
  assert.deepEqual(byOp('read', 3), { id: 9, ok: true, value: 'written' });
});

test('hard links and new symlinks are refused with not-permitted', () => {
  assert.deepEqual(byOp('link'), { id: 10, ok: false, error: 'not-permitted' });
  assert.deepEqual(byOp('symlink'), { id: 11, ok: false, error: 'not-permitted' });
});

test('a write past the module quota fails with quota, and later writes within it still work', () => {
  assert.deepEqual(byOp('write', 2), { id: 12, ok: false, error: 'quota' });
  assert.deepEqual(byOp('append'), { id: 13, ok: true, value: 'appended' });
  assert.deepEqual(byOp('read', 4), { id: 14, ok: true, value: 'written and more' });
  assert.deepEqual(byOp('mkdir'), { id: 15, ok: true, value: 'created' });
  // The file was created before its write was refused: it is there, empty.
  assert.deepEqual(byOp('list'), { id: 16, ok: true, value: ['a.txt', 'big.bin', 'escape', 'inside', 'sub'] });
  assert.equal(statSync(join(dirs.rw, 'big.bin')).size, 0);
});

test('a module without the grant sees no preopens', () => {
  assert.deepEqual(bare.items(), [{ id: 0, ok: true, value: [] }]);
});

test('the host and the other modules kept running throughout', async () => {
  const n = uplink.items().length;
  await uplink.waitFor(() => uplink.items().length >= n + 3, 10_000, 'telemetry still flowing');
  assert.equal(host.child.exitCode, null);
  assert.equal(host.lines.filter((l) => l.module === 'files' && /stopped|failed to start/.test(l.msg)).length, 0);
});
