// The pieces of the build's guest checks (scripts/guest-checks.ts) that need no compiler or
// componentizer: what a world expects, the export-shape check, loading a bundle, reading tsc.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { platform } from '../../host/components/wit.ts';
import { checkExportShape, expectedExports, loadGuestExports, locate, parseTscOutput } from '../../scripts/guest-checks.ts';
import { tempDir } from '../support/paths.ts';

const telemetry = () => expectedExports(platform().worlds.get('telemetry')!, [platform()]);

/** An entry file with `source`, and the shape problems of `exports` against world telemetry. */
function shape(exports: Record<string, unknown>, source = '') {
  const entry = join(tempDir(), 'index.ts');
  writeFileSync(entry, source);
  return checkExportShape(exports, telemetry(), 'telemetry', entry);
}

const fine = { lifecycle: { init() {} }, messageHandler: { handle(_m: unknown) {} }, timerHandler: { onTick(_id: number) {} } };

test('a world expects its exported interfaces under their JavaScript names, with WIT signatures and TypeScript skeletons', () => {
  const [lifecycle, messageHandler, timerHandler] = telemetry();
  assert.equal(lifecycle.jsName, 'lifecycle');
  assert.equal(lifecycle.functions[0].resultByThrowing, true, 'init: func() -> result<_, string>');
  assert.equal(messageHandler.functions[0].skeleton, 'handle(messages: Message[]): void {}');
  assert.equal(timerHandler.jsName, 'timerHandler');
  assert.equal(timerHandler.functions[0].signature, 'onTick(id: u32)');
  assert.equal(timerHandler.functions[0].resultByThrowing, false);
});

test('the exports of the reference modules fit, including methods of class instances and fewer parameters than WIT passes', () => {
  class Handler {
    onTick() {}
  }
  assert.deepEqual(shape(fine), []);
  assert.deepEqual(shape({ ...fine, timerHandler: new Handler(), messageHandler: { handle() {} } }), []);
});

test('a missing export, a missing function, a non-function, too many parameters and an async function are each named', () => {
  const source = ['export const lifecycle = {', '  async init() {},', '};', 'export const timerHandler = {', '  onTick: 5,', '};'].join('\n');
  const problems = shape({ lifecycle: { async init() {} }, timerHandler: { onTick: 5 } }, source);
  const text = problems.map((p) => `${p.line ?? '-'}:${p.col ?? '-'} ${p.message} | ${p.fix}`);
  assert.equal(problems.length, 3, text.join('\n'));
  assert.match(text[0], /^2:3 world "telemetry" exports lifecycle\.init: lifecycle\.init is async/);
  assert.equal(
    text[1],
    '-:- world "telemetry" exports message-handler: export messageHandler, an object with handle(messages: list<message>) (found no export messageHandler; the module exports lifecycle, timerHandler) | add: export const messageHandler = { handle(messages: Message[]): void {} };',
  );
  assert.match(
    text[2],
    /^5:3 world "telemetry" exports timer-handler\.on-tick: export timerHandler with a function onTick\(id: u32\) \(found timerHandler\.onTick is a number\)/,
  );

  const [arity] = shape({ ...fine, timerHandler: { onTick(_id: number, _extra: string) {} } });
  assert.match(arity.message, /timerHandler\.onTick takes 2 parameters, but the host passes one: onTick\(id: u32\) \(WIT on-tick: func\(id: timer-id\)\)/);
});

test('loading a bundle runs its top level without Node or Web APIs, and a WIT import called there is named', async () => {
  const exports = await loadGuestExports(
    'export const lifecycle = { init() {} };\nexport const seen = [typeof process, typeof console, typeof TextEncoder, typeof WebAssembly].join();',
    'x.js',
  );
  assert.equal(exports.seen, 'undefined,undefined,undefined,undefined');
  assert.equal(typeof (exports.lifecycle as { init: unknown }).init, 'function');
  await assert.rejects(
    loadGuestExports("import { log } from 'edgehost:platform/logging@0.1.0';\nlog('info', 'x');\nexport const a = 1;", 'x.js'),
    /edgehost:platform\/logging@0\.1\.0 log\(\) was called while the module was loading/,
  );
});

test('locate finds an export and a member of it in the source', () => {
  const source = ['// x', 'export const timerHandler = {', '  // comment', '  fire(id: number): void {},', '};'].join('\n');
  assert.deepEqual(locate(source, 'timerHandler'), { line: 2, col: 1 });
  assert.deepEqual(locate(source, 'timerHandler', 'fire'), { line: 4, col: 3 });
  assert.deepEqual(locate(source, 'timerHandler', 'onTick'), { line: 2, col: 1 }, 'a missing member: the export');
  assert.equal(locate(source, 'lifecycle'), undefined);
});

test("tsc's plain output: located and global errors with their continuation lines, and the listed files", () => {
  const out = [
    "modules/x/src/index.ts(3,5): error TS2322: Type '{ a: bigint; }' is not assignable to type 'T'.",
    "  Types of property 'a' are incompatible.",
    "    Type 'bigint' is not assignable to type 'number'.",
    "error TS5083: Cannot read file '/nope/tsconfig.json'.",
    '/abs/lib.es2023.d.ts',
    '/abs/modules/x/src/index.ts',
  ].join('\n');
  const { diagnostics, files } = parseTscOutput(out, '/repo');
  assert.deepEqual(diagnostics[0], {
    file: '/repo/modules/x/src/index.ts',
    line: 3,
    col: 5,
    code: 'TS2322',
    text: "Type '{ a: bigint; }' is not assignable to type 'T'.\n  Types of property 'a' are incompatible.\n    Type 'bigint' is not assignable to type 'number'.",
  });
  assert.deepEqual(diagnostics[1], { code: 'TS5083', text: "Cannot read file '/nope/tsconfig.json'." });
  assert.deepEqual(files, ['/abs/lib.es2023.d.ts', '/abs/modules/x/src/index.ts']);
});
