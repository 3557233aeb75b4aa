// The dashboard's log tail keeps the last lines within its bounds (count and
// bytes), cuts a line too long for it, and hands new lines to listeners.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LOG_LINE_MAX_BYTES, LogTail } from '../../../host/admin/log-tail.ts';

const line = (n: number, msg = `line ${n}`) => `${JSON.stringify({ level: 30, n, msg })}\n`;

test('the tail keeps the newest lines, without their newline, up to its line count', () => {
  const tail = new LogTail({ maxLines: 3 });
  for (let n = 1; n <= 5; n++) tail.write(line(n));
  assert.deepEqual(
    tail.lines().map((l) => JSON.parse(l).n),
    [3, 4, 5],
  );
  assert.ok(tail.lines().every((l) => !l.endsWith('\n')));
  // Many more lines than the bound: still the newest ones, in order.
  for (let n = 6; n <= 1000; n++) tail.write(line(n));
  assert.deepEqual(
    tail.lines().map((l) => JSON.parse(l).n),
    [998, 999, 1000],
  );
});

test('the tail keeps no more bytes than its budget, but always the newest line', () => {
  const tail = new LogTail({ maxLines: 1000, maxBytes: 1000 });
  for (let n = 1; n <= 100; n++) tail.write(line(n, 'x'.repeat(90)));
  const kept = tail.lines();
  assert.ok(kept.reduce((sum, l) => sum + l.length, 0) <= 1000);
  assert.equal(JSON.parse(kept.at(-1)!).n, 100);
  const small = new LogTail({ maxBytes: 10 });
  small.write(line(1));
  assert.equal(small.lines().length, 1);
});

test('a line longer than LOG_LINE_MAX_BYTES is kept as one JSON object with its fields and a cut message', () => {
  const tail = new LogTail();
  tail.write(`${JSON.stringify({ level: 40, time: 1, module: 'm', code: 'EH_DENIED', msg: 'y'.repeat(LOG_LINE_MAX_BYTES * 2), other: 'dropped' })}\n`);
  const kept = JSON.parse(tail.lines()[0]);
  assert.equal(kept.level, 40);
  assert.equal(kept.module, 'm');
  assert.equal(kept.code, 'EH_DENIED');
  assert.equal(kept.other, undefined);
  assert.match(kept.msg, /^y{1024}\.\.\. \[log line of \d+ characters cut/);
  assert.ok(tail.lines()[0].length < 2048);
});

test('listeners get each new line until they stop listening', () => {
  const tail = new LogTail();
  const got: string[] = [];
  const stop = tail.listen((l) => got.push(l));
  tail.write(line(1));
  stop();
  tail.write(line(2));
  assert.deepEqual(got, [line(1).trimEnd()]);
});
