import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bridgeId, cameOverABridge, echoPaths, filtersIntersect, ORIGIN_PROPERTY, originOf, overlappingInRules } from '../../../host/bridge/loops.ts';
import type { BridgeRule } from '../../../host/bridge/topics.ts';
import { Bus, DurableStore } from '../../../host/bus/bus.ts';
import { moduleName } from '../../../host/config/schema.ts';
import { tempDir } from '../../support/paths.ts';

const rule = (filter: string, remotePrefix = ''): BridgeRule => ({ filter, localPrefix: '', remotePrefix, qos: 1 });

test('filtersIntersect: whether some topic matches both filters', () => {
  const cases: [string, string, boolean][] = [
    ['a/b', 'a/b', true],
    ['a/b', 'a/c', false],
    ['a/+', 'a/b', true],
    ['+/b', 'a/+', true],
    ['a/#', 'a', true], // '#' matches the parent level
    ['a/#', 'a/b/c', true],
    ['a/+', 'a', false],
    ['a/+', 'a/b/c', false],
    ['#', 'anything/at/all', true],
    ['site/a/telemetry/#', 'site/+/telemetry/#', true],
    ['site/a/telemetry/#', 'site/b/telemetry/#', false],
    ['#', '$SYS/#', false], // a leading wildcard matches no $ topic
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/broker', true],
    ['a//b', 'a/+/b', true], // '+' matches an empty level
  ];
  for (const [a, b, expected] of cases) {
    assert.equal(filtersIntersect(a, b), expected, `${a} vs ${b}`);
    assert.equal(filtersIntersect(b, a), expected, `${b} vs ${a}`);
  }
});

test('echoPaths: out rules whose remote topics an in rule matches, with the prefixes', () => {
  assert.deepEqual(echoPaths([rule('telemetry/#')], [rule('telemetry/+')]), [{ out: 0, in: 0 }]);
  assert.deepEqual(echoPaths([rule('telemetry/#', 'site/a/')], [rule('telemetry/#', 'site/b/')]), []);
  assert.deepEqual(echoPaths([rule('telemetry/#', 'site/a/')], [rule('#')]), [{ out: 0, in: 0 }]);
});

test('overlappingInRules: pairs of in rules a message could match both of', () => {
  assert.deepEqual(overlappingInRules([rule('a/#'), rule('b/#'), rule('a/+/c')]), [[0, 2]]);
  assert.deepEqual(overlappingInRules([rule('x', 'p/'), rule('x', 'q/')]), []);
});

test('a bridge id can never be a module name, and marks what a bridge publishes', () => {
  assert.equal(bridgeId('cloud'), 'bridge:cloud');
  assert.equal(moduleName.safeParse(bridgeId('cloud')).success, false);
  assert.equal(cameOverABridge({ topic: 't', payload: new Uint8Array(), publishedAt: 0, publisher: 'bridge:cloud' }), true);
  assert.equal(cameOverABridge({ topic: 't', payload: new Uint8Array(), publishedAt: 0, publisher: 'telemetry' }), false);
  assert.equal(cameOverABridge({ topic: 't', payload: new Uint8Array(), publishedAt: 0 }), false);
});

test('originOf reads the MQTT 5 user property, repeated or not', () => {
  assert.deepEqual(originOf(undefined), []);
  assert.deepEqual(originOf({ userProperties: { [ORIGIN_PROPERTY]: 'host-a' } }), ['host-a']);
  assert.deepEqual(originOf({ userProperties: { [ORIGIN_PROPERTY]: ['host-a', 'x'] } }), ['host-a', 'x']);
});

test('the bus takes a durable subscriber with a bridge id, and noLocal keeps what the bridge published out of its queue', async () => {
  const store = new DurableStore(`${tempDir()}/queues.sqlite`);
  const bus = new Bus({ store });
  const got: string[] = [];
  const options = {
    maxBatch: 10,
    lingerMs: 0,
    capacity: 10,
    capacityBytes: 1 << 20,
    overflow: 'drop-oldest',
    noLocal: true,
    retryInitialMs: 10,
    retryMaxMs: 10,
    maxAttempts: 0,
    ttlMs: 0,
    durable: true,
  } as const;
  const sub = bus.addSubscriber(bridgeId('cloud'), options, async (batch) => {
    got.push(...batch.map((m) => `${m.topic} from ${m.publisher}`));
  });
  sub.subscribe('#');
  bus.publish('a', new Uint8Array([1]), 'telemetry');
  bus.publish('b', new Uint8Array([2]), bridgeId('cloud'));
  bus.publish('c', new Uint8Array([3]), bridgeId('other'));
  await sub.idle();
  // Another bridge's messages reach the queue; the out path drops them (see out.ts).
  assert.deepEqual(got, ['a from telemetry', 'c from bridge:other']);
  store.close();
});
