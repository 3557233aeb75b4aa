import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { create } from '../../../../host/capabilities/logging/worker.ts';
import { fakeWorkerContext } from '../../../support/capability-fakes.ts';

type Logging = { log(level: string, message: string): void };

test('lines below the log level use none of logLinesPerSecond: a warning after a flood of debug lines is written', () => {
  const written: { level: number; msg: string }[] = [];
  const out = new Writable({
    write(chunk, _enc, done) {
      written.push(JSON.parse(String(chunk)));
      done();
    },
  });
  let allowed = 0;
  const budget = 3;
  const worker = fakeWorkerContext('m', { logger: pino({ level: 'info' }, out), allow: () => ++allowed <= budget });
  const logging = create(worker.ctx, {})['edgehost:platform/logging'] as unknown as Logging;
  for (let i = 0; i < 500; i++) logging.log('debug', `closing connection ${i}`);
  logging.log('warn', 'limit max-packet-size: closing a client');
  logging.log('info', 'one');
  logging.log('info', 'two');
  logging.log('info', 'over the budget');
  assert.deepEqual(
    written.map((l) => l.msg),
    ['limit max-packet-size: closing a client', 'one', 'two'],
  );
});
