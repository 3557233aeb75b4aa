// The worker half: wasi:http for one module instance. It answers the
// service's `handle` by calling the guest's incoming-handler.handle with an
// incoming-request and a response-outparam, and gives the guest
// wasi:http/types and wasi:http/outgoing-handler in place of the sandbox's
// deny-all ones, plus a wasi:io/poll whose waits suspend the guest (JSPI)
// instead of blocking its thread, so that body chunks keep arriving meanwhile.
import { err, ok, type WorkerHalf } from '../capability.ts';
import { allowEntryFor, isAllowed, parseAllowedHosts } from '../networking/allowed-hosts.ts';
import { bodyStreams, Signal } from './body-streams.ts';
import type { HttpGrant } from './grant.ts';
import type { HttpErrorCode, HttpOps, OutgoingHead, RequestHead } from './ops.ts';
import { methodText, wasiHttpTypes } from './wasi-types.ts';

const HANDLER = 'wasi:http/incoming-handler';
const nsToMs = (ns: bigint | undefined) => (ns === undefined ? undefined : Math.max(1, Math.ceil(Number(ns) / 1e6)));

export const create: WorkerHalf<HttpGrant, HttpOps>['create'] = (ctx, grant) => {
  const changed = new Signal();
  /** The request whose handler runs now, and why its waits fail (it expired), if they do. */
  let running: number | undefined;
  let expired: string | undefined;
  const streams = bodyStreams(ctx, () => expired, changed);
  type Inbound = InstanceType<typeof streams.Inbound>;
  type Outbound = InstanceType<typeof streams.Outbound>;
  const inbounds = new Map<string, Inbound>();
  const outbounds = new Map<string, Outbound>();
  const attach = (out: Outbound, name: string) => {
    outbounds.set(name, out);
    out.attach(name);
  };
  const types = wasiHttpTypes({ streams, attach });
  const allowed = parseAllowedHosts(grant.allowedHosts);
  let nextOutgoing = 1;

  const receive = (name: string, ended = false) => {
    const inbound = new streams.Inbound(name, ended);
    if (!ended) inbounds.set(name, inbound);
    return inbound;
  };

  // A start waits until the module's listeners are bound: one that cannot bind fails it.
  if (grant.listen.length > 0) ctx.whenStarted(ctx.service.request('bound', undefined));

  // Requests the service handed over, in order: run one at a time; one whose deadline passed
  // before its turn is skipped (the service has answered it).
  let queue: Promise<unknown> = Promise.resolve();
  const waiting = new Set<number>();
  const cancelled = new Set<number>();
  const handle = (head: RequestHead): Promise<void> => {
    waiting.add(head.id);
    // Its body may arrive before its turn: it is buffered (up to the window) from now.
    const body = receive(`req:${head.id}`, !head.body);
    const turn = queue.then(() => {
      waiting.delete(head.id);
      if (cancelled.delete(head.id)) {
        inbounds.delete(body.name);
        return;
      }
      return run(head, body);
    });
    queue = turn.catch(() => {});
    return turn;
  };

  const run = async (head: RequestHead, body: Inbound) => {
    const { id } = head;
    const request = new types.IncomingRequest(head, body);
    let response: InstanceType<typeof types.OutgoingResponse> | undefined;
    const outparam = new types.ResponseOutparam((r) => {
      if (r.tag === 'err') {
        ctx.service.notify('respond', { id, error: r.val });
        return;
      }
      response = r.val;
      ctx.service.notify('respond', { id, status: response.statusCode(), headers: response.headers().list() });
      response.sent(`res:${id}`);
    });
    running = id;
    expired = undefined;
    try {
      await ctx.callGuest(HANDLER, 'handle', [request, outparam]);
    } finally {
      running = undefined;
      expired = undefined;
      inbounds.delete(body.name);
      outbounds.delete(`res:${id}`);
    }
    // The handler has returned: a response body it never took is empty, one it did not finish is cut.
    if (response && !response.takenBody) ctx.service.notify('chunk', { stream: `res:${id}`, end: true });
    else if (response?.takenBody) response.takenBody.out.fail('the handler returned before finishing the response body (outgoing-body.finish)');
  };

  ctx.handle({
    handle,
    chunk: (c) => {
      const inbound = inbounds.get(c.stream);
      if (inbound) {
        inbound.push(c);
        if (inbound.done) inbounds.delete(c.stream);
        return;
      }
      // The reader of a stream the guest writes is gone.
      if (c.error !== undefined) outbounds.get(c.stream)?.close(c.error);
    },
    ack: ({ stream, bytes }) => outbounds.get(stream)?.ack(bytes),
    expire: ({ id, message }) => {
      if (waiting.has(id)) cancelled.add(id);
      if (running !== id) return;
      expired = message;
      changed.notify();
    },
  });

  const hint = (url: URL) => `--${ctx.moduleName}-http-allowed-host ${allowEntryFor(url)} (or modules.${ctx.moduleName}.grants.http.allowedHosts)`;
  const failed = (val: HttpErrorCode) => err(val);

  const outgoingHandler = {
    handle(request: InstanceType<typeof types.OutgoingRequest>, options: InstanceType<typeof types.RequestOptions> | undefined) {
      const scheme = request.scheme();
      const schemeText = scheme === undefined ? 'https' : scheme.tag === 'HTTP' ? 'http' : scheme.tag === 'HTTPS' ? 'https' : undefined;
      if (!schemeText) return failed({ tag: 'HTTP-request-URI-invalid' });
      const authority = request.authority();
      if (!authority) return failed({ tag: 'HTTP-request-URI-invalid' });
      let url: URL;
      try {
        url = new URL(`${schemeText}://${authority}${request.pathWithQuery() ?? '/'}`);
      } catch {
        return failed({ tag: 'HTTP-request-URI-invalid' });
      }
      if (url.username || url.password) return failed({ tag: 'HTTP-request-URI-invalid' });
      // Refused here, before anything leaves the worker: the same check as outbound-http's.
      if (!isAllowed(allowed, url)) {
        ctx.denied(url.origin, hint(url));
        return failed({ tag: 'HTTP-request-denied' });
      }
      if (!ctx.allow('httpRequestsPerSecond')) {
        return failed({
          tag: 'internal-error',
          val: `outbound HTTP rate limit of ${ctx.limits.httpRequestsPerSecond}/s reached (limits.httpRequestsPerSecond)`,
        });
      }
      const n = nextOutgoing++;
      const body = request.takenBody;
      const head: OutgoingHead = {
        n,
        method: methodText(request.method()),
        scheme: schemeText,
        authority: url.host,
        pathWithQuery: `${url.pathname}${url.search}`,
        headers: request.headers().list(),
        body: body !== undefined,
        connectTimeoutMs: nsToMs(options?.connect),
        firstByteTimeoutMs: nsToMs(options?.firstByte),
        betweenBytesTimeoutMs: nsToMs(options?.betweenBytes),
      };
      const inbound = receive(`ores:${n}`);
      const future = new types.FutureIncomingResponse();
      ctx.service.request('send', head).then(
        (result) => {
          if (result.tag === 'ok') future.settle({ tag: 'ok', val: new types.IncomingResponse(result.val.status, result.val.headers, inbound) });
          else {
            inbounds.delete(inbound.name);
            future.settle(result);
          }
          changed.notify();
        },
        (e: unknown) => {
          inbounds.delete(inbound.name);
          future.settle({ tag: 'err', val: { tag: 'internal-error', val: (e as Error).message } });
          changed.notify();
        },
      );
      if (body) attach(body.out, `oreq:${n}`);
      return ok(future);
    },
  };

  return {
    'wasi:http/types': {
      ...types,
      httpErrorCode: (e: unknown) => (e instanceof ctx.io.IoError ? { tag: 'internal-error', val: e.message } : undefined),
    },
    'wasi:http/outgoing-handler': outgoingHandler,
    'wasi:io/poll': { Pollable: ctx.io.Pollable, poll: streams.poll },
  };
};
