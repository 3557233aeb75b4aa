// The admin API with no token, a wrong token of the same length, and tokens of
// other lengths: every endpoint answers 401 with a JSON error and nothing
// else, before reading the body, and nothing changes. GET /healthz, GET /readyz
// and the dashboard's files need no token. The token the host generated is in <data-dir>/admin-token, mode 0600,
// and the log says where. A non-loopback address needs a token file.
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { adminOf, filePart } from '../support/admin.ts';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { driver, telemetry } from '../support/modules.ts';
import { moduleWasm, root, tempDir } from '../support/paths.ts';

test('no token, a wrong token and a token of another length each get 401 and change nothing; /healthz, /readyz and the dashboard files need none', async () => {
  const config = writeConfig({ modules: { telemetry: telemetry() } });
  const host = new HostProcess(['--config', config]);
  try {
    const admin = await adminOf(host);
    assert.equal(admin.tokenFile, join(admin.dataDir, 'admin-token'));
    assert.equal(statSync(admin.tokenFile).mode & 0o777, 0o600);
    assert.ok(host.lines.some((l) => l.msg === `admin API token generated into ${admin.tokenFile} (mode 0600); clients read it from there`));

    const flip = (c: string) => (c === 'a' ? 'b' : 'a');
    const wrong: [string, Record<string, string>][] = [
      ['no Authorization header', {}],
      ['a wrong token of the same length', { authorization: `Bearer ${flip(admin.token[0])}${admin.token.slice(1)}` }],
      ['a shorter token', { authorization: `Bearer ${admin.token.slice(0, 8)}` }],
      ['a longer token', { authorization: `Bearer ${admin.token}x` }],
      ['an empty token', { authorization: 'Bearer ' }],
      ['the token under another scheme', { authorization: `Basic ${admin.token}` }],
    ];
    const deployForm = () => {
      const form = new FormData();
      filePart(form, 'component', moduleWasm('telemetry'));
      form.set('module', JSON.stringify({ world: 'telemetry', grants: { pubsub: { publish: ['x/#'] } } }));
      return form;
    };
    const calls: [string, string, () => FormData | undefined][] = [
      ['GET', '/v1/modules', () => undefined],
      ['GET', '/v1/modules/telemetry', () => undefined],
      ['PUT', '/v1/modules/intruder', deployForm],
      ['PUT', '/v1/modules/telemetry', deployForm],
      ['DELETE', '/v1/modules/telemetry', () => undefined],
      ['POST', '/v1/run', deployForm],
      ['GET', '/v1/no-such-endpoint', () => undefined],
      ['GET', '/metrics', () => undefined],
      ['GET', '/v1/events', () => undefined],
      ['GET', '/v1/bridges', () => undefined],
    ];
    for (const [what, headers] of wrong) {
      for (const [method, path, form] of calls) {
        const res = await fetch(`${admin.url}${path}`, { method, headers, body: form() });
        assert.equal(res.status, 401, `${what}: ${method} ${path}`);
        assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="edgehost"');
        assert.deepEqual(await res.json(), { code: 'EH_ADMIN_UNAUTHORIZED', message: 'missing or wrong bearer token' }, `${what}: ${method} ${path}`);
      }
    }

    const health = await fetch(`${admin.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const ready = await fetch(`${admin.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', modules: 1 });
    // The dashboard's files need no token: they are the files as shipped, with no data of the host in them; the page asks for the token.
    const files: [string, string][] = [
      ['/', 'host/admin/dashboard/index.html'],
      ['/dashboard/dashboard.js', 'host/admin/dashboard/dashboard.js'],
      ['/dashboard/dashboard.css', 'host/admin/dashboard/dashboard.css'],
      ['/dashboard/uPlot.iife.min.js', 'node_modules/uplot/dist/uPlot.iife.min.js'],
      ['/dashboard/uPlot.min.css', 'node_modules/uplot/dist/uPlot.min.css'],
    ];
    for (const [path, file] of files) {
      const res = await fetch(`${admin.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(await res.text(), readFileSync(join(root, file), 'utf8'), path);
    }

    const { json } = await admin.request<{ modules: { name: string; digest: string; state: string; source: string }[] }>('GET', '/v1/modules');
    assert.deepEqual(
      json.modules.map((m) => [m.name, m.state, m.source]),
      [['telemetry', 'ready', 'config']],
      'nothing was added, replaced or removed',
    );
    assert.ok(
      host.lines.some((l) => l.code === 'EH_ADMIN_UNAUTHORIZED' && l.level === 40),
      'refusals are logged (throttled)',
    );
  } finally {
    host.kill();
  }
});

test('a non-loopback admin address is refused without a token file, and served with one', async () => {
  const config = writeConfig({ modules: { idle: driver(['idle/#'], []) } });
  const refused = new HostProcess(['--config', config, '--admin-address', '0.0.0.0:0']);
  const { code } = await refused.exited;
  assert.equal(code, 1);
  assert.match(
    refused.stderr,
    /EH_CONFIG_INVALID: invalid config\n {2}.*: admin\.address: 0\.0\.0\.0:0 is not a loopback address \(from --admin-address\): the admin API deploys code, so listening there needs a token you chose\. Pass --admin-token-file <file> \(admin\.tokenFile\), or listen on 127\.0\.0\.1\n$/,
  );
  assert.ok(!refused.lines.some((l) => /ready$/.test(l.msg)), 'no module started');

  const tokenFile = join(tempDir(), 'token');
  writeFileSync(tokenFile, 'a-token-chosen-by-the-operator-0123456789\n', { mode: 0o600 });
  const host = new HostProcess(['--config', config, '--admin-address', '0.0.0.0:0', '--admin-token-file', tokenFile]);
  try {
    const admin = await adminOf(host);
    assert.match(admin.url, /^http:\/\/0\.0\.0\.0:\d+$/);
    assert.equal(admin.token, 'a-token-chosen-by-the-operator-0123456789');
    assert.equal((await admin.request('GET', '/v1/modules')).status, 200);
  } finally {
    host.kill();
  }
});
