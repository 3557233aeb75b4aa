import type { Op } from '../capability.ts';

/** Header lines as they cross: lowercase names, values as Latin-1 text (each char one byte). */
export type HeaderList = [string, string][];

/** wasi:http/types `error-code`, as jco hands it over (the cases the host produces, and any other by tag). */
export type HttpErrorCode =
  | { tag: 'DNS-error'; val: { rcode?: string; infoCode?: number } }
  | { tag: 'HTTP-request-denied' }
  | { tag: 'HTTP-request-URI-invalid' }
  | { tag: 'HTTP-request-method-invalid' }
  | { tag: 'HTTP-request-body-size'; val?: bigint }
  | { tag: 'HTTP-response-incomplete' }
  | { tag: 'HTTP-response-timeout' }
  | { tag: 'HTTP-protocol-error' }
  | { tag: 'connection-refused' }
  | { tag: 'connection-terminated' }
  | { tag: 'connection-timeout' }
  | { tag: 'destination-unavailable' }
  | { tag: 'internal-error'; val?: string };

/** An incoming request, as the worker half builds the guest's `incoming-request` from it. */
export interface RequestHead {
  /** Unique per module binding; also names its body streams (`req:<id>`, `res:<id>`). */
  id: number;
  /** As sent, uppercase for the standard methods: "GET", "PURGE". */
  method: string;
  scheme: 'http' | 'https';
  /** The Host header, or the listen address when the request has none. */
  authority: string;
  pathWithQuery: string;
  headers: HeaderList;
  /** Whether a body follows on `req:<id>` (it may still be empty). */
  body: boolean;
}

/** What the guest set as its response. */
export interface ResponseHead {
  id: number;
  status: number;
  headers: HeaderList;
}

/**
 * Bytes of one stream between the halves, in order; the last message has
 * `end` (then `trailers`, if any) or `error`. Streams are named by what they
 * carry: `req:<id>` (incoming request body, to the worker), `res:<id>` (the
 * response body, to the service), `oreq:<n>` (an outgoing request's body, to
 * the service), `ores:<n>` (its response's body, to the worker).
 */
export interface StreamChunk {
  stream: string;
  data?: Uint8Array;
  end?: boolean;
  trailers?: HeaderList;
  /** The stream failed: the reader sees `last-operation-failed` with this text. */
  error?: string;
}

/** An outgoing request the guest made (wasi:http/outgoing-handler.handle); its body follows on `oreq:<n>` if `body`. */
export interface OutgoingHead {
  n: number;
  method: string;
  scheme: 'http' | 'https';
  authority: string;
  pathWithQuery: string;
  headers: HeaderList;
  body: boolean;
  /** request-options, in milliseconds. */
  connectTimeoutMs?: number;
  firstByteTimeoutMs?: number;
  betweenBytesTimeoutMs?: number;
}

/** The answer to an outgoing request: its head (the body follows on `ores:<n>`), or why there is none. */
export type OutgoingResult = { tag: 'ok'; val: { status: number; headers: HeaderList } } | { tag: 'err'; val: HttpErrorCode };

export interface HttpOps {
  toService: {
    /** Resolves once the module's listeners are bound (rejects with why one is not): a start waits for it. */
    bound: Op<undefined>;
    /** The guest set its response (response-outparam.set); its body follows on `res:<id>`. */
    respond: Op<ResponseHead | { id: number; error: HttpErrorCode }>;
    /** Bytes the worker sends: a response body, an outgoing request body. */
    chunk: Op<StreamChunk>;
    /** The guest consumed this many bytes of a stream the service sends: the service may send that much more. */
    credit: Op<{ stream: string; bytes: number }>;
    /**
     * An outgoing request (checked against the grant in the worker, and again here);
     * resolves with its response's head (the body follows on `ores:<n>`) or its error-code.
     */
    send: Op<OutgoingHead, OutgoingResult>;
    /** The guest dropped a stream it was reading before its end: the service stops sending it. */
    discard: Op<string>;
  };
  toWorker: {
    /** Calls the guest's incoming-handler.handle; resolves when it returned. */
    handle: Op<RequestHead>;
    /**
     * Bytes the service sends: a request body, an outgoing response's body. A chunk with
     * only `error` for a stream the worker writes (`res:`, `oreq:`) means its reader is gone:
     * the guest's writes to it fail from then on.
     */
    chunk: Op<StreamChunk>;
    /** This many bytes of a worker stream were written out: the guest may write that much more. */
    ack: Op<{ stream: string; bytes: number }>;
    /**
     * The request ran past its deadline (limits.httpRequestTimeoutMs): every wait of the
     * guest in this request fails, which ends the instance (the module is restarted).
     */
    expire: Op<{ id: number; message: string }>;
  };
}
