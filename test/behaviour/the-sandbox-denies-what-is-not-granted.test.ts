// A test guest built from source tries, case by case, to reach what no module
// is granted; each case asserts the refusal the guest itself observed, and that
// the host and the other modules kept working.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { driver, gateway, telemetry, testGuest } from '../support/modules.ts';
import { freePort } from '../support/ports.ts';

interface ProbeResult {
  case: string;
  outcome: string;
  detail: unknown;
}

const cases = ['fs-read', 'env', 'tcp', 'http', 'outbound-http', 'listen', 'publish-denied'];
let host: HostProcess;
let results: HttpSink;
let uplink: HttpSink;
let listenPort: number;
let httpTarget: HttpSink;

before(async () => {
  results = await new HttpSink().listen();
  uplink = await new HttpSink().listen();
  httpTarget = await new HttpSink().listen();
  listenPort = await freePort();
  const config = writeConfig({
    modules: {
      probe: testGuest('probe', 'probe', {
        grants: { pubsub: { subscribe: ['probe/run'], publish: ['probe/result'] } },
        subscriptions: ['probe/run'],
        config: { 'tcp-target': `127.0.0.1:${httpTarget.port}`, 'http-target': httpTarget.url, 'listen-address': `127.0.0.1:${listenPort}` },
      }),
      driver: driver(
        ['probe/run'],
        [...cases, 'exit'].map((c, i) => ({ topic: 'probe/run', payload: c, 'at-ms': 200 + i * 100 })),
      ),
      results: gateway(results.url, 'probe/result'),
      telemetry: telemetry(),
      uplink: gateway(uplink.url, 'telemetry/#'),
    },
  });
  // The host has this variable; the probe must not see it.
  host = new HostProcess(['--config', config], { EDGEHOST_PROBE_SECRET: 'hunter2' });
  await host.ready(['probe', 'driver', 'results', 'telemetry', 'uplink']);
  await results.waitFor(() => results.items<ProbeResult>().filter((r) => r.case === 'exit').length > 0, 30_000, 'all probe results');
});

after(async () => {
  host?.kill();
  await Promise.all([results?.close(), uplink?.close(), httpTarget?.close()]);
});

function result(name: string): ProbeResult {
  const r = results.items<ProbeResult>().find((x) => x.case === name);
  assert.ok(r, `no result for case ${name}; got ${JSON.stringify(results.items())}`);
  return r;
}

test('reading /etc/hostname through wasi:filesystem finds no preopened directory', () => {
  assert.deepEqual(result('fs-read'), { case: 'fs-read', outcome: 'denied', detail: 'no preopened directories' });
});

test('the environment is empty: a variable the host process has is not visible', () => {
  assert.deepEqual(result('env'), { case: 'env', outcome: 'denied', detail: [] });
});

test('creating a TCP socket through wasi:sockets is refused with access-denied', () => {
  assert.deepEqual(result('tcp'), { case: 'tcp', outcome: 'denied', detail: 'access-denied' });
});

test('a wasi:http request is refused with HTTP-request-denied and reaches no server', () => {
  assert.deepEqual(result('http'), { case: 'http', outcome: 'denied', detail: 'HTTP-request-denied' });
  assert.equal(httpTarget.requests.length, 0);
});

test('outbound-http without a grant returns denied, sends nothing, and logs one warning naming what would allow it', () => {
  const r = result('outbound-http');
  assert.equal(r.outcome, 'denied');
  assert.match(String(r.detail), new RegExp(`^denied: outbound-http: http://127\\.0\\.0\\.1:${httpTarget.port} is not granted to module "probe"`));
  assert.equal(httpTarget.requests.length, 0);
  const warnings = host.lines.filter((l) => l.code === 'EH_DENIED' && l.capability === 'outbound-http');
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0].module, 'probe');
  assert.equal(warnings[0].level, 40);
  assert.equal(warnings[0].target, `http://127.0.0.1:${httpTarget.port}`);
  assert.match(String(warnings[0].allowWith), /modules\.probe\.grants\.outboundHttp\.allowedHosts/);
});

test('socket listen without a grant returns denied and binds nothing', async () => {
  const r = result('listen');
  assert.equal(r.outcome, 'denied');
  assert.match(String(r.detail), new RegExp(`^denied: socket: listen 127\\.0\\.0\\.1:${listenPort} is not granted to module "probe"`));
  const warning = host.lines.find((l) => l.code === 'EH_DENIED' && l.capability === 'socket');
  assert.match(String(warning?.allowWith), /modules\.probe\.grants\.socket\.listen/);
  // Nothing listens there: the port is still free to take.
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(listenPort, '127.0.0.1', resolve));
  server.close();
});

test('publishing outside the publish grant returns denied', () => {
  assert.equal(result('publish-denied').outcome, 'denied');
});

test('wasi:cli/exit ends only that module: it is logged and restarted while the others keep running', async () => {
  assert.equal(result('exit').outcome, 'calling');
  const exit = await host.waitForLog((l) => l.code === 'EH_MODULE_EXIT', 10_000, 'module exit');
  assert.equal(exit.module, 'probe');
  await host.waitForLog((l) => l.msg === 'module probe ready' && Number(l.restarts) >= 1, 10_000, 'probe restarted');
  // The host process is alive and telemetry still flows to the uplink after the exit.
  const before = uplink.items().length;
  await uplink.waitFor(() => uplink.items().length >= before + 4, 10_000, 'telemetry after the exit');
  assert.equal(host.child.exitCode, null);
});
