// A module's outgoing requests (wasi:http/outgoing-handler), on the main
// thread: each target is checked against the module's allowed hosts (the
// checker outbound-http uses) before anything touches the network, DNS
// included; requests go through the module's own connection pool, and bodies
// stream both ways on the same windows as incoming requests. Redirects are the
// guest's to follow: each hop is a new outgoing request, checked again.
import http from 'node:http';
import https from 'node:https';
import { type AllowedHost, isAllowed } from '../networking/allowed-hosts.ts';
import { RelayFromWorker, RelayToWorker, type SendChunk } from './body-relay.ts';
import type { HeaderList, HttpErrorCode, OutgoingHead, OutgoingResult, StreamChunk } from './ops.ts';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);

interface Pending {
  req: http.ClientRequest;
  body?: RelayFromWorker;
  response?: RelayToWorker;
  incoming?: http.IncomingMessage;
}

export interface EgressOptions {
  /** Read at each request: a replaced module's new grant applies at once. */
  allowed(): AllowedHost[];
  /** Logs and describes a refused target (what the worker also says), for the rare request that reaches here refused. */
  denied(url: URL): void;
  /** Sends a chunk of a response body to the worker half. */
  send: SendChunk;
  /** Tells the worker half that `bytes` of an outgoing request body were taken. */
  ack(stream: string, bytes: number): void;
}

/** Maps a Node client error to the wasi:http error-code a guest can act on. */
export function errorCode(e: NodeJS.ErrnoException): HttpErrorCode {
  switch (e.code) {
    case 'ECONNREFUSED':
      return { tag: 'connection-refused' };
    case 'ECONNRESET':
    case 'EPIPE':
      return { tag: 'connection-terminated' };
    case 'ETIMEDOUT':
      return { tag: 'connection-timeout' };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { tag: 'DNS-error', val: { rcode: e.code } };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { tag: 'destination-unavailable' };
    default:
      return { tag: 'internal-error', val: e.message };
  }
}

export class Egress {
  readonly #opts: EgressOptions;
  // One pool per module: connections are reused across its requests, and one
  // module's sockets are never handed to another.
  readonly #agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  readonly #pending = new Map<number, Pending>();

  constructor(opts: EgressOptions) {
    this.#opts = opts;
  }

  /** Makes the request; resolves with the response head (its body follows on `ores:<n>`) or the error-code. */
  send(head: OutgoingHead): Promise<OutgoingResult> {
    let url: URL;
    try {
      url = new URL(`${head.scheme}://${head.authority}${head.pathWithQuery}`);
    } catch {
      return Promise.resolve({ tag: 'err', val: { tag: 'HTTP-request-URI-invalid' } });
    }
    // The worker checked already; checked again where the request is made.
    if (!isAllowed(this.#opts.allowed(), url)) {
      this.#opts.denied(url);
      return Promise.resolve({ tag: 'err', val: { tag: 'HTTP-request-denied' } });
    }
    // As an object (Node adds Host from the URL then), repeated names as lists.
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of head.headers) {
      if (HOP_BY_HOP.has(name)) continue;
      const seen = headers[name];
      headers[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
    }
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve) => {
      let settled = false;
      const settle = (r: OutgoingResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(firstByte);
        resolve(r);
      };
      const req = lib.request(url, {
        method: head.method,
        headers,
        agent: url.protocol === 'https:' ? this.#agents.https : this.#agents.http,
        timeout: head.connectTimeoutMs,
      });
      const pending: Pending = { req };
      this.#pending.set(head.n, pending);
      let firstByte: NodeJS.Timeout | undefined;
      if (head.firstByteTimeoutMs !== undefined) {
        firstByte = setTimeout(() => {
          settle({ tag: 'err', val: { tag: 'HTTP-response-timeout' } });
          req.destroy();
        }, head.firstByteTimeoutMs);
      }
      req.once('timeout', () => {
        settle({ tag: 'err', val: { tag: 'connection-timeout' } });
        req.destroy();
      });
      req.once('error', (e: NodeJS.ErrnoException) => {
        settle({ tag: 'err', val: errorCode(e) });
        pending.response?.fail(e.message);
        this.#forget(head.n);
      });
      req.once('response', (res) => {
        pending.incoming = res;
        if (head.betweenBytesTimeoutMs !== undefined)
          res.setTimeout(head.betweenBytesTimeoutMs, () => res.destroy(new Error('no bytes within the between-bytes timeout')));
        const relay = new RelayToWorker(`ores:${head.n}`, res, this.#opts.send);
        pending.response = relay;
        const status = res.statusCode ?? 0;
        const list: HeaderList = [];
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) list.push([res.rawHeaders[i].toLowerCase(), res.rawHeaders[i + 1]]);
        settle({ tag: 'ok', val: { status, headers: list } });
        relay.start(() => {
          const raw = res.rawTrailers;
          const out: HeaderList = [];
          for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i].toLowerCase(), raw[i + 1]]);
          return out.length ? out : undefined;
        });
        res.once('close', () => this.#forget(head.n));
      });
      if (head.body) pending.body = new RelayFromWorker(`oreq:${head.n}`, req, (bytes) => this.#opts.ack(`oreq:${head.n}`, bytes));
      else req.end();
    });
  }

  /** A chunk of an outgoing request's body from the guest. */
  requestChunk(n: number, c: StreamChunk): void {
    const p = this.#pending.get(n);
    if (!p?.body) {
      if (c.data) this.#opts.ack(c.stream, c.data.length);
      return;
    }
    if (c.data) p.body.write(c.data);
    if (c.end) {
      p.body.ended = true;
      if (c.trailers && c.trailers.length > 0) p.req.addTrailers(c.trailers);
      p.req.end();
    }
    // The guest dropped the body unfinished: the request must not go out as if it were whole.
    if (c.error !== undefined) p.req.destroy(new Error(c.error));
  }

  credit(n: number, bytes: number): void {
    this.#pending.get(n)?.response?.credit(bytes);
  }

  /** The guest dropped a response body before its end. */
  discard(n: number): void {
    const p = this.#pending.get(n);
    p?.incoming?.destroy();
    this.#forget(n);
  }

  /** The instance that made these requests is gone: nothing will read their answers. */
  abortAll(): void {
    for (const [n, p] of this.#pending) {
      p.req.destroy();
      this.#forget(n);
    }
  }

  close(): void {
    this.abortAll();
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }

  #forget(n: number): void {
    const p = this.#pending.get(n);
    if (!p) return;
    p.body?.close();
    this.#pending.delete(n);
  }
}
