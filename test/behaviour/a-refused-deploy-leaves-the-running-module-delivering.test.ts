// Deploys the host must refuse (PUT /v1/modules/gateway over HTTP while
// telemetry flows to a sink through the gateway): a component of another
// world, a component importing a capability its entry grants nothing of (the
// link-time gate), an invalid entry, a replacement whose init fails, and a
// malformed request. Each is answered with the config loader's error text and
// code; the running gateway is never touched and keeps delivering, and
// nothing is recorded or kept on disk for them.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { adminOf, entryOf } from '../support/admin.ts';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { HttpSink } from '../support/http-sink.ts';
import { gateway, telemetry } from '../support/modules.ts';
import { moduleWasm } from '../support/paths.ts';

interface Info {
  digest: string;
  state: string;
  restarts: number;
  source: string;
}

test('a refused deploy answers the loader error and leaves the running gateway delivering', async (t) => {
  const sink = await new HttpSink().listen();
  const gw = gateway(sink.url);
  const host = new HostProcess(['--config', writeConfig({ modules: { telemetry: telemetry({ 'interval-ms': 20 }), gateway: gw } })]);
  try {
    const admin = await adminOf(host);
    await sink.waitFor(() => sink.items().length >= 10, 20_000, 'telemetry flowing');
    const gatewayInfo = async () => (await admin.request<{ module: Info }>('GET', '/v1/modules/gateway')).json.module;
    const before = await gatewayInfo();
    const entry = entryOf(gw);

    // One at a time: each is refused on its own merits, not for being concurrent with another.
    const refusals: [what: string, answer: () => Promise<{ status: number; json: Record<string, unknown> }>, status: number, code: string, message: RegExp][] =
      [
        [
          'a component of another world',
          () => admin.deploy('gateway', moduleWasm('server'), entry),
          422,
          'EH_WORLD_MISMATCH',
          /^modules\.gateway: component .*\/components\/[0-9a-f]{64}\.wasm does not target world "gateway": it imports edgehost:platform\/socket, which world "gateway" does not provide; it exports edgehost:platform\/socket-handler, which world "gateway" does not have\. It targets world "server"/,
        ],
        [
          'an import outside the grants',
          () => admin.deploy('gateway', moduleWasm('gateway'), { ...entry, grants: { ...(entry.grants as object), outboundHttp: { allowedHosts: [] } } }),
          422,
          'EH_IMPORT_NOT_GRANTED',
          /^component not linked\n {2}modules\.gateway\.grants\.outboundHttp: the component imports edgehost:platform\/outbound-http, but the entry grants nothing of it, so every call would be denied; set grants\.outboundHttp\.allowedHosts, or deploy a component that does not import it$/,
        ],
        [
          'an unknown key',
          () => admin.deploy('gateway', moduleWasm('gateway'), { ...entry, colour: 'red' }),
          422,
          'EH_CONFIG_INVALID',
          /^invalid module\n {2}modules\.gateway: unknown key "colour": remove it or fix the spelling$/,
        ],
        [
          'a bad allowed host',
          () =>
            admin.deploy('gateway', moduleWasm('gateway'), {
              ...entry,
              grants: { ...(entry.grants as object), outboundHttp: { allowedHosts: ['http://host/path'] } },
            }),
          422,
          'EH_CONFIG_INVALID',
          /^invalid module\n {2}modules\.gateway\.grants\.outboundHttp\.allowedHosts\[0\]: /,
        ],
        [
          'a replacement whose init fails',
          () => admin.deploy('gateway', moduleWasm('gateway'), { ...entry, config: { ...(entry.config as object), url: 'not a url' } }),
          422,
          'EH_DEPLOY_FAILED',
          /^module gateway: the new component did not start: config "url": expected an absolute http:\/\/ or https:\/\/ URL, found "not a url"\. The previous component runs again\.$/,
        ],
        [
          'a body that is not multipart',
          () => admin.request('PUT', '/v1/modules/gateway', { headers: { 'content-type': 'application/json' } }),
          400,
          'EH_ADMIN_REQUEST',
          /^expected a multipart\/form-data body \(got "application\/json"\), e\.g\. curl -X PUT/,
        ],
      ];
    for (const [what, answer, status, code, message] of refusals) {
      const { status: got, json } = await answer();
      assert.equal(got, status, `${what}: ${JSON.stringify(json)}`);
      assert.equal(json.code, code, what);
      assert.match(String(json.message), message, what);
      t.diagnostic(`${what}: ${got} ${json.code}`);
    }

    // The same component and entry from a config file fail with the same text (the loader's).
    const loaderText = await new Promise<string>((resolve) => {
      const bad = new HostProcess(['--config', writeConfig({ modules: { gateway: { ...gw, colour: 'red' } } })]);
      void bad.exited.then(() => resolve(bad.stderr));
    });
    assert.match(loaderText, /modules\.gateway: unknown key "colour": remove it or fix the spelling\n$/);

    const after = await gatewayInfo();
    assert.equal(after.digest, before.digest);
    assert.equal(after.source, 'config');
    assert.equal(after.state, 'ready');
    const n = sink.items().length;
    await sink.waitFor(() => sink.items().length >= n + 20, 20_000, 'telemetry still flowing after the refusals');
    assert.deepEqual(readdirSync(join(admin.dataDir, 'components')), [], 'no refused component kept');
    assert.ok(!readdirSync(admin.dataDir).includes('deployments.json'), 'nothing recorded');
  } finally {
    host.kill();
    await sink.close();
  }
});
