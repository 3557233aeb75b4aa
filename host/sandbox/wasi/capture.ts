// Bounded capture of a guest's stdout or stderr, for a run that returns its output
// (run-once) rather than logging it. The guest decides how much it writes; the
// host decides how much it keeps: never more than `maxBytes`, allocated as the
// output arrives, so a guest that writes gigabytes costs the host its cap only.

/** Ends a capture that hit its cap; it takes the place of the output's last bytes. */
export const TRUNCATION_MARKER = '\n[edgehost: output truncated]\n';
const marker = new TextEncoder().encode(TRUNCATION_MARKER);

/** Captured output is held in blocks of this size (the last one may be smaller, to end at the cap). */
const BLOCK = 16 * 1024;

export class ByteCapture {
  readonly maxBytes: number;
  readonly #blocks: Uint8Array[] = [];
  #length = 0;
  #written = 0;
  #truncated = false;

  constructor(maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`capture maxBytes must be a non-negative integer, got ${maxBytes}`);
    this.maxBytes = maxBytes;
  }

  /** Bytes the guest wrote, kept or not. */
  get writtenBytes(): number {
    return this.#written;
  }

  /** Whether the guest wrote more than `maxBytes`: then the last bytes kept are the marker. */
  get truncated(): boolean {
    return this.#truncated;
  }

  /** Bytes of memory the capture has allocated for output: never more than `maxBytes`. */
  get heldBytes(): number {
    let n = 0;
    for (const b of this.#blocks) n += b.length;
    return n;
  }

  /** The sink for an OutputStream. Copies what it keeps: `bytes` may be reused by the caller. */
  readonly write = (bytes: Uint8Array): void => {
    this.#written += bytes.length;
    if (this.#truncated) return;
    const room = this.maxBytes - this.#length;
    if (bytes.length <= room) {
      this.#append(bytes);
      return;
    }
    this.#append(bytes.subarray(0, room));
    this.#truncated = true;
    // The output is now exactly maxBytes long; its tail becomes the marker.
    const tail = marker.subarray(Math.max(0, marker.length - this.maxBytes));
    this.#overwrite(this.maxBytes - tail.length, tail);
  };

  /** The captured bytes (a copy when they span several blocks). */
  bytes(): Uint8Array {
    if (this.#blocks.length === 1) return this.#blocks[0].subarray(0, this.#length);
    const out = new Uint8Array(this.#length);
    let at = 0;
    for (const b of this.#blocks) {
      const n = Math.min(b.length, this.#length - at);
      out.set(b.subarray(0, n), at);
      at += n;
    }
    return out;
  }

  /** The captured bytes as UTF-8 text (malformed sequences, e.g. cut at the cap, become U+FFFD). */
  text(): string {
    return new TextDecoder().decode(this.bytes());
  }

  #append(bytes: Uint8Array): void {
    let from = 0;
    while (from < bytes.length) {
      let last = this.#blocks.at(-1);
      const used = this.#length - (this.#blocks.length - 1) * BLOCK;
      if (!last || used === last.length) {
        last = new Uint8Array(Math.min(BLOCK, this.maxBytes - this.#length));
        this.#blocks.push(last);
      }
      const at = this.#length - (this.#blocks.length - 1) * BLOCK;
      const n = Math.min(bytes.length - from, last.length - at);
      last.set(bytes.subarray(from, from + n), at);
      from += n;
      this.#length += n;
    }
  }

  #overwrite(position: number, bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) {
      const p = position + i;
      this.#blocks[Math.floor(p / BLOCK)][p % BLOCK] = bytes[i];
    }
  }
}
