// The host's metrics, scraped while traffic flows and parsed with a Prometheus
// text parser: the counts agree with what the test sent and provoked.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import parsePrometheus from 'parse-prometheus-text-format';
import { HttpSink } from '../../support/http-sink.ts';
import { startHost } from '../../support/in-process-host.ts';
import { driver, gateway, testGuest } from '../../support/modules.ts';

type Family = { name: string; type: string; metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string }[] };

function sample(families: Family[], name: string, labels: Record<string, string>): number | undefined {
  const f = families.find((x) => x.name === name);
  const m = f?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  return m === undefined ? undefined : Number(m.value ?? m.count);
}

// The parser folds labelled histograms into one; read the gateway's count line as scraped.
function handleCalls(text: string): number {
  const line = /^edgehost_guest_call_duration_seconds_count\{module="gateway",function="edgehost:platform\/message-handler#handle"\} (\d+)$/m.exec(text);
  return line ? Number(line[1]) : 0;
}

test('metrics scraped while traffic flows agree with what was sent: deliveries, HTTP requests, guest calls, a denial and a restart', async () => {
  const sink = await new HttpSink().listen();
  const messages = Array.from({ length: 20 }, (_, i) => ({ topic: 'telemetry/d1', payload: JSON.stringify({ seq: i + 1 }), 'at-ms': 100 + i * 10 }));
  const h = await startHost({
    driver: driver(['telemetry/#'], messages),
    gateway: gateway(sink.url, 'telemetry/#', { delivery: { maxBatch: 5, lingerMs: 0 } }),
    // Its gateway URL is not granted: one denied request per delivery attempt.
    denied: { ...gateway('http://127.0.0.1:9/nowhere', 'other/#', { allowedHosts: ['127.0.0.1:8'] }), subscriptions: ['other/#'] },
    trap: testGuest('trap', 'telemetry', { grants: { pubsub: { publish: ['trap/#'] } }, config: { 'trap-after-ms': 50 }, restart: { initialBackoffMs: 50 } }),
  });
  try {
    await sink.waitFor(() => sink.items().length === 20, 20_000, 'the 20 messages');
    h.host.bus.publish('other/x', new TextEncoder().encode('{}'));
    await h.waitForLog((l) => l.module === 'denied' && l.code === 'EH_DENIED', 20_000, 'a denied request');
    await h.waitForLog((l) => l.msg === 'module trap ready' && Number(l.restarts) >= 1, 20_000, 'a restart');
    // Workers send their counts at most once a second: scrape until the guest's
    // figures for the 20 deliveries have arrived, as a Prometheus server would.
    let families: Family[] = [];
    let text = '';
    const deadline = Date.now() + 20_000;
    for (;;) {
      text = await h.host.metrics!.render();
      families = parsePrometheus(text) as Family[];
      if (
        sample(families, 'edgehost_messages_delivered_total', { module: 'gateway' }) === 20 &&
        (sample(families, 'edgehost_guest_call_failures_total', { module: 'trap', outcome: 'trap' }) ?? 0) >= 1 &&
        // Counted by the worker that refused it, like the guest's own figures.
        (sample(families, 'edgehost_denied_calls_total', { module: 'denied', capability: 'outbound-http' }) ?? 0) >= 1 &&
        handleCalls(text) >= sink.requests.length
      )
        break;
      assert.ok(Date.now() < deadline, 'the workers never reported their counts');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(sample(families, 'edgehost_messages_delivered_total', { module: 'gateway' }), 20);
    assert.equal(sample(families, 'edgehost_messages_published_total', { module: 'driver' }), 20);
    assert.equal(sample(families, 'edgehost_http_requests_total', { module: 'gateway', status_class: '2xx' }), sink.requests.length);
    assert.ok((sample(families, 'edgehost_denied_calls_total', { module: 'denied', capability: 'outbound-http' }) ?? 0) >= 1);
    assert.ok((sample(families, 'edgehost_module_restarts_total', { module: 'trap' }) ?? 0) >= 1);
    assert.ok((sample(families, 'edgehost_guest_call_failures_total', { module: 'trap', outcome: 'trap' }) ?? 0) >= 1);
    assert.equal(sample(families, 'edgehost_module_state', { module: 'gateway', state: 'ready' }), 1);
    assert.ok(handleCalls(text) >= sink.requests.length, `${handleCalls(text)} handle calls for ${sink.requests.length} requests`);
    assert.ok((sample(families, 'edgehost_module_memory_bytes', { module: 'gateway' }) ?? 0) > 0);
    assert.ok(
      families.some((f) => f.name === 'process_cpu_user_seconds_total'),
      'process metrics',
    );
    for (const f of families) assert.match(f.name, /^(edgehost_|process_|nodejs_)/);
  } finally {
    await h.stop();
    await sink.close();
  }
});
