// The build's checks, tried as a new module author would: copy modules/telemetry (as the README
// says), make one ordinary mistake per copy, run `npm run build`'s script on the copies, and read
// what it says. The copies live in a temporary modules folder (--modules, --out), never in the repo.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { root, tempDir } from '../support/paths.ts';

const script = join(root, 'scripts/build-modules.ts');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The full report of each failed guest, by label (the `--- <label>:` sections of stderr) */
  failures: Map<string, string>;
}

function build(cwd: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const failures = new Map<string, string>();
      for (const section of stderr.split(/^--- /m).slice(1)) {
        const [label, ...rest] = section.split('\n');
        failures.set(label.replace(/:$/, ''), rest.join('\n'));
      }
      resolve({ code, stdout, stderr, failures });
    });
  });
}

/** A temporary modules folder with modules/shared, and copies of modules/telemetry changed by `edit`. */
function copies(edits: Record<string, (source: string) => string>): string {
  const dir = tempDir('edgehost-build-');
  cpSync(join(root, 'modules/shared'), join(dir, 'modules/shared'), { recursive: true });
  for (const [name, edit] of Object.entries(edits)) {
    const folder = join(dir, 'modules', name);
    cpSync(join(root, 'modules/telemetry'), folder, { recursive: true });
    const entry = join(folder, 'src/index.ts');
    const before = readFileSync(entry, 'utf8');
    const after = edit(before);
    assert.notEqual(after, before, `the edit for ${name} changed nothing: has modules/telemetry changed?`);
    writeFileSync(entry, after);
  }
  return dir;
}

/** 1-based line of the first line of `name`'s entry that contains `text`. */
function lineOf(dir: string, name: string, text: string): number {
  const lines = readFileSync(join(dir, 'modules', name, 'src/index.ts'), 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes(text));
  assert.ok(i >= 0, `${text} not found in ${name}`);
  return i + 1;
}

const mistakes = {
  // every(1000n): a BigInt where the WIT says u32.
  'counter-bigint': (s: string) => s.replace('timerId = every(interval);', 'timerId = every(1000n);'),
  // The timer handler exported as fire instead of onTick.
  'counter-fire': (s: string) => s.replace('  onTick(id: number): void {', '  fire(id: number): void {'),
  // init answering with a result object: QuickJS guests return nothing (ok) or throw (err).
  'counter-init': (s: string) =>
    s.replace('  init(): void {', '  init() {').replace(/(console\.info\(`telemetry: .*\);\n)( {2}\},)/, "$1    return { tag: 'ok', val: undefined };\n$2"),
};

describe('three ordinary mistakes in a copy of modules/telemetry', () => {
  let dir: string;
  let run: Run;
  before(async () => {
    dir = copies(mistakes);
    run = await build(dir, '--modules', 'modules', '--out', 'out');
  });

  test('the build fails, for each of the three copies', () => {
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.deepEqual([...run.failures.keys()].sort(), ['counter-bigint', 'counter-fire', 'counter-init']);
  });

  test('nothing broken is componentized: the checks fail first, so no restart loop can follow', () => {
    assert.doesNotMatch(run.stdout, /^built /m);
    assert.deepEqual(existsSync(join(dir, 'out')) ? readdirSync(join(dir, 'out')).filter((f) => f.endsWith('.wasm')) : [], []);
  });

  test('a BigInt where WIT says u32: the TypeScript error at its file and line, and the fix', () => {
    const report = run.failures.get('counter-bigint') ?? '';
    const line = lineOf(dir, 'counter-bigint', 'every(1000n)');
    assert.match(report, /type check failed \(world "telemetry"/);
    assert.ok(
      report.includes(
        `modules/counter-bigint/src/index.ts:${line}:21: error TS2345: Argument of type 'bigint' is not assignable to parameter of type 'number'.`,
      ),
      report,
    );
    assert.match(report, /fix: WIT integers \(u8 to u64, s8 to s64\) are plain numbers in QuickJS guests, never BigInt: write 1000, not 1000n/);
  });

  test('onTick exported as fire: the WIT function, the TypeScript name it needs and the rename', () => {
    const report = run.failures.get('counter-fire') ?? '';
    const line = lineOf(dir, 'counter-fire', 'fire(id: number)');
    assert.ok(
      report.includes(
        `modules/counter-fire/src/index.ts:${line}:3: world "telemetry" exports timer-handler.on-tick: export timerHandler with a function onTick(id: u32) (found timerHandler.fire)`,
      ),
      report,
    );
    assert.match(report, /fix: rename timerHandler\.fire to onTick/);
  });

  test('lifecycle.init answering with a result object: the WIT function, and return-or-throw as the fix', () => {
    const report = run.failures.get('counter-init') ?? '';
    const line = lineOf(dir, 'counter-init', '  init() {');
    assert.ok(
      report.includes(`modules/counter-init/src/index.ts:${line}:3: lifecycle.init returns a value; for WIT init: func() -> result<_, string>`),
      report,
    );
    assert.match(report, /a returned value is ignored: \{ tag: 'err', \.\.\. \} would count as ok/);
    assert.match(report, /fix: end init without a value for ok; for err, throw new Error\('why'\)/);
  });
});

test('a correct copy of modules/telemetry passes both checks, and is not type-checked again while its files are unchanged', async () => {
  const dir = copies({ counter: (s) => s.replace('telemetry: tick failed', 'counter: tick failed') });
  const run = await build(dir, '--modules', 'modules', '--out', 'out', '--check-only');
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /^checked counter in /m);
  assert.match(run.stdout, /1 checked, 0 failed/);
  const again = await build(dir, '--modules', 'modules', '--out', 'out', '--check-only');
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^checked counter in .* \(type check skipped: its files are unchanged\)$/m);
});

test('"check": false is refused outside test fixture guests', async () => {
  const dir = copies({ counter: (s) => s.replace('telemetry: tick failed', 'counter: tick failed') });
  const manifest = join(dir, 'modules/counter/module.json');
  writeFileSync(manifest, JSON.stringify({ ...JSON.parse(readFileSync(manifest, 'utf8')), check: false }));
  const run = await build(dir, '--modules', 'modules', '--out', 'out', '--check-only');
  assert.equal(run.code, 1);
  assert.match(run.failures.get('counter') ?? '', /modules\/counter\/module\.json: "check": false is only for test fixture guests/);
});

test('--no-check (for tests only) builds a guest the checks would refuse', async () => {
  const dir = copies({ 'counter-init': mistakes['counter-init'] });
  const run = await build(dir, '--modules', 'modules', '--out', 'out', '--no-check');
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /^built counter-init in .*, not checked$/m);
  assert.ok(existsSync(join(dir, 'out/counter-init.wasm')));
  // Not on a terminal: a line when the slow step starts, one when the guest is done, no spinner.
  assert.ok(run.stdout.indexOf('building counter-init (componentize)\n') < run.stdout.indexOf('built counter-init in'), run.stdout);
  assert.ok(!run.stdout.includes('\r') && !run.stdout.includes('\x1b['), 'no terminal control codes');
  const again = await build(dir, '--modules', 'modules', '--out', 'out', '--no-check');
  assert.match(again.stdout, /^counter-init is up to date$/m);
  assert.doesNotMatch(again.stdout, /^building /m, 'a guest that is up to date is not announced');
});
