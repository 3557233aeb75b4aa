// Builds the C examples into standard wasi:cli/command components, from source.
//
//   node scripts/build-examples.ts [--force]
//
// Every examples/<name>/ that holds *.c files -> build/examples/<name>.wasm:
//   1. clang-14 --target=wasm32-wasi --sysroot=/usr (Debian's wasi-libc: headers in
//      /usr/include/wasm32-wasi, libraries in /usr/lib/wasm32-wasi) -> a core module with
//      preview1 (wasi_snapshot_preview1) imports;
//   2. if examples/<name>/wit/ exists, `jco embed` its one world into the core module: the
//      WASI 0.2 interfaces the program imports itself (hello-c: wasi:cli/exit#exit-with-code),
//      with jco's builtin WASI WIT as deps;
//   3. `jco new --wasi-command`: jco's preview1 command adapter turns it into a component that
//      exports wasi:cli/run and imports only standard WASI interfaces.
// Steps 2 and 3 use jco's API in this process (componentEmbed, componentNew).
//
// A component is rebuilt only when its fingerprint (sha256 of the sources, the flags, the
// compiler, wasi-libc, jco and its adapter), stored in <name>.wasm.sha256, has changed.
// Needs the Debian packages clang-14, lld-14, wasi-libc and libclang-rt-14-dev-wasm32; says
// which one is missing.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const force = args.includes('--force');
for (const a of args) {
  if (a !== '--force') {
    console.error(`unknown argument ${a}\nusage: node scripts/build-examples.ts [--force]`);
    process.exit(2);
  }
}

const examplesDir = join(root, 'examples');
const outDir = join(root, 'build', 'examples');
const jcoDir = join(root, 'node_modules', '@bytecodealliance', 'jco');
/** The WASI version jco 1.35's preview1 adapter imports; an example's world must name the same. */
const WASI_VERSION = '0.2.12';
const wasiWitDir = join(jcoDir, 'lib', 'wit', 'builtin', WASI_VERSION);

const CLANG = 'clang-14';
const SYSROOT = '/usr';
const CFLAGS = [
  '--target=wasm32-wasi',
  `--sysroot=${SYSROOT}`,
  '-O2',
  '-Wall',
  '-Wextra',
  // Debian's libc.a carries DWARF (it would triple a small program); the name section stays,
  // so a trap still names the function.
  '-Wl,--strip-debug',
];

// ---------------------------------------------------------------------------------------------
// the toolchain: present, or say which Debian package to install

class MissingTool extends Error {}

function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

/**
 * PATH for clang without folders that hold a `wasm-opt`: clang 14 runs `wasm-opt` after linking
 * whenever it finds one on PATH (there is no flag to stop it), and `npm test` puts binaryen's in
 * node_modules/.bin. It strips the name section and changes the code, so the same sources would
 * give different components from `npm test` and from a shell.
 */
const clangPath = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((dir) => dir && !existsSync(join(dir, 'wasm-opt')))
  .join(delimiter);

function run(cmd: string, cmdArgs: string[]): { ok: boolean; output: string } {
  const r = spawnSync(cmd, cmdArgs, { encoding: 'utf8', env: { ...process.env, PATH: clangPath } });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`.trim() };
}

/** Checks the C toolchain; returns what identifies it for the fingerprint. */
function checkToolchain(): string {
  const install = (pkg: string, what: string) => new MissingTool(`${what}: install the Debian package ${pkg} (apt-get install ${pkg})`);
  const clang = which(CLANG);
  if (!clang) throw install('clang-14', `${CLANG} is not on PATH`);
  const version = run(clang, ['--version']);
  if (!version.ok) throw new Error(`${CLANG} --version failed: ${version.output}`);
  // clang-14 runs wasm-ld-14 from PATH, or wasm-ld from its own folder (/usr/lib/llvm-14/bin).
  if (!which('wasm-ld-14') && !existsSync(join(dirname(realpathSync(clang)), 'wasm-ld')))
    throw install('lld-14', 'the WebAssembly linker wasm-ld-14 is missing');
  const libc = join(SYSROOT, 'lib', 'wasm32-wasi', 'libc.a');
  const headers = join(SYSROOT, 'include', 'wasm32-wasi', 'stdio.h');
  if (!existsSync(libc) || !existsSync(headers)) throw install('wasi-libc', `wasi-libc is missing (${libc}, ${headers})`);
  const builtins = run(clang, ['--target=wasm32-wasi', `--sysroot=${SYSROOT}`, '-print-libgcc-file-name']).output;
  if (!existsSync(builtins)) throw install('libclang-rt-14-dev-wasm32', `the wasm32 compiler runtime is missing (${builtins})`);
  if (!existsSync(wasiWitDir)) throw new Error(`WASI ${WASI_VERSION} WIT not found at ${relative(root, wasiWitDir)} (jco layout changed?)`);
  return [version.output.split('\n')[0], `wasi-libc ${sha256(readFileSync(libc))}`, `builtins ${sha256(readFileSync(builtins))}`].join('\n');
}

// ---------------------------------------------------------------------------------------------
// helpers

const sha256 = (...parts: (string | Uint8Array)[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
};

function listFiles(dir: string, base = dir): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p, base));
    else if (e.isFile()) out.push(relative(base, p));
  }
  return out.sort();
}

/** Write via a temporary file and rename, so readers (a test running meanwhile) never see a partial file. */
function writeAtomic(path: string, bytes: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** The one world declared in `dir`/*.wit. */
function worldName(dir: string): string {
  const names = listFiles(dir)
    .filter((f) => f.endsWith('.wit') && !f.includes('/'))
    .flatMap((f) =>
      [
        ...readFileSync(join(dir, f), 'utf8')
          .replace(/\/\/.*$/gm, '')
          .matchAll(/\bworld\s+([\w-]+)\s*\{/g),
      ].map((m) => m[1]),
    );
  if (names.length !== 1) throw new Error(`${relative(root, dir)} must declare exactly one world, found ${names.length ? names.join(', ') : 'none'}`);
  return names[0];
}

/** build/examples/<name>/wit: the example's own WIT plus jco's WASI WIT as deps/. */
function assembleWit(name: string, witDir: string): string {
  const dir = join(outDir, name, 'wit');
  rmSync(dir, { recursive: true, force: true });
  for (const f of listFiles(witDir)) writeAtomic(join(dir, f), readFileSync(join(witDir, f)));
  for (const f of listFiles(wasiWitDir)) writeAtomic(join(dir, 'deps', f), readFileSync(join(wasiWitDir, f)));
  return dir;
}

// ---------------------------------------------------------------------------------------------

interface Example {
  name: string;
  dir: string;
  sources: string[];
  witDir?: string;
}

function discover(): Example[] {
  if (!existsSync(examplesDir)) return [];
  const found: Example[] = [];
  for (const name of readdirSync(examplesDir).sort()) {
    const dir = join(examplesDir, name);
    if (name.startsWith('.') || !statSync(dir).isDirectory()) continue;
    const sources = readdirSync(dir)
      .filter((f) => f.endsWith('.c'))
      .sort()
      .map((f) => join(dir, f));
    if (sources.length === 0) continue;
    const witDir = join(dir, 'wit');
    found.push({ name, dir, sources, witDir: existsSync(witDir) ? witDir : undefined });
  }
  return found;
}

type Jco = typeof import('@bytecodealliance/jco');
let jcoApi: Promise<Jco> | undefined;
const loadJco = () => (jcoApi ??= import('@bytecodealliance/jco'));

async function buildExample(ex: Example, toolchain: string, jcoIdentity: string): Promise<'built' | 'up to date'> {
  const wasmPath = join(outDir, `${ex.name}.wasm`);
  const fingerprintPath = `${wasmPath}.sha256`;
  const inputs = [...listFiles(ex.dir).filter((f) => /\.(c|h)$/.test(f) || f.startsWith('wit/'))];
  const fingerprint = sha256('edgehost C example v2', toolchain, jcoIdentity, CFLAGS.join(' '), ...inputs.flatMap((f) => [f, readFileSync(join(ex.dir, f))]));
  if (!force && existsSync(wasmPath) && readText(fingerprintPath)?.trim() === fingerprint) return 'up to date';

  const corePath = join(outDir, ex.name, 'core.wasm');
  mkdirSync(dirname(corePath), { recursive: true });
  const cc = run(CLANG, [...CFLAGS, ...ex.sources, '-o', corePath]);
  if (!cc.ok) throw new Error(`${CLANG} failed:\n${cc.output}`);
  if (cc.output) console.log(cc.output); // warnings

  const jco = await loadJco();
  let core: Uint8Array = readFileSync(corePath);
  if (ex.witDir) {
    const witPath = assembleWit(ex.name, ex.witDir);
    core = await jco.componentEmbed({ binary: core, witPath, world: worldName(ex.witDir) });
  }
  const adapter = readFileSync(jco.preview1AdapterCommandPath());
  const component = await jco.componentNew(core, [['wasi_snapshot_preview1', adapter]]);
  writeAtomic(wasmPath, component);
  writeAtomic(fingerprintPath, `${fingerprint}\n`);
  return 'built';
}

async function main(): Promise<number> {
  const started = performance.now();
  const examples = discover();
  if (examples.length === 0) {
    console.log('no C examples found under examples/');
    return 0;
  }
  let toolchain: string;
  try {
    toolchain = checkToolchain();
  } catch (e) {
    console.error(`cannot build the C examples (${examples.map((x) => x.name).join(', ')}): ${errorText(e)}`);
    return 1;
  }
  const jcoVersion = (JSON.parse(readFileSync(join(jcoDir, 'package.json'), 'utf8')) as { version: string }).version;
  const adapterPath = join(jcoDir, 'lib', 'wasi_snapshot_preview1.command.wasm');
  const jcoIdentity = `jco ${jcoVersion}\n${existsSync(adapterPath) ? sha256(readFileSync(adapterPath)) : 'adapter?'}\n${sha256(...listFiles(wasiWitDir).map((f) => readFileSync(join(wasiWitDir, f))))}`;

  let failed = 0;
  for (const ex of examples) {
    const t0 = performance.now();
    try {
      const status = await buildExample(ex, toolchain, jcoIdentity);
      const size = statSync(join(outDir, `${ex.name}.wasm`)).size;
      console.log(
        status === 'built'
          ? `built examples/${ex.name} in ${((performance.now() - t0) / 1000).toFixed(1)} s (${size} bytes)`
          : `examples/${ex.name} is up to date`,
      );
    } catch (e) {
      failed++;
      console.error(`FAILED examples/${ex.name}: ${errorText(e)}`);
    }
  }
  console.log(`examples: ${examples.length - failed} ok, ${failed} failed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return failed ? 1 : 0;
}

process.exitCode = await main().catch((e) => {
  console.error(`build failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  return 1;
});
