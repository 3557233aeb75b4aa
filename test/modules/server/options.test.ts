import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import defaults from '../../../modules/server/module.json' with { type: 'json' };
import { loadOptions } from '../../../modules/server/src/options.ts';

const load = (config: Record<string, string>) => loadOptions((k) => config[k], defaults.config);

describe('config', () => {
  it('uses module.json defaults', () => {
    assert.deepEqual(load({}), {
      listen: [],
      acl: { publish: ['#'], subscribe: ['#'] },
      maxConnections: 1000,
      maxConnectionsPerAddress: 100,
      maxPendingPerAddress: 16,
      maxPacketSize: 262144,
      maxPartialPacketBytes: 33554432,
      maxInflight: 100,
      maxQueued: 1000,
      maxRetained: 10000,
      maxRetainedBytes: 33554432,
      maxSubscriptionsPerClient: 10000,
      maxTopicLevels: 32,
      maxTopicLength: 1024,
      retainedWorkPerCall: 1000,
      receiveMaximum: 100,
      topicAliasMaximum: 32,
      maxSessionExpirySeconds: 604800,
      connectTimeoutMs: 30000,
      persist: 'auto',
    });
  });

  it('reads persist as true, false or "auto"', () => {
    assert.equal(load({ persist: 'true' }).persist, 'on');
    assert.equal(load({ persist: 'false' }).persist, 'off');
    assert.equal(load({ persist: 'auto' }).persist, 'auto');
    assert.throws(() => load({ persist: 'yes' }), /config "persist" must be true, false or "auto", got "yes"/);
  });

  it('reads values given as strings and JSON text', () => {
    const o = load({ listen: '["127.0.0.1:1883","[::1]:1883"]', 'max-inflight': '5', acl: '{"publish":["a/#"],"subscribe":[]}', username: 'u', password: 'p' });
    assert.deepEqual(o.listen, ['127.0.0.1:1883', '[::1]:1883']);
    assert.equal(o.maxInflight, 5);
    assert.deepEqual(o.acl, { publish: ['a/#'], subscribe: [] });
    assert.equal(o.username, 'u');
    assert.equal(o.password, 'p');
  });

  it('accepts a bare listen address', () => assert.deepEqual(load({ listen: '0.0.0.0:1883' }).listen, ['0.0.0.0:1883']));

  it('treats empty credentials as unset', () => {
    const o = load({ username: '', password: '' });
    assert.equal(o.username, undefined);
    assert.equal(o.password, undefined);
  });

  for (const [key, value, pattern] of [
    ['max-inflight', '0', /max-inflight/],
    ['max-inflight', '65536', /max-inflight/],
    ['max-connections', 'many', /max-connections/],
    ['max-packet-size', '1.5', /max-packet-size/],
    ['receive-maximum', '0', /receive-maximum/],
    ['max-topic-levels', '0', /max-topic-levels/],
    ['max-session-expiry-s', '-1', /max-session-expiry-s/],
    ['listen', '[1]', /listen/],
    ['listen', '[oops', /listen/],
    ['acl', '{"publish":["a/#/b"]}', /acl.publish/],
    ['acl', '{"pub":[]}', /unknown key "pub"/],
    ['acl', '[]', /acl/],
    ['password', 'p', /"username" is not/],
  ] as const) {
    it(`fails on ${key} = ${value}`, () => assert.throws(() => load({ [key]: value }), pattern));
  }
});
