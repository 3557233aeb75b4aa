import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const root = new URL('../../', import.meta.url).pathname;
export const moduleWasm = (name: string) => join(root, 'build/modules', `${name}.wasm`);
export const testGuestWasm = (name: string) => join(root, 'build/test-guests', `${name}.wasm`);
/** A wasi:http/proxy test guest (test/fixtures/http-guests), as scripts/build-examples.ts names it: `hello.sm`, `hello.qjs`, `hello-c`. */
export const httpGuestWasm = (name: string) => join(root, 'build/http-guests', `${name}.wasm`);
export const testWit = join(root, 'test/fixtures/wit');
/** Shared by tests so each component is transpiled once per run, not once per test. */
export const testCacheDir = join(root, '.cache/transpile-test');

export function tempDir(prefix = 'edgehost-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
