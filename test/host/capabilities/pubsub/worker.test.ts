import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type PubsubOps, pubsubGrant } from '../../../../host/capabilities/pubsub/index.ts';
import { create } from '../../../../host/capabilities/pubsub/worker.ts';
import { moduleLimits } from '../../../../host/config/schema.ts';
import { fakeWorkerContext } from '../../../support/capability-fakes.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
type Result = { tag: string; val?: unknown };
type Pubsub = Record<'publish' | 'publishBatch' | 'subscribe' | 'unsubscribe', (...args: unknown[]) => Result>;

function setup(grant: { publish?: string[]; subscribe?: string[] }, limits: Record<string, number> = {}, allow = () => true) {
  const fake = fakeWorkerContext<PubsubOps>('m', { limits: { ...(moduleLimits.parse({}) as Record<string, number>), ...limits }, allow });
  const host = create(fake.ctx, pubsubGrant.parse(grant))['edgehost:platform/pubsub'] as unknown as Pubsub;
  return { host, sent: fake.sent, denials: fake.denials };
}

test('publishes inside the grant go to the service as one op per run of publishes, in order with the rest', () => {
  const { host, sent } = setup({ publish: ['telemetry/#'], subscribe: ['#'] });
  assert.deepEqual(host.publish('telemetry/a', bytes('1')), { tag: 'ok', val: undefined });
  assert.deepEqual(host.publish('telemetry/b', bytes('2')), { tag: 'ok', val: undefined });
  host.subscribe('x');
  host.publish('telemetry/c', bytes('3'));
  assert.deepEqual(
    sent.map((s) => [s.op, Array.isArray(s.args) ? s.args.map((m: { topic: string }) => m.topic) : s.args]),
    [
      ['publish', ['telemetry/a', 'telemetry/b']],
      ['subscribe', 'x'],
      ['publish', ['telemetry/c']],
    ],
  );
});

test('publish-batch publishes in order as one op and stops at the first refusal, saying how many went and why the next did not', () => {
  const { host, sent } = setup({ publish: ['telemetry/#'] });
  const m = (topic: string, s: string) => ({ topic, payload: bytes(s) });
  assert.deepEqual(host.publishBatch([m('telemetry/a', '1'), m('telemetry/b', '2')]), { tag: 'ok', val: undefined });
  const r = host.publishBatch([m('telemetry/c', '3'), m('commands/x', '4'), m('telemetry/d', '5')]);
  const refusal = r.val as { published: number; error: { tag: string } };
  assert.equal(r.tag, 'err');
  assert.equal(refusal.published, 1);
  assert.equal(refusal.error.tag, 'denied');
  assert.deepEqual(
    sent.map((s) => [s.op, (s.args as { topic: string }[]).map((x) => x.topic)]),
    [['publish', ['telemetry/a', 'telemetry/b', 'telemetry/c']]],
  );
});

test('publish-batch counts each message against the rate limit', () => {
  let left = 2;
  const { host, sent } = setup({ publish: ['#'] }, { publishPerSecond: 2 }, () => left-- > 0);
  const r = host.publishBatch(['a', 'b', 'c'].map((t) => ({ topic: t, payload: bytes(t) })));
  assert.deepEqual(r, { tag: 'err', val: { published: 2, error: { tag: 'limited', val: 'publish rate limit of 2/s reached (limits.publishPerSecond)' } } });
  assert.equal((sent[0].args as unknown[]).length, 2);
});

test('a publish outside the grant is denied with the key that would allow it', () => {
  const { host, denials } = setup({ publish: ['telemetry/#'] });
  const r = host.publish('commands/x', bytes('1'));
  assert.equal(r.tag, 'err');
  assert.equal((r.val as { tag: string }).tag, 'denied');
  assert.deepEqual(denials, [{ target: 'publish to commands/x', allowWith: 'add "commands/x" (or a filter matching it) to modules.m.grants.pubsub.publish' }]);
});

test('an empty grant denies every publish and subscribe', () => {
  const { host } = setup({});
  assert.equal((host.publish('a', bytes('1')).val as { tag: string }).tag, 'denied');
  assert.equal((host.subscribe('#').val as { tag: string }).tag, 'denied');
});

test('topics with wildcards and oversized payloads are invalid; a rate-limited publish is limited', () => {
  const { host } = setup({ publish: ['#'] }, { maxMessageBytes: 4 });
  assert.deepEqual(host.publish('a/+', bytes('1')), { tag: 'err', val: { tag: 'invalid', val: 'topic "a/+" contains a wildcard (+ or #)' } });
  assert.deepEqual(host.publish('a', bytes('12345')), {
    tag: 'err',
    val: { tag: 'invalid', val: "payload of 5 bytes exceeds the module's limit of 4 (limits.maxMessageBytes)" },
  });
  const limited = setup({ publish: ['#'] }, { publishPerSecond: 10 }, () => false);
  assert.deepEqual(limited.host.publish('a', bytes('1')), {
    tag: 'err',
    val: { tag: 'limited', val: 'publish rate limit of 10/s reached (limits.publishPerSecond)' },
  });
});

test('a subscription must be covered by a subscribe grant', () => {
  const { host, sent } = setup({ subscribe: ['sensors/#'] });
  assert.deepEqual(host.subscribe('sensors/+/temp'), { tag: 'ok', val: undefined });
  assert.equal((host.subscribe('#').val as { tag: string }).tag, 'denied');
  assert.equal((host.subscribe('sensors/#/x').val as { tag: string }).tag, 'invalid');
  assert.deepEqual(
    sent.map((x) => [x.op, x.args]),
    [['subscribe', 'sensors/+/temp']],
  );
});

test('publishes to a blocking queue count down the room the host reported: one that would not fit answers full, others go through; a new report lets them through again', () => {
  const fake = fakeWorkerContext<PubsubOps>('m');
  const host = create(fake.ctx, pubsubGrant.parse({ publish: ['#'] }))['edgehost:platform/pubsub'] as unknown as Pubsub;
  const room = fake.handlers().room as (a: { subscriber: string; filters?: string[]; bytes?: number; messages?: number }) => void;
  room({ subscriber: 'uplink', filters: ['telemetry/#'], bytes: 5, messages: 10 });
  assert.deepEqual(host.publish('telemetry/a', bytes('123')), { tag: 'ok', val: undefined });
  assert.deepEqual(host.publish('telemetry/b', bytes('123')), {
    tag: 'err',
    val: { tag: 'full', val: 'the queue of uplink is full; nothing was published: try again once it drains' },
  });
  assert.deepEqual(host.publish('other/a', bytes('123456789')), { tag: 'ok', val: undefined });
  room({ subscriber: 'uplink', filters: ['telemetry/#'], bytes: 100, messages: 10 });
  assert.deepEqual(host.publish('telemetry/b', bytes('123')), { tag: 'ok', val: undefined });
  // Gone: publishes to its topics are no longer counted.
  room({ subscriber: 'uplink' });
  for (let i = 0; i < 20; i++) assert.deepEqual(host.publish('telemetry/c', bytes('123')), { tag: 'ok', val: undefined });
  assert.deepEqual(fake.sent.flatMap((s) => (s.args as { topic: string }[]).map((m) => m.topic)).slice(0, 3), ['telemetry/a', 'other/a', 'telemetry/b']);
});
