// Builds the guest modules into WebAssembly components.
//
//   node scripts/build-modules.ts [--test-guests] [--force]
//
// Guests: every modules/<name>/module.json (not modules/shared) -> build/modules/<name>.wasm and,
// with --test-guests, every test/fixtures/guests/<name>/module.json -> build/test-guests/<name>.wasm.
// module.json is { "world": "<world>", "package"?: "test", "config": { defaults } }; the entry is
// <folder>/src/index.ts.
//
// Per guest: bundle with esbuild (ESM, WIT imports `edgehost:*`/`wasi:*` left external) to
// build/<kind>/<name>.js, then `jco componentize` (QuickJS backend, sync) in a child process.
// Componentizing is skipped when the fingerprint (sha256 of bundle + WIT files + world + tool
// versions), stored in <name>.wasm.sha256, is unchanged and the .wasm exists. At most 2 child
// processes run at once.
//
// Also writes:
//   build/wit-test/      test/fixtures/wit/*.wit + deps/ (edgehost:platform and jco's WASI 0.2.12
//                        WIT), for test worlds (package edgehost:test) that import WASI directly;
//   build/wit-types/     a synthetic world `any-module` importing and exporting every interface
//                        any platform world does (for type-checking all modules in one program);
//   build/guest-types/<world>/  `jco guest-types` declarations for every platform world, the
//                        `any-module` world (used by modules/tsconfig.json) and, with
//                        --test-guests, every test world.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { build as esbuild } from 'esbuild';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const withTestGuests = args.includes('--test-guests');
const force = args.includes('--force');
for (const a of args) {
  if (a !== '--test-guests' && a !== '--force') {
    console.error(`unknown argument ${a}\nusage: node scripts/build-modules.ts [--test-guests] [--force]`);
    process.exit(2);
  }
}

const buildDir = join(root, 'build');
const platformWitDir = join(root, 'wit');
const fixtureWitDir = join(root, 'test', 'fixtures', 'wit');
const testWitDir = join(buildDir, 'wit-test');
const typesWitDir = join(buildDir, 'wit-types');
const guestTypesDir = join(buildDir, 'guest-types');

const jcoDir = join(root, 'node_modules', '@bytecodealliance', 'jco');
const jcoCli = join(jcoDir, 'dist', 'jco.js');
/** componentize-qjs guests import WASI @0.2.12; test worlds must name the same version. */
const WASI_VERSION = '0.2.12';
const wasiWitDir = join(jcoDir, 'lib', 'wit', 'builtin', WASI_VERSION);
/**
 * componentize-qjs 0.4.5 pre-initialises guests (Wizer) in a wasmtime linker that has WASI 0.2
 * (io, cli, clocks, filesystem, random, sockets) but no wasi:http, and stubs unknown imports with
 * resources of their own: `wasi:http/types@0.2.x` then fails to link ("instance export `io-error`
 * has the wrong type: mismatched resource types"), because its resources come from the real
 * wasi:io. So test worlds get wasi:http, and the wasi:io it uses, relabelled with a prerelease
 * version that matches nothing in that linker (`wasi:http/types@0.2.12-probe`): both are then
 * stubbed together and consistently. The host resolves imports without their version, so at run
 * time these are the same wasi:http / wasi:io interfaces as any other guest would import.
 */
const RELABELLED_VERSION = `${WASI_VERSION}-probe`;
const RELABELLED_PACKAGES = ['io', 'http'];
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

const toolVersions = [
  `jco ${packageVersion(join(jcoDir, 'package.json'))}`,
  `componentize-qjs ${packageVersion(join(root, 'node_modules', 'componentize-qjs', 'package.json'))}`,
  COMPONENTIZE_FLAGS.join(' '),
].join('\n');

// ---------------------------------------------------------------------------------------------
// small helpers

const sha256 = (...parts: (string | Uint8Array)[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
};

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

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

/** A temporary name next to `path`, unique to this process (two builds may run at once). */
const tmpName = (path: string, ext = '') => `${path}.${process.pid}.tmp${ext}`;

/** Write via a temporary file and rename, so readers never see a partial file. */
function writeAtomic(path: string, bytes: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tmpName(path);
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
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
  return one.length > 300 ? one.slice(0, 300) + '...' : one;
};

// ---------------------------------------------------------------------------------------------
// WIT: worlds and the assembled folders

interface World {
  imports: string[];
  exports: string[];
}

/** Package id (`ns:name@version`) and worlds of the .wit files directly in `dir`. */
function readWitPackage(dir: string): { id: string; worlds: Map<string, World> } {
  let id = '';
  const worlds = new Map<string, World>();
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith('.wit'))
    .sort()) {
    const text = readFileSync(join(dir, f), 'utf8').replace(/\/\/.*$/gm, '');
    const pkg = /^\s*package\s+([^;\s]+)\s*;/m.exec(text);
    if (pkg) id = pkg[1];
    for (const m of text.matchAll(/\bworld\s+([\w-]+)\s*\{([^}]*)\}/g)) {
      const body = m[2];
      const items = (kind: string) => [...body.matchAll(new RegExp(`^\\s*${kind}\\s+([^;:\\s]+)\\s*;`, 'gm'))].map((x) => x[1]);
      worlds.set(m[1], { imports: items('import'), exports: items('export') });
    }
  }
  if (!id) throw new Error(`no package declaration in ${relative(root, dir)}/*.wit`);
  return { id, worlds };
}

function witFilesOf(dir: string, prefix: string): [string, Uint8Array][] {
  return listFiles(dir).map((f) => [join(prefix, f), readFileSync(join(dir, f))]);
}

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
  for (const pkg of readdirSync(wasiWitDir)) {
    for (const [p, b] of witFilesOf(join(wasiWitDir, pkg), join('deps', pkg))) files.set(p, b);
  }
  // The relabelled copies (see RELABELLED_VERSION): deps/wasi-io-probe, deps/wasi-http-probe.
  const relabel = new RegExp(`\\b(wasi:(?:${RELABELLED_PACKAGES.join('|')})(?:/[\\w-]+)?)@${WASI_VERSION.replace(/\./g, '\\.')}\\b`, 'g');
  for (const name of RELABELLED_PACKAGES) {
    const pkg = `wasi-${name}`;
    for (const [p, b] of witFilesOf(join(wasiWitDir, pkg), join('deps', `${pkg}-probe`))) {
      files.set(p, Buffer.from(b).toString('utf8').replace(relabel, `$1@${RELABELLED_VERSION}`));
    }
  }
  syncDir(testWitDir, files);
}

/** build/wit-types: world `any-module`, the union of every platform world's imports and exports. */
function assembleTypesWit(platform: { id: string; worlds: Map<string, World> }): void {
  const [ns, rest] = platform.id.split(':');
  const [name, version] = rest.split('@');
  const q = (iface: string) => (iface.includes(':') ? iface : `${ns}:${name}/${iface}${version ? '@' + version : ''}`);
  const imports = new Set<string>();
  const exports = new Set<string>();
  for (const w of platform.worlds.values()) {
    for (const i of w.imports) imports.add(q(i));
    for (const e of w.exports) exports.add(q(e));
  }
  const text = [
    '// Generated by scripts/build-modules.ts: every interface any platform world imports or exports,',
    '// so that all modules can be type-checked in one program (modules/tsconfig.json).',
    `package edgehost:guest-types${version ? '@' + version : ''};`,
    '',
    `world ${ANY_MODULE_WORLD} {`,
    ...[...imports].sort().map((i) => `  import ${i};`),
    ...[...exports].sort().map((e) => `  export ${e};`),
    '}',
    '',
  ].join('\n');
  const files = new Map<string, string | Uint8Array>([[`${ANY_MODULE_WORLD}.wit`, text]]);
  for (const [p, b] of witFilesOf(platformWitDir, join('deps', 'edgehost-platform'))) files.set(p, b);
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

/** Run the jco CLI under this same Node; resolves with its run time (ms), rejects with its output. */
function jco(jcoArgs: string[]): Promise<number> {
  return withSlot(
    () =>
      new Promise<number>((resolveRun, rejectRun) => {
        const started = performance.now();
        const child = spawn(process.execPath, [jcoCli, ...jcoArgs], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
        let output = '';
        child.stdout.on('data', (d: Buffer) => (output += d));
        child.stderr.on('data', (d: Buffer) => (output += d));
        child.on('error', rejectRun);
        child.on('close', (code, signal) => {
          if (code === 0) resolveRun(performance.now() - started);
          else {
            const why = signal ? `killed by ${signal}` : `exit code ${code}`;
            // jco prints a componentize error as `(jco componentize) [Error: <message>] { code: ... }`.
            const text = output
              .trim()
              .replace(/^\(jco [\w-]+\) \[Error: [:\s]*/, '')
              .replace(/\]\s*\{\s*code: '\w+'\s*\}$/, '')
              .trim();
            rejectRun(new Error(`jco ${jcoArgs[0]} failed (${why})${text ? ':\n' + text.slice(-6000) : ''}`));
          }
        });
      }),
  );
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
}

interface Outcome {
  label: string;
  status: 'built' | 'up to date' | 'failed';
  error?: string;
}

const notices: string[] = [];
const outcomes: Outcome[] = [];

function discover(kind: Kind, dir: string, skip: Set<string>): Guest[] {
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
      const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as { world?: unknown; package?: unknown };
      if (typeof m.world !== 'string' || !m.world) throw new Error('"world" must be a non-empty string');
      let witDir = platformWitDir;
      if (m.package === 'test') {
        if (kind !== 'test-guests') throw new Error('"package": "test" is only for test fixture guests');
        witDir = testWitDir;
      } else if (m.package !== undefined) {
        throw new Error(`unknown "package" ${JSON.stringify(m.package)} (expected "test" or none)`);
      }
      guests.push({ kind, name, label, entry, world: m.world, witDir });
    } catch (e) {
      outcomes.push({ label, status: 'failed', error: `${relative(root, manifestPath)}: ${errorText(e)}` });
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
    outfile: join(buildDir, g.kind, `${g.name}.js`),
    logLevel: 'silent',
    legalComments: 'none',
  });
  return result.outputFiles[0].contents;
}

async function buildGuest(g: Guest, worldsByDir: Map<string, Map<string, World>>): Promise<void> {
  const outDir = join(buildDir, g.kind);
  const jsPath = join(outDir, `${g.name}.js`);
  const wasmPath = join(outDir, `${g.name}.wasm`);
  const fingerprintPath = `${wasmPath}.sha256`;
  try {
    const worlds = worldsByDir.get(g.witDir);
    if (!worlds?.has(g.world)) {
      const known = worlds ? [...worlds.keys()].join(', ') : 'none';
      throw new Error(`world "${g.world}" not found in ${relative(root, g.witDir)} (worlds: ${known})`);
    }
    let js: Uint8Array;
    const bundleStarted = performance.now();
    try {
      js = await bundle(g);
    } catch (e) {
      throw new Error(`bundling ${relative(root, g.entry)} failed: ${errorText(e)}`);
    }
    const bundleMs = performance.now() - bundleStarted;
    writeIfChanged(jsPath, js);
    const fingerprint = sha256('edgehost guest v1', toolVersions, g.world, hashDir(g.witDir), js);
    if (!force && existsSync(wasmPath) && readText(fingerprintPath)?.trim() === fingerprint) {
      outcomes.push({ label: g.label, status: 'up to date' });
      console.log(`${g.label} is up to date`);
      return;
    }
    const tmp = tmpName(join(outDir, g.name), '.wasm');
    rmSync(tmp, { force: true });
    const componentizeMs = await jco(['componentize', jsPath, '--wit', g.witDir, '--world-name', g.world, ...COMPONENTIZE_FLAGS, '-o', tmp]);
    if (!existsSync(tmp)) throw new Error(`jco componentize wrote no ${relative(root, tmp)}`);
    renameSync(tmp, wasmPath);
    writeAtomic(fingerprintPath, fingerprint + '\n');
    outcomes.push({ label: g.label, status: 'built' });
    console.log(`built ${g.label} in ${seconds(bundleMs + componentizeMs)}`);
  } catch (e) {
    outcomes.push({ label: g.label, status: 'failed', error: errorText(e) });
    console.error(`FAILED ${g.label}: ${firstLine(errorText(e))}`);
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
  return '// Adjusted by scripts/build-modules.ts for componentize-qjs guests: u64/s64 are numbers,\n' + '// an option that is none is null.\n' + adjusted;
}

/** `jco guest-types` for one world into build/guest-types/<world>/, unless up to date. */
async function guestTypes(world: string, witDir: string): Promise<'generated' | 'up to date'> {
  const outDir = join(guestTypesDir, world);
  const fingerprintPath = join(guestTypesDir, `${world}.sha256`);
  const fingerprint = sha256('edgehost guest-types v2', adjustGuestTypes.toString(), toolVersions, world, hashDir(witDir));
  if (!force && existsSync(join(outDir, `${world}.d.ts`)) && readText(fingerprintPath)?.trim() === fingerprint) {
    return 'up to date';
  }
  // Generate next to the old declarations, then swap, so a type check never sees half a set.
  const tmpDir = tmpName(outDir);
  rmSync(tmpDir, { recursive: true, force: true });
  try {
    await jco(['guest-types', witDir, '--world-name', world, '-o', tmpDir, '--quiet']);
    for (const f of listFiles(tmpDir).filter((n) => n.endsWith('.d.ts'))) {
      const p = join(tmpDir, f);
      writeFileSync(p, adjustGuestTypes(readFileSync(p, 'utf8')));
    }
    rmSync(outDir, { recursive: true, force: true });
    renameSync(tmpDir, outDir);
  } finally {
    rmSync(tmpDir, { recursive: true, force: true });
  }
  writeAtomic(fingerprintPath, fingerprint + '\n');
  return 'generated';
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const started = performance.now();
  mkdirSync(buildDir, { recursive: true });

  const platform = readWitPackage(platformWitDir);
  const worldsByDir = new Map<string, Map<string, World>>([[platformWitDir, platform.worlds]]);
  assembleTypesWit(platform);
  const typeJobs: [string, string][] = [...platform.worlds.keys()].map((w) => [w, platformWitDir]);
  typeJobs.push([ANY_MODULE_WORLD, typesWitDir]);

  const guests = discover('modules', join(root, 'modules'), new Set(['shared']));
  if (withTestGuests) {
    try {
      assembleTestWit();
      const test = readWitPackage(fixtureWitDir);
      worldsByDir.set(testWitDir, test.worlds);
      for (const w of test.worlds.keys()) {
        if (platform.worlds.has(w) || w === ANY_MODULE_WORLD) throw new Error(`test world "${w}" clashes with a platform world name`);
        typeJobs.push([w, testWitDir]);
      }
    } catch (e) {
      outcomes.push({ label: 'build/wit-test', status: 'failed', error: errorText(e) });
    }
    guests.push(...discover('test-guests', join(root, 'test', 'fixtures', 'guests'), new Set()));
  }
  for (const n of notices) console.log(n);
  for (const o of outcomes) if (o.status === 'failed') console.error(`FAILED ${o.label}: ${firstLine(o.error ?? '')}`);

  const guestJobs = guests.map((g) => buildGuest(g, worldsByDir));
  const typeResults = await Promise.all(
    typeJobs.map(async ([world, dir]) => {
      try {
        return { world, status: await guestTypes(world, dir) };
      } catch (e) {
        outcomes.push({ label: `guest types ${world}`, status: 'failed', error: errorText(e) });
        console.error(`FAILED guest types ${world}: ${firstLine(errorText(e))}`);
        return { world, status: 'failed' as const };
      }
    }),
  );
  await Promise.all(guestJobs);

  const generated = typeResults.filter((r) => r.status === 'generated').map((r) => r.world);
  const current = typeResults.filter((r) => r.status === 'up to date').map((r) => r.world);
  if (generated.length) console.log(`guest types generated for ${generated.join(', ')}`);
  if (current.length && !generated.length) console.log(`guest types are up to date (${current.join(', ')})`);

  const failed = outcomes.filter((o) => o.status === 'failed');
  const count = (s: Outcome['status']) => outcomes.filter((o) => o.status === s).length;
  const summary = `${count('built')} built, ${count('up to date')} up to date, ${failed.length} failed`;
  console.log(`${summary} in ${seconds(performance.now() - started)}`);
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
