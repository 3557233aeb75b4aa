import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { settle } from './host-process.ts';

export interface SinkRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/**
 * A real HTTP server on loopback standing in for a user's ingest endpoint.
 * `respond` decides the status of each request; `down()`/`up()` stop and
 * restart listening on the same port (connection refused in between).
 */
export class HttpSink {
  readonly requests: SinkRequest[] = [];
  /** A status, or a status with headers (e.g. a redirect's location). Only 2xx requests are recorded in `requests`. */
  respond: (req: SinkRequest) => number | { status: number; headers: Record<string, string> } = () => 200;
  /** Every request that arrived, whatever it was answered. */
  readonly received: SinkRequest[] = [];
  port = 0;
  #server: Server;
  #sockets = new Set<Socket>();
  #waiters: { check: () => boolean; resolve: () => void }[] = [];

  constructor() {
    this.#server = this.#create();
  }

  #create(): Server {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const r: SinkRequest = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        this.received.push(r);
        const answer = this.respond(r);
        const { status, headers } = typeof answer === 'number' ? { status: answer, headers: {} } : answer;
        if (status >= 200 && status < 300) this.requests.push(r);
        res.writeHead(status, headers).end();
        this.#wake();
      });
    });
    server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    return server;
  }

  async listen(port = 0): Promise<this> {
    this.#server.listen(port, '127.0.0.1');
    await once(this.#server, 'listening');
    this.port = (this.#server.address() as { port: number }).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/ingest`;
  }

  /** Accepted JSON array elements, in arrival order. */
  items<T = unknown>(): T[] {
    return this.requests.flatMap((r) => JSON.parse(r.body) as T[]);
  }

  /** Resolves when `check` holds after a request (or now). */
  waitFor(check: () => boolean, timeoutMs = 20_000, what = 'sink condition'): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${this.requests.length} requests so far)`)),
        timeoutMs,
      );
      this.#waiters.push({
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  #wake() {
    this.#waiters = settle(
      this.#waiters,
      (w) => w.check(),
      (w) => w.resolve(),
    );
  }

  /** Stops listening and drops open connections: clients get "connection refused". */
  async down(): Promise<void> {
    const closed = new Promise((r) => this.#server.close(r));
    for (const s of this.#sockets) s.destroy();
    await closed;
    this.#server = this.#create();
  }

  async up(): Promise<void> {
    await this.listen(this.port);
  }

  async close(): Promise<void> {
    await this.down();
  }
}
