// Sets the maximum of every memory a core module defines, so that
// `memory.grow` past a module's limit fails inside the guest (its allocator
// gets -1 and the guest runs out of memory) instead of the host noticing after
// the call, by which time it holds the memory. Only the memory section's
// limits change; everything else is copied byte for byte.

const PAGE = 65536;
const MEMORY_SECTION = 5;

/** Thrown when a module needs more memory at start than the cap allows. */
export class MemoryCapTooSmall extends Error {}

function readU32(bytes: Uint8Array, at: number): [value: number, next: number] {
  let result = 0;
  let shift = 0;
  for (let i = at; i < bytes.length; i++) {
    const b = bytes[i];
    result += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if ((b & 0x80) === 0) return [result, i + 1];
    if (shift > 35) break;
  }
  throw new Error(`malformed LEB128 at byte ${at}`);
}

function writeU32(value: number): number[] {
  const out: number[] = [];
  let v = value;
  do {
    let b = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

/**
 * A copy of `module` whose defined memories have a maximum of at most
 * `maxBytes` (rounded down to whole pages). Memories that already have a
 * smaller maximum keep it. 64-bit and shared memories are left alone.
 */
export function capMemories(module: Uint8Array, maxBytes: number): Uint8Array<ArrayBuffer> {
  const maxPages = Math.max(1, Math.floor(maxBytes / PAGE));
  if (module.length < 8 || module[0] !== 0 || module[1] !== 0x61 || module[2] !== 0x73 || module[3] !== 0x6d) {
    throw new Error('not a WebAssembly module');
  }
  const parts: Uint8Array[] = [module.subarray(0, 8)];
  let at = 8;
  while (at < module.length) {
    const id = module[at];
    const [size, payloadAt] = readU32(module, at + 1);
    const end = payloadAt + size;
    if (id !== MEMORY_SECTION) {
      parts.push(module.subarray(at, end));
      at = end;
      continue;
    }
    const payload: number[] = [];
    let [count, p] = readU32(module, payloadAt);
    payload.push(...writeU32(count));
    for (; count > 0; count--) {
      const flags = module[p++];
      let min: number;
      let max: number | undefined;
      [min, p] = readU32(module, p);
      if (flags & 1) [max, p] = readU32(module, p);
      // 0x02 shared, 0x04 64-bit: not produced by the toolchains edgehost supports; keep them as they are.
      if (flags & ~1) {
        payload.push(flags, ...writeU32(min));
        if (max !== undefined) payload.push(...writeU32(max));
        continue;
      }
      if (min > maxPages) {
        throw new MemoryCapTooSmall(
          `it needs ${Math.ceil((min * PAGE) / 1048576)} MiB of linear memory at start, more than its limit of ${Math.floor((maxPages * PAGE) / 1048576)} MiB`,
        );
      }
      payload.push(1, ...writeU32(min), ...writeU32(Math.min(max ?? maxPages, maxPages)));
    }
    if (p !== end) throw new Error('malformed memory section');
    parts.push(Uint8Array.from([MEMORY_SECTION, ...writeU32(payload.length), ...payload]));
    at = end;
  }
  const out = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of parts) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}
