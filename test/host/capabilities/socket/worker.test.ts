import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SocketOps } from '../../../../host/capabilities/socket/ops.ts';
import { create } from '../../../../host/capabilities/socket/worker.ts';
import { fakeWorkerContext } from '../../../support/capability-fakes.ts';

type Socket = { send(id: number, data: Uint8Array): { tag: string; val?: unknown } };

/** The worker half with connection 1 open; nothing it sends is acknowledged by the main thread. */
async function worker(maxSocketBufferedBytes: number) {
  const w = fakeWorkerContext<SocketOps>('m', { limits: { maxSocketBufferedBytes } });
  const socket = create(w.ctx, { listen: [], maxBufferedBytes: 1024 * 1024 } as never)['edgehost:platform/socket'] as unknown as Socket;
  await (w.handlers() as unknown as { events(e: unknown[]): Promise<void> }).events([{ tag: 'opened', val: { id: 1 } }]);
  const cuts = () => w.sent.filter((s) => s.op === 'cut').length;
  return { socket, cuts };
}

test('bytes on their way to the main thread count against the module budget, not the connection: a burst to one fast reader is not cut', async () => {
  const { socket, cuts } = await worker(64 * 1024 * 1024);
  const chunk = new Uint8Array(64 * 1024);
  // 4 MiB to one connection before the main thread has taken any of it: its socket, not this
  // backlog, says whether the peer reads (the main thread checks it).
  for (let i = 0; i < 64; i++) assert.equal(socket.send(1, chunk).tag, 'ok');
  assert.equal(cuts(), 0);
});

test('past the module budget the connection is cut and the send refused', async () => {
  const { socket, cuts } = await worker(256 * 1024);
  const chunk = new Uint8Array(64 * 1024);
  for (let i = 0; i < 4; i++) assert.equal(socket.send(1, chunk).tag, 'ok');
  assert.equal(socket.send(1, chunk).tag, 'err');
  assert.equal(cuts(), 1);
});
