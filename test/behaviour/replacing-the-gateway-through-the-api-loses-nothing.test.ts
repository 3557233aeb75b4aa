// While telemetry flows to an HTTP sink through the gateway, the gateway is
// replaced through the admin API by another build of it (PUT
// /v1/modules/gateway). Its queue is kept and the batch in flight goes to the
// new instance: every reading reaches the sink, in order per device; readings
// that arrive twice are counted and reported.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { adminOf, entryOf } from '../support/admin.ts';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { gateway, telemetry } from '../support/modules.ts';
import { testGuestWasm } from '../support/paths.ts';

interface Reading {
  deviceId: string;
  seq: number;
}

const devices = ['d1', 'd2', 'd3'];

/** Per device, the highest seq such that every seq up to it has arrived. */
function contiguous(items: Reading[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const d of devices) {
    const seen = new Set(items.filter((r) => r.deviceId === d).map((r) => r.seq));
    let n = 0;
    while (seen.has(n + 1)) n++;
    out.set(d, n);
  }
  return out;
}

test('replacing the gateway with another build while telemetry flows loses no reading and keeps each device in order', async (t) => {
  const sink = await new HttpSink().listen();
  const gw = gateway(sink.url, 'telemetry/#', { delivery: { maxBatch: 20, lingerMs: 10, durable: true } });
  const host = new HostProcess(['--config', writeConfig({ modules: { telemetry: telemetry({ 'interval-ms': 20, devices }), gateway: gw } })]);
  try {
    const admin = await adminOf(host);
    await sink.waitFor(() => sink.items().length >= 60, 20_000, 'the first 60 readings');
    const before = (await admin.request<{ module: { digest: string } }>('GET', '/v1/modules/gateway')).json.module;

    const replaced = await admin.deploy<{ action: string; module: { digest: string; source: string; state: string; restarts: number } }>(
      'gateway',
      testGuestWasm('gateway-b'),
      entryOf(gw),
    );
    assert.equal(replaced.status, 200, JSON.stringify(replaced.json));
    assert.equal(replaced.json.action, 'replaced');
    const digestB = createHash('sha256')
      .update(readFileSync(testGuestWasm('gateway-b')))
      .digest('hex');
    assert.notEqual(before.digest, digestB);
    assert.equal(replaced.json.module.digest, digestB);
    assert.equal(replaced.json.module.source, 'api');
    assert.equal(replaced.json.module.state, 'ready');
    assert.equal(replaced.json.module.restarts, 0, 'a replace is not a restart');
    await host.waitForLog((l) => l.module === 'gateway' && l.msg === 'gateway build b', 10_000, 'the new build running');

    // Traffic goes on through the new build: every device gets 100 readings past the point of the replace.
    const atReplace = contiguous(sink.items<Reading>());
    const target = Math.max(...atReplace.values()) + 100;
    await sink.waitFor(() => [...contiguous(sink.items<Reading>()).values()].every((n) => n >= target), 30_000, `every device up to seq ${target}`);

    const items = sink.items<Reading>();
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
      const upTo = firsts.filter((s) => s <= target);
      assert.deepEqual(
        upTo,
        Array.from({ length: target }, (_, i) => i + 1),
        `device ${d}: every seq up to ${target} once, first arrivals in order`,
      );
    }
    t.diagnostic(
      `${items.length} readings at the sink, ${duplicates} of them twice (redelivered across the replace); replaced at seq ${[...atReplace.values()].join('/')}`,
    );
  } finally {
    host.kill();
    await sink.close();
  }
});
