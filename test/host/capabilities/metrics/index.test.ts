import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkImportsGranted } from '../../../../host/admin/link-gate.ts';
import { capabilitiesOf, capabilityFor } from '../../../../host/capabilities/index.ts';
import { metrics } from '../../../../host/capabilities/metrics/index.ts';
import { platform } from '../../../../host/components/wit.ts';
import { loadModuleEntry } from '../../../../host/config/load.ts';
import { tempDir } from '../../../support/paths.ts';

const dir = tempDir();
writeFileSync(join(dir, 'c.wasm'), '');
const entry = (raw: Record<string, unknown>) => loadModuleEntry('m', { component: 'c.wasm', ...raw }, { base: dir, where: 'modules.m' });

test('every reference world imports edgehost:platform/metrics, answered by the metrics capability', () => {
  assert.equal(capabilityFor('edgehost:platform/metrics@0.1.0'), metrics);
  for (const world of platform().worlds.values()) {
    assert.ok(world.imports.includes('edgehost:platform/metrics'), world.name);
    assert.ok(capabilitiesOf(world.imports).includes(metrics), world.name);
  }
});

test('a component that imports metrics links without a grant (its calls are denied); the grant is validated like any other', () => {
  const imports = ['edgehost:platform/logging', 'edgehost:platform/pubsub', 'edgehost:platform/metrics'];
  const ungranted = entry({ world: 'telemetry', grants: { pubsub: { publish: ['t/#'] } } });
  assert.deepEqual(ungranted.grants.metrics, { maxSeries: 0 });
  assert.doesNotThrow(() => checkImportsGranted(ungranted, imports));
  assert.deepEqual(entry({ world: 'server', grants: { metrics: { maxSeries: 20 } } }).grants.metrics, { maxSeries: 20 });
  assert.throws(() => entry({ world: 'server', grants: { metrics: { maxSeries: -1 } } }), /modules\.m\.grants\.metrics\.maxSeries/);
  assert.throws(
    () => entry({ world: 'wasi:http/proxy', grants: { metrics: { maxSeries: 5 } } }),
    /modules\.m\.grants\.metrics: world "wasi:http\/proxy" does not import this capability; remove the grant/,
  );
});
