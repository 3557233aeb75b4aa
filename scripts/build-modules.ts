// Builds the guest modules into WebAssembly components, checking each first.
//
//   node scripts/build-modules.ts [--test-guests] [--force] [--check-only] [--no-check]
//                                 [--modules <dir>] [--out <dir>]
//
//   --test-guests   also build test/fixtures/guests/*
//   --force         componentize (and type-check) even what is up to date
//   --check-only    bundle and check, do not componentize (npm run typecheck)
//   --no-check      skip the export-shape check and the type check: FOR TESTS ONLY (a test that
//                   needs a broken component). A test fixture guest can also opt out alone with
//                   "check": false in its module.json.
//   --modules <dir> build the guests in <dir> instead of modules/ (tests build copies elsewhere)
//   --out <dir>     write those guests' outputs to <dir> instead of build/modules
//
// Guests: every <modules>/<name>/module.json (not shared/) -> build/modules/<name>.wasm and, with
// --test-guests, every test/fixtures/guests/<name>/module.json -> build/test-guests/<name>.wasm.
// module.json is { "world": "<world>", "package"?: "test", "check"?: false, "config": { defaults } };
// the entry is <folder>/src/index.ts. "package" and "check" are for test fixture guests only.
//
// Per guest, in this order (see scripts/guest-checks.ts for the checks):
//  1. bundle with esbuild (ESM, WIT imports `edgehost:*`/`wasi:*` left external) to
//     build/<kind>/<name>.js;
//  2. export shape: every function the world exports is there, with its JavaScript name and at
//     most the WIT parameters (the bundle is loaded in a bare V8 context);
//  3. type check: tsc over the guest's sources with the declarations of exactly its world
//     (build/guest-types/<world>/), and its exports typed against the world's. Skipped when the
//     fingerprint of the program's files (build/<kind>/<name>.check/result.json) is unchanged;
//  4. `jco componentize` (QuickJS backend, sync) in a child process, skipped when the fingerprint
//     (sha256 of bundle + WIT files + world + tool versions), stored in <name>.wasm.sha256, is
//     unchanged and the .wasm exists. A platform world that includes wasi:http (http-service) is
//     componentized from build/wit-platform-relabelled and a relabelled copy of the bundle, and
//     the component gets its standard WASI names back (scripts/wasi-relabel.ts).
// A failed check stops that guest before componentizing: nothing broken gets built. At most 2
// child processes (tsc, jco) run at once.
//
// Also writes:
//   build/wit-test/      test/fixtures/wit/*.wit + deps/ (edgehost:platform and jco's WASI 0.2.12
//                        WIT), for test worlds (package edgehost:test) that import WASI directly;
//   build/wit-types/     a synthetic world `any-module` importing and exporting every interface
//                        any platform world does (for type-checking all modules in one program);
//   build/guest-types/<world>/<world>.d.ts and build/guest-types/interfaces/*.d.ts
//                        `jco guest-types` declarations (adjusted, see adjustGuestTypes) for every
//                        platform world, the `any-module` world (used by modules/tsconfig.json)
//                        and, with --test-guests, every test world; each world's file references
//                        the declarations of just its own interfaces.
//
// WIT is read with host/components/wit.ts, the host's own reader.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { build as esbuild } from 'esbuild';
import { readWitPackage, type WitPackage, type World, wasiPackage } from '../host/components/wit.ts';
import { BuildProgress } from './build-progress.ts';
import { listFiles, sha256, tmpName, writeAtomic } from './files.ts';
import {
  checkExportShape,
  displayPath,
  type ExpectedExport,
  expectedExports,
  explainDiagnostics,
  exportsCheckSource,
  formatProblem,
  guestCompilerOptions,
  loadGuestExports,
  missingApiHint,
  type Problem,
  parseTscOutput,
} from './guest-checks.ts';
import { RELABEL_SUFFIX, RELABELLED_PACKAGES, relabel, standardWasiNames, WASI_VERSION } from './wasi-relabel.ts';

const root = resolve(import.meta.dirname, '..');
const USAGE = 'usage: node scripts/build-modules.ts [--test-guests] [--force] [--check-only] [--no-check] [--modules <dir>] [--out <dir>]';

function parseArgs(argv: string[]) {
  const flags = new Set(['--test-guests', '--force', '--check-only', '--no-check']);
  const opts = { testGuests: false, force: false, checkOnly: false, noCheck: false, modules: join(root, 'modules'), out: join(root, 'build', 'modules') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--modules' || a === '--out') {
      const v = argv[++i];
      if (!v) {
        console.error(`${a} needs a folder\n${USAGE}`);
        process.exit(2);
      }
      opts[a === '--modules' ? 'modules' : 'out'] = resolve(v);
    } else if (flags.has(a)) {
      const key = ({ '--test-guests': 'testGuests', '--force': 'force', '--check-only': 'checkOnly', '--no-check': 'noCheck' } as const)[a as '--force'];
      opts[key] = true;
    } else {
      console.error(`unknown argument ${a}\n${USAGE}`);
      process.exit(2);
    }
  }
  return opts;
}

const options = parseArgs(process.argv.slice(2));
const { force } = options;
const progress = new BuildProgress();

const buildDir = join(root, 'build');
const platformWitDir = join(root, 'wit');
/** wit/ with the WASI packages its worlds import (wasi:filesystem) as deps/: what jco is given for platform worlds. */
const platformBuildWitDir = join(root, 'build', 'wit-platform');
/** The same with wasi:http and wasi:io relabelled: what componentize is given for platform worlds that include wasi:http. */
const relabelledPlatformWitDir = join(root, 'build', 'wit-platform-relabelled');
const fixtureWitDir = join(root, 'test', 'fixtures', 'wit');
const testWitDir = join(buildDir, 'wit-test');
const typesWitDir = join(buildDir, 'wit-types');
const guestTypesDir = join(buildDir, 'guest-types');

const jcoDir = join(root, 'node_modules', '@bytecodealliance', 'jco');
const jcoCli = join(jcoDir, 'dist', 'jco.js');
const wasiWitDir = join(jcoDir, 'lib', 'wit', 'builtin', WASI_VERSION);
/**
 * componentize-qjs 0.4.5 pre-initialises guests (Wizer) in a wasmtime linker that has WASI 0.2
 * (io, cli, clocks, filesystem, random, sockets) but no wasi:http: a guest that imports
 * wasi:http is built from WIT where wasi:http, and the wasi:io it uses, are relabelled
 * (scripts/wasi-relabel.ts). Test worlds name the relabelled interfaces themselves
 * (`wasi:http/types@0.2.12-probe`; the host resolves imports without their version); a platform
 * world that includes wasi:http (http-service) is built from a relabelled copy of wit/
 * (build/wit-platform-relabelled) and its component given the standard names back.
 */
const COMPONENTIZE_FLAGS = ['--backend', 'quickjs', '--backend-qjs-disable-async'];
const ANY_MODULE_WORLD = 'any-module';
const MAX_CHILDREN = Math.max(1, Math.min(2, availableParallelism()));

function packageVersion(pkgJson: string): string {
  try {
    return (JSON.parse(readFileSync(pkgJson, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const tscJs = join(root, 'node_modules', 'typescript', 'lib', 'tsc.js');
const tscVersion = `typescript ${packageVersion(join(root, 'node_modules', 'typescript', 'package.json'))}`;

const toolVersions = [
  `jco ${packageVersion(join(jcoDir, 'package.json'))}`,
  `componentize-qjs ${packageVersion(join(root, 'node_modules', 'componentize-qjs', 'package.json'))}`,
  COMPONENTIZE_FLAGS.join(' '),
].join('\n');

// ---------------------------------------------------------------------------------------------
// small helpers

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const dirHashes = new Map<string, string>();
/** sha256 of every file (path and contents) under `dir`. */
function hashDir(dir: string): string {
  let h = dirHashes.get(dir);
  if (!h) {
    const parts: (string | Uint8Array)[] = [];
    for (const f of listFiles(dir)) parts.push(f, readFileSync(join(dir, f)));
    h = sha256(...parts);
    dirHashes.set(dir, h);
  }
  return h;
}

function writeIfChanged(path: string, bytes: Uint8Array): void {
  if (existsSync(path) && readFileSync(path).equals(bytes)) return;
  writeAtomic(path, bytes);
}

/** Make `dir` hold exactly `files` (relative path -> contents), rewriting only what differs. */
function syncDir(dir: string, files: Map<string, string | Uint8Array>): void {
  for (const f of listFiles(dir)) if (!files.has(f)) rmSync(join(dir, f), { force: true });
  for (const [f, content] of files) {
    writeIfChanged(join(dir, f), typeof content === 'string' ? Buffer.from(content) : content);
  }
  dirHashes.delete(dir);
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));
/** The error on one line, for the per-guest status line (the full text is printed at the end). */
const firstLine = (text: string) => {
  const one = text.replace(/\s*\n\s*/g, ' ').trim();
  return one.length > 300 ? `${one.slice(0, 300)}...` : one;
};

// ---------------------------------------------------------------------------------------------
// WIT: the assembled folders

function witFilesOf(dir: string, prefix: string): [string, Uint8Array][] {
  return listFiles(dir).map((f) => [join(prefix, f), readFileSync(join(dir, f))]);
}

/** jco's WASI WIT packages, as `deps/<pkg>/...` entries. */
function wasiDeps(): [string, Uint8Array][] {
  if (!existsSync(wasiWitDir)) {
    throw new Error(`WASI ${WASI_VERSION} WIT not found at ${relative(root, wasiWitDir)} (jco layout changed?)`);
  }
  return readdirSync(wasiWitDir).flatMap((pkg) => witFilesOf(join(wasiWitDir, pkg), join('deps', pkg)));
}

/** build/wit-platform: wit/ itself plus the WASI packages its worlds import, as deps. */
function assemblePlatformWit(): void {
  const files = new Map<string, string | Uint8Array>(witFilesOf(platformWitDir, ''));
  for (const [p, b] of wasiDeps()) files.set(p, b);
  syncDir(platformBuildWitDir, files);
  const relabelled = new Map<string, string | Uint8Array>(witFilesOf(platformWitDir, '').map(([p, b]) => [p, relabel(Buffer.from(b).toString('utf8'))]));
  for (const [p, b] of wasiDeps()) relabelled.set(p, b);
  for (const [p, b] of relabelledDeps()) relabelled.set(p, b);
  syncDir(relabelledPlatformWitDir, relabelled);
}

/** deps/wasi-io-probe and deps/wasi-http-probe: the relabelled copies (scripts/wasi-relabel.ts). */
function relabelledDeps(): [string, string][] {
  return RELABELLED_PACKAGES.flatMap((name) =>
    witFilesOf(join(wasiWitDir, `wasi-${name}`), join('deps', `wasi-${name}${RELABEL_SUFFIX}`)).map(([p, b]): [string, string] => [
      p,
      relabel(Buffer.from(b).toString('utf8')),
    ]),
  );
}

/** Whether a world has wasi:http (so that componentize-qjs needs it relabelled). */
const usesWasiHttp = (world: World) => [...world.imports, ...world.exports].some((i) => i.startsWith('wasi:http/'));

/** build/wit-test: the fixture worlds, with edgehost:platform and WASI as deps. */
function assembleTestWit(): void {
  if (!existsSync(wasiWitDir)) {
    throw new Error(`WASI ${WASI_VERSION} WIT not found at ${relative(root, wasiWitDir)} (jco layout changed?)`);
  }
  const files = new Map<string, string | Uint8Array>();
  for (const f of readdirSync(fixtureWitDir).filter((n) => n.endsWith('.wit'))) {
    files.set(f, readFileSync(join(fixtureWitDir, f)));
  }
  for (const [p, b] of witFilesOf(platformWitDir, join('deps', 'edgehost-platform'))) files.set(p, b);
  for (const [p, b] of wasiDeps()) files.set(p, b);
  for (const [p, b] of relabelledDeps()) files.set(p, b);
  syncDir(testWitDir, files);
}

/** build/wit-types: world `any-module`, the union of every platform world's imports and exports. */
function assembleTypesWit(platform: WitPackage): void {
  const version = platform.version;
  // World members are qualified without version ("edgehost:platform/pubsub"): add the package's,
  // or for WASI the version jco's WIT has (the one platform worlds import).
  const q = (iface: string) => (iface.startsWith('wasi:') ? `${iface}@${WASI_VERSION}` : `${iface}${version ? `@${version}` : ''}`);
  const imports = new Set<string>();
  const exports = new Set<string>();
  for (const w of platform.worlds.values()) {
    for (const i of w.imports) imports.add(q(i));
    for (const e of w.exports) exports.add(q(e));
  }
  const text = [
    '// Generated by scripts/build-modules.ts: every interface any platform world imports or exports,',
    '// so that all modules can be type-checked in one program (modules/tsconfig.json).',
    `package edgehost:guest-types${version ? `@${version}` : ''};`,
    '',
    `world ${ANY_MODULE_WORLD} {`,
    ...[...imports].sort().map((i) => `  import ${i};`),
    ...[...exports].sort().map((e) => `  export ${e};`),
    '}',
    '',
  ].join('\n');
  const files = new Map<string, string | Uint8Array>([[`${ANY_MODULE_WORLD}.wit`, text]]);
  for (const [p, b] of witFilesOf(platformWitDir, join('deps', 'edgehost-platform'))) files.set(p, b);
  for (const [p, b] of wasiDeps()) files.set(p, b);
  syncDir(typesWitDir, files);
}

// ---------------------------------------------------------------------------------------------
// child processes, at most MAX_CHILDREN at once

let running = 0;
const waiting: (() => void)[] = [];

async function withSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_CHILDREN) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  ms: number;
}

/**
 * Run a Node script under this same Node, in a slot; resolves with its exit, output (stdout + stderr) and run time.
 * `onStart` is called when it gets its slot and starts (what the progress line shows as running).
 */
function runNode(script: string, scriptArgs: string[], onStart?: () => void): Promise<ChildResult> {
  return withSlot(
    () =>
      new Promise<ChildResult>((resolveRun, rejectRun) => {
        onStart?.();
        const started = performance.now();
        const child = spawn(process.execPath, [script, ...scriptArgs], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
        let output = '';
        child.stdout.on('data', (d: Buffer) => (output += d));
        child.stderr.on('data', (d: Buffer) => (output += d));
        child.on('error', rejectRun);
        child.on('close', (code, signal) => resolveRun({ code, signal, output, ms: performance.now() - started }));
      }),
  );
}

/** Run the jco CLI; resolves with its run time (ms), rejects with its output. */
async function jco(jcoArgs: string[], onStart?: () => void): Promise<number> {
  const { code, signal, output, ms } = await runNode(jcoCli, jcoArgs, onStart);
  if (code === 0) return ms;
  const why = signal ? `killed by ${signal}` : `exit code ${code}`;
  // jco prints a componentize error as `(jco componentize) [Error: <message>] { code: ... }`.
  const text = output
    .trim()
    .replace(/^\(jco [\w-]+\) \[Error: [:\s]*/, '')
    .replace(/\]\s*\{\s*code: '\w+'\s*\}$/, '')
    .trim();
  throw new Error(`jco ${jcoArgs[0]} failed (${why})${text ? `:\n${text.slice(-6000)}` : ''}`);
}

// ---------------------------------------------------------------------------------------------
// guests

type Kind = 'modules' | 'test-guests';

interface Guest {
  kind: Kind;
  name: string;
  label: string;
  entry: string;
  world: string;
  witDir: string;
  /** build/<kind>, or --out for modules */
  outDir: string;
  /** false: no export-shape check and no type check (test fixtures with "check": false, or --no-check) */
  check: boolean;
}

interface Outcome {
  label: string;
  status: 'built' | 'up to date' | 'checked' | 'failed';
  error?: string;
}

const notices: string[] = [];
const outcomes: Outcome[] = [];

function discover(kind: Kind, dir: string, outDir: string, skip: Set<string>): Guest[] {
  if (!existsSync(dir)) return [];
  const guests: Guest[] = [];
  for (const name of readdirSync(dir).sort()) {
    const folder = join(dir, name);
    if (skip.has(name) || name.startsWith('.') || !statSync(folder).isDirectory()) continue;
    const label = kind === 'modules' ? name : `test-guests/${name}`;
    const manifestPath = join(folder, 'module.json');
    const entry = join(folder, 'src', 'index.ts');
    if (!existsSync(manifestPath)) {
      notices.push(`skipped ${label}: no module.json yet`);
      continue;
    }
    if (!existsSync(entry)) {
      notices.push(`skipped ${label}: no src/index.ts yet`);
      continue;
    }
    try {
      const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as { world?: unknown; package?: unknown; check?: unknown };
      if (typeof m.world !== 'string' || !m.world) throw new Error('"world" must be a non-empty string');
      let witDir = platformBuildWitDir;
      if (m.package === 'test') {
        if (kind !== 'test-guests') throw new Error('"package": "test" is only for test fixture guests');
        witDir = testWitDir;
      } else if (m.package !== undefined) {
        throw new Error(`unknown "package" ${JSON.stringify(m.package)} (expected "test" or none)`);
      }
      if (m.check !== undefined && m.check !== false) throw new Error('"check" may only be false (and only in test fixture guests)');
      if (m.check === false && kind !== 'test-guests') {
        throw new Error('"check": false is only for test fixture guests (test/fixtures/guests) that must build broken; remove it');
      }
      guests.push({ kind, name, label, entry, world: m.world, witDir, outDir, check: m.check !== false && !options.noCheck });
    } catch (e) {
      outcomes.push({ label, status: 'failed', error: `${displayPath(manifestPath)}: ${errorText(e)}` });
    }
  }
  return guests;
}

async function bundle(g: Guest): Promise<Uint8Array> {
  const result = await esbuild({
    entryPoints: [g.entry],
    absWorkingDir: root, // the bundle's path comments, hence the fingerprint, do not depend on the cwd
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    external: ['edgehost:*', 'wasi:*'],
    write: false,
    outfile: join(g.outDir, `${g.name}.js`),
    logLevel: 'silent',
    legalComments: 'none',
  });
  return result.outputFiles[0].contents;
}

/** The WIT packages a guest's world may draw interfaces from: its own and the platform's. */
interface WitContext {
  packagesByDir: Map<string, WitPackage>;
  platform: WitPackage;
  /** world -> its `jco guest-types` declarations, once generated (undefined when that failed) */
  guestTypes: Map<string, Promise<string | undefined>>;
}

/**
 * 2. Export shape: load the bundle and compare its exports with the world's. When loading fails
 * (the top level threw), `loadError` says why and there are no shape findings. A bundle that
 * passed against the same expectations before (build/<kind>/<name>.check/shape.sha256) is not
 * loaded again.
 */
async function checkShape(g: Guest, js: Uint8Array, expected: ExpectedExport[]): Promise<{ problems: Problem[]; loadError?: Problem }> {
  const passedPath = join(g.outDir, `${g.name}.check`, 'shape.sha256');
  const signatures = expected.map((e) => `${e.jsName}: ${e.functions.map((f) => f.signature).join(', ')}`).join('\n');
  const fingerprint = sha256('edgehost shape check v1', signatures, js);
  if (!force && readText(passedPath)?.trim() === fingerprint) return { problems: [] };
  let guestExports: Record<string, unknown>;
  try {
    guestExports = await loadGuestExports(Buffer.from(js).toString('utf8'), join(g.outDir, `${g.name}.js`));
  } catch (e) {
    // Errors thrown in the guest's V8 context are not `instanceof Error` here.
    const { name, message } = (e ?? {}) as { name?: unknown; message?: unknown };
    const missing = name === 'ReferenceError' ? missingApiHint(/^(\S+) is not defined/.exec(String(message))?.[1]) : undefined;
    const loadError: Problem = {
      file: g.entry,
      message: `the module's top level threw while the build loaded it to check its exports: ${String(e)}`,
      fix:
        missing ??
        'the top level runs once at build time, with no host (componentize pre-initialises the module): it cannot call WIT imports or use Node or Web APIs. Do that work in lifecycle.init',
    };
    return { problems: [], loadError };
  }
  const problems = checkExportShape(guestExports, expected, g.world, g.entry);
  if (problems.length === 0) writeAtomic(passedPath, `${fingerprint}\n`);
  return { problems };
}

const MAX_ERRORS_SHOWN = 20;

/**
 * 3. Type check against exactly the world's declarations. Returns the time spent in tsc (0 when
 * the program's files are unchanged since the last successful check) and, if it found errors,
 * their report.
 */
async function typeCheck(g: Guest, pkg: WitPackage, world: World, expected: ExpectedExport[], typesDir: string): Promise<{ ms: number; failure?: string }> {
  const checkDir = join(g.outDir, `${g.name}.check`);
  const checkFile = join(checkDir, 'exports.ts');
  const resultPath = join(checkDir, 'result.json');
  let entryImport = relative(checkDir, g.entry);
  if (!entryImport.startsWith('.')) entryImport = `./${entryImport}`;
  const worldModule = `${pkg.name}/${world.name}${pkg.version ? `@${pkg.version}` : ''}`;
  const { text, lines } = exportsCheckSource(expected, worldModule, entryImport);
  const tsconfig = JSON.stringify({ compilerOptions: guestCompilerOptions, files: [g.entry, checkFile, join(typesDir, `${world.name}.d.ts`)] }, null, 2);
  const fingerprintOf = (files: string[]) => {
    const parts: (string | Uint8Array)[] = ['edgehost guest check v1', tscVersion, tsconfig, text];
    for (const f of files) parts.push(f, existsSync(f) ? readFileSync(f) : 'missing');
    return sha256(...parts);
  };
  if (!force) {
    try {
      const last = JSON.parse(readFileSync(resultPath, 'utf8')) as { fingerprint: string; files: string[] };
      if (last.fingerprint === fingerprintOf(last.files)) return { ms: 0 };
    } catch {
      // no earlier successful check
    }
  }
  writeIfChanged(join(checkDir, 'tsconfig.json'), Buffer.from(tsconfig));
  writeIfChanged(checkFile, Buffer.from(text));
  rmSync(resultPath, { force: true });
  const run = await runNode(tscJs, ['-p', join(checkDir, 'tsconfig.json'), '--pretty', 'false', '--listFiles'], () => progress.step(g.label, 'type check'));
  const { diagnostics, files } = parseTscOutput(run.output, root);
  if (run.code === 0 && diagnostics.length === 0) {
    // The compiler's own lib files are covered by its version.
    const own = files.filter((f) => !/[\\/](@typescript|typescript)[\\/]/.test(f));
    writeAtomic(resultPath, JSON.stringify({ fingerprint: fingerprintOf(own), files: own }, null, 2));
    return { ms: run.ms };
  }
  if (diagnostics.length === 0) throw new Error(`tsc failed (exit code ${run.code}, ${run.signal ?? 'no signal'}):\n${run.output.slice(-4000)}`);
  const problems = explainDiagnostics(diagnostics, { entry: g.entry, checkFile, lines, world });
  const shown = problems.slice(0, MAX_ERRORS_SHOWN).map((p) => formatProblem(p));
  if (problems.length > MAX_ERRORS_SHOWN) shown.push(`... and ${problems.length - MAX_ERRORS_SHOWN} more`);
  const failure = `type check failed (world "${world.name}", declarations in ${displayPath(typesDir)}/; WIT to TypeScript: docs/writing-a-module.md):\n${shown.join('\n')}`;
  return { ms: run.ms, failure };
}

async function buildGuest(g: Guest, wit: WitContext): Promise<void> {
  const jsPath = join(g.outDir, `${g.name}.js`);
  const wasmPath = join(g.outDir, `${g.name}.wasm`);
  const fingerprintPath = `${wasmPath}.sha256`;
  try {
    const pkg = wit.packagesByDir.get(g.witDir);
    const world = pkg?.worlds.get(g.world);
    if (!pkg || !world) {
      const known = pkg ? [...pkg.worlds.keys()].join(', ') : 'none';
      throw new Error(`world "${g.world}" not found in ${displayPath(g.witDir)} (worlds: ${known})`);
    }
    // Times are work, not time spent waiting for a child-process slot.
    const bundleStarted = performance.now();
    let js: Uint8Array;
    try {
      js = await bundle(g);
    } catch (e) {
      throw new Error(`bundling ${displayPath(g.entry)} failed: ${errorText(e)}`);
    }
    const bundleMs = performance.now() - bundleStarted;
    let checkMs = 0;
    let typeChecked = false;
    if (g.check) {
      const shapeStarted = performance.now();
      // A world may export WASI interfaces (wasi:http/incoming-handler): their WIT is jco's.
      const wasi = [...new Set(world.exports.filter((e) => e.startsWith('wasi:')).map((e) => e.slice(0, e.indexOf('/'))))].map((n) => wasiPackage(n));
      const expected = expectedExports(world, [pkg, wit.platform, ...wasi]);
      const shape = await checkShape(g, js, expected);
      if (shape.problems.length) throw new Error(`export check failed (world "${g.world}"):\n${shape.problems.map((p) => formatProblem(p)).join('\n')}`);
      checkMs = performance.now() - shapeStarted;
      const typesDir = await wit.guestTypes.get(g.world);
      if (!typesDir) throw new Error(`no declarations for world "${g.world}" to type-check against (generating them failed: see above)`);
      // When the top level threw, the type errors (if any) usually say why, with a line: they come first.
      const typeErrors = await typeCheck(g, pkg, world, expected, typesDir);
      if (typeErrors.failure || shape.loadError) {
        const parts = [typeErrors.failure, shape.loadError && `export check failed:\n${formatProblem(shape.loadError)}`];
        throw new Error(parts.filter(Boolean).join('\n'));
      }
      checkMs += typeErrors.ms;
      typeChecked = typeErrors.ms > 0;
    }
    if (options.checkOnly) {
      outcomes.push({ label: g.label, status: 'checked' });
      const how = !g.check ? 'not checked ("check": false or --no-check)' : typeChecked ? '' : ' (type check skipped: its files are unchanged)';
      progress.line(g.check ? `checked ${g.label} in ${seconds(bundleMs + checkMs)}${how}` : `${g.label} is ${how}`);
      return;
    }
    writeIfChanged(jsPath, js);
    // A platform world with wasi:http is componentized from relabelled WIT and source, then renamed back.
    const relabelled = g.witDir === platformBuildWitDir && usesWasiHttp(world);
    const witDir = relabelled ? relabelledPlatformWitDir : g.witDir;
    const fingerprint = sha256('edgehost guest v1', toolVersions, g.world, hashDir(witDir), js, relabelled ? standardWasiNames.toString() : '');
    if (!force && existsSync(wasmPath) && readText(fingerprintPath)?.trim() === fingerprint) {
      outcomes.push({ label: g.label, status: 'up to date' });
      progress.line(`${g.label} is up to date${typeChecked ? ` (checked in ${seconds(checkMs)})` : ''}`);
      return;
    }
    let entry = jsPath;
    if (relabelled) {
      entry = join(g.outDir, `${g.name}.relabelled.js`);
      writeIfChanged(entry, Buffer.from(relabel(Buffer.from(js).toString('utf8'))));
    }
    const tmp = tmpName(join(g.outDir, g.name), '.wasm');
    rmSync(tmp, { force: true });
    const componentizeMs = await jco(['componentize', entry, '--wit', witDir, '--world-name', g.world, ...COMPONENTIZE_FLAGS, '-o', tmp], () =>
      progress.step(g.label, 'componentize'),
    );
    if (!existsSync(tmp)) throw new Error(`jco componentize wrote no ${displayPath(tmp)}`);
    if (relabelled) {
      writeFileSync(tmp, await standardWasiNames(readFileSync(tmp)));
    }
    renameSync(tmp, wasmPath);
    writeAtomic(fingerprintPath, `${fingerprint}\n`);
    outcomes.push({ label: g.label, status: 'built' });
    const checks = !g.check ? ', not checked' : typeChecked ? `, checks ${seconds(checkMs)}` : '';
    progress.line(`built ${g.label} in ${seconds(bundleMs + checkMs + componentizeMs)}${checks}`);
  } catch (e) {
    outcomes.push({ label: g.label, status: 'failed', error: errorText(e) });
    progress.error(`FAILED ${g.label}: ${firstLine(errorText(e))}`);
  } finally {
    progress.done(g.label);
  }
}

/**
 * `jco guest-types` writes the JS mapping of jco's own bindings; componentize-qjs (QuickJS) guests
 * differ in two ways, measured: u64/s64 are plain numbers (passing a BigInt traps) and an option
 * that is none arrives as `null`. Adjust the declarations so the type checker says so.
 */
function adjustGuestTypes(text: string): string {
  const adjusted = text
    .replace(/\bbigint\b/g, 'number')
    .replace(/ \| undefined\b/g, ' | null | undefined')
    .replace(/^(\s*[\w$]+)\?: (.+),$/gm, '$1?: $2 | null,');
  return `// Adjusted by scripts/build-modules.ts for componentize-qjs guests: u64/s64 are numbers,\n// an option that is none is null.\n${adjusted}`;
}

/** Interface declaration file -> the world whose generation wrote it in this run, and its text. */
const writtenInterfaces = new Map<string, { world: string; text: string }>();
const sharedInterfacesDir = join(guestTypesDir, 'interfaces');
const REFERENCE = /^\/\/\/ <reference path="([^"]+)" \/>$/gm;

/**
 * `jco guest-types` for one world, unless up to date: the world's own file goes to
 * build/guest-types/<world>/<world>.d.ts, and the declarations of its interfaces to
 * build/guest-types/interfaces/ (the same file for every world that has the interface, so that a
 * guest source can reference one, as modules/server/src/server.ts does, in any program).
 */
async function guestTypes(world: string, witDir: string): Promise<'generated' | 'up to date'> {
  const outDir = join(guestTypesDir, world);
  const worldFile = join(outDir, `${world}.d.ts`);
  const fingerprintPath = join(guestTypesDir, `${world}.sha256`);
  const fingerprint = sha256('edgehost guest-types v4', adjustGuestTypes.toString(), toolVersions, world, hashDir(witDir));
  if (!force && readText(fingerprintPath)?.trim() === fingerprint) {
    const text = readText(worldFile);
    if (text && [...text.matchAll(REFERENCE)].every((m) => existsSync(resolve(outDir, m[1])))) return 'up to date';
  }
  const tmpDir = tmpName(outDir);
  rmSync(tmpDir, { recursive: true, force: true });
  const label = `guest types ${world}`;
  try {
    await jco(['guest-types', witDir, '--world-name', world, '-o', tmpDir, '--quiet'], () => progress.step(label, 'jco guest-types'));
    // An interface declared at the relabelled version (a test world's wasi:http@0.2.12-probe) is
    // another module than the standard one of the same file name (http-service's wasi:http):
    // it gets a file of its own, and the references to it follow.
    const files = listFiles(join(tmpDir, 'interfaces')).filter((n) => n.endsWith('.d.ts'));
    const texts = new Map(files.map((f) => [f, adjustGuestTypes(readFileSync(join(tmpDir, 'interfaces', f), 'utf8'))]));
    const relabelledDeclaration = new RegExp(`declare module '[^']+${RELABEL_SUFFIX}'`);
    const renamed = new Map(
      files.filter((f) => relabelledDeclaration.test(texts.get(f) ?? '')).map((f) => [f, f.replace(/\.d\.ts$/, `${RELABEL_SUFFIX}.d.ts`)]),
    );
    const renameReferences = (text: string, dir: string) => {
      let out = text;
      for (const [from, to] of renamed) out = out.replaceAll(`<reference path="${dir}${from}" />`, `<reference path="${dir}${to}" />`);
      return out;
    };
    // Interfaces first, so that the world file never refers to a missing one.
    for (const f of files) {
      const name = renamed.get(f) ?? f;
      const text = renameReferences(texts.get(f) ?? '', './');
      const earlier = writtenInterfaces.get(name);
      if (earlier && earlier.text !== text) {
        throw new Error(
          `jco guest-types declared ${name} differently for worlds "${earlier.world}" and "${world}": the build assumes one declaration per interface`,
        );
      }
      writtenInterfaces.set(name, { world, text });
      writeIfChanged(join(sharedInterfacesDir, name), Buffer.from(text));
    }
    const text = renameReferences(
      adjustGuestTypes(readFileSync(join(tmpDir, `${world}.d.ts`), 'utf8')).replaceAll('<reference path="./interfaces/', '<reference path="../interfaces/'),
      '../interfaces/',
    );
    rmSync(join(outDir, 'interfaces'), { recursive: true, force: true }); // the layout before build/guest-types/interfaces/
    writeIfChanged(worldFile, Buffer.from(text));
  } finally {
    progress.done(label);
    rmSync(tmpDir, { recursive: true, force: true });
  }
  writeAtomic(fingerprintPath, `${fingerprint}\n`);
  return 'generated';
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const started = performance.now();
  mkdirSync(buildDir, { recursive: true });

  const platform = readWitPackage(platformWitDir);
  const packagesByDir = new Map<string, WitPackage>([[platformBuildWitDir, platform]]);
  assemblePlatformWit();
  assembleTypesWit(platform);
  const typeJobs: [string, string][] = [...platform.worlds.keys()].map((w) => [w, platformBuildWitDir]);
  typeJobs.push([ANY_MODULE_WORLD, typesWitDir]);

  const guests = discover('modules', options.modules, options.out, new Set(['shared']));
  if (options.testGuests) {
    try {
      assembleTestWit();
      const test = readWitPackage(fixtureWitDir);
      packagesByDir.set(testWitDir, test);
      for (const w of test.worlds.keys()) {
        if (platform.worlds.has(w) || w === ANY_MODULE_WORLD) throw new Error(`test world "${w}" clashes with a platform world name`);
        typeJobs.push([w, testWitDir]);
      }
    } catch (e) {
      outcomes.push({ label: 'build/wit-test', status: 'failed', error: errorText(e) });
    }
    guests.push(...discover('test-guests', join(root, 'test', 'fixtures', 'guests'), join(buildDir, 'test-guests'), new Set()));
  }
  for (const n of notices) progress.line(n);
  for (const o of outcomes) if (o.status === 'failed') progress.error(`FAILED ${o.label}: ${firstLine(o.error ?? '')}`);

  const typeResults = typeJobs.map(([world, dir]) => ({
    world,
    status: guestTypes(world, dir).catch((e: unknown) => {
      outcomes.push({ label: `guest types ${world}`, status: 'failed', error: errorText(e) });
      progress.error(`FAILED guest types ${world}: ${firstLine(errorText(e))}`);
      return 'failed' as const;
    }),
  }));
  const guestTypesByWorld = new Map(typeResults.map((r) => [r.world, r.status.then((s) => (s === 'failed' ? undefined : join(guestTypesDir, r.world)))]));
  await Promise.all(guests.map((g) => buildGuest(g, { packagesByDir, platform, guestTypes: guestTypesByWorld })));
  const statuses = await Promise.all(typeResults.map(async (r) => ({ world: r.world, status: await r.status })));

  const generated = statuses.filter((r) => r.status === 'generated').map((r) => r.world);
  const current = statuses.filter((r) => r.status === 'up to date').map((r) => r.world);
  if (generated.length) progress.line(`guest types generated for ${generated.join(', ')}`);
  if (current.length && !generated.length) progress.line(`guest types are up to date (${current.join(', ')})`);

  const failed = outcomes.filter((o) => o.status === 'failed');
  const count = (s: Outcome['status']) => outcomes.filter((o) => o.status === s).length;
  const summary = options.checkOnly
    ? `${count('checked')} checked, ${failed.length} failed`
    : `${count('built')} built, ${count('up to date')} up to date, ${failed.length} failed`;
  progress.line(`${summary} in ${seconds(performance.now() - started)}`);
  if (failed.length) {
    console.error(`\nbuild failed for ${failed.map((o) => o.label).join(', ')}`);
    for (const o of failed) console.error(`\n--- ${o.label}:\n${o.error}`);
    return 1;
  }
  return 0;
}

process.exitCode = await main().catch((e) => {
  console.error(`build failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  return 1;
});
