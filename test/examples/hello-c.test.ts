// The run-once contract is language-neutral: a plain C program, built from source with
// Debian's clang + wasi-libc into a standard wasi:cli/command component
// (scripts/build-examples.ts), runs under the host's own WASI with arguments, granted
// environment and stdin in, and stdout, stderr and its exit code out.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { transpileCached } from '../../host/components/transpile-cache.ts';
import { TRUNCATION_MARKER } from '../../host/sandbox/wasi/capture.ts';
import { root, tempDir, testCacheDir } from '../support/paths.ts';
import { runCommand } from './run-command.ts';

const helloC = join(root, 'build/examples/hello-c.wasm');
const buildScript = join(root, 'scripts/build-examples.ts');

before(() => {
  // Up to date (a fingerprint check) when `npm test` ran it as pretest; builds it otherwise.
  const build = spawnSync(process.execPath, [buildScript, 'examples'], { cwd: root, encoding: 'utf8' });
  assert.equal(build.status, 0, `build-examples failed:\n${build.stdout}${build.stderr}`);
});

test('the C example is a standard wasi:cli/command: it imports only WASI interfaces and exports only wasi:cli/run', async () => {
  const { imports, exports } = await transpileCached(helloC, testCacheDir, { asyncImports: [], asyncExports: [] });
  assert.deepEqual(
    imports.filter((i) => !i.startsWith('wasi:')),
    [],
  );
  assert.ok(imports.includes('wasi:cli/exit'), `imports: ${imports.join(', ')}`);
  // jco lists the export under its full name and under the alias `run`.
  assert.deepEqual(
    exports.filter((e) => e.includes(':')),
    ['wasi:cli/run@0.2.12'],
  );
});

test('arguments, a granted variable and stdin go in; exact stdout, stderr and exit code 3 come out', async () => {
  const r = await runCommand(helloC, {
    args: ['hello-c', '--exit', '3', 'one', 'two words'],
    env: [['HELLO_NAME', 'edgehost']],
    stdin: 'abc\nxyz\n',
  });
  assert.equal(r.stdout, 'Hello, edgehost!\nargs: 4 [--exit] [3] [one] [two words]\nstdin: 8 bytes, 2 lines\nABC\nXYZ\n');
  assert.equal(r.stderr, 'hello-c: exiting with 3\n');
  assert.equal(r.exitCode, 3);
  assert.equal(r.capture.stdout.truncated, false);
});

test('by default the guest gets no arguments, no environment and an empty stdin, and exits 0', async () => {
  const r = await runCommand(helloC);
  assert.equal(r.stdout, 'Hello, world!\nargs: 0\nstdin: 0 bytes, 0 lines\n');
  assert.equal(r.stderr, 'hello-c: exiting with 0\n');
  assert.equal(r.exitCode, 0);
});

test('stdin larger than one read arrives whole and in order', async () => {
  const lines = Array.from({ length: 5000 }, (_, i) => `line ${i}\n`).join('');
  const r = await runCommand(helloC, { args: ['hello-c'], stdin: lines, maxBytes: 1 << 20 });
  assert.equal(r.stdout, `Hello, world!\nargs: 0\nstdin: ${lines.length} bytes, 5000 lines\n${lines.toUpperCase()}`);
  assert.equal(r.exitCode, 0);
});

test('a non-zero return from main is exit code 1: the preview1 adapter reports only ok or err', async () => {
  const r = await runCommand(helloC, { args: ['hello-c', '--return', '7'] });
  assert.equal(r.stderr, 'hello-c: exiting with 7\n');
  assert.equal(r.exitCode, 1);
});

test('a bad argument is reported on stderr with exit code 2, and nothing on stdout', async () => {
  const r = await runCommand(helloC, { args: ['hello-c', '--exit', 'soon'] });
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'hello-c: --exit needs a number from 0 to 255\n');
  assert.equal(r.exitCode, 2);
});

test('stdout past the cap is cut to exactly the cap and ends with the truncation marker; stderr is kept apart', async () => {
  const head = 'Hello, world!\nargs: 2 [--fill] [100000]\nstdin: 0 bytes, 0 lines\n';
  // 16394: the capture's 16 KiB blocks end inside the marker.
  for (const maxBytes of [4096, 16394]) {
    const r = await runCommand(helloC, { args: ['hello-c', '--fill', '100000'], maxBytes });
    const stdout = r.capture.stdout;
    assert.equal(stdout.bytes().length, maxBytes);
    assert.equal(r.stdout, head + '.'.repeat(maxBytes - head.length - TRUNCATION_MARKER.length) + TRUNCATION_MARKER);
    assert.equal(stdout.truncated, true);
    assert.equal(stdout.writtenBytes, head.length + 100000 + 1);
    assert.equal(r.stderr, 'hello-c: exiting with 0\n');
    assert.equal(r.capture.stderr.truncated, false);
    assert.equal(r.exitCode, 0);
  }
});

test('a guest writing 16 MiB under a 4 KiB cap makes the host hold 4 KiB, not 16 MiB', async () => {
  const maxBytes = 4096;
  const fill = 16 * 1024 * 1024;
  const r = await runCommand(helloC, { args: ['hello-c', '--fill', String(fill)], maxBytes });
  const stdout = r.capture.stdout;
  assert.ok(stdout.writtenBytes > fill, `the guest wrote ${stdout.writtenBytes} bytes`);
  assert.ok(stdout.heldBytes <= maxBytes, `the capture holds ${stdout.heldBytes} bytes`);
  assert.equal(stdout.bytes().length, maxBytes);
  assert.ok(r.stdout.endsWith(TRUNCATION_MARKER));
});

test('without clang-14 the build fails and names the Debian package to install', () => {
  const emptyPath = tempDir('edgehost-no-clang-');
  const build = spawnSync(process.execPath, [buildScript, 'examples'], { cwd: root, encoding: 'utf8', env: { PATH: emptyPath } });
  rmSync(emptyPath, { recursive: true, force: true });
  assert.equal(build.status, 1);
  assert.match(build.stderr, /clang-14 is not on PATH: install the Debian package clang-14 \(apt-get install clang-14\)/);
});
