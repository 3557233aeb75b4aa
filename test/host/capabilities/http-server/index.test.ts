// The http-server declaration as the config sees it: which worlds get it (a standard WASI world
// by name, the http-service platform world), its flags, its checks, and route conflicts between
// modules, refused at config load with both modules named.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { httpServer } from '../../../../host/capabilities/http-server/index.ts';
import { transpileOptions } from '../../../../host/components/load.ts';
import { parseCli } from '../../../../host/config/cli.ts';
import { loadConfig } from '../../../../host/config/load.ts';
import { HostError } from '../../../../host/errors.ts';
import { tempDir } from '../../../support/paths.ts';

function setup(modules: Record<string, unknown>): string {
  const dir = tempDir();
  for (const name of ['a.wasm', 'b.wasm']) writeFileSync(join(dir, name), '');
  const file = join(dir, 'edgehost.json');
  writeFileSync(file, JSON.stringify({ modules }));
  return file;
}

function loadError(file: string, ...args: string[]): HostError {
  try {
    loadConfig(parseCli(['--config', file, ...args]));
  } catch (e) {
    assert.ok(e instanceof HostError, `expected a HostError, got ${e}`);
    return e;
  }
  assert.fail('config loaded, but an error was expected');
}

test('a module may name the standard world wasi:http/proxy: it gets the http-server capability, its flags and limits', () => {
  const file = setup({ hello: { component: 'a.wasm', world: 'wasi:http/proxy' } });
  const config = loadConfig(parseCli(['--config', file, '--hello-http-address', '127.0.0.1:8080', '--hello-http-route', 'example.com/api']));
  const [m] = config.modules;
  assert.equal(m.worldSpec.name, 'wasi:http/proxy');
  assert.deepEqual(m.worldSpec.exports, ['wasi:http/incoming-handler']);
  assert.deepEqual(
    m.capabilities.map((c) => c.name),
    ['http-server'],
  );
  assert.deepEqual(m.grants.http, { listen: ['127.0.0.1:8080'], routes: ['example.com/api'], allowedHosts: [] });
  assert.equal(m.limits.httpMaxBodyBytes, 100 * 1024 * 1024);
  assert.equal(m.limits.httpRequestTimeoutMs, 30_000);
  // Its handler may wait on body bytes: the blocking wasi:io calls are async imports, the handler an async export.
  const options = transpileOptions(m);
  assert.ok(options.asyncImports.includes('wasi:io/streams#[method]input-stream.blocking-read'));
  assert.deepEqual(options.asyncExports, ['wasi:http/incoming-handler#handle']);
});

test('an unknown WASI world is refused with what exists', () => {
  const e = loadError(setup({ hello: { component: 'a.wasm', world: 'wasi:http/nope' } }));
  assert.match(e.message, /modules\.hello\.world: no standard WASI world "wasi:http\/nope"/);
});

test('the http-service world has the bus and wasi:http, with both kinds of exports', () => {
  const file = setup({ web: { component: 'a.wasm', world: 'http-service', grants: { http: { listen: ['127.0.0.1:8080'] }, pubsub: { subscribe: ['t/#'] } } } });
  const [m] = loadConfig(parseCli(['--config', file])).modules;
  assert.deepEqual(
    m.capabilities.map((c) => c.name),
    ['logging', 'config', 'pubsub', 'http-server', 'key-value', 'metrics'],
  );
  assert.ok(m.worldSpec.exports.includes('wasi:http/incoming-handler') && m.worldSpec.exports.includes('edgehost:platform/lifecycle'));
  assert.ok(transpileOptions(m).asyncExports.includes('edgehost:platform/lifecycle@0.1.0#init'));
});

test('two modules claiming the same route on one address are refused at config load, naming both', () => {
  const e = loadError(
    setup({
      shop: { component: 'a.wasm', world: 'wasi:http/proxy', grants: { http: { listen: ['127.0.0.1:8080'], routes: ['shop.example', 'example.com/api'] } } },
      api: { component: 'b.wasm', world: 'wasi:http/proxy', grants: { http: { listen: ['127.0.0.1:8080'], routes: ['EXAMPLE.com/api/'] } } },
    }),
  );
  assert.equal(e.code, 'EH_CONFIG_INVALID');
  assert.match(
    e.message,
    /modules\.shop\.grants\.http\.routes\[1\] "example\.com\/api" and modules\.api\.grants\.http\.routes\[0\] "EXAMPLE\.com\/api\/" claim the same route: give one of them another host or path \(both on 127\.0\.0\.1:8080\)/,
  );
});

test('two modules without routes on one address both claim every request: refused; on two addresses, or with distinct routes, accepted', () => {
  const e = loadError(
    setup({
      a: { component: 'a.wasm', world: 'wasi:http/proxy', grants: { http: { listen: ['127.0.0.1:8080'] } } },
      b: { component: 'b.wasm', world: 'wasi:http/proxy', grants: { http: { listen: ['127.0.0.1:8080'] } } },
    }),
  );
  assert.match(
    e.message,
    /modules\.a \(no grants\.http\.routes: every host and path\) and modules\.b \(no grants\.http\.routes: every host and path\) claim the same route/,
  );
  const ok = (b: Record<string, unknown>) =>
    loadConfig(parseCli(['--config', setup({ a: { component: 'a.wasm', world: 'wasi:http/proxy', grants: { http: { listen: ['127.0.0.1:8080'] } } }, b })]));
  assert.equal(ok({ component: 'b.wasm', world: 'wasi:http/proxy', grants: { http: { listen: ['127.0.0.1:8081'] } } }).modules.length, 2);
  assert.equal(ok({ component: 'b.wasm', world: 'wasi:http/proxy', grants: { http: { listen: ['127.0.0.1:8080'], routes: ['/b'] } } }).modules.length, 2);
});

test('a bad route, a listen grant for a world that cannot serve, and routes without an address are refused', () => {
  assert.match(
    loadError(setup({ a: { component: 'a.wasm', world: 'wasi:http/proxy' } }), '--a-http-address', '127.0.0.1:1', '--a-http-route', 'http://x/').message,
    /modules\.a\.grants\.http\.routes\[0\]: route "http:\/\/x\/": has a scheme.*\(from --a-http-route\)/,
  );
  const noServe = httpServer.check?.(
    { name: 'p', world: 'probe', imports: [], exports: [], entry: {} },
    { listen: ['127.0.0.1:1'], routes: [], allowedHosts: [] },
  );
  assert.deepEqual(noServe, [
    'grants.http.listen: world "probe" does not export wasi:http/incoming-handler, so the module cannot serve requests; remove the grant',
  ]);
  assert.match(
    loadError(setup({ a: { component: 'a.wasm', world: 'wasi:http/proxy', grants: { http: { routes: ['/x'] } } } })).message,
    /modules\.a\.grants\.http\.routes: the module listens on no address/,
  );
});

test('outgoing hosts use the same entries as outbound-http, with their reasons', () => {
  const e = loadError(setup({ a: { component: 'a.wasm', world: 'wasi:http/proxy' } }), '--a-http-allowed-host', 'example.com/path');
  assert.match(
    e.message,
    /modules\.a\.grants\.http\.allowedHosts\[0\]: allowed host "example\.com\/path": must not contain a path.*\(from --a-http-allowed-host\)/,
  );
});
