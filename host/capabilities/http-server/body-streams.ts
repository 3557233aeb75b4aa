// Bodies as wasi:io streams, in the module's worker: the bytes of a body
// cross the thread boundary in chunks, never whole, with a window on each side.
//
//   to the guest (a request body, an outgoing request's response body):
//     the service sends at most WINDOW bytes the guest has not read yet, and
//     pauses the socket it reads from meanwhile; the guest's reads hand credit
//     back (`credit`), in batches of CREDIT_BATCH bytes.
//   from the guest (a response body, an outgoing request's body):
//     the guest writes while fewer than WINDOW bytes are unacknowledged
//     (`check-write` says how many more it may write); the service acknowledges
//     each chunk once the socket took it (`ack`). A guest that writes faster
//     than the peer reads waits in `blocking-write-and-flush` (or on its
//     stream's pollable) until it may write again.
//
// Waiting suspends the guest (JSPI: the blocking stream functions and
// wasi:io/poll are async imports for modules with this capability), so the
// worker keeps receiving messages meanwhile; the wait does not count against
// the call deadline (`ctx.waitFor`). After a request's deadline (`expire`)
// every wait fails with a host error, which ends the instance.
import type { WorkerContext } from '../capability.ts';
import type { HeaderList, HttpOps, StreamChunk } from './ops.ts';

/** Bytes of a body in flight between the halves, in each direction and per stream. */
export const WINDOW = 1024 * 1024;
/** The reader hands credit back once it has read this much since it last did. */
export const CREDIT_BATCH = WINDOW / 4;
/** Chunks at least this large cross the thread boundary moved (transferred) rather than copied. */
export const MOVE_BYTES = 16 * 1024;

/** Resolves every waiter when something changes. */
export class Signal {
  #waiters: (() => void)[] = [];
  wait(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
  notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

type Ctx = WorkerContext<HttpOps>;

/**
 * The stream classes and the poll function of one instance. `failure()` is
 * the reason every wait fails now (the request being handled expired), if any.
 */
export function bodyStreams(ctx: Ctx, failure: () => string | undefined, changed: Signal) {
  const io = ctx.io;

  /** Waits for `ready` (checked again after every change), unless the request expired. */
  const waitUntil = (ready: () => boolean): Promise<void> =>
    ctx.waitFor(
      (async () => {
        for (;;) {
          const why = failure();
          // An Error (not a WASI error value) is a trap: the guest cannot carry on in this request.
          if (why !== undefined) throw new Error(why);
          if (ready()) return;
          await changed.wait();
        }
      })(),
    );

  /** A pollable that is ready when `ready()` says so; blocking on it suspends the guest. */
  class EventPollable extends io.Pollable {
    readonly #ready: () => boolean;
    constructor(ready: () => boolean) {
      super(0n);
      this.#ready = ready;
    }
    override ready() {
      return this.#ready();
    }
    // A promise where jco's glue expects nothing: the import is async (JSPI), the guest waits.
    override block(): Promise<void> | undefined {
      if (this.#ready()) return undefined;
      return waitUntil(this.#ready);
    }
  }

  /** wasi:io/poll#poll over clock and event pollables: ready ones at once, else the guest waits for the first. */
  function poll(list: InstanceType<typeof io.Pollable>[]): Uint32Array | Promise<Uint32Array> {
    if (list.length === 0) throw new Error('wasi:io/poll: poll called with an empty list');
    const readyNow = () => {
      const out: number[] = [];
      for (let i = 0; i < list.length; i++) if (list[i].ready()) out.push(i);
      return out;
    };
    const now = readyNow();
    if (now.length > 0) return new Uint32Array(now);
    // Clock pollables (of wasi:clocks) become ready by themselves: a timer wakes the wait for the soonest.
    let soonest: bigint | undefined;
    for (const p of list) if (!(p instanceof EventPollable) && (soonest === undefined || p.deadlineNs < soonest)) soonest = p.deadlineNs;
    let timer: NodeJS.Timeout | undefined;
    if (soonest !== undefined) {
      const ms = Math.max(0, Number(soonest - process.hrtime.bigint()) / 1e6);
      timer = setTimeout(() => changed.notify(), Math.ceil(ms));
    }
    return waitUntil(() => readyNow().length > 0)
      .then(() => new Uint32Array(readyNow()))
      .finally(() => clearTimeout(timer));
  }

  /** Bytes the service sends on one stream, buffered up to the window. */
  class Inbound {
    readonly name: string;
    #chunks: Uint8Array[] = [];
    #buffered = 0;
    #unreported = 0;
    ended = false;
    error: string | undefined;
    trailers: HeaderList | undefined;
    /** The guest dropped it: what still arrives is thrown away. */
    discarded = false;
    constructor(name: string, ended = false) {
      this.name = name;
      this.ended = ended;
    }
    get done() {
      return this.ended || this.error !== undefined;
    }
    get readable() {
      return this.#buffered > 0 || this.done;
    }
    push(c: StreamChunk) {
      if (this.discarded) return;
      if (c.data && c.data.length > 0) {
        this.#chunks.push(c.data);
        this.#buffered += c.data.length;
      }
      if (c.end) {
        this.ended = true;
        this.trailers = c.trailers;
      }
      if (c.error !== undefined) this.error = c.error;
      changed.notify();
    }
    /** Up to `max` buffered bytes; empty when none has arrived yet; undefined at the end. */
    take(max: number): Uint8Array | undefined {
      if (this.#buffered === 0) {
        if (this.error !== undefined) throw new io.IoError(this.error);
        return this.ended ? undefined : new Uint8Array(0);
      }
      const first = this.#chunks[0];
      let out: Uint8Array;
      if (first.length <= max) {
        out = first;
        this.#chunks.shift();
      } else {
        out = first.subarray(0, max);
        this.#chunks[0] = first.subarray(max);
      }
      this.#buffered -= out.length;
      this.#unreported += out.length;
      // Credit goes back in batches, and whenever the guest has read everything (so a slow trickle still flows).
      if (this.#unreported >= CREDIT_BATCH || (this.#buffered === 0 && !this.done)) {
        ctx.service.notify('credit', { stream: this.name, bytes: this.#unreported });
        this.#unreported = 0;
      }
      return out;
    }
    discard() {
      if (this.discarded || this.done) return;
      this.discarded = true;
      this.#chunks = [];
      this.#buffered = 0;
      ctx.service.notify('discard', this.name);
    }
  }

  /** A body the guest reads: `read` never waits; `blocking-read` waits for bytes or the end. */
  class BodyInputStream extends io.InputStream {
    readonly #in: Inbound;
    constructor(inbound: Inbound) {
      super({ read: (max) => inbound.take(max) });
      this.#in = inbound;
    }
    // A wait returns a promise where jco's glue expects the value: the import is async (JSPI).
    override blockingRead(len: bigint): ReturnType<InstanceType<typeof io.InputStream>['read']> {
      if (this.#in.readable) return this.read(len);
      return waitUntil(() => this.#in.readable).then(() => this.read(len)) as unknown as ReturnType<InstanceType<typeof io.InputStream>['read']>;
    }
    override blockingSkip(len: bigint) {
      if (this.#in.readable) return this.skip(len);
      return waitUntil(() => this.#in.readable).then(() => this.skip(len)) as unknown as bigint;
    }
    override subscribe() {
      return new EventPollable(() => this.#in.readable);
    }
    [Symbol.dispose]() {
      this.#in.discard();
    }
  }

  /**
   * Bytes the guest writes to one stream, unacknowledged up to the window.
   * Written before the stream is attached (a response body written before the
   * response is set), they are held and sent once it is.
   */
  class Outbound {
    name: string | undefined;
    #held: Uint8Array[] = [];
    #unacked = 0;
    finished = false;
    failed: string | undefined;
    /** The service no longer wants it (the client went away): writes fail. */
    closed: string | undefined;
    get permit() {
      return Math.max(0, WINDOW - this.#unacked);
    }
    write(bytes: Uint8Array) {
      if (this.closed !== undefined) throw new io.IoError(this.closed);
      if (this.finished) throw new io.IoError('the body is finished');
      if (bytes.length === 0) return;
      this.#unacked += bytes.length;
      if (this.name === undefined) this.#held.push(bytes);
      else this.#send({ stream: this.name, data: bytes });
    }
    ack(bytes: number) {
      this.#unacked -= bytes;
      changed.notify();
    }
    attach(name: string) {
      this.name = name;
      for (const data of this.#held) this.#send({ stream: name, data });
      this.#held = [];
      if (this.finished) this.#send({ stream: name, end: true, trailers: this.trailers });
      if (this.failed !== undefined) this.#send({ stream: name, error: this.failed });
    }
    trailers: HeaderList | undefined;
    finish(trailers?: HeaderList) {
      if (this.finished || this.failed !== undefined) return;
      this.finished = true;
      this.trailers = trailers;
      if (this.name !== undefined) this.#send({ stream: this.name, end: true, trailers });
    }
    fail(why: string) {
      if (this.finished || this.failed !== undefined) return;
      this.failed = why;
      if (this.name !== undefined) this.#send({ stream: this.name, error: why });
    }
    close(why: string) {
      this.closed = why;
      changed.notify();
    }
    #send(c: StreamChunk) {
      const d = c.data;
      // jco hands over a copy of the guest's bytes: a large one is moved, not copied again
      // (moving costs more than copying a few kilobytes).
      const move = d && d.byteLength >= MOVE_BYTES && d.byteOffset === 0 && d.byteLength === d.buffer.byteLength && d.buffer instanceof ArrayBuffer;
      ctx.service.notify('chunk', c, move ? [d.buffer as ArrayBuffer] : undefined);
    }
  }

  /** A body the guest writes: `check-write` is the room left in the window; the blocking calls wait for room. */
  class BodyOutputStream extends io.OutputStream {
    readonly #out: Outbound;
    constructor(outbound: Outbound) {
      super((bytes) => outbound.write(bytes));
      this.#out = outbound;
    }
    #room = () => this.#out.permit > 0 || this.#out.closed !== undefined;
    override checkWrite(): bigint {
      // A stream whose reader is gone fails the check (jco takes a returned { tag: 'err' } as the result's err).
      if (this.#out.closed !== undefined)
        return { tag: 'err', val: { tag: 'last-operation-failed', val: new io.IoError(this.#out.closed) } } as unknown as bigint;
      return BigInt(Math.min(this.#out.permit, io.MAX_STREAM_CHUNK));
    }
    override blockingWriteAndFlush(bytes: Uint8Array) {
      const result = this.write(bytes);
      if (result.tag === 'err' || this.#room()) return result;
      return waitUntil(this.#room).then(() => result) as unknown as typeof result;
    }
    override blockingFlush(): Promise<void> | undefined {
      if (this.#room()) return undefined;
      return waitUntil(this.#room);
    }
    override subscribe() {
      return new EventPollable(this.#room);
    }
  }

  return { EventPollable, poll, Inbound, BodyInputStream, Outbound, BodyOutputStream };
}

export type BodyStreams = ReturnType<typeof bodyStreams>;
