import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeMessage } from '../../../modules/server/src/message.ts';
import {
  decodeEntry,
  decodeInflightState,
  decodeRecord,
  decodeRetained,
  decodeSession,
  decodeSubscription,
  encodeEntry,
  encodeInflightState,
  encodeRecord,
  encodeRetained,
  encodeSession,
  encodeSubscription,
  RecordError,
} from '../../../modules/server/src/records.ts';
import type { Inflight, Pending } from '../../../modules/server/src/session.ts';
import { enc } from './harness.ts';

const full = makeMessage('a/b', enc('payload'), {
  from: 'pub',
  expiresAt: 1_700_000_060_000,
  properties: {
    payloadFormatIndicator: 1,
    contentType: 'text/plain',
    responseTopic: 'r/t',
    correlationData: new Uint8Array([0, 255]),
    userProperties: [['k', 'é']],
  },
});

/** What a store keeps of `full`: everything but its publisher, which serves no-local only while it is routed. */
const { from: _publisher, ...kept } = full;
const plain = (m: object) => ({ ...m, topicBytes: undefined });

describe('stored records', () => {
  it('a record keeps its header and binary parts as they are', () => {
    const parts = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(70_000).fill(7)];
    const { header, parts: back } = decodeRecord(encodeRecord({ x: 'ü', n: [1] }, parts));
    assert.deepEqual(header, { x: 'ü', n: [1] });
    assert.deepEqual(back, parts);
  });

  it('a value that is not a record is refused, not misread', () => {
    for (const bad of [new Uint8Array(), new Uint8Array([2, 0, 0, 0, 2, 123, 125, 0]), encodeRecord({}, [new Uint8Array(10)]).subarray(0, 12)]) {
      assert.throws(() => decodeRecord(bad), RecordError);
    }
    assert.throws(() => decodeSession(encodeRecord({ c: 1 })), RecordError);
    assert.throws(() => decodeEntry(encodeRecord({ t: 'x', q: 0 }, [new Uint8Array()]), 1), RecordError);
    // A session message or retained message cut anywhere before its payload.
    const entry = encodeEntry({ seq: 1, message: full, qos: 1, retain: false, packetId: 3, state: 'publish', subscriptionIds: [1] });
    const payloadAt = entry.length - full.payload.length;
    for (let n = 0; n < payloadAt; n++) assert.throws(() => decodeEntry(entry.subarray(0, n), 1), RecordError, `cut at ${n}`);
    assert.throws(() => decodeRetained(encodeRetained(full, 1).subarray(0, 5)), RecordError);
    assert.throws(() => decodeEntry(encodeRetained(full, 1), 1), RecordError);
  });

  it('a queued message and an in-flight one keep everything a subscriber gets', () => {
    const queued: Pending = { seq: 3, message: full, qos: 2, retain: true, subscriptionIds: [4, 5] };
    const q = decodeEntry(encodeEntry(queued), 3);
    assert.deepEqual({ ...q, message: plain(q.message) }, { ...queued, message: plain(kept) });
    const inflight: Inflight = { seq: 4, message: makeMessage('t', enc('')), qos: 1, retain: false, packetId: 17, state: 'publish' };
    assert.deepEqual(decodeEntry(encodeEntry(inflight), 4), inflight);
    const released: Inflight = { ...inflight, qos: 2, state: 'pubrel' };
    assert.deepEqual(decodeEntry(encodeEntry(released), 4), released);
  });

  it('a packet id and state written apart override the entry', () => {
    const queued: Pending = { seq: 8, message: makeMessage('t', enc('x')), qos: 2, retain: false };
    const sent: Inflight = { ...queued, packetId: 300, state: 'pubrel' };
    assert.deepEqual(decodeEntry(encodeEntry(queued), 8, decodeInflightState(encodeInflightState(sent))), sent);
  });

  it('sessions, subscriptions and retained messages', () => {
    assert.deepEqual(decodeSession(encodeSession({ clientId: 'c', expirySeconds: 60, expiresAt: 123 })), { clientId: 'c', expirySeconds: 60, expiresAt: 123 });
    assert.deepEqual(decodeSession(encodeSession({ clientId: 'c', expirySeconds: 60 })), { clientId: 'c', expirySeconds: 60 });
    const options = { qos: 1 as const, noLocal: true, retainAsPublished: false, retainHandling: 1 as const, id: 9 };
    assert.deepEqual(decodeSubscription(encodeSubscription('$share/g/#', options)), ['$share/g/#', options]);
    const r = decodeRetained(encodeRetained(full, 1));
    assert.equal(r.qos, 1);
    assert.deepEqual(plain(r.message), plain(kept));
  });
});
