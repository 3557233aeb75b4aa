import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorText, Link, MAX_ERROR_TEXT } from '../../../host/sandbox/link.ts';

/** Two links joined back to back, as the main thread and a worker are: every postMessage is recorded. */
function pair() {
  const posted: { from: 'a' | 'b'; batch: unknown[]; transfer?: readonly unknown[] }[] = [];
  let a!: Link<unknown>;
  let b!: Link<unknown>;
  const deliver = (to: () => Link<unknown>, from: 'a' | 'b') => ({
    postMessage(batch: unknown, transfer?: readonly unknown[]) {
      posted.push({ from, batch: batch as unknown[], transfer });
      for (const m of batch as { t: string; id: number; value?: unknown; error?: string }[]) {
        if (m.t === 'reply') to().settle(m.id, m.value, m.error);
        else to().receive(m as never, (id, value, error) => to().send({ t: 'reply', id, value, error } as never));
      }
    },
  });
  a = new Link(deliver(() => b, 'a'));
  b = new Link(deliver(() => a, 'b'));
  return { a, b, posted };
}

const turn = () => new Promise((r) => setImmediate(r));

test('messages of one turn cross in one postMessage, in the order they were sent', async () => {
  const { a, b, posted } = pair();
  const seen: unknown[] = [];
  b.handle('cap', { op: (args) => seen.push(args) });
  const ch = a.channel<{ op: { args: number; result: undefined } }>('cap');
  ch.notify('op', 1);
  ch.notify('op', 2);
  ch.notify('op', 3);
  await turn();
  assert.deepEqual(seen, [1, 2, 3]);
  assert.equal(posted.filter((p) => p.from === 'a').length, 1);
});

test('append extends the list of the last notify of the same op, and only that; each list is packed as it leaves, its buffers transferred', async () => {
  const { a, b, posted } = pair();
  const seen: unknown[] = [];
  b.handle('cap', { list: (args) => seen.push(['list', [...(args as Uint8Array)]]), other: (args) => seen.push(['other', args]) });
  const ch = a.channel<{ list: { args: Uint8Array; result: undefined }; other: { args: string; result: undefined } }>('cap');
  const pack = (items: number[]) => {
    const args = Uint8Array.from(items);
    return { args, transfer: [args.buffer] };
  };
  ch.append('list', 1, pack);
  ch.append('list', 2, pack);
  ch.notify('other', 'x');
  ch.append('list', 3, pack);
  await turn();
  assert.deepEqual(seen, [
    ['list', [1, 2]],
    ['other', 'x'],
    ['list', [3]],
  ]);
  assert.equal(posted.length, 1);
  assert.equal(posted[0].transfer?.length, 2);
});

test('a request resolves with the handler result, async or not, and rejects with its error text', async () => {
  const { a, b } = pair();
  b.handle('cap', {
    double: (n) => (n as number) * 2,
    later: async (n) => (n as number) + 1,
    fail: () => {
      throw new Error('nope');
    },
  });
  assert.equal(await a.request('cap', 'double', 21), 42);
  assert.equal(await a.request('cap', 'later', 1), 2);
  await assert.rejects(a.request('cap', 'fail', 0), /^Error: nope$/);
  await assert.rejects(a.request('cap', 'missing', 0), /no handler for cap\.missing/);
});

test('closing a link rejects its pending requests and sends nothing more', async () => {
  const posted: unknown[] = [];
  const link = new Link({ postMessage: (m: unknown) => posted.push(m) });
  const pending = link.request('cap', 'op', 1);
  link.close(new Error('the worker ended'));
  await assert.rejects(pending, /the worker ended/);
  link.send({ t: 'notify', cap: 'cap', op: 'op', args: 2 } as never);
  await turn();
  assert.deepEqual(posted, []);
});

test('guest error text is cut at MAX_ERROR_TEXT characters, saying how much was cut', () => {
  const text = errorText({ payload: 'x'.repeat(MAX_ERROR_TEXT + 500) });
  assert.equal(text, `${'x'.repeat(MAX_ERROR_TEXT)}... (500 more characters)`);
  assert.equal(errorText(new Error('short')), 'short');
});
