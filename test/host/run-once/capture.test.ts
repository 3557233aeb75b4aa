import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CaptureWriter, createCaptureBuffers, readCapture, TRUNCATION_MARKER } from '../../../host/run-once/capture.ts';

const bytes = (s: string) => new TextEncoder().encode(s);

test('output under the cap is kept whole; the buffers grow only as far as the output', () => {
  const buffers = createCaptureBuffers(1024 * 1024);
  const w = new CaptureWriter(buffers);
  w.sink('stdout')(bytes('hello '));
  w.sink('stdout')(bytes('world\n'));
  w.sink('stderr')(bytes('oops\n'));
  w.memory(65536);
  w.memory(1000);
  const out = readCapture(buffers);
  assert.deepEqual(out.stdout, { text: 'hello world\n', bytes: 12, truncated: false });
  assert.deepEqual(out.stderr, { text: 'oops\n', bytes: 5, truncated: false });
  assert.equal(out.peakMemoryBytes, 65536, 'the largest seen');
  assert.ok(buffers.stdout.byteLength <= 64 * 1024, `grew to ${buffers.stdout.byteLength} bytes for 12`);
});

test('past the cap the output is cut, ends with the marker, stays exactly the cap long, and every byte is counted', () => {
  const cap = 100;
  const buffers = createCaptureBuffers(cap);
  const sink = new CaptureWriter(buffers).sink('stdout');
  for (let i = 0; i < 50; i++) sink(bytes('0123456789'));
  const { stdout } = readCapture(buffers);
  assert.equal(stdout.truncated, true);
  assert.equal(stdout.bytes, 500);
  assert.equal(stdout.text.length, cap);
  assert.ok(stdout.text.endsWith(TRUNCATION_MARKER));
  assert.ok(stdout.text.startsWith('0123456789'));
  assert.equal(buffers.stdout.byteLength, cap, 'never more than the cap');
});

test("a cap smaller than the marker keeps the marker's end", () => {
  const buffers = createCaptureBuffers(8);
  new CaptureWriter(buffers).sink('stderr')(bytes('a much longer line than eight bytes'));
  const { stderr } = readCapture(buffers);
  assert.equal(stderr.text, TRUNCATION_MARKER.slice(-8));
});
