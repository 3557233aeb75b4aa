import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diagnoseGuestFailure } from '../../../host/sandbox/guest-failure.ts';

test('a BigInt where the WIT says u32 is named as a type mismatch in the WIT function it happened in', () => {
  const d = diagnoseGuestFailure(new Error('unreachable'), 'edgehost:platform/lifecycle#init', [
    "thread '<unnamed>' (1) panicked at crates/runtime/src/call.rs:80:43:",
    'expected number: FromJs { from: "big_int", to: "i32" }',
  ]);
  assert.equal(d?.code, 'EH_GUEST_TYPE');
  assert.match(d!.message, /during lifecycle\.init does not fit its type: got a BigInt, expected a number \(WIT u8\/u16\/u32\/s8\/s16\/s32\)/);
});

test('an exception the guest let escape names the function, the message and where it was thrown', () => {
  const d = diagnoseGuestFailure(new Error('unreachable'), 'edgehost:platform/timer-handler#onTick', [
    "thread '<unnamed>' (1) panicked at crates/runtime/src/interpreter.rs:51:31:",
    `Failed to call 'onTick': Exception(Exception { message: Some("boom \\"quoted\\""), stack: Some("    at onTick (/m.js:3:9)\\n") })`,
  ]);
  assert.equal(d?.code, 'EH_MODULE_TRAP');
  assert.equal(d!.message, 'timer-handler.onTick threw: boom "quoted" (at onTick (/m.js:3:9))');
});

test('without a runtime panic on stderr there is nothing to add', () => {
  assert.equal(diagnoseGuestFailure(new Error('x'), 'a/b#c', ['just a log line']), undefined);
});
