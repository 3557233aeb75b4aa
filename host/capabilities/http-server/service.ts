// A module's HTTP on the main thread: its routes on the host's shared
// listeners (listeners.ts), the requests routed to it, and its outgoing
// requests (egress.ts). It outlives the module's instances: listeners stay
// bound while an instance restarts, and requests wait for the next one.
//
// A module handles one request at a time (calls into a guest never overlap):
// requests routed to it wait here, in arrival order, and DISPATCH_DEPTH of them
// at a time are handed to its worker, which runs them one after another.
// limits.httpMaxConcurrentRequests bounds how many are accepted at once (the
// one being handled and those waiting); past it, 503 with Retry-After. Each
// waits for the module through `module.worker()`, which wakes a module that
// sleeps, so the first request after a while is answered, only later.
import { HostError } from '../../errors.ts';
import type { ServiceHalf } from '../capability.ts';
import { allowEntryFor, parseAllowedHosts } from '../networking/allowed-hosts.ts';
import { Egress } from './egress.ts';
import { Exchange } from './exchange.ts';
import { type HttpGrant, routeLabel } from './grant.ts';
import { HttpListeners, type RouteOwner } from './listeners.ts';
import type { HttpOps } from './ops.ts';
import { parseRoute, type Route, RouteError } from './routes.ts';

/**
 * Requests handed to the worker at once. The worker runs them one at a time; with the next
 * already there it starts it at once, instead of idling while an answer crosses to this
 * thread and the next request crosses back (measured: one at a time left both threads idle
 * half the time under load). Few, because a crash fails every request the instance holds.
 */
const DISPATCH_DEPTH = 4;

/** A call that ended its instance by running past limits.callDeadlineMs (host/sandbox/instance.ts says so in its error). */
const CALL_DEADLINE = /limits\.callDeadlineMs/;

export const bind: ServiceHalf<HttpGrant, HttpOps>['bind'] = (host, module, grant) => {
  const logger = module.logger;
  const listeners = host.shared('http-server:listeners', () => new HttpListeners(host.logger));
  const limit = (key: string) => module.limits[key];
  const routesOf = (g: HttpGrant): Route[] => (g.routes.length > 0 ? g.routes : ['/']).map(parseRoute);
  let allowed = parseAllowedHosts(grant.allowedHosts);

  let nextId = 1;
  let intake = true;
  /** Accepted and not finished: the one being handled and those waiting. */
  const exchanges = new Map<number, Exchange>();
  const waiting: Exchange[] = [];
  /** Handed to the worker, not finished. */
  const dispatched = new Set<Exchange>();
  let overloadWarned = 0;
  const deadlines = new Map<number, NodeJS.Timeout>();

  const egress = new Egress({
    allowed: () => allowed,
    denied: (url) => module.denied(url.origin, `--${module.name}-http-allowed-host ${allowEntryFor(url)} (or modules.${module.name}.grants.http.allowedHosts)`),
    send: (chunk, transfer) => {
      const worker = module.readyWorker();
      if (worker) worker.notify('chunk', chunk, transfer);
      else
        void module.worker().then(
          (w) => w.notify('chunk', chunk, transfer),
          () => {},
        );
    },
    ack: (stream, bytes) => module.readyWorker()?.notify('ack', { stream, bytes }),
  });

  const requestLog = (ex: Exchange) => ({ method: ex.req.method, path: ex.req.url, host: ex.req.headers.host });

  const owner: RouteOwner = {
    module: module.name,
    handle(req, res, address) {
      const id = nextId++;
      const ex = new Exchange({
        id,
        req,
        res,
        address,
        maxBodyBytes: limit('httpMaxBodyBytes'),
        onDone: (done) => {
          exchanges.delete(done.id);
          clearTimeout(deadlines.get(done.id));
          deadlines.delete(done.id);
          const queued = waiting.indexOf(done);
          if (queued !== -1) waiting.splice(queued, 1);
          logger.debug({ ...requestLog(done), status: res.statusCode, ms: Math.round(performance.now() - done.started) }, 'HTTP request');
        },
        log: (level, fields, message) => logger[level]({ ...requestLog(ex), ...fields }, message),
      });
      if (!intake) return ex.answer(503, `module ${module.name} is stopping\n`, { 'retry-after': '1', connection: 'close' });
      if (exchanges.size >= limit('httpMaxConcurrentRequests')) {
        const now = Date.now();
        if (now - overloadWarned > 1000) {
          overloadWarned = now;
          logger.warn(
            { code: 'EH_HTTP_OVERLOADED', limit: 'limits.httpMaxConcurrentRequests', max: limit('httpMaxConcurrentRequests') },
            `module ${module.name} has ${exchanges.size} requests in hand (limits.httpMaxConcurrentRequests): answering 503`,
          );
        }
        return ex.answer(503, `module ${module.name} is busy; retry later\n`, { 'retry-after': '1' });
      }
      let headerBytes = 0;
      for (const h of req.rawHeaders) headerBytes += h.length + 2;
      if (headerBytes > limit('httpMaxHeaderBytes')) {
        return ex.answer(431, `the request's headers are larger than ${limit('httpMaxHeaderBytes')} bytes (limits.httpMaxHeaderBytes)\n`, {
          connection: 'close',
        });
      }
      // A declared length over the limit is refused before the module sees anything.
      if (Number(req.headers['content-length'] ?? 0) > limit('httpMaxBodyBytes')) return ex.tooLarge();
      exchanges.set(id, ex);
      deadlines.set(
        id,
        setTimeout(() => expire(ex), limit('httpRequestTimeoutMs')),
      );
      waiting.push(ex);
      next();
    },
  };

  /**
   * Past limits.httpRequestTimeoutMs: 503 while it waits here; 504 once it is with the worker,
   * which ends the instance if its handler is running (and skips it if it has not started).
   */
  const expire = (ex: Exchange) => {
    deadlines.delete(ex.id);
    if (ex.done) return;
    const ms = limit('httpRequestTimeoutMs');
    if (!ex.worker) {
      logger.warn({ ...requestLog(ex), limitMs: ms }, `request waited ${ms} ms for module ${module.name} (limits.httpRequestTimeoutMs): answered 503`);
      ex.handlerFailed(503, `module ${module.name} did not take the request within ${ms} ms`);
      return;
    }
    ex.expired = true;
    const message = `http-server: the handler of ${ex.req.method} ${ex.req.url} ran past its deadline of ${ms} ms (limits.httpRequestTimeoutMs); the module is restarted`;
    logger.error(
      { code: 'EH_HTTP_DEADLINE', ...requestLog(ex), limitMs: ms },
      `${ex.req.method} ${ex.req.url} ran past its deadline of ${ms} ms (limits.httpRequestTimeoutMs): answered 504; a handler still running is ended and the module restarted`,
    );
    // Every wait of the guest in this request now fails, which ends the instance; a guest
    // that is busy rather than waiting is ended by the call deadline's watchdog.
    ex.worker.notify('expire', { id: ex.id, message });
    ex.handlerFailed(504, `module ${module.name} did not answer within ${ms} ms`);
  };

  /** Hands waiting requests to the module, up to DISPATCH_DEPTH at a time, in arrival order. */
  const next = () => {
    while (dispatched.size < DISPATCH_DEPTH) {
      const ex = waiting.shift();
      if (!ex) return;
      dispatched.add(ex);
      void run(ex).finally(() => {
        dispatched.delete(ex);
        next();
      });
    }
  };

  const run = async (ex: Exchange) => {
    let worker: Awaited<ReturnType<typeof module.worker>>;
    try {
      // Waits for the module to be ready, and wakes it if it sleeps.
      worker = await module.worker();
    } catch (e) {
      return ex.handlerFailed(503, `module ${module.name} is not running (${(e as Error).message})`);
    }
    if (ex.done || ex.responded) return;
    const head = ex.head();
    ex.dispatch(worker);
    try {
      await worker.request('handle', head);
      ex.handlerReturned();
    } catch (e) {
      const why = (e as Error).message;
      if (ex.expired) return;
      if (CALL_DEADLINE.test(why)) {
        logger.error({ code: 'EH_HTTP_DEADLINE', ...requestLog(ex) }, `the handler ran past limits.callDeadlineMs: answered 504`);
        return ex.handlerFailed(504, `module ${module.name} did not answer in time`);
      }
      logger.warn({ ...requestLog(ex), err: why }, 'the module failed while handling the request: answered 500');
      ex.handlerFailed(500, `module ${module.name} failed while handling the request`);
    }
  };

  const conflict = (e: unknown) => (e instanceof RouteError ? new HostError('EH_CONFIG_INVALID', `${e.message} (on a shared HTTP address)`) : e);

  // Listening starts now, before the first instance is ready: requests wait for it.
  let bound: Promise<void>;
  try {
    bound = Promise.all(grant.listen.map((a) => listeners.attach(a, owner, routesOf(grant), routeLabel(module.name, grant)))).then(() => undefined);
  } catch (e) {
    listeners.detach(owner);
    throw conflict(e);
  }
  bound.catch(() => {});

  const exchangeOf = (stream: string) => exchanges.get(Number(stream.slice(stream.indexOf(':') + 1)));
  const outgoingOf = (stream: string) => Number(stream.slice(stream.indexOf(':') + 1));

  return {
    handlers: {
      bound: () => bound,
      respond: (r) => exchanges.get(r.id)?.respond(r),
      chunk: (c) => {
        if (c.stream.startsWith('res:')) exchangeOf(c.stream)?.responseChunk(c);
        else if (c.stream.startsWith('oreq:')) egress.requestChunk(outgoingOf(c.stream), c);
      },
      credit: ({ stream, bytes }) => {
        if (stream.startsWith('req:')) exchangeOf(stream)?.credit(bytes);
        else if (stream.startsWith('ores:')) egress.credit(outgoingOf(stream), bytes);
      },
      discard: (stream) => {
        if (stream.startsWith('req:')) exchangeOf(stream)?.discardRequestBody();
        else if (stream.startsWith('ores:')) egress.discard(outgoingOf(stream));
      },
      send: (head) => egress.send(head),
    },

    update(next) {
      // A replaced module keeps the listeners it still has (no moment with the port closed).
      const g = next as HttpGrant;
      try {
        bound = listeners.rebind(owner, g.listen, routesOf(g), routeLabel(module.name, g));
      } catch (e) {
        throw conflict(e);
      }
      bound.catch(() => {});
      allowed = parseAllowedHosts(g.allowedHosts);
    },

    instanceEnded() {
      // Its outgoing requests have nobody to answer to; a request it was handling fails in `run`.
      egress.abortAll();
    },

    stopIntake() {
      intake = false;
      listeners.detach(owner);
      for (const ex of waiting.splice(0)) ex.handlerFailed(503, `module ${module.name} is stopping`);
    },

    close() {
      intake = false;
      listeners.detach(owner);
      for (const ex of [...exchanges.values()]) ex.handlerFailed(503, `module ${module.name} is stopping`);
      for (const t of deadlines.values()) clearTimeout(t);
      egress.close();
    },
  };
};
