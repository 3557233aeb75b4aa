// wasi:http/types for one module instance, in its worker: the resources of
// the standard interface, named and called as jco's generated glue calls them
// (constructors, methods in camelCase, `fromList`, `finish` and `set` as
// statics; a `result` error is thrown as its payload or returned as
// `{ tag: 'err' }`). Requests and responses are heads plus a body stream
// (body-streams.ts); nothing here holds a whole body.
import type { BodyStreams } from './body-streams.ts';
import type { HeaderList, HttpErrorCode } from './ops.ts';

type Method = { tag: 'get' | 'head' | 'post' | 'put' | 'delete' | 'connect' | 'options' | 'trace' | 'patch' } | { tag: 'other'; val: string };
type Scheme = { tag: 'HTTP' } | { tag: 'HTTPS' } | { tag: 'other'; val: string };

const STANDARD_METHODS = new Set(['get', 'head', 'post', 'put', 'delete', 'connect', 'options', 'trace', 'patch']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Headers a guest may not set: they describe the connection (which the host
 * owns) or the target (set through authority), as wasmtime refuses them.
 */
export const FORBIDDEN_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
  'host',
  'http2-settings',
]);

const err = (val?: unknown) => ({ tag: 'err' as const, val });
const ok = (val?: unknown) => ({ tag: 'ok' as const, val });

export const methodVariant = (method: string): Method => {
  const lower = method.toLowerCase();
  return STANDARD_METHODS.has(lower) && method === method.toUpperCase() ? ({ tag: lower } as Method) : { tag: 'other', val: method };
};
export const methodText = (m: Method): string => (m.tag === 'other' ? m.val : m.tag.toUpperCase());

const latin1 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
const bytesOf = (text: string) => new Uint8Array(Buffer.from(text, 'latin1'));
/** Header lines as they cross the thread boundary. */
export const toHeaderList = (entries: [string, Uint8Array][]): HeaderList => entries.map(([n, v]) => [n, latin1(v)]);

/** What the resources need from the worker half. */
export interface TypesHost {
  streams: BodyStreams;
  /** Starts sending what the guest writes to `out` (held until now) on stream `name`. */
  attach(out: InstanceType<BodyStreams['Outbound']>, name: string): void;
}

export function wasiHttpTypes({ streams, attach }: TypesHost) {
  const { Inbound, BodyInputStream, Outbound, BodyOutputStream, EventPollable } = streams;

  const headerError = (tag: 'invalid-syntax' | 'forbidden' | 'immutable') => ({ tag });
  const checkName = (name: string) => {
    if (!TOKEN.test(name)) throw headerError('invalid-syntax');
    if (FORBIDDEN_HEADERS.has(name.toLowerCase())) throw headerError('forbidden');
  };
  const checkValue = (value: Uint8Array) => {
    for (const b of value) if (b === 0 || b === 10 || b === 13) throw headerError('invalid-syntax');
  };

  class Fields {
    #entries: [string, Uint8Array][] = [];
    #immutable = false;

    static fromList(entries: [string, Uint8Array][]) {
      const f = new Fields();
      for (const [name, value] of entries) {
        checkName(name);
        checkValue(value);
        f.#entries.push([name.toLowerCase(), value]);
      }
      return f;
    }
    /** Headers the host received: not checked against the forbidden list, and read-only. */
    static received(list: HeaderList) {
      const f = new Fields();
      f.#entries = list.map(([n, v]) => [n, bytesOf(v)]);
      f.#immutable = true;
      return f;
    }
    freeze() {
      this.#immutable = true;
      return this;
    }
    get(name: string) {
      const n = name.toLowerCase();
      return this.#entries.filter(([k]) => k === n).map(([, v]) => v);
    }
    has(name: string) {
      const n = name.toLowerCase();
      return this.#entries.some(([k]) => k === n);
    }
    set(name: string, values: Uint8Array[]) {
      if (this.#immutable) throw headerError('immutable');
      checkName(name);
      for (const v of values) checkValue(v);
      const n = name.toLowerCase();
      this.#entries = this.#entries.filter(([k]) => k !== n);
      for (const v of values) this.#entries.push([n, v]);
    }
    delete(name: string) {
      if (this.#immutable) throw headerError('immutable');
      checkName(name);
      const n = name.toLowerCase();
      this.#entries = this.#entries.filter(([k]) => k !== n);
    }
    append(name: string, value: Uint8Array) {
      if (this.#immutable) throw headerError('immutable');
      checkName(name);
      checkValue(value);
      this.#entries.push([name.toLowerCase(), value]);
    }
    entries(): [string, Uint8Array][] {
      return this.#entries.map(([n, v]) => [n, v]);
    }
    clone() {
      const f = new Fields();
      f.#entries = this.entries();
      return f;
    }
    list(): HeaderList {
      return toHeaderList(this.#entries);
    }
  }

  /** A body arriving from the service: a request's, or an outgoing request's response's. */
  class IncomingBody {
    readonly #in: InstanceType<typeof Inbound>;
    #streamTaken = false;
    constructor(inbound: InstanceType<typeof Inbound>) {
      this.#in = inbound;
    }
    stream() {
      if (this.#streamTaken) return err();
      this.#streamTaken = true;
      return ok(new BodyInputStream(this.#in));
    }
    static finish(body: IncomingBody) {
      return new FutureTrailers(body.#in);
    }
    [Symbol.dispose]() {
      if (!this.#streamTaken) this.#in.discard();
    }
  }

  class FutureTrailers {
    readonly #in: InstanceType<typeof Inbound>;
    #taken = false;
    constructor(inbound: InstanceType<typeof Inbound>) {
      this.#in = inbound;
    }
    subscribe() {
      return new EventPollable(() => this.#in.done || this.#in.discarded);
    }
    get() {
      if (!this.#in.done && !this.#in.discarded) return undefined;
      if (this.#taken) return err();
      this.#taken = true;
      if (this.#in.error !== undefined) return ok(err({ tag: 'internal-error', val: this.#in.error }));
      return ok(ok(this.#in.trailers ? Fields.received(this.#in.trailers) : undefined));
    }
  }

  /** What an incoming request and an incoming response share: their headers, and a body the guest takes once (or that is discarded). */
  class IncomingMessage {
    readonly #headers: HeaderList;
    readonly #body: InstanceType<typeof Inbound>;
    #consumed = false;
    constructor(headers: HeaderList, body: InstanceType<typeof Inbound>) {
      this.#headers = headers;
      this.#body = body;
    }
    headers() {
      return Fields.received(this.#headers);
    }
    consume() {
      if (this.#consumed) return err();
      this.#consumed = true;
      return ok(new IncomingBody(this.#body));
    }
    [Symbol.dispose]() {
      if (!this.#consumed) this.#body.discard();
    }
  }

  class IncomingRequest extends IncomingMessage {
    readonly #method: string;
    readonly #scheme: 'http' | 'https';
    readonly #authority: string;
    readonly #path: string;
    constructor(
      head: { method: string; scheme: 'http' | 'https'; authority: string; pathWithQuery: string; headers: HeaderList },
      body: InstanceType<typeof Inbound>,
    ) {
      super(head.headers, body);
      this.#method = head.method;
      this.#scheme = head.scheme;
      this.#authority = head.authority;
      this.#path = head.pathWithQuery;
    }
    method() {
      return methodVariant(this.#method);
    }
    pathWithQuery() {
      return this.#path;
    }
    scheme(): Scheme {
      return { tag: this.#scheme === 'https' ? 'HTTPS' : 'HTTP' };
    }
    authority() {
      return this.#authority;
    }
  }

  /** A body the guest writes: a response's, or an outgoing request's. */
  class OutgoingBody {
    readonly out = new Outbound();
    #streamTaken = false;
    write() {
      if (this.#streamTaken) return err();
      this.#streamTaken = true;
      return ok(new BodyOutputStream(this.out));
    }
    static finish(body: OutgoingBody, trailers: Fields | undefined) {
      if (body.out.closed !== undefined) return err({ tag: 'connection-terminated' } satisfies HttpErrorCode);
      body.out.finish(trailers?.list());
      return ok();
    }
    [Symbol.dispose]() {
      // Dropped without finish: the body is incomplete, and the receiver must not take it for whole.
      this.out.fail('the body was dropped before it was finished (outgoing-body.finish)');
    }
  }

  class OutgoingResponse {
    #status = 200;
    readonly #headers: Fields;
    #body: OutgoingBody | undefined;
    /** The stream its body goes to, once the response is set. */
    #sentAs: string | undefined;
    constructor(headers: Fields) {
      this.#headers = headers;
    }
    /** The body the guest took, if it did. */
    get takenBody() {
      return this.#body;
    }
    /** The response was set: its body (taken now or later) goes to stream `name`; its headers are final. */
    sent(name: string) {
      this.#sentAs = name;
      this.#headers.freeze();
      if (this.#body) attach(this.#body.out, name);
    }
    statusCode() {
      return this.#status;
    }
    setStatusCode(status: number) {
      if (!Number.isInteger(status) || status < 100 || status > 999) return err();
      this.#status = status;
      return ok();
    }
    headers() {
      return this.#headers;
    }
    body() {
      if (this.#body) return err();
      this.#body = new OutgoingBody();
      if (this.#sentAs !== undefined) attach(this.#body.out, this.#sentAs);
      return ok(this.#body);
    }
  }

  class OutgoingRequest {
    #method: Method = { tag: 'get' };
    #scheme: Scheme | undefined;
    #authority: string | undefined;
    #path: string | undefined;
    readonly #headers: Fields;
    #body: OutgoingBody | undefined;
    constructor(headers: Fields) {
      this.#headers = headers;
    }
    /** The body the guest took, if it did. */
    get takenBody() {
      return this.#body;
    }
    body() {
      if (this.#body) return err();
      this.#body = new OutgoingBody();
      return ok(this.#body);
    }
    method() {
      return this.#method;
    }
    setMethod(m: Method) {
      if (m.tag === 'other' && !TOKEN.test(m.val)) return err();
      this.#method = m;
      return ok();
    }
    pathWithQuery() {
      return this.#path;
    }
    setPathWithQuery(p: string | undefined) {
      if (p != null && (!p.startsWith('/') || /[\s\0]/.test(p))) return err();
      this.#path = p ?? undefined;
      return ok();
    }
    scheme() {
      return this.#scheme;
    }
    setScheme(s: Scheme | undefined) {
      this.#scheme = s ?? undefined;
      return ok();
    }
    authority() {
      return this.#authority;
    }
    setAuthority(a: string | undefined) {
      if (a != null && /[\s/?#@\0]/.test(a)) return err();
      this.#authority = a ?? undefined;
      return ok();
    }
    headers() {
      return this.#headers;
    }
  }

  class RequestOptions {
    connect: bigint | undefined;
    firstByte: bigint | undefined;
    betweenBytes: bigint | undefined;
    connectTimeout() {
      return this.connect;
    }
    setConnectTimeout(d: bigint | undefined) {
      this.connect = d ?? undefined;
      return ok();
    }
    firstByteTimeout() {
      return this.firstByte;
    }
    setFirstByteTimeout(d: bigint | undefined) {
      this.firstByte = d ?? undefined;
      return ok();
    }
    betweenBytesTimeout() {
      return this.betweenBytes;
    }
    setBetweenBytesTimeout(d: bigint | undefined) {
      this.betweenBytes = d ?? undefined;
      return ok();
    }
  }

  class IncomingResponse extends IncomingMessage {
    readonly #status: number;
    constructor(status: number, headers: HeaderList, body: InstanceType<typeof Inbound>) {
      super(headers, body);
      this.#status = status;
    }
    status() {
      return this.#status;
    }
  }

  /** The response to an outgoing request, once the service has it. */
  class FutureIncomingResponse {
    #result: { tag: 'ok'; val: IncomingResponse } | { tag: 'err'; val: HttpErrorCode } | undefined;
    #taken = false;
    settle(result: { tag: 'ok'; val: IncomingResponse } | { tag: 'err'; val: HttpErrorCode }) {
      this.#result ??= result;
    }
    get settled() {
      return this.#result !== undefined;
    }
    subscribe() {
      return new EventPollable(() => this.#result !== undefined);
    }
    get() {
      if (!this.#result) return undefined;
      if (this.#taken) return err();
      this.#taken = true;
      return ok(this.#result);
    }
  }

  /** Where the guest puts its response: `set` once, with a response or an error code. */
  class ResponseOutparam {
    readonly onSet: (response: { tag: 'ok'; val: OutgoingResponse } | { tag: 'err'; val: HttpErrorCode }) => void;
    constructor(onSet: ResponseOutparam['onSet']) {
      this.onSet = onSet;
    }
    static set(param: ResponseOutparam, response: { tag: 'ok'; val: OutgoingResponse } | { tag: 'err'; val: HttpErrorCode }) {
      param.onSet(response);
    }
  }

  return {
    Fields,
    IncomingRequest,
    IncomingBody,
    FutureTrailers,
    OutgoingResponse,
    OutgoingBody,
    OutgoingRequest,
    RequestOptions,
    IncomingResponse,
    FutureIncomingResponse,
    ResponseOutparam,
    methodText,
  };
}

export type WasiHttpTypes = ReturnType<typeof wasiHttpTypes>;
