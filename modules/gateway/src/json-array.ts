// Pure, dependency-free: the gateway bundles it, and the plain-Node benchmark
// baseline (bench/plain.ts) runs the same code, so both build bodies alike.

const OPEN = 0x5b; // [
const COMMA = 0x2c; // ,
const CLOSE = 0x5d; // ]

/** `[p1,p2,...]` as one byte array, from JSON texts already in bytes (no re-serialising). */
export function joinJsonArray(parts: Uint8Array[]): Uint8Array {
  let size = 2 + Math.max(parts.length - 1, 0);
  for (const p of parts) size += p.length;
  const body = new Uint8Array(size);
  let at = 0;
  body[at++] = OPEN;
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) body[at++] = COMMA;
    body.set(parts[i], at);
    at += parts[i].length;
  }
  body[at] = CLOSE;
  return body;
}
