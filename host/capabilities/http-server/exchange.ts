// One incoming request on the main thread, from its arrival to the end of its
// response: its head goes to the module's worker, its body follows on credit,
// the guest's response head and body come back. The host answers itself when
// the guest cannot: 413 (body over the limit), 500 (no response, or the guest
// failed), 503 (the module is not running), 504 (past the deadline).
import type http from 'node:http';
import type { Channel } from '../capability.ts';
import { RelayFromWorker, RelayToWorker } from './body-relay.ts';
import type { HeaderList, HttpErrorCode, HttpOps, RequestHead, ResponseHead, StreamChunk } from './ops.ts';

type ToWorker = Channel<HttpOps['toWorker']>;

/** Response headers the host sets itself: they describe the connection, which the guest does not own. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
/** After answering 413 without reading the body, the rest is read and dropped this long before the connection is cut. */
const LINGER_MS = 2000;

export interface ExchangeOptions {
  id: number;
  req: http.IncomingMessage;
  res: http.ServerResponse;
  /** The listen address it came in on (the authority when the request has no Host). */
  address: string;
  maxBodyBytes: number;
  /** Called once, when the response has ended or the connection is gone. */
  onDone(ex: Exchange): void;
  /** A problem worth a log line (the host answered in the guest's place). */
  log(level: 'warn' | 'debug', fields: Record<string, unknown>, message: string): void;
}

export class Exchange {
  readonly id: number;
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly #opts: ExchangeOptions;
  readonly started = performance.now();
  /** The worker it was handed to, once it was. */
  worker: ToWorker | undefined;
  #requestBody: RelayToWorker | undefined;
  #responseBody: RelayFromWorker | undefined;
  /** The host answered (413, 504...): what the guest sends from now on is dropped. */
  #answered = false;
  #guestResponded = false;
  expired = false;
  done = false;

  constructor(opts: ExchangeOptions) {
    this.#opts = opts;
    this.id = opts.id;
    this.req = opts.req;
    this.res = opts.res;
    this.res.once('close', () => this.#finish());
  }

  get responded(): boolean {
    return this.#answered || this.#guestResponded;
  }

  /** The request as the worker half builds the guest's incoming-request from it. */
  head(): RequestHead {
    const raw = this.req.rawHeaders;
    const headers: HeaderList = [];
    for (let i = 0; i + 1 < raw.length; i += 2) headers.push([raw[i].toLowerCase(), raw[i + 1]]);
    const length = this.req.headers['content-length'];
    const body = this.req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
    return {
      id: this.id,
      method: this.req.method ?? 'GET',
      scheme: 'http',
      authority: this.req.headers.host ?? this.#opts.address,
      pathWithQuery: this.req.url ?? '/',
      headers,
      body,
    };
  }

  /** Hands the request to the worker: the head (the caller sends it), then its body on credit. */
  dispatch(worker: ToWorker): void {
    this.worker = worker;
    const head = this.head();
    if (!head.body) return;
    const send = (chunk: StreamChunk, transfer?: Transferable[]) => worker.notify('chunk', chunk, transfer);
    this.#requestBody = new RelayToWorker(`req:${this.id}`, this.req, send, {
      maxBytes: this.#opts.maxBodyBytes,
      tooLarge: () => this.tooLarge(),
    });
    this.#requestBody.start(() => {
      const raw = this.req.rawTrailers;
      if (raw.length === 0) return undefined;
      const out: HeaderList = [];
      for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i].toLowerCase(), raw[i + 1]]);
      return out;
    });
  }

  /** 413: the body is over limits.httpMaxBodyBytes (declared, or as it arrived). */
  tooLarge(): void {
    this.#opts.log('debug', { limit: this.#opts.maxBodyBytes }, 'request body over limits.httpMaxBodyBytes: answered 413');
    this.answer(413, `the request body is larger than ${this.#opts.maxBodyBytes} bytes (limits.httpMaxBodyBytes)\n`, { connection: 'close' });
    // The rest of the body is not read: drop what still comes for a moment (so the client reads
    // the 413 rather than a reset), then cut the connection.
    this.req.resume();
    const cut = setTimeout(() => this.req.socket.destroy(), LINGER_MS);
    cut.unref();
    this.req.once('end', () => clearTimeout(cut));
  }

  /**
   * The host answers in the guest's place; when the guest's response has
   * already begun, the connection is cut instead, so the client cannot take a
   * partial body for a whole one.
   */
  answer(status: number, text: string, headers: Record<string, string> = {}): void {
    if (this.#answered || this.done) return;
    this.#answered = true;
    this.#responseBody?.close();
    if (this.res.headersSent) {
      this.res.destroy();
      return;
    }
    // A request whose body was not read to its end leaves the connection unusable for another.
    const close: Record<string, string> = this.req.complete ? {} : { connection: 'close' };
    this.res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), ...close, ...headers });
    this.res.end(text);
  }

  /** The guest set its response (or an error code in its place). */
  respond(r: ResponseHead | { id: number; error: HttpErrorCode }): void {
    if (this.#answered || this.done) return;
    if ('error' in r) {
      this.#opts.log('warn', { errorCode: r.error }, `the module answered with error-code ${r.error.tag}: answered 500`);
      this.answer(500, `the module failed to handle the request (${r.error.tag})\n`);
      return;
    }
    const flat: string[] = [];
    for (const [name, value] of r.headers) if (!HOP_BY_HOP.has(name)) flat.push(name, value);
    try {
      this.res.writeHead(r.status, flat);
    } catch (e) {
      this.#opts.log('warn', { err: e }, 'the module set a response head Node refuses: answered 500');
      this.answer(500, `the module set an invalid response head: ${(e as Error).message}\n`);
      return;
    }
    this.#guestResponded = true;
    const worker = this.worker;
    this.#responseBody = new RelayFromWorker(`res:${this.id}`, this.res, (bytes) => worker?.notify('ack', { stream: `res:${this.id}`, bytes }));
  }

  /** A chunk of the response body, or its end. */
  responseChunk(c: StreamChunk): void {
    const body = this.#responseBody;
    if (!body) {
      // Dropped (the host answered instead): acknowledged all the same, so the guest does not wait.
      if (c.data) this.worker?.notify('ack', { stream: c.stream, bytes: c.data.length });
      return;
    }
    if (c.data) body.write(c.data);
    if (c.end && !body.ended) {
      body.ended = true;
      if (c.trailers && c.trailers.length > 0 && this.res.getHeader('content-length') === undefined) this.res.addTrailers(c.trailers);
      this.res.end();
    }
    if (c.error !== undefined && !body.ended) {
      body.ended = true;
      this.#opts.log('warn', { reason: c.error }, 'the response body did not finish: connection cut');
      this.res.destroy();
    }
  }

  credit(bytes: number): void {
    this.#requestBody?.credit(bytes);
  }

  discardRequestBody(): void {
    this.#requestBody?.discard();
  }

  /** The guest's handle returned: a request without a response gets 500; a body never finished was cut already. */
  handlerReturned(): void {
    if (this.responded || this.done) return;
    this.#opts.log('warn', {}, 'the module returned from incoming-handler.handle without setting a response: answered 500');
    this.answer(500, 'the module did not answer the request\n');
  }

  /** The instance ended during the request (trap, deadline, memory) or could not be reached. */
  handlerFailed(status: 500 | 503 | 504, why: string): void {
    if (this.done || this.#answered) return;
    this.answer(status, `${why}\n`, status === 503 ? { 'retry-after': '1' } : {});
  }

  #finish(): void {
    if (this.done) return;
    this.done = true;
    if (!this.res.writableFinished) {
      // The client went away (or the connection was cut): the guest's writes to the body stop waiting.
      this.worker?.notify('chunk', { stream: `res:${this.id}`, error: 'the client closed the connection' });
      this.#requestBody?.fail('the client closed the connection');
    }
    this.#responseBody?.close();
    this.#opts.onDone(this);
  }
}
