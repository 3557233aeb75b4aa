// A wasi:http/proxy guest written against standard WASI only, in plain JavaScript
// (test/fixtures/http-guests/hello, built by jco with both of its backends) and in C
// (test/fixtures/http-guests/hello-c), is a standard wasi:http/proxy component that jco
// transpiles and that answers a request through a host-side wasi:http implementation
// (./http-host.ts). See scripts/build-examples.ts for the builds.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { componentWit } from '@bytecodealliance/jco';
import { root, tempDir } from '../support/paths.ts';
import { freePort } from '../support/ports.ts';
import { IncomingRequest, instantiateHttpGuest } from './http-host.ts';

const builds = [
  { how: 'jco componentize (StarlingMonkey)', wasm: 'hello.sm.wasm' },
  { how: 'jco componentize --backend quickjs, relabelled back', wasm: 'hello.qjs.wasm' },
  { how: 'C with hand-written canonical ABI glue, jco embed + new', wasm: 'hello-c.wasm' },
];

before(() => {
  // Up to date when `npm test` ran it as pretest; a first StarlingMonkey build takes 10-25 s.
  const build = spawnSync(process.execPath, [join(root, 'scripts/build-examples.ts'), 'http-guests'], { cwd: root, encoding: 'utf8' });
  assert.equal(build.status, 0, `build-examples failed:\n${build.stdout}${build.stderr}`);
});

for (const { how, wasm } of builds) {
  const component = join(root, 'build/http-guests', wasm);

  test(`${how}: the component imports only standard wasi:* 0.2.12 interfaces and exports only wasi:http/incoming-handler@0.2.12`, async () => {
    const wit = await componentWit(readFileSync(component));
    const imports = [...wit.matchAll(/^\s*import ([^;]+);/gm)].map((m) => m[1]);
    const exports = [...wit.matchAll(/^\s*export ([^;]+);/gm)].map((m) => m[1]);
    assert.deepEqual(exports, ['wasi:http/incoming-handler@0.2.12']);
    assert.deepEqual(
      imports.filter((i) => !/^wasi:[a-z-]+\/[a-z-]+@0\.2\.12$/.test(i)),
      [],
    );
    assert.ok(imports.includes('wasi:http/types@0.2.12'), wit);
  });

  test(`${how}: handle answers 200 with a body naming the method and path, and echoes x-echo`, async () => {
    const guest = await instantiateHttpGuest(component);
    const out = await guest.handle(new IncomingRequest({ tag: 'post' }, '/status?verbose=1', [['x-echo', 'ping']]));
    assert.equal(out.sets, 1);
    assert.equal(out.result?.tag, 'ok');
    const response = out.result.val;
    const body = 'hello from a wasi:http/proxy component: POST /status?verbose=1\n';
    assert.equal(response.status, 200);
    assert.deepEqual(response.fields.text(), [
      ['content-type', 'text/plain; charset=utf-8'],
      ['content-length', String(body.length)],
      ['x-echo', 'ping'],
    ]);
    assert.equal(response.sentBody?.text(), body);
    assert.equal(response.sentBody?.finished, true);

    const other = await guest.handle(new IncomingRequest({ tag: 'other', val: 'PURGE' }, '/cache'));
    assert.equal(other.result?.tag === 'ok' && other.result.val.sentBody?.text(), 'hello from a wasi:http/proxy component: PURGE /cache\n');
  });
}

test('jco serve, a wasi:http host that is not edgehost, serves each build on a port', async () => {
  const jcoCli = join(root, 'node_modules/@bytecodealliance/jco/dist/jco.js');
  for (const { how, wasm } of builds) {
    const port = await freePort();
    const jcoDir = tempDir('edgehost-jco-serve-');
    // jco serve runs the server in a child process of its own: give both a process group to end together.
    const args = ['serve', join(root, 'build/http-guests', wasm), '--host', '127.0.0.1', '--port', String(port), '--jco-dir', jcoDir];
    const server = spawn(process.execPath, [jcoCli, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    server.stdout.on('data', (d: Buffer) => (output += d));
    server.stderr.on('data', (d: Buffer) => (output += d));
    try {
      const deadline = Date.now() + 60_000;
      while (!output.includes('Server listening')) {
        assert.ok(Date.now() < deadline && server.exitCode === null, `${how}: jco serve did not start:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const res = await fetch(`http://127.0.0.1:${port}/status?x=1`, { headers: { 'x-echo': 'hi' } });
      assert.equal(res.status, 200, how);
      assert.equal(res.headers.get('x-echo'), 'hi', how);
      assert.equal(await res.text(), 'hello from a wasi:http/proxy component: GET /status?x=1\n', how);
    } finally {
      if (server.pid) process.kill(-server.pid, 'SIGTERM');
      await new Promise((r) => (server.exitCode === null && server.signalCode === null ? server.once('exit', r) : r(undefined)));
      rmSync(jcoDir, { recursive: true, force: true });
    }
  }
});
