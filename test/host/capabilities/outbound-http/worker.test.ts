import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { type OutboundHttpOps, outboundHttpGrant } from '../../../../host/capabilities/outbound-http/index.ts';
import { create } from '../../../../host/capabilities/outbound-http/worker.ts';
import { fakeWorkerContext } from '../../../support/capability-fakes.ts';

const send = (host: Record<string, Record<string, unknown>>) => host['edgehost:platform/outbound-http'].send as (req: unknown) => Promise<unknown>;

test('the request is made from the worker while the guest waits, not counted against the call deadline, and reported to the service', async () => {
  const server = http.createServer((_req, res) => res.writeHead(204).end());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  let waits = 0;
  const f = fakeWorkerContext<OutboundHttpOps>('gateway', {
    waitFor: (p) => {
      waits++;
      return p;
    },
  });
  try {
    const r = await send(create(f.ctx, outboundHttpGrant.parse({ allowedHosts: [`127.0.0.1:${port}`] })))({
      method: 'get',
      url: `http://127.0.0.1:${port}/`,
      headers: [],
    });
    assert.equal((r as { tag: string; val: { status: number } }).val.status, 204);
    assert.equal(waits, 1);
    assert.deepEqual(
      f.sent.map((s) => [s.kind, s.op, (s.args as { status: number }).status]),
      [['notify', 'done', 204]],
    );
  } finally {
    await f.close();
    server.close();
  }
});

test('a body over maxRequestBytes is refused in the worker, before anything is sent', async () => {
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
