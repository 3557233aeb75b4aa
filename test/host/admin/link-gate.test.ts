import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkImportsGranted } from '../../../host/admin/link-gate.ts';
import { loadModuleEntry } from '../../../host/config/load.ts';
import type { HostError } from '../../../host/errors.ts';
import { tempDir } from '../../support/paths.ts';

const dir = tempDir();
writeFileSync(join(dir, 'c.wasm'), '');
const spec = (raw: Record<string, unknown>) => loadModuleEntry('m', { component: 'c.wasm', ...raw }, { base: dir, where: 'modules.m' });

const gatewayImports = [
  'edgehost:platform/config',
  'edgehost:platform/logging',
  'edgehost:platform/outbound-http',
  'edgehost:platform/pubsub',
  'edgehost:platform/timer',
  'wasi:cli/environment',
  'wasi:filesystem/preopens',
  'wasi:filesystem/types',
  'wasi:io/streams',
];

test('an import of a granted-per-module capability needs a grant that allows something; WASI imports need none', () => {
  const granted = spec({ world: 'gateway', grants: { pubsub: { subscribe: ['t/#'] }, outboundHttp: { allowedHosts: ['127.0.0.1:1'] } } });
  assert.doesNotThrow(() => checkImportsGranted(granted, gatewayImports));

  const bare = spec({ world: 'gateway', grants: { outboundHttp: { allowedHosts: [], defaultTimeoutMs: 1000 } } });
  assert.throws(
    () => checkImportsGranted(bare, gatewayImports),
    (e: HostError) => {
      assert.equal(e.code, 'EH_IMPORT_NOT_GRANTED');
      assert.equal(
        e.message,
        [
          'component not linked',
          '  modules.m.grants.outboundHttp: the component imports edgehost:platform/outbound-http, but the entry grants nothing of it, so every call would be denied; set grants.outboundHttp.allowedHosts, or deploy a component that does not import it',
          '  modules.m.grants.pubsub: the component imports edgehost:platform/pubsub, but the entry grants nothing of it, so every call would be denied; set grants.pubsub.publish or grants.pubsub.subscribe, or deploy a component that does not import it',
        ].join('\n'),
      );
      return true;
    },
  );
});

test('capabilities without a grant key (logging, config, timer) pass with no grant', () => {
  const s = spec({ world: 'telemetry', grants: { pubsub: { publish: ['t/#'] } } });
  assert.doesNotThrow(() =>
    checkImportsGranted(s, ['edgehost:platform/logging', 'edgehost:platform/config', 'edgehost:platform/timer', 'edgehost:platform/pubsub']),
  );
});
