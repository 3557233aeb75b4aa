// wasi:io for a sandboxed module: streams over stdio (captured into the log)
// (or a run-once's bounded capture), over a run-once's stdin, and over granted
// files (the filesystem capability gives them a source or a sink); pollables
// only for clocks. Every call moves at most MAX_STREAM_CHUNK bytes.

/** A wasi:io/error resource; `fsCode` is what wasi:filesystem's filesystem-error-code reports for it. */
export class IoError {
  readonly message: string;
  readonly fsCode: string | undefined;
  constructor(message: string, fsCode?: string) {
    this.message = message;
    this.fsCode = fsCode;
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

/**
 * Most bytes one stream call moves: what `check-write` permits, and the cap
 * on a read, a write or a run of zeroes. The host never allocates more than
 * this for one call, whatever length the guest asks for.
 */
export const MAX_STREAM_CHUNK = 1024 * 1024;

/** A failed stream operation, with the filesystem error code when a file was behind it. */
export function streamFailed(message: string, fsCode?: string) {
  return { tag: 'err' as const, val: { tag: 'last-operation-failed' as const, val: new IoError(message, fsCode) } };
}

/** Where an input stream's bytes come from: `undefined` means end of stream. */
export interface ByteSource {
  read(max: number): Uint8Array | undefined;
}

/** A source over bytes held in memory (a run-once's stdin): all available up front, so a read never waits. */
export function bytesSource(data: Uint8Array): ByteSource {
  let offset = 0;
  return {
    read(max) {
      if (offset >= data.length) return undefined;
      const end = Math.min(data.length, offset + max);
      // A view: jco copies it into the guest.
      const chunk = data.subarray(offset, end);
      offset = end;
      return chunk;
    },
  };
}

/** Where an output stream's bytes go; throwing fails the write (an IoError keeps its code). */
export type ByteSink = (bytes: Uint8Array) => void;

/** An input stream over `source`; without one (stdin) it is always at end of stream. */
export class InputStream {
  readonly #source: ByteSource | undefined;
  constructor(source?: ByteSource) {
    this.#source = source;
  }
  read(len: bigint) {
    if (!this.#source) return closed;
    try {
      const bytes = this.#source.read(Math.min(Number(len), MAX_STREAM_CHUNK));
      return bytes === undefined ? closed : bytes;
    } catch (e) {
      return e instanceof IoError ? { tag: 'err' as const, val: { tag: 'last-operation-failed' as const, val: e } } : streamFailed(String(e));
    }
  }
  blockingRead(len: bigint) {
    return this.read(len);
  }
  skip(len: bigint) {
    const r = this.read(len);
    return r instanceof Uint8Array ? BigInt(r.length) : r;
  }
  blockingSkip(len: bigint) {
    return this.skip(len);
  }
  subscribe() {
    return new Pollable();
  }
}

/** An output stream: each write hands its bytes to `sink` (stdout/stderr capture, a file). */
export class OutputStream {
  readonly #sink: ByteSink;
  constructor(sink: ByteSink) {
    this.#sink = sink;
  }
  checkWrite() {
    return BigInt(MAX_STREAM_CHUNK);
  }
  write(bytes: Uint8Array) {
    if (bytes.length > MAX_STREAM_CHUNK) return streamFailed(`a write of ${bytes.length} bytes exceeds the permit of ${MAX_STREAM_CHUNK} (check-write)`);
    try {
      this.#sink(bytes);
    } catch (e) {
      return e instanceof IoError ? { tag: 'err' as const, val: { tag: 'last-operation-failed' as const, val: e } } : streamFailed(String(e));
    }
    return { tag: 'ok' as const, val: undefined };
  }
  blockingWriteAndFlush(bytes: Uint8Array) {
    return this.write(bytes);
  }
  flush() {}
  blockingFlush() {}
  subscribe() {
    return new Pollable();
  }
  writeZeroes(n: bigint) {
    // Checked before anything is allocated: the guest chooses n.
    if (n > BigInt(MAX_STREAM_CHUNK)) return streamFailed(`writing ${n} zeroes exceeds the permit of ${MAX_STREAM_CHUNK} (check-write)`);
    return this.write(new Uint8Array(Number(n)));
  }
  blockingWriteZeroesAndFlush(n: bigint) {
    return this.writeZeroes(n);
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
