import { randomBytes } from 'node:crypto';
import { MAX_STREAM_CHUNK, Pollable } from './io.ts';

/**
 * Random bytes are made by the host at the length the guest asks for, and
 * the interface has no error to refuse with: past this, the call traps (the
 * module is restarted) before anything is allocated.
 */
export const MAX_RANDOM_BYTES = MAX_STREAM_CHUNK;

function random(len: bigint): Uint8Array {
  if (len > BigInt(MAX_RANDOM_BYTES)) throw new Error(`wasi:random: asked for ${len} bytes at once; the limit is ${MAX_RANDOM_BYTES}`);
  return new Uint8Array(randomBytes(Number(len)));
}

export const clocksAndRandom = {
  'wasi:clocks/monotonic-clock': {
    now: () => process.hrtime.bigint(),
    resolution: () => 1n,
    subscribeInstant: (at: bigint) => new Pollable(at),
    subscribeDuration: (ns: bigint) => new Pollable(process.hrtime.bigint() + ns),
  },
  'wasi:clocks/wall-clock': {
    now() {
      const ms = Date.now();
      return { seconds: BigInt(Math.floor(ms / 1000)), nanoseconds: (ms % 1000) * 1e6 };
    },
    resolution: () => ({ seconds: 0n, nanoseconds: 1e6 }),
  },
  'wasi:random/random': {
    getRandomBytes: random,
    getRandomU64: () => randomBytes(8).readBigUInt64LE(),
  },
  'wasi:random/insecure': {
    getInsecureRandomBytes: random,
    getInsecureRandomU64: () => randomBytes(8).readBigUInt64LE(),
  },
  'wasi:random/insecure-seed': {
    insecureSeed: () => [randomBytes(8).readBigUInt64LE(), randomBytes(8).readBigUInt64LE()],
  },
};
