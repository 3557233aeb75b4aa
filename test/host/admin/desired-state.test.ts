import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DesiredState } from '../../../host/admin/desired-state.ts';
import { parseCli } from '../../../host/config/cli.ts';
import { loadConfig } from '../../../host/config/load.ts';
import type { HostError } from '../../../host/errors.ts';
import { tempDir } from '../../support/paths.ts';

/** A config file with modules a and b (their components need only exist to load). */
function setup() {
  const dir = tempDir();
  writeFileSync(join(dir, 'a.wasm'), 'a');
  const file = join(dir, 'edgehost.json');
  const grants = { pubsub: { publish: ['x/#'] } };
  writeFileSync(
    file,
    JSON.stringify({ modules: { a: { component: 'a.wasm', world: 'telemetry', grants }, b: { component: 'a.wasm', world: 'telemetry', grants } } }),
  );
  const dataDir = join(dir, 'data');
  return { config: loadConfig(parseCli(['--config', file, '--data-dir', dataDir])), dataDir };
}

const entry = { world: 'telemetry', grants: { pubsub: { publish: ['y/#'] } }, config: { n: 1 } };

test('an empty data dir starts the config file as it is', () => {
  const { config, dataDir } = setup();
  const state = DesiredState.open(dataDir);
  const set = state.startSet(config);
  assert.deepEqual(
    set.modules.map((m) => m.name),
    ['a', 'b'],
  );
  assert.deepEqual(
    [...set.sources],
    [
      ['a', 'config'],
      ['b', 'config'],
    ],
  );
  assert.deepEqual(set.applied, []);
});

test('deploys replace or add modules and removals drop them, across a reopen; components are stored by digest', async () => {
  const { config, dataDir } = setup();
  const state = DesiredState.open(dataDir);
  const one = await state.storeComponent(new TextEncoder().encode('component one'));
  assert.match(one.digest, /^[0-9a-f]{64}$/);
  assert.equal(readFileSync(one.path, 'utf8'), 'component one');
  await state.recordDeploy('a', { ...entry, component: 'ignored.wasm' }, one.digest);
  state.release(one.digest);
  const two = await state.storeComponent(new TextEncoder().encode('component two'));
  await state.recordDeploy('c', entry, two.digest);
  state.release(two.digest);
  await state.recordRemove('b', true);

  const reopened = DesiredState.open(dataDir);
  const set = reopened.startSet(config);
  assert.deepEqual(
    set.modules.map((m) => [m.name, set.sources.get(m.name), m.componentPath]),
    [
      ['a', 'api', one.path],
      ['c', 'api', two.path],
    ],
  );
  assert.deepEqual(set.modules[0].config, { n: 1 });
  assert.deepEqual(set.modules[0].grants.pubsub, { publish: ['y/#'], subscribe: [] });
  assert.deepEqual(
    set.applied.map((a) => [a.module, a.change]),
    [
      ['b', 'removed'],
      ['a', 'deployed'],
      ['c', 'deployed'],
    ],
  );
  const file = JSON.parse(readFileSync(join(dataDir, 'deployments.json'), 'utf8'));
  assert.equal(file.deployed.a.entry.component, undefined, 'the path is not recorded: the digest is');
  assert.deepEqual(
    readdirSync(dataDir).filter((f) => f.includes('.tmp')),
    [],
    'no temp file left',
  );

  // Removing an API-only module forgets it; removing a config module is remembered; deploying it again clears that.
  await reopened.recordRemove('c', false);
  await reopened.recordDeploy('b', entry, one.digest);
  const again = DesiredState.open(dataDir).startSet(config);
  assert.deepEqual(
    again.modules.map((m) => m.name),
    ['a', 'b'],
  );
  assert.ok(!existsSync(two.path), 'a component nothing refers to is deleted');
  assert.ok(existsSync(one.path));
});

test('a component stored for a deploy still being checked is not collected', async () => {
  const { dataDir } = setup();
  const state = DesiredState.open(dataDir);
  const stored = await state.storeComponent(new TextEncoder().encode('pending'));
  state.collectGarbage();
  assert.ok(existsSync(stored.path));
  state.release(stored.digest);
  assert.ok(!existsSync(stored.path), 'released and unreferenced: deleted');
});

test('a corrupt deployments.json, or a deployment that no longer validates, stops the start with EH_STATE_INVALID', async () => {
  const { config, dataDir } = setup();
  DesiredState.open(dataDir);
  writeFileSync(join(dataDir, 'deployments.json'), '{ not json');
  assert.throws(
    () => DesiredState.open(dataDir),
    (e: HostError) => e.code === 'EH_STATE_INVALID' && /remove it to start from the config file alone/.test(e.message),
  );
  writeFileSync(join(dataDir, 'deployments.json'), JSON.stringify({ version: 1, deployed: {}, removed: {}, extra: 1 }));
  assert.throws(
    () => DesiredState.open(dataDir),
    (e: HostError) => e.code === 'EH_STATE_INVALID',
  );

  writeFileSync(join(dataDir, 'deployments.json'), JSON.stringify({ version: 1, deployed: {}, removed: {} }));
  const state = DesiredState.open(dataDir);
  const stored = await state.storeComponent(new TextEncoder().encode('x'));
  await state.recordDeploy('d', { ...entry, world: 'no-such-world' }, stored.digest);
  assert.throws(
    () => DesiredState.open(dataDir).startSet(config),
    (e: HostError) =>
      e.code === 'EH_STATE_INVALID' &&
      /the module d deployed through the admin API at .* no longer validates: .*deployed\.d\.world: no world "no-such-world"/s.test(e.message),
  );
});
