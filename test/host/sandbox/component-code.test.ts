import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { asScript, loadComponentCode, scriptPathOf } from '../../../host/sandbox/component-code.ts';
import { tempDir } from '../../support/paths.ts';

// The shape jco 1.35 gives a transpiled component (--instantiation async), in miniature.
const jcoShaped = `"use components";
export function instantiate(getCoreModule, imports, instantiateCore = WebAssembly.instantiate) {
  if (!getCoreModule) getCoreModule = (name) => new URL(\`./\${name}\`, import.meta.url);
  let helper = function () { return this; };
  return Promise.resolve({ core: getCoreModule('core.wasm'), where: import.meta.url, strict: helper() === undefined, answer: imports.answer });
}
export const _util = {};
`;

test('asScript turns jco output into a strict script that returns instantiate, with import.meta.url as the file URL', async () => {
  const script = asScript(jcoShaped, 'file:///c/component.js');
  assert.ok(script);
  assert.equal(script.split('\n').length, jcoShaped.split('\n').length + 1, 'the wrapper adds no line before the code');
  const instantiate = vm.runInThisContext(script);
  assert.deepEqual(await instantiate((n: string) => `compiled ${n}`, { answer: 42 }), {
    core: 'compiled core.wasm',
    where: 'file:///c/component.js',
    strict: true,
    answer: 42,
  });
});

test('asScript refuses a shape it does not know: other exports, or static imports', () => {
  assert.equal(asScript(`${jcoShaped}export const other = 1;\n`, 'file:///c.js'), undefined);
  assert.equal(asScript(`import fs from 'node:fs';\n${jcoShaped}`, 'file:///c.js'), undefined);
  assert.equal(asScript('export function notInstantiate() {}\n', 'file:///c.js'), undefined);
});

test('the first load makes the code cache once an instance ran; the next load compiles from it', async () => {
  const dir = tempDir();
  const jsPath = join(dir, 'component.js');
  writeFileSync(jsPath, jcoShaped);
  writeFileSync(scriptPathOf(jsPath), asScript(jcoShaped, pathToFileURL(jsPath).href)!);

  const first = await loadComponentCode(jsPath);
  assert.equal(first.fromCache, false);
  assert.equal(((await first.instantiate(() => ({}) as never, { answer: 1 }, undefined as never)) as { answer: number }).answer, 1);
  await first.keepCache();

  const second = await loadComponentCode(jsPath);
  assert.equal(second.fromCache, true);
  assert.equal(((await second.instantiate(() => ({}) as never, { answer: 2 }, undefined as never)) as { answer: number }).answer, 2);
});

test('without the script form, component.js is imported as the ES module it is', async () => {
  const dir = tempDir();
  const jsPath = join(dir, 'component.js');
  writeFileSync(jsPath, jcoShaped);
  const code = await loadComponentCode(jsPath);
  assert.equal(code.fromCache, false);
  const got = (await code.instantiate(() => ({}) as never, { answer: 3 }, undefined as never)) as { where: string; answer: number };
  assert.deepEqual([got.where, got.answer], [pathToFileURL(jsPath).href, 3]);
});
