import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create } from '../../../../host/capabilities/pubsub/host.ts';
import { pubsubGrant } from '../../../../host/capabilities/pubsub/index.ts';
import { moduleLimits } from '../../../../host/config/schema.ts';
import type { WorkerToMain } from '../../../../host/sandbox/protocol.ts';
import { fakeModuleContext } from '../../../support/module-context.ts';

const bytes = (s: string) => new TextEncoder().encode(s);

function setup(grant: { publish?: string[]; subscribe?: string[] }, limits: Partial<ReturnType<typeof moduleLimits.parse>> = {}, allow = () => true) {
  const posted: WorkerToMain[] = [];
  const afterCall: (() => void)[] = [];
  const fake = fakeModuleContext('m', {
    limits: { ...moduleLimits.parse({}), ...limits },
    post: (m) => posted.push(m),
    afterCall: (fn) => afterCall.push(fn),
    allow,
  });
  const host = create(fake.ctx, pubsubGrant.parse(grant));
  const endCall = () => afterCall.forEach((f) => f());
  return { host, posted, denials: fake.denials, endCall };
}

test('publishes inside the grant leave the worker in one message when the call ends, in order', () => {
  const { host, posted, endCall } = setup({ publish: ['telemetry/#'] });
  assert.deepEqual(host.publish('telemetry/a', bytes('1')), { tag: 'ok', val: undefined });
  assert.deepEqual(host.publish('telemetry/b', bytes('2')), { tag: 'ok', val: undefined });
  assert.equal(posted.length, 0);
  endCall();
  assert.equal(posted.length, 1);
  const [m] = posted as Extract<WorkerToMain, { t: 'publish' }>[];
  assert.deepEqual(
    m.messages.map((x) => x.topic),
    ['telemetry/a', 'telemetry/b'],
  );
  assert.equal(m.seq, 0); // the fake context counts no publishes; the worker's does
});

test('a publish outside the grant is denied with the key that would allow it', () => {
  const { host, denials } = setup({ publish: ['telemetry/#'] });
  const r = host.publish('commands/x', bytes('1'));
  assert.equal(r.tag, 'err');
  assert.equal((r.val as { tag: string }).tag, 'denied');
  assert.deepEqual(denials, [
    { capability: 'pubsub', target: 'publish to commands/x', allowWith: 'add "commands/x" (or a filter matching it) to modules.m.grants.pubsub.publish' },
  ]);
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
  const { host, posted } = setup({ subscribe: ['sensors/#'] });
  assert.deepEqual(host.subscribe('sensors/+/temp'), { tag: 'ok', val: undefined });
  assert.equal((host.subscribe('#').val as { tag: string }).tag, 'denied');
  assert.equal((host.subscribe('sensors/#/x').val as { tag: string }).tag, 'invalid');
  assert.deepEqual(posted, [{ t: 'subscribe', filter: 'sensors/+/temp' }]);
});
