// Config parsing (modules/shared/config-values.ts, pure) and the guest helpers in
// modules/shared/guest.ts, run in Node with `edgehost:platform/*` imports stubbed by a module hook.

import assert from 'node:assert/strict';
import { registerHooks } from 'node:module';
import { test } from 'node:test';
import { type ConfigDefaults, ConfigError, createConfigReader, nonEmptyStringList, parseNumber } from '../../../modules/shared/config-values.ts';

const reader = (config: Record<string, string | null>, defaults: ConfigDefaults = {}) =>
  createConfigReader((k) => (Object.hasOwn(config, k) ? config[k] : undefined), defaults);

/** Asserts that `fn` throws a ConfigError for `key` whose message contains every part. */
function throwsConfig(fn: () => unknown, key: string, ...parts: string[]) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    assert.equal(e.key, key);
    assert.match(e.message, new RegExp(`"${key}"`));
    for (const p of parts) assert.ok(e.message.includes(p), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(p)}`);
    return true;
  });
}

test('string: config value, then default, else an error naming the key', () => {
  const c = reader({ url: 'http://a/b' }, { url: 'http://default', filter: 'telemetry/#', n: 5 });
  assert.equal(c.string('url'), 'http://a/b');
  assert.equal(c.string('filter'), 'telemetry/#');
  throwsConfig(() => c.string('missing'), 'missing', 'missing', 'a string');
  throwsConfig(() => c.string('n'), 'n', 'a string', '5', 'module.json defaults');
});

test('a null lookup (how QuickJS guests see option none) means not set', () => {
  const c = reader({ url: null }, { url: 'http://default' });
  assert.equal(c.string('url'), 'http://default');
  assert.equal(c.optionalString('other'), undefined);
});

test('optionalString', () => {
  const c = reader({ a: 'x' }, { b: 'y' });
  assert.equal(c.optionalString('a'), 'x');
  assert.equal(c.optionalString('b'), 'y');
  assert.equal(c.optionalString('c'), undefined);
});

test('number: integers and floats from text, defaults as JSON numbers', () => {
  const c = reader({ a: '42', b: '1.5', c: ' 7 ', d: '1e3', e: '-0.25', f: '.5' }, { g: 1000, h: '250' });
  assert.equal(c.number('a'), 42);
  assert.equal(c.number('b'), 1.5);
  assert.equal(c.number('c'), 7);
  assert.equal(c.number('d'), 1000);
  assert.equal(c.number('e'), -0.25);
  assert.equal(c.number('f'), 0.5);
  assert.equal(c.number('g'), 1000);
  assert.equal(c.number('h'), 250);
});

test('number: a bad value says which key, what was found and what is expected', () => {
  const c = reader({ a: 'abc', b: '', c: '0x10', d: 'Infinity', e: '12ms', f: '2.5', g: '0', h: '101' }, { z: [1] });
  throwsConfig(() => c.number('a'), 'a', 'expected a number', '"abc"', 'module config');
  throwsConfig(() => c.number('b'), 'b', '""');
  throwsConfig(() => c.number('c'), 'c', '"0x10"');
  throwsConfig(() => c.number('d'), 'd', '"Infinity"');
  throwsConfig(() => c.number('e'), 'e', '"12ms"');
  throwsConfig(() => c.number('f', { integer: true }), 'f', 'an integer', '"2.5"');
  throwsConfig(() => c.number('g', { integer: true, min: 1 }), 'g', 'an integer >= 1', '"0"');
  throwsConfig(() => c.number('h', { min: 0, max: 100 }), 'h', 'a number from 0 to 100', '"101"');
  throwsConfig(() => c.number('z'), 'z', '[1]', 'module.json defaults');
  throwsConfig(() => c.number('nope'), 'nope', 'missing');
});

test('parseNumber accepts JSON numbers and rejects NaN', () => {
  assert.equal(parseNumber('k', 3), 3);
  throwsConfig(() => parseNumber('k', Number.NaN), 'k');
  throwsConfig(() => parseNumber('k', true), 'k', 'true');
});

test('json: JSON text from the config, JSON values from the defaults, checked by a rule', () => {
  const c = reader(
    { devices: '["a","b"]', obj: '{"x":1}', bad: '[1,', plain: 'sensor-9', wrong: '["a",2]', empty: '[]' },
    { fallback: ['s1', 's2'], badDefault: 'oops' },
  );
  assert.deepEqual(c.json('devices', nonEmptyStringList), ['a', 'b']);
  assert.deepEqual(c.json<{ x: number }>('obj'), { x: 1 });
  assert.deepEqual(c.json('fallback', nonEmptyStringList), ['s1', 's2']);
  throwsConfig(() => c.json('bad'), 'bad', 'as JSON text', '"[1,"');
  throwsConfig(() => c.json('plain', nonEmptyStringList), 'plain', 'a non-empty list of non-empty strings', '"sensor-9"');
  throwsConfig(() => c.json('wrong', nonEmptyStringList), 'wrong', '["a",2]', 'module config');
  throwsConfig(() => c.json('empty', nonEmptyStringList), 'empty', '[]');
  throwsConfig(() => c.json('badDefault', nonEmptyStringList), 'badDefault', '"oops"', 'module.json defaults');
  throwsConfig(() => c.json('nope'), 'nope', 'missing');
});

test('the module.json defaults of telemetry and gateway read back with the rules the modules use', async () => {
  const { default: telemetry } = await import('../../../modules/telemetry/module.json', { with: { type: 'json' } });
  const t = reader({}, telemetry.config);
  assert.deepEqual(t.json('devices', nonEmptyStringList), ['sensor-1', 'sensor-2', 'sensor-3']);
  assert.equal(t.number('interval-ms', { integer: true, min: 1 }), 1000);
  assert.equal(t.number('burst', { integer: true, min: 1 }), 1);
  assert.equal(t.string('topic-prefix'), 'telemetry/');
  const { default: gateway } = await import('../../../modules/gateway/module.json', { with: { type: 'json' } });
  const g = reader({}, gateway.config);
  assert.equal(g.string('url'), 'http://127.0.0.1:8081/ingest');
  assert.equal(g.string('filter'), 'telemetry/#');
  assert.equal(g.number('timeout-ms', { integer: true, min: 1 }), 5000);
});

// ---------------------------------------------------------------------------------------------
// guest.ts, with its WIT imports stubbed

interface Stub {
  logs: [string, string][];
  config: Record<string, string>;
}
const stub: Stub = { logs: [], config: {} };
(globalThis as { __edgehostGuestTest?: unknown }).__edgehostGuestTest = {
  log: (level: string, message: string) => stub.logs.push([level, message]),
  // QuickJS guests get null for an option that is none.
  get: (key: string) => (Object.hasOwn(stub.config, key) ? stub.config[key] : null),
};
const STUBS: Record<string, string> = {
  logging: 'export const log = (l, m) => globalThis.__edgehostGuestTest.log(l, m);',
  config: 'export const get = (k) => globalThis.__edgehostGuestTest.get(k); export const getAll = () => [];',
};
registerHooks({
  resolve(specifier, context, nextResolve) {
    const m = /^edgehost:platform\/([\w-]+)@/.exec(specifier);
    if (m && STUBS[m[1]] !== undefined) {
      return { url: `data:text/javascript,${encodeURIComponent(STUBS[m[1]])}`, shortCircuit: true };
    }
    return nextResolve(specifier, context);
  },
});

interface GuestModule {
  installConsole(): {
    log(...a: unknown[]): void;
    info(...a: unknown[]): void;
    debug(...a: unknown[]): void;
    warn(...a: unknown[]): void;
    error(...a: unknown[]): void;
  };
  readConfig(defaults: ConfigDefaults): ReturnType<typeof createConfigReader>;
  describeError(e: unknown): string;
  errorPayload(e: unknown): { tag: string; val?: unknown } | undefined;
}
// A computed specifier keeps tsc (Node types) from checking guest.ts, which declares the
// guest's own global `console`.
const guestPath = '../../../modules/shared/' + 'guest.ts';
const loadGuest = () => import(guestPath) as Promise<GuestModule>;

test('installConsole writes through edgehost:platform/logging at the right levels', async () => {
  const guest = await loadGuest();
  const original = globalThis.console;
  stub.logs = [];
  try {
    const c = guest.installConsole();
    assert.equal(globalThis.console as unknown, c);
    c.log('hello', 42, { a: 1 }, [1, 'x'], undefined, null, 10n);
    c.info('i');
    c.debug('d');
    c.warn('w');
    c.error('e', new Error('boom'));
  } finally {
    globalThis.console = original;
  }
  assert.deepEqual(stub.logs.slice(0, 5), [
    ['info', 'hello 42 {"a":1} [1,"x"] undefined null 10'],
    ['info', 'i'],
    ['debug', 'd'],
    ['warn', 'w'],
    ['error', stub.logs[4][1]],
  ]);
  assert.match(stub.logs[4][1], /^e boom\n/);
});

test('readConfig reads config.get, falls back to the defaults, treats null as not set', async () => {
  const guest = await loadGuest();
  stub.config = { 'interval-ms': '250', devices: '["x"]' };
  const c = guest.readConfig({ 'interval-ms': 1000, burst: 1, devices: ['a'], 'topic-prefix': 'telemetry/' });
  assert.equal(c.number('interval-ms'), 250);
  assert.equal(c.number('burst'), 1);
  assert.deepEqual(c.json('devices', nonEmptyStringList), ['x']);
  assert.equal(c.string('topic-prefix'), 'telemetry/');
  stub.config = { burst: 'lots' };
  assert.throws(() => c.number('burst', { integer: true, min: 1 }), /config "burst": expected an integer >= 1, found "lots"/);
});

test('describeError: tag and val of a WIT error variant, else the message', async () => {
  const guest = await loadGuest();
  const wit = (payload: unknown) => Object.assign(new Error('[object Object]'), { payload });
  assert.equal(guest.describeError(wit({ tag: 'denied', val: 'telemetry/x not granted' })), 'denied: telemetry/x not granted');
  assert.equal(guest.describeError(wit({ tag: 'timeout' })), 'timeout');
  assert.equal(guest.describeError(new Error('plain')), 'plain');
  assert.equal(guest.describeError('text'), 'text');
  assert.deepEqual(guest.errorPayload(wit({ tag: 'limited', val: 'rate' })), { tag: 'limited', val: 'rate' });
  assert.equal(guest.errorPayload(new Error('x')), undefined);
});
