import assert from 'node:assert/strict';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { authorized, loadAdminToken } from '../../../host/admin/token.ts';
import type { HostError } from '../../../host/errors.ts';
import { tempDir } from '../../support/paths.ts';

test('without a token file, a token is generated into <data-dir>/admin-token with mode 0600, then reused', () => {
  const dataDir = tempDir();
  const first = loadAdminToken({ dataDir });
  assert.equal(first.file, join(dataDir, 'admin-token'));
  assert.equal(first.generated, true);
  assert.equal(statSync(first.file).mode & 0o777, 0o600);
  const token = readFileSync(first.file, 'utf8').trim();
  assert.match(token, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
  const second = loadAdminToken({ dataDir });
  assert.equal(second.generated, false);
  assert.ok(second.digest.equals(first.digest));
  assert.ok(authorized(`Bearer ${token}`, second));
});

test('only the exact token under the Bearer scheme is authorized, whatever the length of what is sent', () => {
  const dataDir = tempDir();
  const token = loadAdminToken({ dataDir });
  const text = readFileSync(token.file, 'utf8').trim();
  assert.ok(authorized(`Bearer ${text}`, token));
  assert.ok(authorized(`bearer ${text}`, token), 'the scheme is case-insensitive (RFC 7235)');
  for (const header of [
    undefined,
    '',
    'Bearer',
    'Bearer ',
    `Basic ${text}`,
    `Bearer ${text}x`,
    `Bearer ${text.slice(1)}`,
    `Bearer ${text.toUpperCase()}`,
    `Bearer ${text} extra`,
  ]) {
    assert.equal(authorized(header, token), false, String(header));
  }
});

test('a token file given explicitly is read; one too short or unreadable is a config error', () => {
  const dir = tempDir();
  const file = join(dir, 'token');
  writeFileSync(file, '  a-long-enough-token-1234  \n', { mode: 0o600 });
  const token = loadAdminToken({ tokenFile: file, dataDir: dir });
  assert.equal(token.generated, false);
  assert.equal(token.looseMode, undefined);
  assert.ok(authorized('Bearer a-long-enough-token-1234', token));

  writeFileSync(file, 'short\n');
  assert.throws(
    () => loadAdminToken({ tokenFile: file, dataDir: dir }),
    (e: HostError) => e.code === 'EH_CONFIG_INVALID' && /at least 16 characters/.test(e.message),
  );
  assert.throws(
    () => loadAdminToken({ tokenFile: join(dir, 'missing'), dataDir: dir }),
    (e: HostError) => e.code === 'EH_CONFIG_INVALID' && /ENOENT/.test(e.message),
  );

  writeFileSync(file, 'a-long-enough-token-1234\n');
  chmodSync(file, 0o644);
  assert.equal(loadAdminToken({ tokenFile: file, dataDir: dir }).looseMode, '644', 'a token others can read is reported');
});
