// The least of wasi:http/types a host needs to call a wasi:http/proxy guest's
// incoming-handler#handle and read back a response with a body: requests come from the test,
// responses are kept in memory. No network, no streaming request bodies, no trailers. What the
// host's real implementation will have to provide, method by method (names as jco's generated
// glue calls them).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { transpileCached } from '../../host/components/transpile-cache.ts';
import { createLogger } from '../../host/logger.ts';
import { createWasi } from '../../host/sandbox/wasi/index.ts';
import { OutputStream } from '../../host/sandbox/wasi/io.ts';
import { testCacheDir } from '../support/paths.ts';

type Method = { tag: 'get' | 'head' | 'post' | 'put' | 'delete' | 'connect' | 'options' | 'trace' | 'patch' } | { tag: 'other'; val: string };
const headerError = (tag: 'invalid-syntax' | 'forbidden' | 'immutable') => ({ tag: 'err' as const, val: { tag } });

/** wasi:http/types `fields` (headers and trailers). Names are kept lower-cased. */
export class Fields {
  #entries: [string, Uint8Array][] = [];
  #immutable = false;
  static fromList(entries: [string, Uint8Array][]) {
    const f = new Fields();
    f.#entries = entries.map(([n, v]) => [n.toLowerCase(), v]);
    return f;
  }
  static immutable(entries: [string, string][]) {
    const f = Fields.fromList(entries.map(([n, v]) => [n, new TextEncoder().encode(v)]));
    f.#immutable = true;
    return f;
  }
  get(name: string) {
    return this.#entries.filter(([n]) => n === name.toLowerCase()).map(([, v]) => v);
  }
  has(name: string) {
    return this.#entries.some(([n]) => n === name.toLowerCase());
  }
  set(name: string, values: Uint8Array[]) {
    if (this.#immutable) return headerError('immutable');
    this.#entries = this.#entries.filter(([n]) => n !== name.toLowerCase());
    for (const v of values) this.#entries.push([name.toLowerCase(), v]);
  }
  delete(name: string) {
    if (this.#immutable) return headerError('immutable');
    this.#entries = this.#entries.filter(([n]) => n !== name.toLowerCase());
  }
  append(name: string, value: Uint8Array) {
    if (this.#immutable) return headerError('immutable');
    this.#entries.push([name.toLowerCase(), value]);
  }
  entries() {
    return [...this.#entries];
  }
  clone() {
    return Fields.fromList(this.#entries);
  }
  /** Header values as text, for assertions. */
  text(): [string, string][] {
    return this.#entries.map(([n, v]) => [n, new TextDecoder().decode(v)]);
  }
}

/** wasi:http/types `incoming-request`, from the test's description. No body. */
export class IncomingRequest {
  readonly #method: Method;
  readonly #path: string;
  readonly #headers: Fields;
  constructor(method: Method, pathWithQuery: string, headers: [string, string][] = []) {
    this.#method = method;
    this.#path = pathWithQuery;
    this.#headers = Fields.immutable(headers);
  }
  method() {
    return this.#method;
  }
  pathWithQuery() {
    return this.#path;
  }
  scheme() {
    return { tag: 'HTTP' };
  }
  authority() {
    return 'localhost';
  }
  headers() {
    return this.#headers;
  }
  consume() {
    return { tag: 'err' as const, val: undefined };
  }
}

/** wasi:http/types `outgoing-body`: what the guest writes, kept; finished once. */
export class OutgoingBody {
  readonly chunks: Uint8Array[] = [];
  finished = false;
  #stream: OutputStream | undefined;
  write() {
    if (this.#stream) return { tag: 'err' as const, val: undefined }; // the stream is handed out once
    this.#stream = new OutputStream((bytes) => this.chunks.push(bytes.slice()));
    return this.#stream;
  }
  static finish(body: OutgoingBody, _trailers: Fields | undefined) {
    body.finished = true;
  }
  text() {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** wasi:http/types `outgoing-response`. */
export class OutgoingResponse {
  status = 200;
  readonly fields: Fields;
  #body: OutgoingBody | undefined;
  constructor(headers: Fields) {
    this.fields = headers;
  }
  statusCode() {
    return this.status;
  }
  setStatusCode(status: number) {
    if (status < 100 || status > 999) return { tag: 'err' as const, val: undefined };
    this.status = status;
  }
  headers() {
    return this.fields;
  }
  body() {
    if (this.#body) return { tag: 'err' as const, val: undefined }; // the body is handed out once
    this.#body = new OutgoingBody();
    return this.#body;
  }
  get sentBody() {
    return this.#body;
  }
}

/** wasi:http/types `response-outparam`: where the guest sets its response (or an error code). */
export class ResponseOutparam {
  result: { tag: 'ok'; val: OutgoingResponse } | { tag: 'err'; val: unknown } | undefined;
  sets = 0;
  static set(param: ResponseOutparam, result: { tag: 'ok'; val: OutgoingResponse } | { tag: 'err'; val: unknown }) {
    param.sets++;
    param.result = result;
  }
}

export interface HttpGuest {
  handle(request: IncomingRequest): Promise<ResponseOutparam>;
  imports: string[];
  exports: string[];
}

const unversioned = (name: string) => name.replace(/@[^@/]*$/, '');

/** Transpiles a wasi:http/proxy component (host transpile cache) and instantiates it with the host's WASI and the classes above. */
export async function instantiateHttpGuest(componentPath: string): Promise<HttpGuest> {
  const transpiled = await transpileCached(componentPath, testCacheDir, { asyncImports: [], asyncExports: [] });
  const wasi = createWasi({ env: [], logger: createLogger('silent'), denied: (capability, target) => `${capability}: ${target} denied` });
  const interfaces: Record<string, Record<string, unknown>> = {
    ...wasi.interfaces,
    // The denied wasi:http (outgoing-handler refuses) with its resource classes; these replace the incoming side.
    'wasi:http/types': { ...wasi.interfaces['wasi:http/types'], Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam },
  };
  const imports = new Proxy(interfaces, { get: (t, k) => (typeof k === 'string' ? (t[k] ?? t[unversioned(k)]) : undefined) });
  const { instantiate } = await import(transpiled.jsPath);
  const dir = dirname(transpiled.jsPath);
  const instance = (await instantiate((file: string) => WebAssembly.compile(readFileSync(join(dir, file))), imports)) as Record<string, unknown>;
  const handler = Object.entries(instance).find(([k]) => unversioned(k) === 'wasi:http/incoming-handler')?.[1] as
    | { handle(req: IncomingRequest, out: ResponseOutparam): unknown }
    | undefined;
  if (!handler) throw new Error(`${componentPath} does not export wasi:http/incoming-handler`);
  return {
    imports: transpiled.imports,
    exports: transpiled.exports,
    async handle(request) {
      const out = new ResponseOutparam();
      await handler.handle(request, out);
      return out;
    },
  };
}
