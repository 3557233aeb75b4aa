import { randomBytes } from 'node:crypto';
import { Pollable } from './io.ts';

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
    getRandomBytes: (len: bigint) => new Uint8Array(randomBytes(Number(len))),
    getRandomU64: () => randomBytes(8).readBigUInt64LE(),
  },
  'wasi:random/insecure': {
    getInsecureRandomBytes: (len: bigint) => new Uint8Array(randomBytes(Number(len))),
    getInsecureRandomU64: () => randomBytes(8).readBigUInt64LE(),
  },
  'wasi:random/insecure-seed': {
    insecureSeed: () => [randomBytes(8).readBigUInt64LE(), randomBytes(8).readBigUInt64LE()],
  },
};
