// What the host prints, as a person or a machine reads it: a real host process
// whose stdout is a pipe writes JSON lines; on a terminal (a real pty, through
// util-linux `script`) it writes coloured pretty lines; --log-format overrides
// either way.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeConfig } from '../support/host-process.ts';
import { telemetry } from '../support/modules.ts';
import { root, tempDir } from '../support/paths.ts';

const READY = 'module telemetry ready';

interface Run {
  child: ChildProcess;
  /** Resolves with everything printed once `text` has been printed. */
  printed(text: string, timeoutMs?: number): Promise<string>;
}

function hostArgs(extra: string[]): string[] {
  return [
    '--disable-warning=ExperimentalWarning',
    join(root, 'host/main.ts'),
    '--config',
    writeConfig({ modules: { telemetry: telemetry() } }),
    '--data-dir',
    tempDir(),
    '--admin-address',
    '127.0.0.1:0',
    ...extra,
  ];
}

function run(command: string, args: string[]): Run {
  // Its own process group: the terminal run's host is a grandchild, ended with the group.
  const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  const waiters: { text: string; resolve: (s: string) => void }[] = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    for (const w of waiters) if (out.includes(w.text)) w.resolve(out);
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  return {
    child,
    printed: (text, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        if (out.includes(text)) return resolve(out);
        const timer = setTimeout(() => reject(new Error(`no "${text}" after ${timeoutMs} ms:\n${out}\n--- stderr ---\n${err}`)), timeoutMs);
        waiters.push({
          text,
          resolve: (s) => {
            clearTimeout(timer);
            resolve(s);
          },
        });
      }),
  };
}

/** Runs the host on a pseudo-terminal: `script` gives it one and copies what it prints to our pipe. */
function onTerminal(extra: string[]): Run {
  const command = [process.execPath, ...hostArgs(extra)].map((a) => `'${a}'`).join(' ');
  return run('script', ['--quiet', '--flush', '--return', '--command', `exec ${command}`, '/dev/null']);
}

async function end(r: Run): Promise<void> {
  if (r.child.exitCode !== null || r.child.signalCode !== null) return;
  const exited = once(r.child, 'exit');
  process.kill(-r.child.pid!, 'SIGKILL');
  await exited;
}

const lines = (text: string) => text.split(/\r?\n/).filter((l) => l.trim() !== '');
const ESC = '\x1b[';
/** The time, the level, the module in brackets, the message, then the other fields on the same line. */
const PRETTY_READY = /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: \[telemetry\] module telemetry ready \{"world":"telemetry","instantiateMs":\d+,"restarts":0\}$/;

test('piped, the host writes one JSON object per line, and --log-format pretty makes it write pretty lines without colour', async () => {
  const piped = run(process.execPath, hostArgs([]));
  const pretty = run(process.execPath, hostArgs(['--log-format', 'pretty']));
  try {
    const json = lines(await piped.printed(READY));
    for (const line of json) {
      const parsed = JSON.parse(line) as { level: number; time: number; msg: string };
      assert.equal(typeof parsed.time, 'number', line);
    }
    assert.ok(json.some((l) => JSON.parse(l).msg === READY));

    const text = lines(await pretty.printed(READY));
    const ready = text.find((l) => l.includes(READY))!;
    assert.match(ready, PRETTY_READY);
    assert.ok(
      text.every((l) => !l.startsWith('{')),
      'no JSON lines',
    );
    assert.ok(!text.join('\n').includes(ESC), 'no colour codes when stdout is not a terminal');
  } finally {
    await Promise.all([end(piped), end(pretty)]);
  }
});

test('on a terminal, the host writes coloured pretty lines, and --log-format json makes it write JSON', async () => {
  const tty = onTerminal([]);
  const json = onTerminal(['--log-format', 'json']);
  try {
    const text = lines(await tty.printed(READY));
    const ready = text.find((l) => l.includes(READY))!;
    assert.ok(ready.includes(ESC), `coloured: ${JSON.stringify(ready)}`);
    // Without the colour codes, the line a person reads.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the colour codes are what is removed
    assert.match(ready.replace(/\x1b\[[0-9;]*m/g, ''), PRETTY_READY);

    const objects = lines(await json.printed(`"msg":"${READY}"`)).map((l) => JSON.parse(l) as { msg: string });
    assert.ok(objects.some((o) => o.msg === READY));
  } finally {
    await Promise.all([end(tty), end(json)]);
  }
});
