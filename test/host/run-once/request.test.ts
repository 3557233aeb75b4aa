import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runOnceOptions } from '../../../host/config/schema.ts';
import type { HostError } from '../../../host/errors.ts';
import { checkKind, parseGrants, parseRunRequest, runLimits } from '../../../host/run-once/request.ts';

const options = runOnceOptions.parse({});

test("limits default to the host's and may be asked for up to its ceiling", () => {
  assert.deepEqual(runLimits(parseRunRequest(undefined), options), { deadlineMs: 10_000, maxMemoryMb: 64, maxOutputBytes: 1024 * 1024 });
  assert.deepEqual(runLimits(parseRunRequest({ deadlineMs: 500, maxMemoryMb: 16, maxOutputBytes: 10 }), options), {
    deadlineMs: 500,
    maxMemoryMb: 16,
    maxOutputBytes: 10,
  });
  assert.throws(
    () => runLimits(parseRunRequest({ maxMemoryMb: 4096 }), options),
    (e: HostError) => e.code === 'EH_RUN_INVALID' && e.message === 'run request: maxMemoryMb: 4096 is more than this host allows (512, admin.run.maxMemoryMb)',
  );
});

test('a bad request names the field; fields of the other kind are refused', () => {
  assert.throws(
    () => parseRunRequest({ args: 'x', colour: 1 }),
    (e: HostError) =>
      e.code === 'EH_RUN_INVALID' && /run request: \(top level\): unknown key "colour"/.test(e.message) && /run request: args: /.test(e.message),
  );
  assert.throws(
    () => parseRunRequest({ messages: [{ topic: 't', payload: 'a', payloadBase64: 'YQ==' }] }),
    /run request: messages\[0\]: give exactly one of payload and payloadBase64/,
  );
  assert.throws(
    () => checkKind(parseRunRequest({ world: 'gateway', args: [] }), 'command'),
    /run request: world: the component is a wasi:cli\/command, which takes no world/,
  );
  assert.throws(() => checkKind(parseRunRequest({ stdin: 'x' }), 'module'), /run request: stdin: the component runs as a module of a platform world/);
  assert.doesNotThrow(() => checkKind(parseRunRequest({ args: ['a'], env: { A: '1' } }), 'command'));
});

test('grants use the module grant schema', () => {
  assert.deepEqual(parseGrants(undefined).environment, []);
  assert.deepEqual(parseGrants({ filesystem: { mounts: [{ host: '/tmp', guest: '/data' }] } }).filesystem, {
    mounts: [{ host: '/tmp', guest: '/data', mode: 'ro' }],
  });
  assert.throws(
    () => parseGrants({ network: {} }),
    (e: HostError) => e.code === 'EH_RUN_INVALID' && /run request: grants: unknown key "network"/.test(e.message),
  );
});
