import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { transpileCached } from '../../../host/components/transpile-cache.ts';
import { loadComponentCode, scriptPathOf } from '../../../host/sandbox/component-code.ts';
import { moduleWasm, tempDir } from '../../support/paths.ts';

test("a transpiled reference module gets its script form: jco's output still has the shape the loader knows", async () => {
  const cache = tempDir();
  const first = await transpileCached(moduleWasm('gateway'), cache, { asyncImports: [], asyncExports: [] });
  assert.equal(first.cacheHit, false);
  assert.ok(existsSync(scriptPathOf(first.jsPath)), 'component.script.js written beside component.js');
  const code = await loadComponentCode(first.jsPath);
  assert.equal(typeof code.instantiate, 'function');

  const second = await transpileCached(moduleWasm('gateway'), cache, { asyncImports: [], asyncExports: [] });
  assert.deepEqual([second.cacheHit, second.jsPath], [true, first.jsPath]);
});
