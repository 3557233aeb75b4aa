// wasi:io for a sandboxed module: streams exist only for stdio (stdout/stderr go
// to the log, or to a run-once's bounded capture) and pollables only for clocks.
// Nothing here touches a real file or socket.

/** A wasi:io/error resource. */
export class IoError {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
  toDebugString() {
    return this.message;
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** A pollable that becomes ready at a monotonic deadline (ns), or at once. */
export class Pollable {
  readonly deadlineNs: bigint;
  constructor(deadlineNs = 0n) {
    this.deadlineNs = deadlineNs;
  }
  ready() {
    return process.hrtime.bigint() >= this.deadlineNs;
  }
  block() {
    // The guest asked to block: block its own thread only. The call deadline still applies.
    const ms = Number(this.deadlineNs - process.hrtime.bigint()) / 1e6;
    if (ms > 0) Atomics.wait(sleepCell, 0, 0, ms);
  }
}

export const poll = {
  Pollable,
  poll(list: Pollable[]): Uint32Array {
    if (list.length === 0) throw new Error('wasi:io/poll: poll called with an empty list');
    let soonest = list[0];
    for (const p of list) if (p.deadlineNs < soonest.deadlineNs) soonest = p;
    soonest.block();
    const ready: number[] = [];
    for (const [i, p] of list.entries()) if (p.ready()) ready.push(i);
    return new Uint32Array(ready);
  },
};

const closed = { tag: 'err' as const, val: { tag: 'closed' as const } };

/**
 * Input streams: the only one is stdin. By default it is at end of stream at once; a run-once
 * gives it the bytes to read (all available up front, so a read never has to wait).
 */
export class InputStream {
  readonly #data: Uint8Array;
  #offset = 0;
  constructor(data: Uint8Array = new Uint8Array(0)) {
    this.#data = data;
  }
  read(len: bigint) {
    if (this.#offset >= this.#data.length) return closed;
    const end = Math.min(this.#data.length, this.#offset + Number(len));
    const chunk = this.#data.subarray(this.#offset, end); // a view: jco copies it into the guest
    this.#offset = end;
    return chunk;
  }
  blockingRead(len: bigint) {
    return this.read(len);
  }
  skip(len: bigint) {
    if (this.#offset >= this.#data.length) return closed;
    const end = Math.min(this.#data.length, this.#offset + Number(len));
    const skipped = end - this.#offset;
    this.#offset = end;
    return BigInt(skipped);
  }
  blockingSkip(len: bigint) {
    return this.skip(len);
  }
  subscribe() {
    return new Pollable();
  }
}

/** What check-write permits per write (wasi:io/streams); writes larger than this are a guest error. */
const WRITE_PERMIT = 1n << 20n;
const ZEROES_PIECE = 4096;

/** Output streams: each write hands its bytes to `sink`, which must copy what it keeps (buffers are reused). */
export class OutputStream {
  readonly #sink: (bytes: Uint8Array) => void;
  constructor(sink: (bytes: Uint8Array) => void) {
    this.#sink = sink;
  }
  checkWrite() {
    return WRITE_PERMIT;
  }
  write(bytes: Uint8Array) {
    this.#sink(bytes);
  }
  blockingWriteAndFlush(bytes: Uint8Array) {
    this.#sink(bytes);
  }
  flush() {}
  blockingFlush() {}
  subscribe() {
    return new Pollable();
  }
  writeZeroes(n: bigint) {
    return this.#zeroes(n);
  }
  blockingWriteZeroesAndFlush(n: bigint) {
    return this.#zeroes(n);
  }
  /** The count comes from the guest: past what check-write permits it is refused, never allocated. */
  #zeroes(n: bigint) {
    if (n > WRITE_PERMIT)
      return {
        tag: 'err' as const,
        val: { tag: 'last-operation-failed' as const, val: new IoError(`write-zeroes of ${n} bytes is more than check-write permits (${WRITE_PERMIT})`) },
      };
    // In pieces, so zeroes cost the host no more memory than a guest's ordinary write.
    const piece = new Uint8Array(Math.min(Number(n), ZEROES_PIECE));
    for (let left = Number(n); left > 0; left -= piece.length) this.#sink(left < piece.length ? piece.subarray(0, left) : piece);
  }
  splice() {
    return closed;
  }
  blockingSplice() {
    return closed;
  }
}

export const streams = { InputStream, OutputStream };
export const error = { Error: IoError };
