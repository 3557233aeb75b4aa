import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { make } from '../../../host/sandbox/worker-bundle.ts';
import { tempDir } from '../../support/paths.ts';

const halves = [new URL('../../../host/capabilities/timer/worker.ts', import.meta.url).href];
const manifestOf = (dir: string) => {
  const name = readdirSync(dir).find((f) => f.startsWith('inputs-') && f.endsWith('.json'));
  assert.ok(name, `no manifest in ${readdirSync(dir).join(', ')}`);
  return join(dir, name);
};

test('a second start reuses the bundle its manifest lists, and a changed input makes the next start build again', async () => {
  const cache = tempDir();
  const first = await make(halves, cache);
  const path = manifestOf(cache);
  const manifest = JSON.parse(readFileSync(path, 'utf8')) as { dir: string; inputs: [string, string][] };
  assert.ok(
    manifest.inputs.some(([p]) => p.endsWith('host/sandbox/worker.ts')),
    'the worker entry is an input',
  );
  assert.ok(
    manifest.inputs.some(([p]) => p.endsWith('host/capabilities/timer/worker.ts')),
    'the worker half is an input',
  );

  // Reused: the manifest is not written again.
  writeFileSync(path, JSON.stringify({ ...manifest, reused: true }));
  const second = await make(halves, cache);
  assert.equal(second.entry.href, first.entry.href);
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).reused, true);

  // An input whose bytes differ from the recorded ones: built again, and the manifest rewritten.
  const stale = { ...manifest, inputs: manifest.inputs.map(([p, h], i) => [p, i === 0 ? `0${h.slice(1)}` : h]) };
  writeFileSync(path, JSON.stringify(stale));
  const third = await make(halves, cache);
  assert.equal(third.entry.href, first.entry.href, 'the same sources bundle to the same folder');
  assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), manifest);
});

test('halves lists the bundled module of every worker half, which a standby thread preloads', async () => {
  const two = [...halves, new URL('../../../host/capabilities/logging/worker.ts', import.meta.url).href];
  const bundle = await make(two, tempDir());
  assert.deepEqual(
    bundle.halves,
    two.map((h) => bundle.workerHalf(h)),
  );
  for (const url of bundle.halves) assert.ok(existsSync(new URL(url)), `${url} was written`);
});
