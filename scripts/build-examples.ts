// Builds the examples and the wasi:http guest fixtures into components, from source.
//
//   node scripts/build-examples.ts [--force] [examples|http-guests]...   (default: both)
//
// C examples: every examples/<name>/ that holds *.c files -> build/examples/<name>.wasm:
//   1. clang-14 --target=wasm32-wasi --sysroot=/usr (Debian's wasi-libc: headers in
//      /usr/include/wasm32-wasi, libraries in /usr/lib/wasm32-wasi) -> a core module with
//      preview1 (wasi_snapshot_preview1) imports;
//   2. if examples/<name>/wit/ exists, `jco embed` its one world into the core module: the
//      WASI 0.2 interfaces the program imports itself (hello-c: wasi:cli/exit#exit-with-code),
//      with jco's builtin WASI WIT as deps;
//   3. `jco new --wasi-command`: jco's preview1 command adapter turns it into a component that
//      exports wasi:cli/run and imports only standard WASI interfaces.
// Steps 2 and 3 use jco's API in this process (componentEmbed, componentNew).
// Needs the Debian packages clang-14, lld-14, wasi-libc and libclang-rt-14-dev-wasm32; says
// which one is missing.
//
// wasi:http guests: every test/fixtures/http-guests/<name>/ with wit/ (one world, jco's WASI WIT
// added as deps) and either
//   index.js -> two wasi:http/proxy components from the same source:
//     build/http-guests/<name>.sm.wasm   `jco componentize` (StarlingMonkey, jco's default), as is;
//     build/http-guests/<name>.qjs.wasm  `jco componentize --backend quickjs --backend-qjs-disable-async`
//        from relabelled WIT, then relabelled back (see standardWasiNames for why and how);
//   *.c -> build/http-guests/<name>.wasm: clang-14 -mexec-model=reactor, `jco embed`, `jco new`
//     (the canonical ABI glue is in the C source).
//
// A component is rebuilt only when its fingerprint (sha256 of the sources, the flags and the
// tools), stored in <component>.wasm.sha256, has changed.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { listFiles, sha256, writeAtomic } from './files.ts';
import { RELABEL_SUFFIX, relabel, standardWasiNames, WASI_VERSION } from './wasi-relabel.ts';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const force = args.includes('--force');
const PARTS = ['examples', 'http-guests'] as const;
/** What to build: the parts named on the command line, or all of them. */
const requested = new Set(args.filter((a) => a !== '--force'));
for (const a of requested) {
  if (!(PARTS as readonly string[]).includes(a)) {
    console.error(`unknown argument ${a}\nusage: node scripts/build-examples.ts [--force] [${PARTS.join('|')}]...`);
    process.exit(2);
  }
}
const wanted = (part: (typeof PARTS)[number]) => requested.size === 0 || requested.has(part);

const examplesDir = join(root, 'examples');
const outDir = join(root, 'build', 'examples');
const httpGuestsDir = join(root, 'test', 'fixtures', 'http-guests');
const httpOutDir = join(root, 'build', 'http-guests');
const jcoDir = join(root, 'node_modules', '@bytecodealliance', 'jco');
const jcoCli = join(jcoDir, 'dist', 'jco.js');
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

/**
 * `dir` := the WIT in `witDir` plus jco's WASI WIT as deps/. Relabelled (see RELABEL_SUFFIX):
 * the own WIT names the relabelled wasi:io and wasi:http, which are added beside the real ones.
 */
function assembleWit(dir: string, witDir: string, relabelled = false): string {
  rmSync(dir, { recursive: true, force: true });
  const own = (text: string) => (relabelled ? relabel(text) : text);
  for (const f of listFiles(witDir)) writeAtomic(join(dir, f), own(readFileSync(join(witDir, f), 'utf8')));
  for (const f of listFiles(wasiWitDir)) writeAtomic(join(dir, 'deps', f), readFileSync(join(wasiWitDir, f)));
  if (relabelled) {
    for (const pkg of ['wasi-io', 'wasi-http']) {
      for (const f of listFiles(join(wasiWitDir, pkg))) {
        writeAtomic(join(dir, 'deps', `${pkg}${RELABEL_SUFFIX}`, f), relabel(readFileSync(join(wasiWitDir, pkg, f), 'utf8')));
      }
    }
  }
  return dir;
}

// ---------------------------------------------------------------------------------------------

/** A C program and where its component goes. */
interface CProgram {
  label: string;
  dir: string;
  sources: string[];
  witDir?: string;
  /** `command`: a wasi:cli/command (main); `reactor`: exports what its world says (no main). */
  model: 'command' | 'reactor';
  wasmPath: string;
  /** Intermediate files: core.wasm, the assembled wit/. */
  workDir: string;
}

const cSources = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.c'))
    .sort()
    .map((f) => join(dir, f));

function discover(): CProgram[] {
  if (!existsSync(examplesDir)) return [];
  const found: CProgram[] = [];
  for (const name of readdirSync(examplesDir).sort()) {
    const dir = join(examplesDir, name);
    if (name.startsWith('.') || !statSync(dir).isDirectory()) continue;
    const sources = cSources(dir);
    if (sources.length === 0) continue;
    const witDir = join(dir, 'wit');
    found.push({
      label: `examples/${name}`,
      dir,
      sources,
      witDir: existsSync(witDir) ? witDir : undefined,
      model: 'command',
      wasmPath: join(outDir, `${name}.wasm`),
      workDir: join(outDir, name),
    });
  }
  return found;
}

type Jco = typeof import('@bytecodealliance/jco');
let jcoApi: Promise<Jco> | undefined;
const loadJco = () => (jcoApi ??= import('@bytecodealliance/jco'));

async function buildC(p: CProgram, toolchain: string, jcoIdentity: string): Promise<'built' | 'up to date'> {
  const flags = p.model === 'reactor' ? [...CFLAGS, '-mexec-model=reactor'] : CFLAGS;
  const fingerprintPath = `${p.wasmPath}.sha256`;
  const inputs = listFiles(p.dir).filter((f) => /\.(c|h)$/.test(f) || f.startsWith('wit/'));
  const fingerprint = sha256('edgehost C program v2', toolchain, jcoIdentity, flags.join(' '), ...inputs.flatMap((f) => [f, readFileSync(join(p.dir, f))]));
  if (!force && existsSync(p.wasmPath) && readText(fingerprintPath)?.trim() === fingerprint) return 'up to date';

  const corePath = join(p.workDir, 'core.wasm');
  mkdirSync(p.workDir, { recursive: true });
  const cc = run(CLANG, [...flags, ...p.sources, '-o', corePath]);
  if (!cc.ok) throw new Error(`${CLANG} failed:\n${cc.output}`);
  if (cc.output) console.log(cc.output); // warnings

  const jco = await loadJco();
  let core: Uint8Array = readFileSync(corePath);
  if (p.witDir) {
    const witPath = assembleWit(join(p.workDir, 'wit'), p.witDir);
    core = await jco.componentEmbed({ binary: core, witPath, world: worldName(p.witDir) });
  }
  // The preview1 adapter is used only if the core module imports wasi_snapshot_preview1
  // (wasi-libc's I/O); a reactor that calls WASI 0.2 directly gets none.
  const adapter = readFileSync(p.model === 'command' ? jco.preview1AdapterCommandPath() : jco.preview1AdapterReactorPath());
  const component = await jco.componentNew(core, [['wasi_snapshot_preview1', adapter]]);
  writeAtomic(p.wasmPath, component);
  writeAtomic(fingerprintPath, `${fingerprint}\n`);
  return 'built';
}

// ---------------------------------------------------------------------------------------------
// wasi:http guests

interface HttpGuest {
  name: string;
  dir: string;
  entry: string;
  witDir: string;
}

/** test/fixtures/http-guests/<name>/: JavaScript (index.js) or C (*.c, built as a reactor). */
function discoverHttpGuests(): { js: HttpGuest[]; c: CProgram[] } {
  const js: HttpGuest[] = [];
  const c: CProgram[] = [];
  if (!existsSync(httpGuestsDir)) return { js, c };
  for (const name of readdirSync(httpGuestsDir).sort()) {
    const dir = join(httpGuestsDir, name);
    if (name.startsWith('.') || !statSync(dir).isDirectory()) continue;
    const witDir = join(dir, 'wit');
    const sources = cSources(dir);
    if (sources.length > 0) {
      c.push({
        label: `http-guests/${name}`,
        dir,
        sources,
        witDir,
        model: 'reactor',
        wasmPath: join(httpOutDir, `${name}.wasm`),
        workDir: join(httpOutDir, name),
      });
    } else {
      js.push({ name, dir, entry: join(dir, 'index.js'), witDir });
    }
  }
  return { js, c };
}

/** Runs the jco CLI under this same Node; rejects with its output. */
function jcoCommand(jcoArgs: string[]): Promise<void> {
  return new Promise((resolveRun, rejectRun) => {
    const child = spawn(process.execPath, [jcoCli, ...jcoArgs], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    child.on('error', rejectRun);
    child.on('close', (code, signal) =>
      code === 0 ? resolveRun() : rejectRun(new Error(`jco ${jcoArgs[0]} failed (${signal ?? `exit code ${code}`}):\n${output.trim().slice(-4000)}`)),
    );
  });
}

const HTTP_BACKENDS = {
  /** jco's default backend, on the standard WIT: nothing to adjust. */
  sm: { flags: [] as string[], relabelled: false },
  qjs: { flags: ['--backend', 'quickjs', '--backend-qjs-disable-async'], relabelled: true },
};

async function buildHttpGuest(g: HttpGuest, backend: keyof typeof HTTP_BACKENDS, tools: string): Promise<'built' | 'up to date'> {
  const { flags, relabelled } = HTTP_BACKENDS[backend];
  const wasmPath = join(httpOutDir, `${g.name}.${backend}.wasm`);
  const fingerprintPath = `${wasmPath}.sha256`;
  const inputs = listFiles(g.dir);
  const fingerprint = sha256(
    'edgehost http guest v1',
    backend,
    tools,
    flags.join(' '),
    relabelled ? standardWasiNames.toString() : '',
    ...inputs.flatMap((f) => [f, readFileSync(join(g.dir, f))]),
  );
  if (!force && existsSync(wasmPath) && readText(fingerprintPath)?.trim() === fingerprint) return 'up to date';
  if (!existsSync(g.entry)) throw new Error(`no ${relative(root, g.entry)}`);
  if (!existsSync(g.witDir)) throw new Error(`no ${relative(root, g.witDir)}/`);

  const work = join(httpOutDir, g.name, backend);
  const witPath = assembleWit(join(work, 'wit'), g.witDir, relabelled);
  const entry = join(work, 'index.js');
  const source = readFileSync(g.entry, 'utf8');
  writeAtomic(entry, relabelled ? relabel(source) : source);
  const built = join(work, 'component.wasm');
  rmSync(built, { force: true });
  await jcoCommand(['componentize', entry, '--wit', witPath, '--world-name', worldName(g.witDir), ...flags, '-o', built]);
  if (!existsSync(built)) throw new Error(`jco componentize wrote no ${relative(root, built)}`);
  const component = relabelled ? await standardWasiNames(readFileSync(built)) : readFileSync(built);
  writeAtomic(wasmPath, component);
  writeAtomic(fingerprintPath, `${fingerprint}\n`);
  return 'built';
}

// ---------------------------------------------------------------------------------------------

const jcoVersion = (JSON.parse(readFileSync(join(jcoDir, 'package.json'), 'utf8')) as { version: string }).version;
const wasiWitHash = () => sha256(...listFiles(wasiWitDir).map((f) => readFileSync(join(wasiWitDir, f))));
const elapsed = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

/** Builds the C programs (examples and http guests); returns how many failed. */
async function buildCPrograms(programs: CProgram[]): Promise<number> {
  if (programs.length === 0) return 0;
  let toolchain: string;
  try {
    toolchain = checkToolchain();
  } catch (e) {
    console.error(`cannot build the C programs (${programs.map((p) => p.label).join(', ')}): ${errorText(e)}`);
    return programs.length;
  }
  const jcoIdentity = [
    `jco ${jcoVersion}`,
    ...['command', 'reactor'].map((m) => {
      const adapter = join(jcoDir, 'lib', `wasi_snapshot_preview1.${m}.wasm`);
      return existsSync(adapter) ? sha256(readFileSync(adapter)) : `${m} adapter?`;
    }),
    wasiWitHash(),
  ].join('\n');
  let failed = 0;
  for (const p of programs) {
    const t0 = performance.now();
    try {
      const status = await buildC(p, toolchain, jcoIdentity);
      const size = statSync(p.wasmPath).size;
      console.log(status === 'built' ? `built ${p.label} in ${elapsed(t0)} (${size} bytes)` : `${p.label} is up to date`);
    } catch (e) {
      failed++;
      console.error(`FAILED ${p.label}: ${errorText(e)}`);
    }
  }
  return failed;
}

/** Builds the JavaScript wasi:http guest fixtures with both backends; returns how many builds failed. */
async function buildHttpGuests(guests: HttpGuest[]): Promise<number> {
  if (guests.length === 0) return 0;
  const version = (pkg: string) => {
    try {
      return (JSON.parse(readFileSync(join(root, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      return 'unknown';
    }
  };
  const tools = [
    `jco ${jcoVersion}`,
    `componentize-qjs ${version('componentize-qjs')}`,
    `componentize-js ${version('@bytecodealliance/componentize-js')}`,
    wasiWitHash(),
  ].join('\n');
  let failed = 0;
  // One at a time: a StarlingMonkey build alone keeps a core busy for several seconds.
  for (const g of guests) {
    for (const backend of Object.keys(HTTP_BACKENDS) as (keyof typeof HTTP_BACKENDS)[]) {
      const label = `http-guests/${g.name} (${backend})`;
      const t0 = performance.now();
      try {
        const status = await buildHttpGuest(g, backend, tools);
        const size = statSync(join(httpOutDir, `${g.name}.${backend}.wasm`)).size;
        console.log(status === 'built' ? `built ${label} in ${elapsed(t0)} (${size} bytes)` : `${label} is up to date`);
      } catch (e) {
        failed++;
        console.error(`FAILED ${label}: ${errorText(e)}`);
      }
    }
  }
  return failed;
}

async function main(): Promise<number> {
  const started = performance.now();
  const http = wanted('http-guests') ? discoverHttpGuests() : { js: [], c: [] };
  const failed = (await buildCPrograms([...(wanted('examples') ? discover() : []), ...http.c])) + (await buildHttpGuests(http.js));
  console.log(`examples and http guests: ${failed ? `${failed} failed` : 'ok'} in ${elapsed(started)}`);
  return failed ? 1 : 0;
}

process.exitCode = await main().catch((e) => {
  console.error(`build failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  return 1;
});
