import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type BridgeRule, toLocal, toRemote } from '../../../host/bridge/topics.ts';

const rule = (filter: string, localPrefix = '', remotePrefix = '', qos: 0 | 1 = 1): BridgeRule => ({ filter, localPrefix, remotePrefix, qos });

test('without prefixes a topic keeps its name both ways', () => {
  assert.deepEqual(toRemote([rule('telemetry/#')], 'telemetry/d1'), { topic: 'telemetry/d1', qos: 1, rule: 0 });
  assert.deepEqual(toLocal([rule('telemetry/#')], 'telemetry/d1'), { topic: 'telemetry/d1', qos: 1, rule: 0 });
});

test('out: the local prefix is taken off and the remote prefix put on', () => {
  const rules = [rule('telemetry/#', 'site/', 'fleet/gw1/', 0)];
  assert.deepEqual(toRemote(rules, 'site/telemetry/d1'), { topic: 'fleet/gw1/telemetry/d1', qos: 0, rule: 0 });
  assert.equal(toRemote(rules, 'telemetry/d1'), undefined);
});

test('in: the remote prefix is taken off and the local prefix put on', () => {
  const rules = [rule('cmd/+', 'remote/', 'fleet/gw1/')];
  assert.deepEqual(toLocal(rules, 'fleet/gw1/cmd/reboot'), { topic: 'remote/cmd/reboot', qos: 1, rule: 0 });
  assert.equal(toLocal(rules, 'fleet/gw2/cmd/reboot'), undefined);
  assert.equal(toLocal(rules, 'fleet/gw1/cmd/a/b'), undefined);
});

test('the first matching rule wins', () => {
  const rules = [rule('alarms/#', '', 'urgent/', 1), rule('#', '', 'bulk/', 0)];
  assert.deepEqual(toRemote(rules, 'alarms/fire'), { topic: 'urgent/alarms/fire', qos: 1, rule: 0 });
  assert.deepEqual(toRemote(rules, 'telemetry/d1'), { topic: 'bulk/telemetry/d1', qos: 0, rule: 1 });
});

test('a filter starting with a wildcard does not carry $ topics', () => {
  assert.equal(toRemote([rule('#')], '$SYS/broker/uptime'), undefined);
});
