import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { findAdmin } from '../../../host/cli/client.ts';
import type { HostError } from '../../../host/errors.ts';
import { tempDir } from '../../support/paths.ts';

/** A host's data dir as the host leaves it: its address and its generated token. */
function dataDir(address = '127.0.0.1:4444', token = 'token-from-the-data-dir') {
  const dir = tempDir();
  writeFileSync(join(dir, 'admin-address'), `${address}\n`);
  writeFileSync(join(dir, 'admin-token'), `${token}\n`);
  return dir;
}

test('the data dir gives the address the host recorded and its token', () => {
  const admin = findAdmin({ 'data-dir': dataDir() }, {});
  assert.deepEqual(admin, { base: 'http://127.0.0.1:4444', token: 'token-from-the-data-dir', addressFrom: admin.addressFrom });
  assert.match(admin.addressFrom, /admin-address$/);
});

test('flags come before environment variables, which come before the data dir', () => {
  const dir = dataDir();
  const tokenFile = join(tempDir(), 'token');
  writeFileSync(tokenFile, 'token-from-a-file\n');
  const env = { EDGEHOST_ADMIN_ADDRESS: '127.0.0.1:5555', EDGEHOST_DATA_DIR: dir };
  assert.deepEqual(findAdmin({}, env), { base: 'http://127.0.0.1:5555', token: 'token-from-the-data-dir', addressFrom: 'EDGEHOST_ADMIN_ADDRESS' });
  assert.deepEqual(findAdmin({ 'admin-address': '127.0.0.1:6666', 'admin-token-file': tokenFile }, env), {
    base: 'http://127.0.0.1:6666',
    token: 'token-from-a-file',
    addressFrom: '--admin-address',
  });
  assert.equal(findAdmin({}, { ...env, EDGEHOST_ADMIN_TOKEN: 'token-from-env' }).token, 'token-from-env');
  assert.equal(findAdmin({}, { ...env, EDGEHOST_ADMIN_TOKEN_FILE: tokenFile }).token, 'token-from-a-file');
});

test('the config file gives the data dir and the admin address when nothing else does', () => {
  const dir = tempDir();
  const data = join(dir, 'state');
  mkdirSync(data);
  writeFileSync(join(data, 'admin-token'), 'token-in-config-data-dir\n');
  const config = join(dir, 'edgehost.json');
  writeFileSync(config, JSON.stringify({ dataDir: data, admin: { address: '127.0.0.1:7777' }, modules: {} }));
  assert.deepEqual(findAdmin({ config }, {}), { base: 'http://127.0.0.1:7777', token: 'token-in-config-data-dir', addressFrom: 'admin.address of the config' });
});

test('no token anywhere, or an admin API that is off, is said plainly', () => {
  const empty = tempDir();
  assert.throws(
    () => findAdmin({ 'data-dir': empty, config: join(empty, 'none.json') }, {}),
    (e: HostError) => e.code === 'EH_ADMIN_UNAUTHORIZED' && e.message.startsWith(`no admin token: cannot read ${join(empty, 'admin-token')}`),
  );
  assert.throws(
    () => findAdmin({ 'admin-address': 'off', 'data-dir': empty }, {}),
    (e: HostError) => e.code === 'EH_ADMIN_UNREACHABLE' && /off/.test(e.message),
  );
});
