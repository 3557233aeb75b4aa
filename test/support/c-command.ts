// Builds examples/c-command (a C program) into a wasi:cli/command component
// with Debian's clang-14 + wasi-libc and jco's preview1 command adapter, the
// two steps of examples/c-command/README.md. Rebuilt only when main.c or the
// tools changed; safe to call from several test files at once.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { root } from './paths.ts';

const source = join(root, 'examples/c-command/main.c');
const outDir = join(root, 'build/examples');
export const cCommandWasm = join(outDir, 'c-command.wasm');
const jco = join(root, 'node_modules/@bytecodealliance/jco/dist/jco.js');

export function buildCCommand(): string {
  const clangVersion = execFileSync('clang-14', ['--version'], { encoding: 'utf8' }).split('\n')[0];
  const fingerprint = createHash('sha256').update(readFileSync(source)).update(clangVersion).update(readFileSync(jco)).digest('hex');
  const stamp = `${cCommandWasm}.sha256`;
  if (existsSync(cCommandWasm) && existsSync(stamp) && readFileSync(stamp, 'utf8') === fingerprint) return cCommandWasm;
  mkdirSync(outDir, { recursive: true });
  const tmp = join(outDir, `c-command.${process.pid}.tmp`);
  mkdirSync(tmp, { recursive: true });
  try {
    // clang runs wasm-opt after linking when one is on PATH (npm puts binaryen's there): keep the bytes the same either way.
    const path = (process.env.PATH ?? '')
      .split(delimiter)
      .filter((p) => !p.includes('node_modules'))
      .join(delimiter);
    execFileSync('clang-14', ['--target=wasm32-wasi', '--sysroot=/usr', '-O2', '-Wall', '-Wextra', '-Wl,--strip-debug', source, '-o', join(tmp, 'core.wasm')], {
      env: { ...process.env, PATH: path },
      stdio: 'pipe',
    });
    execFileSync(process.execPath, [jco, 'new', join(tmp, 'core.wasm'), '--wasi-command', '-o', join(tmp, 'c-command.wasm')], { stdio: 'pipe' });
    renameSync(join(tmp, 'c-command.wasm'), cCommandWasm);
    writeFileSync(stamp, fingerprint);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return cCommandWasm;
}
