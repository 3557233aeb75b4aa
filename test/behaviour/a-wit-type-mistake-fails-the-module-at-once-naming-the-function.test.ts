// A module built without the build's checks passes a BigInt where the WIT says
// u32 during init. The host reports it once, in the author's terms (the WIT
// function, what it got, what the type wants), keeps the runtime's panic at
// debug level, and marks the module failed without restarting it: retrying
// cannot fix a type mistake.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { testGuest } from '../support/modules.ts';

test('a BigInt passed where the WIT says u32 fails the start once, naming lifecycle.init and the expected type, with no restart', async () => {
  const config = writeConfig({ modules: { counter: testGuest('bigint-timer', 'telemetry') } });
  const host = new HostProcess(['--config', config, '--log-level', 'debug']);
  try {
    const failed = await host.waitForLog((l) => l.module === 'counter' && l.code === 'EH_MODULE_FAILED', 30_000, 'the module marked failed');
    assert.match(failed.msg, /module counter cannot start \(retrying cannot fix this\); not restarting it/);
    const errors = host.lines.filter((l) => l.module === 'counter' && l.level >= 50 && l.code !== 'EH_MODULE_FAILED');
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.equal(errors[0].code, 'EH_GUEST_TYPE');
    assert.match(
      errors[0].msg,
      /^module counter failed to start: a value crossing the WIT boundary during lifecycle\.init does not fit its type: got a BigInt, expected a number \(WIT u8\/u16\/u32\/s8\/s16\/s32\)\./,
    );
    assert.equal(host.lines.filter((l) => l.msg === 'module counter ready' || /restarting module counter/.test(l.msg)).length, 0);
    // The runtime's own words are kept, at debug level.
    const raw = host.lines.filter((l) => l.module === 'counter' && l.stream === 'stderr' && /FromJs \{ from: "big_int", to: "i32"/.test(l.msg));
    assert.equal(raw.length, 1);
    assert.equal(raw[0].level, 20);
    assert.equal(host.child.exitCode, null, 'the host keeps running');
  } finally {
    host.kill();
  }
});
