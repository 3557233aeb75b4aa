import assert from 'node:assert/strict';
import { test } from 'node:test';
import { capMemories, MemoryCapTooSmall } from '../../../host/components/memory-cap.ts';

const PAGE = 65536;
// (module (memory (export "m") <min> [<max>]))
const moduleWithMemory = (min: number, max?: number) =>
  Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...(max === undefined ? [0x05, 0x03, 0x01, 0x00, min] : [0x05, 0x04, 0x01, 0x01, min, max]),
    ...[0x07, 0x05, 0x01, 0x01, 0x6d, 0x02, 0x00],
  ]);

function memoryOf(bytes: Uint8Array): WebAssembly.Memory {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>));
  return instance.exports.m as WebAssembly.Memory;
}

test('a memory without a maximum gets the cap as its maximum: growing past it fails inside the guest, not after', () => {
  const memory = memoryOf(capMemories(moduleWithMemory(1), 4 * PAGE));
  assert.equal(memory.grow(3), 1);
  assert.equal(memory.buffer.byteLength, 4 * PAGE);
  assert.throws(() => memory.grow(1), RangeError);
  assert.equal(memory.buffer.byteLength, 4 * PAGE);
});

test('a smaller maximum the module already has is kept', () => {
  const memory = memoryOf(capMemories(moduleWithMemory(1, 2), 8 * PAGE));
  assert.throws(() => memory.grow(2), RangeError);
});

test('a module that needs more at start than the cap is refused with how much it needs', () => {
  assert.throws(
    () => capMemories(moduleWithMemory(32), 16 * PAGE),
    (e: Error) => e instanceof MemoryCapTooSmall && /needs 2 MiB of linear memory at start, more than its limit of 1 MiB/.test(e.message),
  );
});

test('sections other than memory are copied byte for byte', () => {
  const original = moduleWithMemory(1);
  const capped = capMemories(original, 4 * PAGE);
  assert.deepEqual([...capped.subarray(capped.length - 7)], [...original.subarray(original.length - 7)]);
  assert.deepEqual([...capped.subarray(0, 8)], [...original.subarray(0, 8)]);
});
