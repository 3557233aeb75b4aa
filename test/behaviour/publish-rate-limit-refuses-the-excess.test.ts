// A module publishing faster than limits.publishPerSecond is refused with
// `limited`; the host says so with the module and the limit, a few lines, not one per refusal.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { gateway, telemetry } from '../support/modules.ts';

test('the publish rate limit refuses the excess, and its warning names the module and the limit without flooding the log', async () => {
  const sink = await new HttpSink().listen();
  const config = writeConfig({
    modules: {
      // 10 devices every 10 ms: about 1,000 publishes/s against a limit of 50/s.
      telemetry: { ...telemetry({ devices: Array.from({ length: 10 }, (_, i) => `d${i}`), 'interval-ms': 10 }), limits: { publishPerSecond: 50 } },
      gateway: gateway(sink.url),
    },
  });
  const host = new HostProcess(['--config', config]);
  try {
    const started = Date.now();
    const warning = await host.waitForLog((l) => l.code === 'EH_LIMIT', 20_000, 'a rate-limit warning');
    assert.equal(warning.module, 'telemetry');
    assert.equal(warning.limit, 'limits.publishPerSecond');
    assert.equal(warning.perSecond, 50);
    // A summary line for the refusals since the last warning. Telemetry holds refused readings
    // back and publishes a tick's in one call that stops at the first refusal: every 10 ms tick
    // is refused about once, some 100 refusals a second.
    await host.waitForLog((l) => l.code === 'EH_LIMIT' && Number(l.refusedSinceLastWarning) > 50, 20_000, 'a summary line');
    const seconds = (Date.now() - started) / 1000;
    const lines = host.lines.filter((l) => l.code === 'EH_LIMIT').length;
    assert.ok(lines <= seconds + 2, `${lines} warnings in ${seconds.toFixed(1)} s`);
    // What got through is what the limit allows (plus the one-second burst), not what was attempted.
    await sink.waitFor(() => sink.items().length > 0, 10_000, 'some readings');
    const rate = sink.items().length / ((Date.now() - started) / 1000);
    assert.ok(rate < 150, `${rate.toFixed(0)} readings/s reached the sink with a limit of 50/s`);
  } finally {
    host.kill();
    await sink.close();
  }
});
