// Poisoned messages: a guest that traps, loops forever or hogs memory on every
// third message. The host must stop each bad call, restart the module, move
// only the poisoned messages to deadletter/<module> after maxAttempts, and keep
// every other module (and every other message) flowing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { driver, gateway, telemetry, testGuest } from '../support/modules.ts';

const modes = ['trap', 'spin', 'hog'] as const;
const N = 9; // messages 3, 6 and 9 are poisoned
const maxAttempts = 2;

test('poisoned messages reach the dead-letter topic after maxAttempts while the rest is delivered and other modules keep working', async () => {
  const ok = await new HttpSink().listen();
  const uplink = await new HttpSink().listen();
  const dead = Object.fromEntries(await Promise.all(modes.map(async (m) => [m, await new HttpSink().listen()] as const)));
  const modules: Record<string, unknown> = {
    telemetry: telemetry(),
    uplink: gateway(uplink.url),
    results: gateway(ok.url, 'poison/ok/#'),
    driver: driver(
      ['poison/in'],
      Array.from({ length: N }, (_, i) => ({ topic: 'poison/in', payload: JSON.stringify({ n: i + 1 }), 'at-ms': 300 + i * 20 })),
    ),
  };
  for (const mode of modes) {
    modules[`poison-${mode}`] = testGuest('poison', 'telemetry', {
      grants: { pubsub: { subscribe: ['poison/in'], publish: ['poison/ok/#'] } },
      subscriptions: ['poison/in'],
      config: { name: mode, mode, 'hog-mb': 48 },
      // The hog must meet its memory cap, not the deadline, even on a starved machine.
      limits: { callDeadlineMs: mode === 'hog' ? 10_000 : 1500, maxMemoryMb: 40 },
      delivery: { maxAttempts, retryInitialMs: 20, retryMaxMs: 100 },
      restart: { initialBackoffMs: 20, maxBackoffMs: 200, maxCrashes: 50 },
    });
    modules[`dead-${mode}`] = gateway(dead[mode].url, `deadletter/poison-${mode}`);
  }
  const host = new HostProcess(['--config', writeConfig({ modules })]);
  try {
    for (const mode of modes) {
      await dead[mode].waitFor(() => dead[mode].items().length >= 3, 60_000, `3 dead letters from ${mode}`);
    }
    const handledBy = (m: string) =>
      new Set(
        ok
          .items<{ module: string; n: number }>()
          .filter((x) => x.module === m)
          .map((x) => x.n),
      );
    await ok
      .waitFor(() => modes.every((m) => handledBy(m).size === 6), 30_000, 'the healthy messages')
      .catch((e) => {
        const spinLog = host.lines
          .filter((l) => (l.module === 'poison-spin' || l.module === 'results') && l.level >= 40 && l.stream === undefined)
          .map((l) => `${l.code ?? ''} ${l.msg}`.slice(0, 160));
        throw new Error(
          `${e.message}: ${modes.map((m) => `${m}: ${[...handledBy(m)]}`).join('; ')}\nDEAD spin: ${JSON.stringify(dead.spin.items())}\n${spinLog.join('\n')}`,
        );
      });
    for (const mode of modes) {
      const letters = dead[mode].items<{ n: number }>().map((x) => x.n);
      assert.deepEqual(letters, [3, 6, 9], `${mode}: dead letters`);
      const handled = new Set(
        ok
          .items<{ module: string; n: number }>()
          .filter((x) => x.module === mode)
          .map((x) => x.n),
      );
      assert.deepEqual(
        [...handled].sort((a, b) => a - b),
        [1, 2, 4, 5, 7, 8],
        `${mode}: handled messages`,
      );
      const logged = host.lines.filter((l) => l.code === 'EH_DEAD_LETTER' && l.module === `poison-${mode}`);
      assert.equal(logged.length, 3, `${mode}: dead-letter log lines`);
      assert.deepEqual(
        logged.map((l) => l.attempts),
        [maxAttempts, maxAttempts, maxAttempts],
      );
    }
    const stopCodes = (mode: string) =>
      new Set(host.lines.filter((l) => l.module === `poison-${mode}` && /^module .* stopped: /.test(l.msg)).map((l) => l.code));
    // The trap is a string passed where the WIT says u32: the host names it as the type mistake it is.
    assert.deepEqual(stopCodes('trap'), new Set(['EH_GUEST_TYPE']));
    assert.deepEqual(stopCodes('spin'), new Set(['EH_MODULE_DEADLINE']));
    assert.deepEqual(stopCodes('hog'), new Set(['EH_MODULE_MEMORY']));
    // Each poisoned message failed maxAttempts times on its own (a failed batch first counts for none of its messages).
    for (const mode of modes) {
      const crashes = host.lines.filter((l) => l.module === `poison-${mode}` && /^module .* stopped: /.test(l.msg)).length;
      assert.ok(crashes >= 3 * maxAttempts && crashes <= 3 * maxAttempts + 3, `${mode}: ${crashes} crashes`);
    }
    const before = uplink.items().length;
    await uplink.waitFor(() => uplink.items().length >= before + 4, 10_000, 'telemetry still flowing');
    assert.equal(host.child.exitCode, null);
  } finally {
    host.kill();
    await Promise.all([ok, uplink, ...Object.values(dead)].map((s) => s.close()));
  }
});
