// A module reports its own metrics only as granted: without grants.metrics its
// calls are denied (logged once), and with it a new series past maxSeries is
// refused with `limited` (logged once, counted as a limit hit) while the
// series it has go on. Its counters outlive a crash of its instance, its
// gauges do not. A real host, real workers, the reporter test guest; the
// metrics parsed as Prometheus would.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHost } from '../support/in-process-host.ts';
import { testGuest } from '../support/modules.ts';
import { scrapeUntil } from '../support/prometheus.ts';

const reporter = (grants: Record<string, unknown>) =>
  testGuest('reporter', 'telemetry', {
    grants: { pubsub: { subscribe: ['cmd/#'] }, ...grants },
    subscriptions: ['cmd/#'],
    restart: { initialBackoffMs: 50 },
  });

test('a module reports no more metric series than granted, none without a grant; its counters outlive a crash, its gauges do not', async () => {
  const h = await startHost({ granted: reporter({ metrics: { maxSeries: 3 } }), ungranted: reporter({}) });
  const ask = (calls: unknown) => h.host.bus.publish('cmd/x', new TextEncoder().encode(typeof calls === 'string' ? calls : JSON.stringify(calls)));
  const answers = async (module: string, nth: number) => {
    const seen = () => h.lines.filter((l) => l.module === module && String(l.msg).startsWith('reporter: '));
    await h.waitForLog(() => seen().length >= nth, 20_000, `answer ${nth} of ${module}`);
    return JSON.parse(String(seen()[nth - 1].msg).slice('reporter: '.length)) as string[];
  };
  try {
    ask([
      { kind: 'counter', name: 'jobs_total', labels: [['kind', 'a']], value: 2 },
      { kind: 'gauge', name: 'depth', value: 5 },
      { kind: 'counter', name: 'jobs_total', labels: [['kind', 'b']], value: 1 },
      { kind: 'gauge', name: 'extra', value: 1 },
      { kind: 'gauge', name: 'more', value: 1 },
      { kind: 'counter', name: 'jobs_total', labels: [['kind', 'a']], value: 1 },
      { kind: 'gauge', name: 'Bad', value: 1 },
    ]);
    assert.deepEqual(await answers('granted', 1), ['ok', 'ok', 'ok', 'limited', 'limited', 'ok', 'invalid']);
    assert.deepEqual(await answers('ungranted', 1), ['denied', 'denied', 'denied', 'denied', 'denied', 'denied', 'denied']);

    const granted = { module: 'granted' };
    let s = await scrapeUntil(
      h.host,
      (x) =>
        x.value('edgehost_guest_jobs_total', { ...granted, kind: 'a' }) === 3 &&
        x.value('edgehost_guest_depth', granted) === 5 &&
        x.value('edgehost_denied_calls_total', { module: 'ungranted', capability: 'metrics' }) !== undefined,
      "both modules' counts",
      ['edgehost_guest_jobs_total', 'edgehost_guest_depth', 'edgehost_denied_calls_total'],
    );
    assert.deepEqual(
      s.samples('edgehost_guest_jobs_total').map((x) => [x.labels, x.value]),
      [
        [{ ...granted, kind: 'a' }, 3],
        [{ ...granted, kind: 'b' }, 1],
      ],
    );
    assert.equal(s.value('edgehost_guest_extra'), undefined);
    assert.equal(s.value('edgehost_limit_hits_total', { ...granted, limit: 'grants.metrics.maxSeries' }), 2);
    assert.equal(s.value('edgehost_denied_calls_total', { module: 'ungranted', capability: 'metrics' }), 7);
    assert.equal(s.samples('edgehost_guest_jobs_total').filter((x) => x.labels.module === 'ungranted').length, 0);
    const limitLines = h.lines.filter((l) => l.module === 'granted' && l.code === 'EH_LIMIT' && l.limit === 'grants.metrics.maxSeries');
    assert.equal(limitLines.length, 1, 'the limit is logged once');
    const deniedLines = h.lines.filter((l) => l.module === 'ungranted' && l.code === 'EH_DENIED' && l.capability === 'metrics');
    assert.equal(deniedLines.length, 1, 'the denial is logged once');
    assert.match(String(deniedLines[0].allowWith), /modules\.ungranted\.grants\.metrics\.maxSeries/);

    ask('crash');
    await h.waitForLog((l) => l.module === 'granted' && l.msg === 'module granted ready' && Number(l.restarts) >= 1, 20_000, 'the restart');
    s = await scrapeUntil(h.host, (x) => x.value('edgehost_guest_depth', granted) === undefined, 'the gauge gone with its instance', ['edgehost_guest_depth']);
    assert.equal(s.value('edgehost_guest_jobs_total', { ...granted, kind: 'a' }), 3, 'the counter is kept');
    ask([{ kind: 'counter', name: 'jobs_total', labels: [['kind', 'a']], value: 4 }]);
    assert.deepEqual(await answers('granted', 2), ['ok']);
    s = await scrapeUntil(h.host, (x) => x.value('edgehost_guest_jobs_total', { ...granted, kind: 'a' }) === 7, 'the new instance adding on', [
      'edgehost_guest_jobs_total',
    ]);
  } finally {
    await h.stop();
  }
});
