import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { missingFor, type Purpose, REQUIREMENTS, type Requirement } from '../../scripts/system-deps.ts';
import { root, tempDir } from '../support/paths.ts';

const script = join(root, 'scripts/system-deps.ts');
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

// A fake machine: `bin/` is the whole PATH, `root/` stands for `/` (EDGEHOST_SYSTEM_ROOT), and
// stubs for apt-get, sudo and id append what they were asked to `calls.log`.
interface Fake {
  bin: string;
  root: string;
  log: string;
  calls(): string[];
  run(purpose: string): { status: number | null; stdout: string; stderr: string };
}

function writeExecutable(file: string, body = 'exit 0'): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
}

/** Where a requirement's command goes: the daemon in the fake /usr/sbin (off PATH), the others on PATH. */
function commandPath(fake: Fake, r: Requirement, command: string): string {
  return r.sbin ? join(fake.root, 'usr/sbin', command) : join(fake.bin, command);
}

/** Every command and file the purpose needs, put where the script looks for it. */
function provide(fake: Fake, purpose: Purpose): void {
  for (const r of REQUIREMENTS.filter((r) => r.for.includes(purpose))) {
    for (const c of r.commands ?? []) writeExecutable(commandPath(fake, r, c));
    for (const f of r.files ?? []) {
      const file = join(fake.root, f.replaceAll('*', '1.0'));
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, '');
    }
  }
}

/**
 * apt-get's stub logs its arguments and DEBIAN_FRONTEND; `install` "installs" by creating the
 * commands of the packages named (or does nothing when `installs` is false). Exit status: `aptStatus`.
 */
function fakeSystem(opts: { uid?: number; sudo?: boolean; aptGet?: boolean; installs?: boolean; aptStatus?: number } = {}): Fake {
  const { uid = 0, sudo = false, aptGet = true, installs = true, aptStatus = 0 } = opts;
  const dir = tempDir('edgehost-system-deps-');
  dirs.push(dir);
  const fake: Fake = {
    bin: join(dir, 'bin'),
    root: join(dir, 'root'),
    log: join(dir, 'calls.log'),
    calls: () => (existsSync(fake.log) ? readFileSync(fake.log, 'utf8').trimEnd().split('\n') : []),
    run: (purpose) => {
      const r = spawnSync(process.execPath, [script, purpose], {
        env: { PATH: fake.bin, EDGEHOST_SYSTEM_ROOT: fake.root },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    },
  };
  mkdirSync(fake.bin, { recursive: true });
  mkdirSync(fake.root, { recursive: true });
  writeExecutable(join(fake.bin, 'id'), `echo "id $*" >> '${fake.log}'\necho ${uid}`);
  if (sudo) {
    // Takes leading VAR=value arguments as sudo does, then runs the command.
    writeExecutable(
      join(fake.bin, 'sudo'),
      `echo "sudo $*" >> '${fake.log}'\nwhile case "$1" in *=*) export "$1";; *) false;; esac; do shift; done\nexec "$@"`,
    );
  }
  if (aptGet) {
    // The stub has only /bin/sh and absolute paths: PATH is the fake bin.
    const installers = REQUIREMENTS.map((r) => {
      const files = (r.commands ?? []).map((c) => commandPath(fake, r, c));
      // Files the package provides, with a version directory for each `*`.
      const plain = (r.files ?? []).map((f) => join(fake.root, f.replaceAll('*', '14.0.6')));
      const dirs = plain.map((f) => `/bin/mkdir -p '${dirname(f)}'; : > '${f}';`).join(' ');
      return `    ${r.package}) ${dirs} for f in ${files.map((f) => `'${f}'`).join(' ') || '/dev/null'}; do [ "$f" = /dev/null ] || { printf '#!/bin/sh\\n' > "$f"; /bin/chmod +x "$f"; }; done;;`;
    });
    writeExecutable(
      join(fake.bin, 'apt-get'),
      [
        `echo "apt-get $* (DEBIAN_FRONTEND=$DEBIAN_FRONTEND)" >> '${fake.log}'`,
        'echo "Reading package lists..."; echo "E: simulated apt output" >&2',
        `if [ "$1" = install ] && [ ${installs && aptStatus === 0 ? 1 : 0} = 1 ]; then`,
        `  for p in "$@"; do case "$p" in\n${installers.join('\n')}\n  esac; done`,
        'fi',
        `exit ${aptStatus}`,
      ].join('\n'),
    );
  }
  mkdirSync(join(fake.root, 'usr/sbin'), { recursive: true });
  return fake;
}

const hide = (fake: Fake, command: string) => rmSync(join(fake.bin, command));
const aptCalls = (fake: Fake) => fake.calls().filter((c) => !c.startsWith('id '));

describe('system-deps: when everything is present', () => {
  it('on a machine that has the test set, `test` prints nothing, exits 0 and runs no apt-get', () => {
    const fake = fakeSystem();
    provide(fake, 'test');
    const r = fake.run('test');
    assert.deepEqual(r, { status: 0, stdout: '', stderr: '' });
    assert.deepEqual(aptCalls(fake), []);
  });

  it('on this machine, after pretest, `test` prints nothing and exits 0', () => {
    const r = spawnSync(process.execPath, [script, 'test'], { encoding: 'utf8' });
    assert.deepEqual({ status: r.status, stdout: r.stdout, stderr: r.stderr }, { status: 0, stdout: '', stderr: '' });
  });

  it("the broker in /usr/sbin counts as present when sbin is not on PATH (a user's PATH on Debian)", () => {
    const fake = fakeSystem();
    provide(fake, 'bench');
    assert.ok(existsSync(join(fake.root, 'usr/sbin/mosquitto')));
    assert.deepEqual(fake.run('bench'), { status: 0, stdout: '', stderr: '' });
  });

  it('`start` needs nothing beyond npm packages: it passes with an empty PATH', () => {
    const fake = fakeSystem({ aptGet: false });
    hide(fake, 'id');
    assert.deepEqual(fake.run('start'), { status: 0, stdout: '', stderr: '' });
  });
});

describe('system-deps: installing what is missing', () => {
  it('with a PATH that hides mosquitto_sub, as root, it names mosquitto-clients on one line and installs only it: one update, one quiet install', () => {
    const fake = fakeSystem();
    provide(fake, 'test');
    hide(fake, 'mosquitto_sub');
    const r = fake.run('test');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'edgehost: installing mosquitto-clients for npm test (apt-get; once)\n');
    assert.deepEqual(aptCalls(fake), [
      'apt-get update -qq -o DPkg::Lock::Timeout=300 (DEBIAN_FRONTEND=noninteractive)',
      'apt-get install -y --no-install-recommends -qq -o DPkg::Lock::Timeout=300 mosquitto-clients (DEBIAN_FRONTEND=noninteractive)',
    ]);
    assert.ok(existsSync(join(fake.bin, 'mosquitto_sub')), 'the stub installed it');
    assert.deepEqual(fake.run('test'), { status: 0, stdout: '', stderr: '' }, 'a second run finds it and prints nothing');
  });

  it('with nothing present, each purpose names exactly the packages listed for it', () => {
    const expected: Record<Purpose, string[]> = {
      test: ['mosquitto', 'mosquitto-clients', 'graphviz', 'chromium', 'clang-14', 'lld-14', 'wasi-libc', 'libclang-rt-14-dev-wasm32'],
      bench: ['mosquitto'],
      soak: ['mosquitto', 'mosquitto-clients'],
      images: ['graphviz'],
      start: [],
    };
    for (const purpose of Object.keys(expected) as Purpose[]) {
      const fake = fakeSystem();
      const r = fake.run(purpose);
      assert.equal(r.status, 0, r.stderr);
      const installs = aptCalls(fake).find((c) => c.startsWith('apt-get install'));
      const named =
        installs
          ?.replace(/ \(DEBIAN_FRONTEND=.*\)$/, '')
          .split(' ')
          .slice(7) ?? [];
      assert.deepEqual(named, expected[purpose], purpose);
    }
  });

  it('a file requirement is missing until its file exists under the system root, and a `*` segment matches any version', () => {
    const fake = fakeSystem();
    const sys = { path: [fake.bin], root: fake.root };
    const fileRequirements = REQUIREMENTS.filter((r) => r.files).map((r) => ({ ...r, for: ['test' as const] }));
    assert.deepEqual(
      fileRequirements.map((r) => r.package),
      ['wasi-libc', 'libclang-rt-14-dev-wasm32'],
    );
    assert.deepEqual(
      missingFor(sys, 'test', fileRequirements).map((r) => r.package),
      ['wasi-libc', 'libclang-rt-14-dev-wasm32'],
    );
    for (const f of fileRequirements.flatMap((r) => r.files ?? [])) {
      const file = join(fake.root, f.replace('*', '14.0.6'));
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, '');
    }
    assert.deepEqual(missingFor(sys, 'test', fileRequirements), []);
    rmSync(join(fake.root, 'usr/lib/wasm32-wasi/libc.a'));
    assert.deepEqual(
      missingFor(sys, 'test', fileRequirements).map((r) => r.package),
      ['wasi-libc'],
    );
  });

  it('not root: it installs through sudo, passing DEBIAN_FRONTEND', () => {
    const fake = fakeSystem({ uid: 1000, sudo: true });
    provide(fake, 'test');
    hide(fake, 'dot');
    const r = fake.run('test');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, 'edgehost: installing graphviz for npm test (sudo apt-get; once)\n');
    const calls = aptCalls(fake);
    assert.equal(calls.length, 4);
    assert.match(calls[0], /^sudo DEBIAN_FRONTEND=noninteractive \S+\/apt-get update /);
    assert.match(calls[2], /^sudo DEBIAN_FRONTEND=noninteractive \S+\/apt-get install -y --no-install-recommends .* graphviz$/);
    assert.match(calls[3], /^apt-get install .* graphviz \(DEBIAN_FRONTEND=noninteractive\)$/);
  });
});

describe('system-deps: when it cannot install, it stops with the packages and the command to run', () => {
  it('not root and no sudo: exit 1, names mosquitto-clients and the exact command, runs no apt-get', () => {
    const fake = fakeSystem({ uid: 1000 });
    provide(fake, 'test');
    hide(fake, 'mosquitto_sub');
    const r = fake.run('test');
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^edgehost: npm test needs a Debian package that is missing: mosquitto-clients \(mosquitto_sub, mosquitto_pub\)\./);
    assert.match(r.stderr, /sudo is not available/);
    assert.ok(r.stderr.includes('\n  apt-get update && apt-get install -y --no-install-recommends mosquitto-clients\n'), r.stderr);
    assert.deepEqual(aptCalls(fake), []);
  });

  it('no apt-get: exit 1, names the packages and the Debian/Ubuntu command', () => {
    const fake = fakeSystem({ aptGet: false });
    const r = fake.run('bench');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /needs a Debian package that is missing: mosquitto \(mosquitto\)\./);
    assert.ok(r.stderr.includes('\n  sudo apt-get update && sudo apt-get install -y --no-install-recommends mosquitto\n'), r.stderr);
  });

  it("apt-get fails: exit 1, with the command to run and the end of apt's output", () => {
    const fake = fakeSystem({ aptStatus: 100 });
    provide(fake, 'test');
    hide(fake, 'dot');
    const r = fake.run('test');
    assert.equal(r.status, 1);
    const lines = r.stderr.split('\n');
    assert.equal(lines[0], 'edgehost: installing graphviz for npm test (apt-get; once)');
    assert.match(r.stderr, /`apt-get update` failed \(status 100\)/);
    assert.ok(r.stderr.includes('\n  apt-get update && apt-get install -y --no-install-recommends graphviz\n'), r.stderr);
    assert.match(r.stderr, / {2}\| E: simulated apt output/);
    assert.equal(aptCalls(fake).length, 1, 'no install after a failed update');
  });

  it('still missing after apt-get ran: exit 1 rather than letting the tests fail later', () => {
    const fake = fakeSystem({ installs: false });
    provide(fake, 'test');
    hide(fake, 'mosquitto_pub');
    const r = fake.run('test');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /apt-get ran, but mosquitto-clients still is not found/);
  });

  it('an unknown purpose prints the usage and exits 2', () => {
    const r = fakeSystem().run('deploy');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^usage: node scripts\/system-deps.ts <test\|bench\|soak\|start\|images>/);
  });
});
