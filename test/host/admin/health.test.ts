// /readyz's rule, state by state: ready and sleeping modules are ready; loading,
// starting, restarting and failed ones are not (named, with their state);
// modules on their way out are not counted; nothing is ready before the host
// has started its modules.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import type { AdminContext } from '../../../host/admin/context.ts';
import { readyz } from '../../../host/admin/health.ts';
import type { ModuleState } from '../../../host/runtime/module-runtime.ts';

function ask(states: Record<string, ModuleState>, open = true): { status: number; body: unknown } {
  const ctx = { host: { modules: new Map(Object.entries(states).map(([name, state]) => [name, { name, state }])) } } as unknown as AdminContext;
  const answer = { status: 0, body: undefined as unknown };
  const res = {
    headersSent: false,
    writeHead(status: number) {
      answer.status = status;
      return this;
    },
    end(text: string) {
      answer.body = JSON.parse(text);
    },
  } as unknown as ServerResponse;
  readyz(ctx, res, open);
  return answer;
}

test('ready and sleeping modules are ready; modules being removed are not counted', () => {
  assert.deepEqual(ask({ a: 'ready', b: 'sleeping', c: 'draining', d: 'stopped' }), { status: 200, body: { status: 'ready', modules: 2 } });
});

test('a module loading, starting, restarting or failed makes it 503, named with its state, in name order', () => {
  assert.deepEqual(ask({ z: 'failed', a: 'ready', m: 'restarting', b: 'starting', c: 'loading' }), {
    status: 503,
    body: {
      status: 'not ready',
      notReady: [
        { module: 'b', state: 'starting' },
        { module: 'c', state: 'loading' },
        { module: 'm', state: 'restarting' },
        { module: 'z', state: 'failed' },
      ],
    },
  });
});

test('before the host has started its modules, it is not ready', () => {
  assert.deepEqual(ask({ a: 'ready' }, false), { status: 503, body: { status: 'starting', notReady: [] } });
});
