// Bodies on the main thread, between a Node stream and the module's worker
// (the other end is body-streams.ts): never more than WINDOW bytes of one body
// in flight, so a 50 MB body costs the host a window, not 50 MB.
import type { Readable, Writable } from 'node:stream';
import { MOVE_BYTES, WINDOW } from './body-streams.ts';
import type { HeaderList, StreamChunk } from './ops.ts';

/** Sends a chunk to the worker half (moving, not copying, `transfer`). */
export type SendChunk = (chunk: StreamChunk, transfer?: Transferable[]) => void;

/** Our own copy of a chunk Node read (it may be a view into a shared pool), to move across. */
function own(chunk: Buffer): Uint8Array {
  return new Uint8Array(chunk);
}

/**
 * A Node stream read into the worker on credit: it starts with WINDOW bytes of
 * credit, spends it on each chunk sent, and is paused when it has none left
 * until the worker reports what the guest read. `maxBytes` past which it stops
 * and calls `tooLarge` (the 413 of a request body).
 */
export class RelayToWorker {
  readonly name: string;
  readonly #source: Readable;
  readonly #send: SendChunk;
  #credit = WINDOW;
  #bytes = 0;
  #stopped = false;
  readonly #maxBytes: number;
  readonly #tooLarge: (() => void) | undefined;

  constructor(name: string, source: Readable, send: SendChunk, limit?: { maxBytes: number; tooLarge: () => void }) {
    this.name = name;
    this.#source = source;
    this.#send = send;
    this.#maxBytes = limit?.maxBytes ?? Number.POSITIVE_INFINITY;
    this.#tooLarge = limit?.tooLarge;
  }

  get bytes() {
    return this.#bytes;
  }

  start(trailers?: () => HeaderList | undefined): void {
    this.#source.on('data', (chunk: Buffer) => {
      if (this.#stopped) return;
      this.#bytes += chunk.length;
      if (this.#bytes > this.#maxBytes) {
        this.fail(`the body is larger than the limit of ${this.#maxBytes} bytes`);
        this.#tooLarge?.();
        return;
      }
      const data = own(chunk);
      // A large chunk is moved to the worker; a small one is cheaper to copy across.
      this.#send({ stream: this.name, data }, data.length >= MOVE_BYTES ? [data.buffer as ArrayBuffer] : undefined);
      this.#credit -= data.length;
      if (this.#credit <= 0) this.#source.pause();
    });
    this.#source.once('end', () => {
      if (this.#stopped) return;
      this.#stopped = true;
      this.#send({ stream: this.name, end: true, trailers: trailers?.() });
    });
    this.#source.once('error', (e) => this.fail(e.message));
    // An incoming request whose client went away ends with 'aborted' and no 'end'.
    this.#source.once('aborted', () => this.fail('the client closed the connection before sending the whole body'));
    this.#source.once('close', () => {
      if (!this.#stopped && !this.#source.readableEnded) this.fail('the connection closed before the whole body arrived');
    });
  }

  /** The guest read `bytes` more. */
  credit(bytes: number): void {
    this.#credit += bytes;
    if (this.#credit > 0 && !this.#stopped && this.#source.isPaused()) this.#source.resume();
  }

  /** Stops sending and tells the worker the body failed. */
  fail(why: string): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#send({ stream: this.name, error: why });
  }

  /** The guest does not want the rest: stop sending; what still arrives is read and dropped. */
  discard(): void {
    this.#stopped = true;
    this.#source.resume();
  }
}

/**
 * Chunks from the worker written to a Node stream; each is acknowledged once
 * the stream has taken it (its write callback), which is what lets the guest
 * write more. After `close` (the peer went away) chunks are acknowledged at
 * once and dropped, so a guest never waits on a stream nobody reads.
 */
export class RelayFromWorker {
  readonly name: string;
  readonly #target: Writable;
  readonly #ack: (bytes: number) => void;
  #closed = false;
  ended = false;

  constructor(name: string, target: Writable, ack: (bytes: number) => void) {
    this.name = name;
    this.#target = target;
    this.#ack = ack;
  }

  /** Writes a data chunk (the end or a failure of the stream are the caller's to handle). */
  write(data: Uint8Array): void {
    const n = data.length;
    if (this.#closed || this.ended) {
      this.#ack(n);
      return;
    }
    this.#target.write(data, () => this.#ack(n));
  }

  close(): void {
    this.#closed = true;
  }
}
