// The build's progress lines: on a terminal a spinner line that names what runs
// and is cleared before every other line and at the end; elsewhere one line per
// guest when its first slow step starts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BuildProgress } from '../../scripts/build-progress.ts';

/** Back to the line's start and erase it: what the spinner line begins with. */
const CLEAR = '\r\x1b[2K';

function stream(isTTY: boolean) {
  const written: string[] = [];
  return { written, out: { isTTY, columns: 60, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream };
}

test('not on a terminal: the first slow step of each guest is announced once, and nothing is redrawn', () => {
  const { written, out } = stream(false);
  const p = new BuildProgress(out);
  p.step('telemetry', 'type check');
  p.step('telemetry', 'componentize');
  p.step('gateway', 'componentize');
  p.line('built telemetry in 3.0 s');
  p.done('telemetry');
  p.done('gateway');
  assert.deepEqual(written, ['building telemetry (type check)\n', 'building gateway (componentize)\n', 'built telemetry in 3.0 s\n']);
});

test('on a terminal: a spinner line names the running steps, lines are printed above it, and it is cleared when all are done', () => {
  const saved = { CI: process.env.CI, TERM: process.env.TERM };
  delete process.env.CI;
  process.env.TERM = 'xterm';
  try {
    const { written, out } = stream(true);
    const p = new BuildProgress(out);
    p.step('telemetry', 'componentize');
    const spinner = written.at(-1)!;
    assert.ok(spinner.startsWith(CLEAR), JSON.stringify(spinner));
    assert.match(spinner.slice(CLEAR.length), /^. \d+\.\d s: telemetry \(componentize, \d+ s\)$/);
    p.step('a-module-with-a-long-name', 'type check');
    assert.ok(written.at(-1)!.length <= 60 + 4, 'cut to the terminal width');
    p.line('built telemetry in 3.0 s');
    const at = written.indexOf('built telemetry in 3.0 s\n');
    assert.equal(written[at - 1], CLEAR, 'the spinner is cleared before the line');
    assert.equal(written.length, at + 1, 'drawn again by the next frame, below it');
    p.done('telemetry');
    p.done('a-module-with-a-long-name');
    assert.equal(written.at(-1), CLEAR, 'cleared at the end');
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});
