import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type OutboundHttpOps, outboundHttpGrant } from '../../../../host/capabilities/outbound-http/index.ts';
import { create } from '../../../../host/capabilities/outbound-http/worker.ts';
import { fakeWorkerContext } from '../../../support/capability-fakes.ts';

const send = (host: Record<string, Record<string, unknown>>) => host['edgehost:platform/outbound-http'].send as (req: unknown) => Promise<unknown>;

test('a request goes to the service while the guest waits, and that wait is not counted against the call deadline', async () => {
  let waits = 0;
  const f = fakeWorkerContext<OutboundHttpOps>('gateway', {
    waitFor: (p) => {
      waits++;
      return p;
    },
  });
  await send(create(f.ctx, outboundHttpGrant.parse({})))({ method: 'get', url: 'http://x/', headers: [] });
  assert.equal(waits, 1);
  assert.deepEqual(
    f.sent.map((s) => [s.kind, s.op]),
    [['request', 'send']],
  );
});

test('a body over maxRequestBytes is refused in the worker, before it is copied to the main thread', async () => {
  const f = fakeWorkerContext<OutboundHttpOps>('gateway');
  const r = await send(create(f.ctx, outboundHttpGrant.parse({ maxRequestBytes: 4 })))({
    method: 'post',
    url: 'http://x/',
    headers: [],
    body: new Uint8Array(5),
  });
  assert.deepEqual(r, { tag: 'err', val: { tag: 'invalid', val: 'request body of 5 bytes exceeds the limit of 4 (grants.outboundHttp.maxRequestBytes)' } });
  assert.equal(f.sent.length, 0);
});

test('past the rate limit the guest gets `limited` and nothing is sent', async () => {
  const f = fakeWorkerContext<OutboundHttpOps>('gateway', { allow: () => false });
  const r = (await send(create(f.ctx, outboundHttpGrant.parse({})))({ method: 'get', url: 'http://x/', headers: [] })) as { val: { tag: string } };
  assert.equal(r.val.tag, 'limited');
  assert.equal(f.sent.length, 0);
});
