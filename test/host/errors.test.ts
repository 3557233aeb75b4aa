import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { errorCodes } from '../../host/errors.ts';
import { root } from '../support/paths.ts';

test('every error code is documented in docs/errors.md', () => {
  const doc = readFileSync(`${root}docs/errors.md`, 'utf8');
  const missing = Object.keys(errorCodes).filter((code) => !doc.includes(`\`${code}\``));
  assert.deepEqual(missing, []);
});
