// The reference pipeline as a user starts it: telemetry -> bus -> gateway ->
// HTTP POST, with the shipped config/edgehost.json and the documented flags,
// against real HTTP servers on loopback.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HostProcess, type LogLine } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { freePort } from '../support/ports.ts';
import { assertEachDeviceInOrder } from '../support/readings.ts';

interface Reading {
  deviceId: string;
  temperature: number;
  pressure: number;
  timestamp: number;
  seq: number;
}

async function startHost(allowed: string, url: string) {
  const host = new HostProcess(['--gateway-allowed-host', allowed, '--gateway-url', url, '--server-socket-address', `127.0.0.1:${await freePort()}`]);
  await host.ready(['telemetry', 'gateway', 'server']);
  return host;
}

const deniedFor = (host: HostProcess, target: string) =>
  host.lines.filter((l: LogLine) => l.code === 'EH_DENIED' && l.module === 'gateway' && l.capability === 'outbound-http' && l.target === target);

test('every telemetry object reaches the sink in publish order per device, none twice, none lost across a sink outage', async () => {
  const sink = await new HttpSink().listen();
  const host = await startHost(`127.0.0.1:${sink.port}`, sink.url);
  try {
    const devices = ['sensor-1', 'sensor-2', 'sensor-3'];
    const reached = (n: number) => () => devices.every((d) => sink.items<Reading>().some((r) => r.deviceId === d && r.seq >= n));
    await sink.waitFor(reached(2), 15_000, 'seq 2 of every device');
    const item = sink.items<Reading>()[0];
    assert.deepEqual(Object.keys(item).sort(), ['deviceId', 'pressure', 'seq', 'temperature', 'timestamp']);
    assert.equal(sink.requests[0].headers['content-type'], 'application/json');

    // Outage: 503s, then connection refused, then recovery.
    sink.respond = () => 503;
    const rejectedBefore = sink.received.length;
    await sink.waitFor(() => sink.received.length >= rejectedBefore + 2, 15_000, 'two 503s');
    await sink.down();
    const failures = host.lines.filter((l) => l.module === 'gateway' && /did not handle a batch/.test(l.msg)).length;
    await host.waitForLog(
      (l) => l.module === 'gateway' && /did not handle a batch/.test(l.msg) && /ECONNREFUSED/.test(String(l.reason)) && host.lines.indexOf(l) >= failures,
      15_000,
      'a refused connection',
    );
    sink.respond = () => 200;
    await sink.up();
    const lastSeq = Math.max(...sink.items<Reading>().map((r) => r.seq));
    await sink.waitFor(reached(lastSeq + 4), 30_000, 'recovery past the outage');

    assertEachDeviceInOrder(sink.items<Reading>());
  } finally {
    host.kill();
    await sink.close();
  }
});

test('a gateway URL whose port is not allowed gets no request at all, and one warning names the module, the target and the flag', async () => {
  const allowedSink = await new HttpSink().listen();
  const otherSink = await new HttpSink().listen();
  const host = await startHost(`127.0.0.1:${allowedSink.port}`, otherSink.url);
  try {
    // Several failed attempts, so "one warning" means one per target, not one by luck.
    await host.waitForLog(
      (l) => l.module === 'gateway' && /did not handle a batch/.test(l.msg) && host.lines.filter((x) => /did not handle a batch/.test(x.msg)).length >= 3,
      20_000,
      'three failed attempts',
    );
    assert.equal(otherSink.received.length, 0);
    assert.equal(allowedSink.received.length, 0);
    const warnings = deniedFor(host, `http://127.0.0.1:${otherSink.port}`);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].level, 40);
    assert.equal(warnings[0].allowWith, `--gateway-allowed-host 127.0.0.1:${otherSink.port} (or modules.gateway.grants.outboundHttp.allowedHosts)`);
    assert.match(warnings[0].msg, /module "gateway"/);
  } finally {
    host.kill();
    await Promise.all([allowedSink.close(), otherSink.close()]);
  }
});

test('a redirect from the allowed sink to a non-allowed one is not followed', async () => {
  const allowedSink = await new HttpSink().listen();
  const otherSink = await new HttpSink().listen();
  allowedSink.respond = () => ({ status: 307, headers: { location: otherSink.url } });
  const host = await startHost(`127.0.0.1:${allowedSink.port}`, allowedSink.url);
  try {
    await host.waitForLog((l) => l.code === 'EH_DENIED' && l.module === 'gateway', 20_000, 'denied redirect');
    await allowedSink.waitFor(() => allowedSink.received.length >= 2, 20_000, 'a retry');
    assert.equal(otherSink.received.length, 0);
    assert.equal(deniedFor(host, `http://127.0.0.1:${otherSink.port}`).length, 1);
  } finally {
    host.kill();
    await Promise.all([allowedSink.close(), otherSink.close()]);
  }
});

test('allowing localhost does not allow 127.0.0.1', async () => {
  const sink = await new HttpSink().listen();
  const host = await startHost(`localhost:${sink.port}`, sink.url);
  try {
    await host.waitForLog((l) => l.code === 'EH_DENIED' && l.module === 'gateway', 20_000, 'denied 127.0.0.1');
    const [warning] = deniedFor(host, `http://127.0.0.1:${sink.port}`);
    assert.equal(warning.allowWith, `--gateway-allowed-host 127.0.0.1:${sink.port} (or modules.gateway.grants.outboundHttp.allowedHosts)`);
    assert.equal(sink.received.length, 0);
  } finally {
    host.kill();
    await sink.close();
  }
});
