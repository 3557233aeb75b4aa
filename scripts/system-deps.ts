// Installs the Debian packages an npm script needs beyond npm packages, when they are missing.
//
//   node scripts/system-deps.ts <test|bench|soak|start|images>
//
// Run by the npm scripts' pre-hooks (`pretest`, `prebench`, `presoak`, `prestart`, `preimages`), so that
// `npm install && npm test` is the whole set-up on Debian or Ubuntu. For each requirement of the
// purpose it checks that the requirement is present (commands looked up on PATH, files on disk).
// - All present: prints nothing, exits 0. This runs before every `npm test`, so it only stats files.
// - Some missing: prints one line naming the packages, then `apt-get update` and one
//   `apt-get install` (noninteractive, no recommends, output kept back unless it fails), as root
//   or through sudo; checks again, and exits 0.
// - Cannot install (no apt-get, not root and no sudo, apt-get failed, still missing after it):
//   one message naming the packages and the command to run, exit 1, before any test starts.
//
// For tests: commands are looked up on PATH only (plus the sbin directories for a requirement
// marked `sbin`, because Debian's PATH for users other than root has no sbin), and every absolute
// path (sbin directories, files) is resolved under EDGEHOST_SYSTEM_ROOT (default `/`). `id`,
// `sudo` and `apt-get` are found on PATH too, so a test can stub them.

import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export const PURPOSES = ['test', 'bench', 'soak', 'start', 'images'] as const;
export type Purpose = (typeof PURPOSES)[number];

/** How the user runs each purpose, for messages. */
const NPM_COMMAND: Record<Purpose, string> = {
  test: 'npm test',
  bench: 'npm run bench',
  soak: 'npm run soak',
  start: 'npm start',
  images: 'npm run images',
};

export interface Requirement {
  /** The Debian package that provides it. */
  package: string;
  /** The npm scripts that need it. `start` needs nothing beyond npm packages today. */
  for: Purpose[];
  /** Who uses it, for readers of this list. */
  usedBy: string;
  /** Commands that must be on PATH. */
  commands?: string[];
  /** Also look for the commands in the sbin directories (daemons live there, off a user's PATH). */
  sbin?: boolean;
  /** Absolute paths that must exist; a `*` segment matches any one directory name (a version). */
  files?: string[];
}

export const REQUIREMENTS: Requirement[] = [
  {
    package: 'mosquitto',
    for: ['test', 'bench', 'soak'],
    usedBy: 'the MQTT broker: the baseline in bench/server.ts and bench/soak.ts, and a reference peer for the server tests',
    commands: ['mosquitto'],
    sbin: true,
  },
  {
    package: 'mosquitto-clients',
    for: ['test', 'soak'],
    usedBy: "mosquitto_sub and mosquitto_pub in the server module's integration tests, and the reader of the soak's retained storm",
    commands: ['mosquitto_sub', 'mosquitto_pub'],
  },
  { package: 'graphviz', for: ['test', 'images'], usedBy: '`dot`, which renders images/architecture.dot', commands: ['dot'] },
  // The dashboard's browser test drives Chromium through playwright-core (executablePath
  // /usr/bin/chromium, never a downloaded browser; on Ubuntu the `chromium` package is a snap
  // wrapper, which does not run in containers). The C example guests (examples/, and the
  // wasi:http test guest) are built from source with clang for wasm32-wasi by the test setup.
  { package: 'chromium', for: ['test'], usedBy: "the dashboard's browser test (playwright-core)", commands: ['chromium'] },
  { package: 'clang-14', for: ['test'], usedBy: 'the C example guests (compiler)', commands: ['clang-14'] },
  { package: 'lld-14', for: ['test'], usedBy: 'the C example guests (linker)', commands: ['wasm-ld-14'] },
  { package: 'wasi-libc', for: ['test'], usedBy: 'the C example guests (libc)', files: ['/usr/include/wasm32-wasi/stdio.h', '/usr/lib/wasm32-wasi/libc.a'] },
  {
    package: 'libclang-rt-14-dev-wasm32',
    for: ['test'],
    usedBy: 'the C example guest (compiler runtime)',
    files: ['/usr/lib/llvm-14/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a'],
  },
];

const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

export interface System {
  /** PATH, split. */
  path: string[];
  /** Where absolute paths are resolved (`/` outside tests). */
  root: string;
}

export function systemFromEnv(env: NodeJS.ProcessEnv): System {
  return { path: (env.PATH ?? '').split(delimiter).filter(Boolean), root: env.EDGEHOST_SYSTEM_ROOT || '/' };
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The command's path on PATH (and, if asked, in the sbin directories), or undefined. */
export function findCommand(sys: System, name: string, sbin = false): string | undefined {
  const dirs = sbin ? [...sys.path, ...SBIN_DIRS.map((d) => join(sys.root, d))] : sys.path;
  for (const dir of dirs) {
    const file = join(dir, name);
    if (isExecutable(file)) return file;
  }
  return undefined;
}

/** Whether an absolute path, with `*` segments matching any directory, exists under the root. */
function fileExists(sys: System, pattern: string): boolean {
  const segments = pattern.split('/').filter(Boolean);
  const walk = (dir: string, i: number): boolean => {
    if (i === segments.length) return existsSync(dir);
    if (segments[i] !== '*') return walk(join(dir, segments[i]), i + 1);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return false;
    }
    return names.some((name) => walk(join(dir, name), i + 1));
  };
  return walk(sys.root, 0);
}

function isPresent(sys: System, r: Requirement): boolean {
  return (r.commands ?? []).every((c) => findCommand(sys, c, r.sbin)) && (r.files ?? []).every((f) => fileExists(sys, f));
}

export function missingFor(sys: System, purpose: Purpose, requirements = REQUIREMENTS): Requirement[] {
  return requirements.filter((r) => r.for.includes(purpose) && !isPresent(sys, r));
}

const APT_OPTIONS = ['-qq', '-o', 'DPkg::Lock::Timeout=300'];

function installCommand(packages: string[], sudo: string): string {
  return `${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends ${packages.join(' ')}`;
}

function isRoot(sys: System): boolean {
  const id = findCommand(sys, 'id');
  if (id) {
    const r = spawnSync(id, ['-u'], { encoding: 'utf8' });
    if (r.status === 0) return r.stdout.trim() === '0';
  }
  return process.getuid?.() === 0;
}

/** The last lines of a command's output, indented, for a failure message. */
function tail(output: string, lines = 15): string {
  const kept = output.trimEnd().split('\n').slice(-lines);
  return kept.length && kept[0] ? `\n${kept.map((l) => `  | ${l}`).join('\n')}` : '';
}

/** Installs what `purpose` is missing. Returns the process exit code; prints nothing when nothing is missing. */
export function ensure(purpose: Purpose, env: NodeJS.ProcessEnv = process.env): number {
  const sys = systemFromEnv(env);
  const missing = missingFor(sys, purpose);
  if (missing.length === 0) return 0;

  const packages = missing.map((r) => r.package);
  const what = missing.map((r) => `${r.package} (${[...(r.commands ?? []), ...(r.files ?? [])].join(', ')})`).join(', ');
  const needs = `edgehost: ${NPM_COMMAND[purpose]} needs ${packages.length === 1 ? 'a Debian package' : 'Debian packages'} that ${packages.length === 1 ? 'is' : 'are'} missing: ${what}.`;
  const fail = (why: string, command: string, output = ''): number => {
    console.error(`${needs}\n${why}\n  ${command}${output}`);
    return 1;
  };

  const aptGet = findCommand(sys, 'apt-get');
  if (!aptGet)
    return fail(
      "apt-get is not available here, so they cannot be installed for you. Install them with the system's package manager; on Debian or Ubuntu:",
      installCommand(packages, 'sudo '),
    );
  const root = isRoot(sys);
  const sudo = root ? undefined : findCommand(sys, 'sudo');
  if (!root && !sudo) return fail('Installing them needs root, and sudo is not available. As root, run:', installCommand(packages, ''));

  const how = root ? 'apt-get' : 'sudo apt-get';
  console.error(`edgehost: installing ${packages.join(' ')} for ${NPM_COMMAND[purpose]} (${how}; once)`);
  const run = (args: string[]) => {
    const argv = root ? [aptGet, ...args] : [sudo!, 'DEBIAN_FRONTEND=noninteractive', aptGet, ...args];
    // stdin stays the terminal's so that sudo can ask for a password; apt's own output is kept back.
    return spawnSync(argv[0], argv.slice(1), {
      env: { ...env, DEBIAN_FRONTEND: 'noninteractive' },
      stdio: ['inherit', 'pipe', 'pipe'],
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
  };
  const command = installCommand(packages, root ? '' : 'sudo ');
  for (const args of [
    ['update', ...APT_OPTIONS],
    ['install', '-y', '--no-install-recommends', ...APT_OPTIONS, ...packages],
  ]) {
    const r = run(args);
    if (r.status !== 0) {
      const status = r.error ? r.error.message : r.signal ? `signal ${r.signal}` : `status ${r.status}`;
      return fail(`\`${how} ${args[0]}\` failed (${status}). Run it yourself to see why:`, command, tail(`${r.stdout ?? ''}${r.stderr ?? ''}`));
    }
  }

  const still = missingFor(sys, purpose);
  if (still.length > 0) {
    const names = still.map((r) => r.package).join(' ');
    return fail(
      `apt-get ran, but ${names} still ${still.length === 1 ? 'is' : 'are'} not found (PATH: ${sys.path.join(delimiter)}). Check that this installs them:`,
      command,
    );
  }
  return 0;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const purpose = args[0] as Purpose;
  if (args.length !== 1 || !PURPOSES.includes(purpose)) {
    console.error(`usage: node scripts/system-deps.ts <${PURPOSES.join('|')}>`);
    process.exit(2);
  }
  process.exitCode = ensure(purpose);
}
