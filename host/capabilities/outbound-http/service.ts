// Outbound HTTP for one module, on the main thread: every request and every
// redirect hop is checked against the module's allowed hosts before anything
// touches the network (DNS included), and each module has its own connection
// pool, which outlives its instances.
import http from 'node:http';
import https from 'node:https';
import type { Got } from 'got';
import { err, ok, type ServiceHalf } from '../capability.ts';
import { allowEntryFor, isAllowed, parseAllowedHosts } from '../networking/allowed-hosts.ts';
import type { OutboundHttpGrant } from './grant.ts';
import type { OutboundHttpOps } from './ops.ts';
import type { HttpError, HttpRequest, HttpResponse, SendResult } from './types.ts';

const METHODS = new Set(['get', 'head', 'post', 'put', 'patch', 'delete', 'options']);
const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = 'edgehost/0.1';
/**
 * got is imported on first use, or a second after a module that may send is ready:
 * loading it took about 300 ms of the main thread, which a start spent before any
 * module could be ready. A request that comes first waits for the import.
 */
let gotModule: Promise<typeof import('got').default> | undefined;
const loadGot = () => {
  gotModule ??= import('got').then((m) => m.default);
  return gotModule;
};
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
// Sent to the origin that asked for them only, as browsers and got do: a
// redirect must not leak a token to another (even granted) origin.
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie']);
// Describe a body that a method-changing redirect drops (fetch spec, 4.4 step 12).
const BODY_HEADERS = new Set(['content-type', 'content-encoding', 'content-language', 'content-location']);

type Headers = [string, string][];
type Attempt = { tag: 'ok'; val: HttpResponse } | { tag: 'err'; val: HttpError };

const invalid = (val: string) => err<HttpError>({ tag: 'invalid', val });
const network = (val: string) => err<HttpError>({ tag: 'network', val });
const timeout = () => err<HttpError>({ tag: 'timeout' });

export const bind: ServiceHalf<OutboundHttpGrant, OutboundHttpOps>['bind'] = (host, module, grant) => {
  const allowed = parseAllowedHosts(grant.allowedHosts);
  // One pool per module: connections are reused across its requests, and one
  // module's sockets are never handed to another.
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  let client: Got | undefined;
  const clientOf = async () =>
    (client ??= (await loadGot()).extend({
      agent: agents,
      // Each hop is checked against the grant before it is requested, so got must not follow on its own.
      followRedirect: false,
      throwHttpErrors: false,
      retry: { limit: 0 },
      // The guest gets the bytes the server sent, with the headers that describe them.
      decompress: false,
      allowGetBody: true,
      headers: { 'user-agent': USER_AGENT },
    }));

  const deny = (url: URL) => {
    const entry = allowEntryFor(url);
    const key = `modules.${module.name}.grants.outboundHttp.allowedHosts`;
    return err<HttpError>({ tag: 'denied', val: module.denied(url.origin, `--${module.name}-allowed-host ${entry} (or ${key})`) });
  };

  async function follow(first: URL, req: HttpRequest, headers: Headers, timeoutMs: number): Promise<SendResult> {
    const got = await clientOf();
    const deadline = performance.now() + timeoutMs;
    let url = first;
    let method = req.method.toUpperCase();
    let body = req.body;
    for (let hops = 0; ; hops++) {
      const remaining = Math.ceil(deadline - performance.now());
      if (remaining <= 0) return timeout();
      const attempt = await exchange(got, url, method, headers, body, remaining, grant.maxResponseBytes);
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

  let pending = 0;
  return {
    // Each pending request holds at most grants.outboundHttp.maxResponseBytes of response body.
    held: () => ({ httpPendingRequests: pending }),
    instanceReady: () => {
      setTimeout(() => void loadGot().catch(() => {}), 1000).unref();
    },
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
    handlers: {
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
        if (pending >= module.limits.maxPendingHttpRequests) {
          return err<HttpError>({
            tag: 'limited',
            val: `${pending} requests of this module are in progress (limits.maxPendingHttpRequests is ${module.limits.maxPendingHttpRequests})`,
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
          host.metrics.httpRequest(module.name, result?.tag === 'ok' ? result.val.status : 'error', (performance.now() - started) / 1000);
        }
      },
    },
  };
};

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

function toGotHeaders(list: Headers): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of list) {
    const seen = out[name];
    out[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return out;
}

/** One request/response, without following redirects; the body is counted as it arrives. */
function exchange(
  client: Got,
  url: URL,
  method: string,
  headers: Headers,
  body: Uint8Array | undefined,
  timeoutMs: number,
  maxBytes: number,
): Promise<Attempt> {
  return new Promise((resolve) => {
    const stream = client.stream(url.href, {
      method: method as 'GET',
      headers: toGotHeaders(headers),
      body: body === undefined ? undefined : Buffer.from(body),
      timeout: { request: timeoutMs },
    });
    const fail = (e: HttpError) => {
      resolve(err(e));
      stream.destroy();
    };
    let response: http.IncomingMessage | undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('response', (r: http.IncomingMessage) => {
      response = r;
      if (Number(r.headers['content-length']) > maxBytes) fail({ tag: 'too-large' });
    });
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) fail({ tag: 'too-large' });
      else chunks.push(chunk);
    });
    stream.on('end', () => {
      if (!response) return resolve(network('the connection ended without a response'));
      // One buffer of its own (Buffer.concat may hand out a slice of a shared pool).
      const body = new Uint8Array(size);
      let at = 0;
      for (const c of chunks) {
        body.set(c, at);
        at += c.length;
      }
      resolve(ok({ status: response.statusCode ?? 0, headers: pairs(response.rawHeaders), body }));
    });
    stream.on('error', (e: Error & { code?: string }) => {
      if (e.name === 'TimeoutError') return resolve(timeout());
      const code = e.code && !e.message.includes(e.code) ? `${e.code}: ` : '';
      resolve(network(`${code}${e.message}`));
    });
    // In stream mode got waits for the caller to end a body it was not given.
    if (body === undefined) stream.end();
  });
}

function pairs(raw: string[]): Headers {
  const out: Headers = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i].toLowerCase(), raw[i + 1]]);
  return out;
}
