import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { confine, fsErrorCode, within } from '../../../../host/capabilities/filesystem/confine.ts';
import { Quota } from '../../../../host/capabilities/filesystem/quota.ts';
import { tempDir } from '../../../support/paths.ts';

function tree() {
  const base = realpathSync(tempDir());
  const root = join(base, 'mount');
  mkdirSync(join(root, 'sub'), { recursive: true });
  writeFileSync(join(root, 'a.txt'), 'a');
  writeFileSync(join(base, 'secret.txt'), 's');
  symlinkSync(join(base, 'secret.txt'), join(root, 'out'));
  symlinkSync('../a.txt', join(root, 'sub', 'up'));
  symlinkSync(base, join(root, 'outdir'));
  return { base, mount: { root, mode: 'rw' as const } };
}

const refused = (fn: () => unknown, code: string) => assert.throws(fn, (e: unknown) => e === code);

test('paths inside the mount resolve, with . and .. that stay inside', () => {
  const { mount } = tree();
  assert.equal(confine(mount, mount.root, 'a.txt', true), join(mount.root, 'a.txt'));
  assert.equal(confine(mount, mount.root, './sub/../a.txt', true), join(mount.root, 'a.txt'));
  assert.equal(confine(mount, join(mount.root, 'sub'), '../a.txt', true), join(mount.root, 'a.txt'));
  assert.equal(confine(mount, mount.root, 'new/file', true), join(mount.root, 'new', 'file'));
});

test('absolute paths and .. out of the mount are not permitted', () => {
  const { mount } = tree();
  refused(() => confine(mount, mount.root, '/etc/passwd', true), 'not-permitted');
  refused(() => confine(mount, mount.root, '..', true), 'not-permitted');
  refused(() => confine(mount, mount.root, 'sub/../../secret.txt', true), 'not-permitted');
});

test('a symlink out of the mount is not permitted, as the last component or on the way', () => {
  const { mount } = tree();
  refused(() => confine(mount, mount.root, 'out', true), 'not-permitted');
  refused(() => confine(mount, mount.root, 'outdir/secret.txt', true), 'not-permitted');
  // Not followed, the link itself is named (and opening it is refused elsewhere).
  assert.equal(confine(mount, mount.root, 'out', false), join(mount.root, 'out'));
  // A link that stays inside is followed.
  assert.equal(confine(mount, mount.root, 'sub/up', true), join(mount.root, 'a.txt'));
});

test('within compares whole path components', () => {
  assert.equal(within('/a/b', '/a/b'), true);
  assert.equal(within('/a/b', '/a/b/c'), true);
  assert.equal(within('/a/b', '/a/bc'), false);
  assert.equal(within('/a/b', '/a'), false);
});

test("node's errors become WASI error codes", () => {
  assert.equal(fsErrorCode(Object.assign(new Error('x'), { code: 'ENOENT' })), 'no-entry');
  assert.equal(fsErrorCode(Object.assign(new Error('x'), { code: 'ENOTEMPTY' })), 'not-empty');
  assert.equal(fsErrorCode('quota'), 'quota');
  assert.equal(fsErrorCode(new Error('odd')), 'io');
});

test('the quota counts what is already there, charges growth and gives back what is released', () => {
  const { mount } = tree();
  const quota = new Quota(10);
  quota.addRoot(mount.root);
  assert.equal(quota.used(), 1); // a.txt; links are not counted
  assert.equal(quota.charge(9), true);
  assert.equal(quota.charge(1), false);
  quota.release(4);
  assert.equal(quota.charge(4), true);
  assert.equal(quota.used(), 10);
});
