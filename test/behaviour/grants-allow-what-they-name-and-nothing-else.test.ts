// Grants open exactly what they name: the probe that was refused everything in
// sandbox.test.ts is given one environment variable and one HTTP target.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { driver, gateway, testGuest } from '../support/modules.ts';

test('a granted environment variable and a granted HTTP target are reachable, and nothing else', async () => {
  const results = await new HttpSink().listen();
  const target = await new HttpSink().listen();
  const config = writeConfig({
    modules: {
      probe: testGuest('probe', 'probe', {
        grants: {
          pubsub: { subscribe: ['probe/run'], publish: ['probe/result'] },
          environment: ['EDGEHOST_PROBE_SECRET'],
          outboundHttp: { allowedHosts: [`127.0.0.1:${target.port}`] },
        },
        subscriptions: ['probe/run'],
        config: { 'http-target': target.url },
      }),
      driver: driver(
        ['probe/run'],
        ['env', 'outbound-http', 'fs-read'].map((c, i) => ({ topic: 'probe/run', payload: c, 'at-ms': 100 + i * 50 })),
      ),
      results: gateway(results.url, 'probe/result'),
    },
  });
  const host = new HostProcess(['--config', config], { EDGEHOST_PROBE_SECRET: 'hunter2', EDGEHOST_OTHER: 'x' });
  try {
    await results.waitFor(() => results.items().length >= 3, 30_000, 'three probe results');
    const byCase = Object.fromEntries(results.items<{ case: string; outcome: string; detail: unknown }>().map((r) => [r.case, r]));
    assert.deepEqual(byCase.env, { case: 'env', outcome: 'allowed', detail: ['EDGEHOST_PROBE_SECRET'] });
    assert.deepEqual(byCase['outbound-http'], { case: 'outbound-http', outcome: 'allowed', detail: 'status 200' });
    assert.equal(target.received.length, 1);
    assert.equal(target.received[0].headers['user-agent'], 'edgehost/0.1');
    assert.equal(byCase['fs-read'].outcome, 'denied');
  } finally {
    host.kill();
    await Promise.all([results.close(), target.close()]);
  }
});
