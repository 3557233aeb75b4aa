// wasi:io for a sandboxed module: streams exist only for stdio (captured into
// the log) and pollables only for clocks. Nothing here touches a real file or socket.

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
    for (let i = 0; i < list.length; i++) if (list[i].ready()) ready.push(i);
    return new Uint32Array(ready);
  },
};

const closed = { tag: 'err' as const, val: { tag: 'closed' as const } };

/** Input streams: the only one is stdin, which is always at end of stream. */
export class InputStream {
  read() {
    return closed;
  }
  blockingRead() {
    return closed;
  }
  skip() {
    return closed;
  }
  blockingSkip() {
    return closed;
  }
  subscribe() {
    return new Pollable();
  }
}

/** Output streams: each write hands its bytes to `sink` (stdout/stderr capture). */
export class OutputStream {
  readonly #sink: (bytes: Uint8Array) => void;
  constructor(sink: (bytes: Uint8Array) => void) {
    this.#sink = sink;
  }
  checkWrite() {
    return 1n << 20n;
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
    this.#sink(new Uint8Array(Number(n)));
  }
  blockingWriteZeroesAndFlush(n: bigint) {
    this.#sink(new Uint8Array(Number(n)));
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
