import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { metricsGrant } from '../../../../host/capabilities/metrics/index.ts';
import { create } from '../../../../host/capabilities/metrics/worker.ts';
import { WorkerMetrics } from '../../../../host/sandbox/worker-metrics.ts';
import { fakeWorkerContext } from '../../../support/capability-fakes.ts';

type Result = { tag: string; val?: { tag: string; val: string } };
type Labels = [string, string][];
interface Metrics {
  counterAdd(name: string, labels: Labels, value: number): Result;
  gaugeSet(name: string, labels: Labels, value: number): Result;
}

function setup(grant: { maxSeries?: number }, metrics = new WorkerMetrics()) {
  const warnings: Record<string, unknown>[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) });
  const fake = fakeWorkerContext('m', { metrics, logger });
  const host = create(fake.ctx, metricsGrant.parse(grant))['edgehost:platform/metrics'] as unknown as Metrics;
  return { host, metrics, warnings, sent: fake.sent, denials: fake.denials };
}

const ok = { tag: 'ok', val: undefined };
const refusal = (r: Result) => [r.val?.tag, r.val?.val];

test('without a grant (maxSeries 0, the default) every call is denied, with the key that would allow it', () => {
  const { host, denials, metrics } = setup({});
  assert.equal(host.counterAdd('jobs_total', [], 1).val?.tag, 'denied');
  assert.equal(host.gaugeSet('depth', [], 1).val?.tag, 'denied');
  assert.deepEqual(denials[0], {
    target: 'report metrics',
    allowWith: 'set modules.m.grants.metrics.maxSeries to the number of series it may report (e.g. 100)',
  });
  assert.deepEqual(metrics.snapshot.guest, {});
});

test('counters add and gauges set, in the snapshot the worker sends at most once a second; nothing is sent per call', () => {
  const { host, metrics, sent } = setup({ maxSeries: 10 });
  assert.deepEqual(host.counterAdd('jobs_total', [['kind', 'a']], 2), ok);
  assert.deepEqual(host.counterAdd('jobs_total', [['kind', 'a']], 3), ok);
  assert.deepEqual(host.counterAdd('jobs_total', [['kind', 'b']], 0), ok, 'adding 0 creates the series at zero');
  assert.deepEqual(host.gaugeSet('depth', [], 7), ok);
  assert.deepEqual(host.gaugeSet('depth', [], -2.5), ok);
  assert.deepEqual(sent, []);
  const snapshot = metrics.due(Number.MAX_SAFE_INTEGER);
  assert.ok(snapshot, 'a snapshot is due');
  assert.deepEqual(
    Object.values(snapshot.guest).map((s) => [s.name, s.type, s.labels, s.value]),
    [
      ['jobs_total', 'counter', [['kind', 'a']], 5],
      ['jobs_total', 'counter', [['kind', 'b']], 0],
      ['depth', 'gauge', [], -2.5],
    ],
  );
  assert.equal(metrics.due(Number.MAX_SAFE_INTEGER), undefined, 'nothing changed since');
  host.gaugeSet('depth', [], -2.5);
  assert.equal(metrics.due(Number.MAX_SAFE_INTEGER * 2), undefined, 'a gauge set to its value is no change');
  host.counterAdd('jobs_total', [['kind', 'b']], 1);
  assert.ok(metrics.due(Number.MAX_SAFE_INTEGER * 2));
});

test('labels given in another order are the same series, kept in name order', () => {
  const { host, metrics } = setup({ maxSeries: 1 });
  host.counterAdd(
    'hits_total',
    [
      ['b', '2'],
      ['a', '1'],
    ],
    1,
  );
  assert.deepEqual(
    host.counterAdd(
      'hits_total',
      [
        ['a', '1'],
        ['b', '2'],
      ],
      1,
    ),
    ok,
  );
  const [only, ...rest] = Object.values(metrics.snapshot.guest);
  assert.deepEqual(rest, []);
  assert.deepEqual(only.labels, [
    ['a', '1'],
    ['b', '2'],
  ]);
  assert.equal(only.value, 2);
});

test('names, labels and values that break the naming rules are invalid, and say which rule', () => {
  const { host, metrics } = setup({ maxSeries: 100 });
  const cases: [string, () => Result, RegExp][] = [
    ['camel case', () => host.gaugeSet('queueDepth', [], 1), /lowercase snake case/],
    ['a leading digit', () => host.gaugeSet('1depth', [], 1), /lowercase snake case/],
    ['a name of 65 characters', () => host.gaugeSet('a'.repeat(65), [], 1), /at most 64 characters/],
    ['a counter without _total', () => host.counterAdd('jobs', [], 1), /a counter's name ends in _total \(jobs_total\)/],
    ['a gauge with _total', () => host.gaugeSet('jobs_total', [], 1), /only counters' names end in _total/],
    ["the host's call_ names", () => host.counterAdd('call_failures_total', [], 1), /names starting with call_ are the host's/],
    ['a label named module', () => host.gaugeSet('depth', [['module', 'x']], 1), /label "module" is the host's/],
    [
      'a label given twice',
      () =>
        host.gaugeSet(
          'depth',
          [
            ['a', '1'],
            ['a', '2'],
          ],
          1,
        ),
      /label "a" is given twice/,
    ],
    ['a label name with a dash', () => host.gaugeSet('depth', [['a-b', '1']], 1), /label name "a-b"/],
    [
      'nine labels',
      () =>
        host.gaugeSet(
          'depth',
          Array.from({ length: 9 }, (_, i): [string, string] => [`l${i}`, 'v']),
          1,
        ),
      /at most 8/,
    ],
    ['a value of 129 characters', () => host.gaugeSet('depth', [['a', 'x'.repeat(129)]], 1), /129 characters, at most 128/],
    ['a negative counter step', () => host.counterAdd('jobs_total', [], -1), /not a finite number of zero or more/],
    ['NaN', () => host.gaugeSet('depth', [], Number.NaN), /not a finite number/],
    ['infinity', () => host.counterAdd('jobs_total', [], Number.POSITIVE_INFINITY), /not a finite number/],
  ];
  for (const [what, call, message] of cases) {
    const [tag, text] = refusal(call());
    assert.equal(tag, 'invalid', what);
    assert.match(text ?? '', message, what);
  }
  assert.deepEqual(metrics.snapshot.guest, {}, 'nothing invalid was recorded');
});

test('a name is a counter or a gauge, never both, even once its series is known; its series all have the same label names', () => {
  const { host } = setup({ maxSeries: 100 });
  assert.deepEqual(host.counterAdd('jobs_total', [['kind', 'a']], 1), ok);
  assert.equal(refusal(host.gaugeSet('jobs_total', [['kind', 'a']], 1))[0], 'invalid');
  assert.deepEqual(refusal(host.counterAdd('jobs_total', [['queue', 'a']], 1)), [
    'invalid',
    '"jobs_total" was first reported with the labels (kind); every series of one name has the same label names, found (queue)',
  ]);
  assert.equal(refusal(host.counterAdd('jobs_total', [], 1))[0], 'invalid');
  assert.deepEqual(host.counterAdd('jobs_total', [['kind', 'b']], 1), ok);
});

test('past grants.metrics.maxSeries a new series is limited (logged once, counted each time); the series it has go on', () => {
  const { host, metrics, warnings } = setup({ maxSeries: 2 });
  assert.deepEqual(host.counterAdd('a_total', [], 1), ok);
  assert.deepEqual(host.gaugeSet('b', [], 1), ok);
  assert.deepEqual(refusal(host.gaugeSet('c', [], 1)), [
    'limited',
    'the module has 2 series, its limit (modules.m.grants.metrics.maxSeries); "c" with these labels would be one more',
  ]);
  assert.equal(refusal(host.counterAdd('a_total', [['x', '1']], 1))[0], 'invalid', 'the rules are checked before the budget');
  assert.equal(refusal(host.gaugeSet('b', [['x', '1']], 1))[0], 'invalid');
  assert.equal(refusal(host.gaugeSet('d', [['x', '1']], 1))[0], 'limited');
  assert.deepEqual(host.counterAdd('a_total', [], 1), ok);
  assert.deepEqual(host.gaugeSet('b', [], 5), ok);
  assert.deepEqual(
    Object.values(metrics.snapshot.guest).map((s) => [s.name, s.value]),
    [
      ['a_total', 2],
      ['b', 5],
    ],
  );
  assert.equal(metrics.snapshot.limits['grants.metrics.maxSeries'], 2);
  const limitLines = warnings.filter((w) => w.code === 'EH_LIMIT');
  assert.equal(limitLines.length, 1);
  assert.equal(limitLines[0].limit, 'grants.metrics.maxSeries');
  assert.match(String(limitLines[0].msg), /raise the limit or report fewer label values/);
});

test("with the host's metrics off, calls answer the same and nothing is kept to send", () => {
  const { host, metrics } = setup({ maxSeries: 1 }, new WorkerMetrics(false));
  assert.deepEqual(host.counterAdd('a_total', [], 1), ok);
  assert.equal(refusal(host.gaugeSet('b', [], 1))[0], 'limited');
  assert.equal(refusal(host.gaugeSet('Bad', [], 1))[0], 'invalid');
  assert.deepEqual(metrics.snapshot.guest, {});
  assert.equal(metrics.due(Number.MAX_SAFE_INTEGER), undefined);
});

test('the grant is a number of series from 0 to 10,000; nothing else', () => {
  assert.deepEqual(metricsGrant.parse({}), { maxSeries: 0 });
  assert.throws(() => metricsGrant.parse({ maxSeries: 10_001 }));
  assert.throws(() => metricsGrant.parse({ maxSeries: 1.5 }));
  assert.throws(() => metricsGrant.parse({ maxSeries: 5, names: ['x'] }));
});
