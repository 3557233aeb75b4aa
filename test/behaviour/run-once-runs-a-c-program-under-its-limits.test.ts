// POST /v1/run and `edgehost run` with a C program (examples/c-command, built
// here with Debian's clang and wasi-libc into a standard wasi:cli/command):
// arguments, environment and stdin in, stdout, stderr and the exit status out;
// a busy loop stopped at its deadline, a memory hog at its cap, 100 MB of
// stdout cut at the output cap; no filesystem unless granted; and a component
// of a platform world run once for a call, whose HTTP request reaches only a
// host granted in the request.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Admin, adminOf, cli } from '../support/admin.ts';
import { buildCCommand } from '../support/c-command.ts';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { driver } from '../support/modules.ts';
import { moduleWasm, tempDir } from '../support/paths.ts';

interface Result {
  kind: string;
  outcome: 'exited' | 'trapped' | 'stopped';
  exitCode: number | null;
  error?: string;
  limit: string | null;
  stdout: string;
  stderr: string;
  stdoutBytes: number;
  stdoutTruncated: boolean;
  durationMs: number;
  peakMemoryBytes: number | null;
  denied: string[];
  published?: { topic: string; payload: string }[];
  failed?: { topic: string; reason: string }[];
}

const MiB = 1024 * 1024;
let program: string;
let host: HostProcess;
let admin: Admin;

before(async () => {
  program = buildCCommand();
  host = new HostProcess(['--config', writeConfig({ modules: { idle: driver(['idle/#'], []) } })]);
  admin = await adminOf(host);
});

after(() => host?.kill());

test('the C program gets its arguments, environment and stdin, and answers its stdout, stderr and exit status', async () => {
  const ok = await admin.run<Result>(program, { args: ['one', 'two words'], env: { NAME: 'edge' } }, 'abc\ndef\n');
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  assert.equal(ok.json.kind, 'command');
  assert.equal(ok.json.outcome, 'exited');
  assert.equal(ok.json.exitCode, 0);
  assert.equal(ok.json.stdout, 'Hello, edge!\nargs: [one] [two words]\nABC\nDEF\nstdin: 8 bytes, 2 lines\n');
  assert.equal(ok.json.stderr, 'c-command: done\n');
  assert.equal(ok.json.limit, null);
  assert.ok(ok.json.peakMemoryBytes! > 0 && ok.json.peakMemoryBytes! < 2 * MiB, `peak memory ${ok.json.peakMemoryBytes}`);

  const failed = await admin.run<Result>(program, { args: ['--fail'] });
  assert.equal(failed.json.exitCode, 1);
  assert.equal(failed.json.stdout, 'Hello, world!\nargs: [--fail]\nstdin: 0 bytes, 0 lines\n', 'no environment, no stdin unless given');
});

test('a busy loop is stopped at its deadline', async () => {
  const { json } = await admin.run<Result>(program, { args: ['--spin'], deadlineMs: 500 });
  assert.equal(json.outcome, 'stopped');
  assert.equal(json.limit, 'deadline');
  assert.equal(json.exitCode, null);
  assert.ok(json.durationMs >= 500 && json.durationMs < 2000, `stopped after ${json.durationMs} ms`);
});

test('a memory hog is stopped at its memory cap', async () => {
  const { json } = await admin.run<Result>(program, { args: ['--hog'], maxMemoryMb: 16, deadlineMs: 10_000 });
  assert.equal(json.outcome, 'trapped');
  assert.equal(json.limit, 'memory');
  assert.ok(json.peakMemoryBytes! <= 16 * MiB && json.peakMemoryBytes! > 12 * MiB, `peak memory ${json.peakMemoryBytes}`);
  assert.ok(json.durationMs < 5000, `took ${json.durationMs} ms: stopped by its cap, not its deadline`);
});

test('100 MB of stdout is cut at the output cap with a marker, and counted', async () => {
  const { json } = await admin.run<Result>(program, { args: ['--flood', '100'], maxOutputBytes: 64 * 1024, deadlineMs: 30_000 });
  assert.equal(json.outcome, 'exited');
  assert.equal(json.exitCode, 0);
  assert.equal(json.stdoutTruncated, true);
  assert.equal(json.stdoutBytes, 100 * MiB);
  assert.equal(Buffer.byteLength(json.stdout), 64 * 1024);
  assert.ok(json.stdout.endsWith('\n[edgehost: output truncated]\n'));
  assert.equal(json.stderr, 'c-command: wrote 100 MiB\n');
});

test('no file is reachable without a filesystem grant; a granted mount is', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'note.txt'), 'granted text\n');
  const denied = await admin.run<Result>(program, { args: ['--cat', '/data/note.txt'] });
  assert.equal(denied.json.exitCode, 1);
  assert.match(denied.json.stderr, /^c-command: cannot open \/data\/note\.txt: /);
  const granted = await admin.run<Result>(program, {
    args: ['--cat', '/data/note.txt'],
    grants: { filesystem: { mounts: [{ host: dir, guest: '/data', mode: 'ro' }] } },
  });
  assert.equal(granted.json.exitCode, 0, granted.json.stderr);
  assert.equal(granted.json.stdout, 'granted text\n');
  const refused = await admin.run<Result>(program, { grants: { outboundHttp: { allowedHosts: ['127.0.0.1:1'] } } });
  assert.equal(refused.status, 422);
  assert.equal((refused.json as unknown as { code: string }).code, 'EH_RUN_INVALID');
});

test('a gateway run once reaches only the host its request grants', async () => {
  const sink = await new HttpSink().listen();
  try {
    const request = (allowedHosts: string[]) => ({
      world: 'gateway',
      grants: { pubsub: { subscribe: ['in/#'] }, outboundHttp: { allowedHosts } },
      subscriptions: ['in/#'],
      config: { url: sink.url, filter: 'in/#' },
      messages: [{ topic: 'in/a', payload: '{"n":1}' }],
      deadlineMs: 10_000,
    });
    const ungranted = await admin.run<Result>(moduleWasm('gateway'), request(['127.0.0.1:1']));
    assert.equal(ungranted.status, 200, JSON.stringify(ungranted.json));
    assert.equal(ungranted.json.kind, 'module');
    assert.equal(sink.received.length, 0, 'the sink got nothing');
    assert.equal(ungranted.json.failed?.length, 1, JSON.stringify(ungranted.json));
    assert.deepEqual(ungranted.json.denied, [
      `outbound-http: http://127.0.0.1:${sink.port} is not granted to this run; to allow it: grants.outboundHttp.allowedHosts in the run request`,
    ]);

    const granted = await admin.run<Result>(moduleWasm('gateway'), request([`127.0.0.1:${sink.port}`]));
    assert.equal(granted.json.outcome, 'exited', JSON.stringify(granted.json));
    assert.deepEqual(granted.json.failed, []);
    assert.deepEqual(sink.items(), [{ n: 1 }]);
  } finally {
    await sink.close();
  }
});

test('`edgehost run` prints the program output and exits with its status', async () => {
  const input = join(tempDir(), 'input.txt');
  writeFileSync(input, 'xyz\n');
  const at = ['--data-dir', admin.dataDir];
  const ok = await cli(['run', program, '--arg', 'a', '--env', 'NAME=cli', '--stdin', input, ...at]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, 'Hello, cli!\nargs: [a]\nXYZ\nstdin: 4 bytes, 1 lines\n');
  assert.equal(ok.stderr, 'c-command: done\n');
  const spin = await cli(['run', program, '--deadline-ms', '300', ...at, '--', '--spin']);
  assert.equal(spin.code, 124);
  assert.match(spin.stderr, /^edgehost: stopped by its deadline limit: stopped at its deadline of 300 ms after \d+ ms/);
  const refused = await cli(['run', program, '--deadline-ms', '99999999', ...at]);
  assert.equal(refused.code, 1);
  assert.equal(refused.stderr, 'edgehost: EH_RUN_INVALID: run request: deadlineMs: 99999999 is more than this host allows (60000, admin.run.maxDeadlineMs)\n');
});

test('a file that is not a component is refused with 422, naming what was sent', async () => {
  const file = join(tempDir(), 'not-a-component.wasm');
  writeFileSync(file, 'hello');
  const { status, json } = await admin.run<{ code: string; message: string }>(file);
  assert.equal(status, 422);
  assert.equal(json.code, 'EH_COMPONENT_INVALID');
  assert.match(json.message, /^the uploaded component is not a component jco can transpile: /);
});
