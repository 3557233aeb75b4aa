// GET /metrics as Prometheus scrapes it: over HTTP from a real host process,
// with the admin token, parsed by a Prometheus text parser. The counts agree
// with what the test sent and provoked: messages delivered to a real HTTP sink,
// requests refused by a grant, a module's crash and restart. GET /v1/bridges
// of the same host shows its bridge to a broker that is not there.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import parsePrometheus from 'parse-prometheus-text-format';
import { adminOf } from '../support/admin.ts';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { driver, gateway, testGuest } from '../support/modules.ts';
import { freePort } from '../support/ports.ts';

type Family = { name: string; type: string; metrics: { value?: string; labels?: Record<string, string>; count?: string }[] };

function sample(families: Family[], name: string, labels: Record<string, string>): number | undefined {
  const m = families.find((f) => f.name === name)?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  return m === undefined ? undefined : Number(m.value ?? m.count);
}

/** parse-prometheus-text-format folds a histogram's label sets into one: read a `_count` line as scraped. */
function histogramCount(text: string, name: string, labels: string): number {
  const line = new RegExp(`^${name}_count\\{${labels.replace(/[/\\]/g, '\\$&')}\\} (\\d+)$`, 'm').exec(text);
  return line ? Number(line[1]) : 0;
}

const N = 20;
const deniedAttempts = 2;

test('/metrics scraped over HTTP with the token agrees with the deliveries, denials and restart the test caused', async () => {
  const sink = await new HttpSink().listen();
  const nobody = await freePort();
  const messages = Array.from({ length: N }, (_, i) => ({ topic: 'telemetry/d1', payload: JSON.stringify({ seq: i + 1 }), 'at-ms': 200 + i * 10 }));
  messages.push({ topic: 'other/x', payload: '{}', 'at-ms': 200 });
  const host = new HostProcess([
    '--config',
    writeConfig({
      modules: {
        driver: driver(['telemetry/#', 'other/#'], messages),
        gateway: gateway(sink.url, 'telemetry/#', { delivery: { maxBatch: 5, lingerMs: 0 } }),
        // Its URL is not granted: each delivery attempt is one denied request, and the message
        // goes to the dead-letter topic after deniedAttempts.
        denied: gateway(`http://127.0.0.1:${nobody}/ingest`, 'other/#', {
          allowedHosts: ['127.0.0.1:1'],
          delivery: { maxAttempts: deniedAttempts, retryInitialMs: 20 },
        }),
        // Traps once per instance; the second crash is one past maxCrashes: one restart, then failed.
        trap: testGuest('trap', 'telemetry', {
          grants: { pubsub: { publish: ['trap/#'] } },
          config: { 'trap-after-ms': 50 },
          restart: { initialBackoffMs: 50, maxCrashes: 1, windowMs: 60_000 },
        }),
      },
      bridges: { cloud: { url: `mqtt://127.0.0.1:${nobody}`, out: [{ filter: 'bridged/#' }] } },
    }),
  ]);
  try {
    const admin = await adminOf(host);

    const refused = await fetch(`${admin.url}/metrics`);
    assert.equal(refused.status, 401, 'the metrics need the token');

    await sink.waitFor(() => sink.items().length === N, 30_000, `the ${N} messages`);
    await host.waitForLog((l) => l.code === 'EH_DEAD_LETTER' && l.module === 'denied', 30_000, 'the denied message dead-lettered');
    await host.waitForLog((l) => l.code === 'EH_MODULE_FAILED' && l.module === 'trap', 30_000, 'trap failed after its restart');

    // Workers send their counts at most once a second: scrape until they arrived, as Prometheus would again.
    let text = '';
    let families: Family[] = [];
    let contentType = '';
    const deadline = Date.now() + 20_000;
    for (;;) {
      const res = await fetch(`${admin.url}/metrics`, { headers: { authorization: `Bearer ${admin.token}` } });
      assert.equal(res.status, 200);
      contentType = res.headers.get('content-type') ?? '';
      text = await res.text();
      families = parsePrometheus(text) as Family[];
      const settled =
        sample(families, 'edgehost_denied_calls_total', { module: 'denied', capability: 'outbound-http' }) === deniedAttempts &&
        sample(families, 'edgehost_guest_call_failures_total', { module: 'trap', outcome: 'trap' }) === 2 &&
        histogramCount(text, 'edgehost_guest_call_duration_seconds', 'module="gateway",function="edgehost:platform/message-handler#handle"') >=
          sink.requests.length;
      if (settled) break;
      assert.ok(
        Date.now() < deadline,
        `the workers never reported their counts:\n${text
          .split('\n')
          .filter((l) => /denied|failures/.test(l))
          .join('\n')}`,
      );
      await new Promise((r) => setTimeout(r, 200));
    }

    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    assert.equal(sample(families, 'edgehost_messages_published_total', { module: 'driver' }), N + 1);
    assert.equal(sample(families, 'edgehost_messages_delivered_total', { module: 'gateway' }), N, 'delivered as the sink received them');
    assert.equal(sample(families, 'edgehost_http_requests_total', { module: 'gateway', status_class: '2xx' }), sink.requests.length);
    assert.equal(sample(families, 'edgehost_denied_calls_total', { module: 'denied', capability: 'outbound-http' }), deniedAttempts);
    assert.equal(sample(families, 'edgehost_dead_letters_total', { module: 'denied' }), 1);
    assert.equal(sample(families, 'edgehost_module_restarts_total', { module: 'trap' }), 1);
    assert.equal(sample(families, 'edgehost_module_state', { module: 'trap', state: 'failed' }), 1);
    assert.equal(sample(families, 'edgehost_module_state', { module: 'gateway', state: 'ready' }), 1);
    assert.equal(sample(families, 'edgehost_queue_depth', { module: 'gateway' }), 0);
    assert.ok((sample(families, 'edgehost_bus_messages_total', {}) ?? 0) >= N + 1);
    assert.ok(families.some((f) => f.name === 'process_resident_memory_bytes'));

    // The bridge to a broker that is not there: GET /v1/bridges says so.
    await host.waitForLog((l) => l.bridge === 'cloud' && l.code === 'EH_BRIDGE_UNREACHABLE', 30_000, 'the bridge failing to connect');
    const { status, json } = await admin.request<{ bridges: { name: string; state: string; failedAttempts: number; lastError?: { code: string } }[] }>(
      'GET',
      '/v1/bridges',
    );
    assert.equal(status, 200);
    assert.equal(json.bridges.length, 1);
    assert.equal(json.bridges[0].name, 'cloud');
    assert.notEqual(json.bridges[0].state, 'connected');
    assert.ok(json.bridges[0].failedAttempts >= 1);
    assert.equal(json.bridges[0].lastError?.code, 'EH_BRIDGE_UNREACHABLE');
  } finally {
    host.kill();
    await sink.close();
  }
});
