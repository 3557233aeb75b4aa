import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isLoopback, parseAdminAddress } from '../../../host/admin/address.ts';
import { parseCli } from '../../../host/config/cli.ts';
import { loadConfig } from '../../../host/config/load.ts';
import { HostError } from '../../../host/errors.ts';
import { tempDir } from '../../support/paths.ts';

test('admin addresses: ip:port, [ipv6]:port, port 0, or off; names and bad ports are refused', () => {
  assert.deepEqual(parseAdminAddress('127.0.0.1:9090'), { host: '127.0.0.1', port: 9090, text: '127.0.0.1:9090' });
  assert.deepEqual(parseAdminAddress('[::1]:0'), { host: '::1', port: 0, text: '[::1]:0' });
  assert.equal(parseAdminAddress('off'), undefined);
  assert.throws(() => parseAdminAddress('localhost:9090'), /"localhost" is not an IP address/);
  assert.throws(() => parseAdminAddress('127.0.0.1:70000'), /port must be 0-65535/);
  assert.throws(() => parseAdminAddress('::1:9090'), /is not an address|brackets/);
  assert.throws(() => parseAdminAddress('9090'), /is not an address/);
});

test('loopback: 127.0.0.0/8 and ::1 only', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopback(h), h);
  for (const h of ['0.0.0.0', '10.0.0.1', '::', '192.168.1.1', '::ffff:10.0.0.1']) assert.ok(!isLoopback(h), h);
});

function config(extra: Record<string, unknown>) {
  const dir = tempDir();
  writeFileSync(join(dir, 'a.wasm'), '');
  const file = join(dir, 'edgehost.json');
  writeFileSync(file, JSON.stringify({ ...extra, modules: { t: { component: 'a.wasm', world: 'telemetry' } } }));
  return file;
}

test('the admin config: defaults, flags over keys, and a non-loopback address only with a token file', () => {
  const file = config({});
  const defaults = loadConfig(parseCli(['--config', file]));
  assert.equal(defaults.admin.address, '127.0.0.1:9090');
  assert.equal(defaults.admin.tokenFile, undefined);
  assert.equal(defaults.admin.maxUploadMb, 64);
  assert.deepEqual({ concurrency: defaults.admin.run.concurrency, queue: defaults.admin.run.queue }, { concurrency: 4, queue: 16 });
  const flagged = loadConfig(parseCli(['--config', config({ admin: { address: '127.0.0.1:1' } }), '--admin-address', 'off']));
  assert.equal(flagged.admin.address, 'off');

  const refused = (args: string[]) => {
    try {
      loadConfig(parseCli(args));
    } catch (e) {
      assert.ok(e instanceof HostError);
      return e;
    }
    assert.fail('loaded');
  };
  const e = refused(['--config', file, '--admin-address', '0.0.0.0:9090']);
  assert.equal(e.code, 'EH_CONFIG_INVALID');
  assert.match(e.message, /admin\.address: 0\.0\.0\.0:9090 is not a loopback address \(from --admin-address\): .*Pass --admin-token-file <file>/);
  const bad = refused(['--config', file, '--admin-address', 'example.com:1']);
  assert.match(bad.message, /admin\.address: "example\.com:1": "example\.com" is not an IP address.* \(from --admin-address\)/);
  const withToken = loadConfig(parseCli(['--config', file, '--admin-address', '0.0.0.0:9090', '--admin-token-file', '/some/file']));
  assert.equal(withToken.admin.tokenFile, '/some/file');
});
