// Outbound HTTP for one module instance, on its worker thread: every request
// and every redirect hop is checked against the module's allowed hosts before
// anything touches the network (DNS included), and each instance has its own
// connection pool, which no other module's requests use.
//
// It runs where the guest waits rather than on the main thread: a request
// made there crossed threads twice and queued behind every other module's
// work on the main event loop, which was about half of a gateway's cycle in
// the pipeline bench. The guest is suspended (JSPI) meanwhile, so the worker's
// own event loop is free to carry the request.
import http from 'node:http';
import https from 'node:https';
import { err, ok } from '../capability.ts';
import { allowEntryFor, isAllowed, parseAllowedHosts } from '../networking/allowed-hosts.ts';
import type { OutboundHttpGrant } from './grant.ts';
import type { HttpError, HttpRequest, HttpResponse, SendResult } from './types.ts';

const METHODS = new Set(['get', 'head', 'post', 'put', 'patch', 'delete', 'options']);
const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = 'edgehost/0.1';
// Hop-by-hop headers (RFC 9110 7.6.1) and the framing ones the host computes
// itself: a guest-supplied value would describe a connection it does not own.
const DROPPED_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
]);
// Sent to the origin that asked for them only, as browsers do: a redirect
// must not leak a token to another (even granted) origin.
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie']);
// Describe a body that a method-changing redirect drops (fetch spec, 4.4 step 12).
const BODY_HEADERS = new Set(['content-type', 'content-encoding', 'content-language', 'content-location']);

type Headers = [string, string][];
type Attempt = { tag: 'ok'; val: HttpResponse } | { tag: 'err'; val: HttpError };

const invalid = (val: string) => err<HttpError>({ tag: 'invalid', val });
const network = (val: string) => err<HttpError>({ tag: 'network', val });
const timeout = () => err<HttpError>({ tag: 'timeout' });

export interface ClientOptions {
  moduleName: string;
  grant: OutboundHttpGrant;
  /** Requests in progress at once; past it, `limited`. */
  maxPending: number;
  /** Logs a refused target and returns the text the guest gets (WorkerContext.denied). */
  denied(target: string, allowWith: string): string;
  /** Each request that was made, with its status (or 'error') and how long it took. */
  done?(status: number | 'error', seconds: number): void;
}

export interface Client {
  send(req: HttpRequest): Promise<SendResult>;
  close(): void;
}

export function createClient(opts: ClientOptions): Client {
  const { grant, moduleName } = opts;
  const allowed = parseAllowedHosts(grant.allowedHosts);
  const agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };
  let pending = 0;

  const deny = (url: URL) => {
    const entry = allowEntryFor(url);
    const key = `modules.${moduleName}.grants.outboundHttp.allowedHosts`;
    return err<HttpError>({ tag: 'denied', val: opts.denied(url.origin, `--${moduleName}-allowed-host ${entry} (or ${key})`) });
  };

  async function follow(first: URL, req: HttpRequest, headers: Headers, timeoutMs: number): Promise<SendResult> {
    const deadline = performance.now() + timeoutMs;
    let url = first;
    let method = req.method.toUpperCase();
    let body = req.body;
    for (let hops = 0; ; hops++) {
      const remaining = Math.ceil(deadline - performance.now());
      if (remaining <= 0) return timeout();
      const attempt = await exchange(agents[url.protocol as 'http:' | 'https:'], url, method, headers, body, remaining, grant.maxResponseBytes);
      if (attempt.tag === 'err') return attempt;
      const response = attempt.val;
      const location = REDIRECTS.has(response.status) ? response.headers.find(([n]) => n === 'location')?.[1] : undefined;
      if (location === undefined) return ok(response);
      if (hops === MAX_REDIRECTS) return network(`more than ${MAX_REDIRECTS} redirects (last one to ${location})`);

      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        return invalid(`redirect to a malformed location: ${location}`);
      }
      const problem = urlProblem(next);
      if (problem) return invalid(`redirect from ${url.href}: ${problem}`);
      if (!isAllowed(allowed, next)) return deny(next);

      // 303 always, and 301/302 after a POST, turn into a GET without body (RFC 9110 15.4).
      if ((response.status === 303 && method !== 'HEAD') || ((response.status === 301 || response.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
        headers = headers.filter(([n]) => !BODY_HEADERS.has(n));
      }
      if (next.origin !== url.origin) headers = headers.filter(([n]) => !CREDENTIAL_HEADERS.has(n));
      url = next;
    }
  }

  return {
    async send(req: HttpRequest): Promise<SendResult> {
      if (!METHODS.has(req.method)) return invalid(`unknown method: ${String(req.method)}`);
      let url: URL;
      try {
        url = new URL(req.url);
      } catch {
        return invalid(`not an absolute URL: ${req.url}`);
      }
      const problem = urlProblem(url);
      if (problem) return invalid(problem);
      const headers = requestHeaders(req.headers);
      if (typeof headers === 'string') return invalid(headers);
      if (req.body && req.body.length > grant.maxRequestBytes) {
        return invalid(`request body of ${req.body.length} bytes exceeds the limit of ${grant.maxRequestBytes} (grants.outboundHttp.maxRequestBytes)`);
      }
      const timeoutMs = req.timeoutMs ?? grant.defaultTimeoutMs;
      if (timeoutMs < 1) return invalid('timeout-ms must be at least 1');
      // Checked before anything touches the network, DNS included.
      if (!isAllowed(allowed, url)) return deny(url);
      if (pending >= opts.maxPending) {
        return err<HttpError>({
          tag: 'limited',
          val: `${pending} requests of this module are in progress (limits.maxPendingHttpRequests is ${opts.maxPending})`,
        });
      }
      pending++;
      const started = performance.now();
      let result: SendResult | undefined;
      try {
        result = await follow(url, req, headers, timeoutMs);
        return result;
      } finally {
        pending--;
        opts.done?.(result?.tag === 'ok' ? result.val.status : 'error', (performance.now() - started) / 1000);
      }
    },
    close() {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}

function urlProblem(url: URL): string | undefined {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `only http and https URLs are supported, not ${url.protocol} (${url.href})`;
  if (url.username || url.password) return `credentials in the URL are not accepted (send an authorization header): ${url.origin}`;
  return undefined;
}

/** The guest's headers, lowercased and validated, without the ones the host owns; a string is the problem. */
function requestHeaders(list: Headers): Headers | string {
  const out: Headers = [];
  for (const [rawName, value] of list) {
    const name = rawName.toLowerCase();
    try {
      http.validateHeaderName(name);
      http.validateHeaderValue(name, value);
    } catch (e) {
      return `bad header ${JSON.stringify(rawName)}: ${(e as Error).message}`;
    }
    if (!DROPPED_HEADERS.has(name)) out.push([name, value]);
  }
  return out;
}

/** Node's header object: repeated names as arrays, in order; the host's user-agent unless the guest set one. */
function nodeHeaders(list: Headers, body: Uint8Array | undefined): http.OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = { 'user-agent': USER_AGENT };
  const seen = new Set<string>();
  for (const [name, value] of list) {
    const prior = seen.has(name) ? out[name] : undefined;
    out[name] = prior === undefined ? value : Array.isArray(prior) ? [...prior, value] : [prior, value];
    seen.add(name);
  }
  if (body !== undefined) out['content-length'] = String(body.length);
  return out;
}

/** One request/response, without following redirects; the body is counted as it arrives. */
function exchange(
  agent: http.Agent,
  url: URL,
  method: string,
  headers: Headers,
  body: Uint8Array | undefined,
  timeoutMs: number,
  maxBytes: number,
): Promise<Attempt> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (a: Attempt) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(a);
    };
    const request = (url.protocol === 'https:' ? https.request : http.request)(url, { method, agent, headers: nodeHeaders(headers, body) });
    // The whole exchange, connecting and the body included, within the timeout.
    const timer = setTimeout(() => {
      settle(timeout());
      request.destroy();
    }, timeoutMs);
    const fail = (e: HttpError) => {
      settle(err(e));
      request.destroy();
    };
    request.on('response', (response: http.IncomingMessage) => {
      if (Number(response.headers['content-length']) > maxBytes) return fail({ tag: 'too-large' });
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) fail({ tag: 'too-large' });
        else chunks.push(chunk);
      });
      response.on('end', () => {
        // One buffer of its own (Buffer.concat may hand out a slice of a shared pool).
        const body = new Uint8Array(size);
        let at = 0;
        for (const c of chunks) {
          body.set(c, at);
          at += c.length;
        }
        settle(ok({ status: response.statusCode ?? 0, headers: pairs(response.rawHeaders), body }));
      });
      response.on('error', (e: Error) => onError(e));
      // Closed without 'end' (the server or the network cut it): whatever error came first stands.
      response.on('close', () => {
        if (!response.complete) settle(network('the connection closed before the whole response arrived'));
      });
    });
    const onError = (e: Error & { code?: string }) => {
      const code = e.code && !e.message.includes(e.code) ? `${e.code}: ` : '';
      settle(network(`${code}${e.message}`));
    };
    request.on('error', onError);
    request.end(body === undefined ? undefined : Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  });
}

function pairs(raw: string[]): Headers {
  const out: Headers = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i].toLowerCase(), raw[i + 1]]);
  return out;
}
