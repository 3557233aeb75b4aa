// GET /readyz, as a load balancer or a supervisor asks it (no token), of a real
// host whose module crash-loops on a poisoned message: 503 naming the module
// and its state while it restarts, 200 again once the message went to the
// dead-letter topic and the module runs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adminOf, entryOf } from '../support/admin.ts';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { driver, gateway, telemetry, testGuest } from '../support/modules.ts';

const maxAttempts = 3;

async function readyz(url: string): Promise<{ status: number; body: { status: string; notReady?: { module: string; state: string }[]; modules?: number } }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as never };
}

test('/readyz answers 503 naming a module while it crash-loops, and 200 once it recovers', async () => {
  const sink = await new HttpSink().listen();
  const host = new HostProcess([
    '--config',
    writeConfig({
      modules: {
        telemetry: telemetry(),
        uplink: gateway(sink.url),
        // Traps on {"n":3} (every third n) until that message is dead-lettered after maxAttempts.
        poison: testGuest('poison', 'telemetry', {
          grants: { pubsub: { subscribe: ['poison/in'], publish: ['poison/ok/#'] } },
          subscriptions: ['poison/in'],
          config: { name: 'poison', mode: 'trap' },
          delivery: { maxAttempts, retryInitialMs: 20, retryMaxMs: 100 },
          // Long enough a backoff that the restarting state outlasts a request.
          restart: { initialBackoffMs: 1500, maxBackoffMs: 1500, maxCrashes: 50 },
        }),
      },
    }),
  ]);
  try {
    const admin = await adminOf(host);
    await host.ready(['telemetry', 'uplink', 'poison']);
    assert.deepEqual(await readyz(admin.url), { status: 200, body: { status: 'ready', modules: 3 } });

    // The poisoned message comes from a module deployed now, so the host was ready before it.
    const poisoner = driver(['poison/in'], [{ topic: 'poison/in', payload: JSON.stringify({ n: 3 }), 'at-ms': 0 }]);
    assert.equal((await admin.deploy('driver', poisoner.component, entryOf(poisoner))).status, 201);

    for (let crash = 1; crash <= maxAttempts; crash++) {
      // Logged once the module is in `restarting`, which lasts the backoff.
      await host.waitForLog(
        (l) => l.module === 'poison' && /^restarting module poison in \d+ ms$/.test(l.msg) && host.lines.filter((x) => x.msg === l.msg).length >= crash,
        30_000,
        `crash ${crash}`,
      );
      const answer = await readyz(admin.url);
      assert.equal(answer.status, 503, `crash ${crash}: ${JSON.stringify(answer.body)}`);
      assert.deepEqual(answer.body, { status: 'not ready', notReady: [{ module: 'poison', state: 'restarting' }] });
    }

    await host.waitForLog((l) => l.code === 'EH_DEAD_LETTER' && l.module === 'poison', 30_000, 'the poisoned message dead-lettered');
    await host.waitForLog((l) => l.msg === 'module poison ready' && l.restarts === maxAttempts, 30_000, 'poison running again');
    assert.deepEqual(await readyz(admin.url), { status: 200, body: { status: 'ready', modules: 4 } });
    // The others never stopped: telemetry kept reaching the sink.
    const before = sink.items().length;
    await sink.waitFor(() => sink.items().length > before, 10_000, 'more telemetry');
  } finally {
    host.kill();
    await sink.close();
  }
});
