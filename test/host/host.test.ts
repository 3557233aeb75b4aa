// The host's module set changes while it runs: modules are added, replaced and
// removed through its API, with real components, real workers and a real HTTP
// sink, in this process.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpSink } from '../support/http-sink.ts';
import { startHost } from '../support/in-process-host.ts';
import { driver, gateway, server, telemetry } from '../support/modules.ts';
import { freePort } from '../support/ports.ts';

interface Reading {
  deviceId: string;
  seq: number;
}

/** `count` readings per device, one every `everyMs` round-robin over the devices, from `startMs`. */
function schedule(devices: string[], count: number, startMs: number, everyMs: number) {
  const messages = [];
  let at = startMs;
  for (let seq = 1; seq <= count; seq++) {
    for (const deviceId of devices) {
      messages.push({ topic: `telemetry/${deviceId}`, payload: JSON.stringify({ deviceId, seq }), 'at-ms': at });
      at += everyMs;
    }
  }
  return messages;
}

/** Resolves when `check` holds, looking every 20 ms (for state the host exposes no event for). */
async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Per device: seqs 1..count all arrived, first arrivals in order; returns how many arrived twice or more. */
function checkOrderAndCompleteness(items: Reading[], devices: string[], count: number): number {
  let duplicates = 0;
  for (const d of devices) {
    const seen = new Set<number>();
    const firsts: number[] = [];
    for (const r of items.filter((x) => x.deviceId === d)) {
      if (seen.has(r.seq)) duplicates++;
      else {
        seen.add(r.seq);
        firsts.push(r.seq);
      }
    }
    assert.deepEqual(
      firsts,
      Array.from({ length: count }, (_, i) => i + 1),
      `device ${d}: every seq once, in order`,
    );
  }
  return duplicates;
}

test('replacing the gateway while messages flow to an HTTP sink loses none and keeps order per device (duplicates are counted)', async (t) => {
  const sink = await new HttpSink().listen();
  const devices = ['d1', 'd2', 'd3'];
  const count = 100;
  const h = await startHost({
    driver: driver(['telemetry/#'], schedule(devices, count, 200, 4)),
    gateway: gateway(sink.url, 'telemetry/#', { delivery: { maxBatch: 10, lingerMs: 5 } }),
  });
  try {
    await sink.waitFor(() => sink.items().length >= 40, 20_000, 'the first 40 readings');
    const before = h.host.modules.get('gateway')!;
    await h.host.replaceModule(h.entry('gateway', gateway(sink.url, 'telemetry/#', { delivery: { maxBatch: 25, lingerMs: 20 } })));
    assert.equal(h.host.modules.get('gateway'), before, 'the same module, not a new one');
    assert.equal(before.spec.delivery.maxBatch, 25);
    await sink.waitFor(() => new Set(sink.items<Reading>().map((r) => `${r.deviceId}/${r.seq}`)).size === devices.length * count, 20_000, 'every reading');
    const duplicates = checkOrderAndCompleteness(sink.items<Reading>(), devices, count);
    t.diagnostic(`${duplicates} readings arrived twice across the replace`);
    assert.ok(h.lines.some((l) => l.msg === 'module gateway replaced'));
    assert.equal(before.restarts, 0, 'a replace is not a restart');
  } finally {
    await h.stop();
    await sink.close();
  }
});

test('a replacement whose init fails is rolled back: the previous component runs again with its queue', async () => {
  const sink = await new HttpSink().listen();
  const h = await startHost({ telemetry: telemetry({ 'interval-ms': 50 }), gateway: gateway(sink.url) });
  try {
    await sink.waitFor(() => sink.items().length >= 4, 20_000, 'telemetry flowing');
    const bad = gateway(sink.url);
    (bad.config as Record<string, unknown>).url = 'not a url';
    await assert.rejects(h.host.replaceModule(h.entry('gateway', bad)), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'EH_DEPLOY_FAILED');
      assert.match(
        e.message,
        /module gateway: the new component did not start: config "url": expected an absolute http:\/\/ or https:\/\/ URL, found "not a url"\. The previous component runs again\./,
      );
      return true;
    });
    const gw = h.host.modules.get('gateway')!;
    assert.equal(gw.state, 'ready');
    assert.equal(gw.spec.config.url, sink.url);
    const n = sink.items().length;
    await sink.waitFor(() => sink.items().length >= n + 4, 20_000, 'telemetry still flowing after the rollback');
  } finally {
    await h.stop();
    await sink.close();
  }
});

test('a module added at runtime starts and receives what is published for it; a second one of the same name is refused', async () => {
  const sink = await new HttpSink().listen();
  const h = await startHost({ telemetry: telemetry({ 'interval-ms': 50 }) });
  try {
    const added = await h.host.addModule(h.entry('uplink', gateway(sink.url)));
    assert.equal(added.state, 'ready');
    assert.equal(added.source, 'api');
    await sink.waitFor(() => sink.items().length >= 4, 20_000, 'telemetry through the added gateway');
    await assert.rejects(h.host.addModule(h.entry('uplink', gateway(sink.url))), { code: 'EH_MODULE_EXISTS' });
  } finally {
    await h.stop();
    await sink.close();
  }
});

test('removing a module closes its listeners, stops its timers and ends its worker, while the others keep running', async () => {
  const sink = await new HttpSink().listen();
  const port = await freePort();
  const h = await startHost({
    server: server(`127.0.0.1:${port}`),
    telemetry: telemetry({ 'interval-ms': 50 }),
    gateway: gateway(sink.url),
  });
  try {
    const client = net.connect(port, '127.0.0.1');
    await once(client, 'connect');
    const clientClosed = once(client, 'close');
    const serverModule = h.host.modules.get('server')!;
    await h.host.removeModule('server');
    await clientClosed;
    assert.equal(serverModule.state, 'stopped');
    assert.equal(serverModule.hasWorker, false);
    assert.equal(h.host.modules.has('server'), false);
    const refused = net.connect(port, '127.0.0.1');
    const [error] = await once(refused, 'error');
    assert.equal((error as NodeJS.ErrnoException).code, 'ECONNREFUSED');

    const telemetryModule = h.host.modules.get('telemetry')!;
    await h.host.removeModule('telemetry');
    assert.equal(telemetryModule.hasWorker, false);
    const published = h.host.bus.published;
    // Absence can only be shown over time: ten of its intervals pass without a publish.
    await sleep(500);
    assert.equal(h.host.bus.published, published, 'a removed module published again: its timer is still running');
    assert.equal(h.host.modules.get('gateway')!.state, 'ready');
  } finally {
    await h.stop();
    await sink.close();
  }
});

test('removing a module delivers its queue first; with keepQueue its durable messages wait on disk for the next module of that name', async () => {
  const sink = await new HttpSink().listen();
  const messages = schedule(['d1'], 20, 100, 5);
  const durable = { delivery: { durable: true } };
  const h = await startHost({ driver: driver(['telemetry/#'], messages), gateway: gateway(sink.url, 'telemetry/#', durable) });
  try {
    // The sink refuses everything: the gateway's queue fills.
    sink.respond = () => 503;
    await until(() => {
      const q = h.host.bus.stats().gateway;
      return q.queued + q.inFlight === 20 && q.failedDeliveries > 0;
    }, 'all 20 messages queued for the gateway after a failed delivery');
    await sink.down();
    const kept = await h.host.removeModule('gateway', { keepQueue: true });
    assert.deepEqual(kept, { drained: false, leftQueued: 20 });
    assert.ok(h.lines.some((l) => l.module === 'gateway' && /they stay on disk for a later module named gateway/.test(l.msg)));

    sink.respond = () => 200;
    await sink.up();
    await h.host.addModule(h.entry('gateway', gateway(sink.url, 'telemetry/#', durable)));
    await sink.waitFor(() => new Set(sink.items<Reading>().map((r) => r.seq)).size === 20, 20_000, 'the 20 kept messages');
    const drained = await h.host.removeModule('gateway');
    assert.deepEqual(drained, { drained: true, leftQueued: 0 });
  } finally {
    await h.stop();
    await sink.close();
  }
});
