// Idle sleep, in the host's own process: a module with `idle.afterMs` frees its
// worker when it has nothing to do, keeps its queue, listeners and timers, and
// wakes for the next message, timer or connection.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { HttpSink } from '../../support/http-sink.ts';
import { startHost } from '../../support/in-process-host.ts';
import { driver, gateway, server } from '../../support/modules.ts';
import { freePort } from '../../support/ports.ts';

const asleep = (h: Awaited<ReturnType<typeof startHost>>, name: string) =>
  h.waitForLog((l) => l.module === name && l.msg === `module ${name} asleep: its worker is freed`, 20_000, `${name} asleep`);

test('an idle module sleeps with its worker freed, and the next message wakes it and is handled', async () => {
  const sink = await new HttpSink().listen();
  const h = await startHost({ gateway: { ...gateway(sink.url), idle: { afterMs: 200 } } });
  try {
    await asleep(h, 'gateway');
    const gw = h.host.modules.get('gateway')!;
    assert.equal(gw.state, 'sleeping');
    assert.equal(gw.hasWorker, false);
    h.host.bus.publish('telemetry/d1', new TextEncoder().encode('{"deviceId":"d1","seq":1}'));
    await sink.waitFor(() => sink.items().length === 1, 20_000, 'the message through the woken gateway');
    assert.deepEqual(sink.items(), [{ deviceId: 'd1', seq: 1 }]);
    assert.equal(gw.wakes, 1);
    assert.ok(h.lines.some((l) => l.module === 'gateway' && l.msg === 'module gateway woke' && typeof l.wakeMs === 'number'));
    // And it goes back to sleep when idle again.
    await h.waitForLog(
      (l) => l.msg === 'module gateway asleep: its worker is freed' && h.lines.indexOf(l) > h.lines.findIndex((x) => x.msg === 'module gateway woke'),
    );
  } finally {
    await h.stop();
    await sink.close();
  }
});

test('a timer that comes due while the module sleeps wakes it, and the new instance gets the tick', async () => {
  const sink = await new HttpSink().listen();
  const h = await startHost({
    driver: { ...driver(['telemetry/#'], [{ topic: 'telemetry/d1', payload: '{"late":true}', 'at-ms': 1500 }]), idle: { afterMs: 150 } },
    gateway: gateway(sink.url),
  });
  try {
    await asleep(h, 'driver');
    assert.equal(h.host.modules.get('driver')!.hasWorker, false);
    await sink.waitFor(() => sink.items().length === 1, 20_000, 'the message the timer published');
    assert.deepEqual(sink.items(), [{ late: true }]);
    assert.equal(h.host.modules.get('driver')!.wakes, 1);
  } finally {
    await h.stop();
    await sink.close();
  }
});

test('a connection wakes a sleeping server module, and it does not sleep while a connection is open', async () => {
  const port = await freePort();
  const h = await startHost({ server: { ...server(`127.0.0.1:${port}`), idle: { afterMs: 150 } } });
  try {
    await asleep(h, 'server');
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 10_000 });
    const srv = h.host.modules.get('server')!;
    assert.equal(srv.state, 'ready');
    assert.equal(srv.wakes, 1);
    const sleeps = () => h.lines.filter((l) => l.msg === 'module server asleep: its worker is freed').length;
    const sleepsBefore = sleeps();
    // Ten times the idle time with the connection open: no sleep.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(sleeps(), sleepsBefore);
    await client.publishAsync('t/x', 'still here', { qos: 1 });
    await client.endAsync();
    await h.waitForLog(() => sleeps() > sleepsBefore, 20_000, 'server asleep again after the client left');
  } finally {
    await h.stop();
  }
});
