// SIGTERM: intake stops, queued work finishes, durable queues are committed,
// sockets close, and the process exits 0. What was queued for a sink that was
// down is delivered by the next start on the same data dir.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { test } from 'node:test';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { gateway, server, telemetry } from '../support/modules.ts';
import { tempDir } from '../support/paths.ts';
import { freePort } from '../support/ports.ts';

interface Reading {
  deviceId: string;
  seq: number;
}

test('SIGTERM exits 0, closes the listener and keeps queued messages for the next start', async () => {
  const sink = await new HttpSink().listen();
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const config = writeConfig({
    modules: {
      telemetry: telemetry({ devices: ['d1'], 'interval-ms': 20 }),
      gateway: gateway(sink.url, 'telemetry/#', { delivery: { durable: true, maxAttempts: 0 } }),
      server: server(address),
    },
  });
  const dataDir = tempDir();
  let host = new HostProcess(['--config', config, '--data-dir', dataDir]);
  try {
    await host.ready(['telemetry', 'gateway', 'server']);
    await sink.waitFor(() => sink.items().length >= 5, 20_000, 'first readings');
    await sink.down();
    // Readings queue for the gateway while the sink is down.
    await host.waitForLog(
      (l) => l.module === 'gateway' && /did not handle a batch/.test(l.msg) && host.lines.filter((x) => /did not handle a batch/.test(x.msg)).length >= 3,
      10_000,
      'three failed posts',
    );
    const client = connect(port, '127.0.0.1');
    await once(client, 'connect');
    client.resume(); // read, so the server's close is seen
    const clientClosed = once(client, 'close');
    const { code, ms } = await host.stop('SIGTERM');
    assert.equal(code, 0, host.stderr);
    assert.ok(ms < 5000, `shutdown took ${ms} ms`);
    assert.ok(host.lines.some((l) => l.msg === 'stopped'));
    await clientClosed; // the server's connections were closed
    // The port is free again: the listener is gone.
    const probe = connect(port, '127.0.0.1');
    const [err] = await once(probe, 'error');
    assert.equal((err as NodeJS.ErrnoException).code, 'ECONNREFUSED');

    const lastBefore = Math.max(...sink.items<Reading>().map((r) => r.seq));
    await sink.up();
    host = new HostProcess(['--config', config, '--data-dir', dataDir]);
    await host.ready(['telemetry', 'gateway', 'server']);
    // The first instance's readings (seq 1..n) arrive again from the queue; the new instance starts at seq 1 too.
    const firstRun = () => {
      const seqs: number[] = [];
      for (const r of sink.items<Reading>()) {
        if (seqs.length > 0 && r.seq === 1) break; // the second instance's readings begin
        seqs.push(r.seq);
      }
      return seqs;
    };
    // The second instance's first reading arrives after everything the first one queued.
    const secondRunStarted = () => sink.items<Reading>().filter((r) => r.seq === 1).length >= 2;
    await sink.waitFor(secondRunStarted, 20_000, "the second instance's readings after the queued ones");
    const seqs = firstRun();
    assert.deepEqual(
      seqs,
      Array.from({ length: seqs.length }, (_, i) => i + 1),
      'first run: out of order, duplicated or missing',
    );
    assert.ok(seqs.length > lastBefore, `nothing queued during the outage was delivered after the restart (${seqs.length} <= ${lastBefore})`);
  } finally {
    host.kill();
    await sink.close();
  }
});
