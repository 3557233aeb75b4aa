// The host's HTTP listeners, shared by every module that serves on the same
// address: one object per host (HostServices.shared), keyed by address. Each
// listener routes a request to the module whose route matches it best
// (routes.ts), answers 404 itself when none does, and closes when its last
// module leaves. Modules come and go while it listens (add, replace, remove),
// so routes are added and removed here rather than fixed at start.
import http from 'node:http';
import type { Logger } from '../../log-forwarding.ts';
import { bindProblem } from '../networking/bind-problem.ts';
import { parseListenAddress } from '../socket/address.ts';
import { MAX_HEADER_BYTES } from './grant.ts';
import { type Route, RouteTable } from './routes.ts';

/** A client must send its request head within this long (slowloris). */
const HEADERS_TIMEOUT_MS = 30_000;

/** A module's side of a shared listener. */
export interface RouteOwner {
  module: string;
  /** Handles a request routed to the module. */
  handle(req: http.IncomingMessage, res: http.ServerResponse, address: string): void;
}

interface Listener {
  address: string;
  server: http.Server;
  table: RouteTable<RouteOwner>;
  owners: Set<RouteOwner>;
  bound: Promise<void>;
}

export class HttpListeners {
  readonly #logger: Logger;
  readonly #listeners = new Map<string, Listener>();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /**
   * Adds `owner`'s routes on `address`, listening on it first if no module
   * does yet; resolves once it is bound. Throws (at once, nothing changed) a
   * RouteError naming both modules when another module has one of the routes.
   */
  attach(addressText: string, owner: RouteOwner, routes: Route[], label: (route: Route, index: number) => string): Promise<void> {
    const address = parseListenAddress(addressText).text;
    let l = this.#listeners.get(address);
    if (!l) {
      l = this.#listen(address);
      this.#listeners.set(address, l);
    }
    try {
      l.table.add(owner, routes, label);
    } catch (e) {
      if (l.owners.size === 0) this.#close(l);
      throw e;
    }
    l.owners.add(owner);
    return l.bound;
  }

  /**
   * Gives `owner` these addresses and routes instead of the ones it has (a module replaced
   * with a new grant), without closing a listener it keeps: the new routes are checked on
   * every address first, so a conflict (a RouteError) changes nothing.
   */
  rebind(owner: RouteOwner, addresses: string[], routes: Route[], label: (route: Route, index: number) => string): Promise<void> {
    const wanted = new Set(addresses.map((a) => parseListenAddress(a).text));
    for (const address of wanted) {
      const l = this.#listeners.get(address);
      if (!l) continue;
      const trial = l.table.without(owner);
      trial.add(owner, routes, label);
    }
    const bound: Promise<void>[] = [];
    for (const address of wanted) {
      const l = this.#listeners.get(address);
      if (l?.owners.has(owner)) {
        l.table.remove(owner);
        l.table.add(owner, routes, label);
        bound.push(l.bound);
      } else {
        bound.push(this.attach(address, owner, routes, label));
      }
    }
    for (const l of [...this.#listeners.values()]) {
      if (wanted.has(l.address) || !l.owners.delete(owner)) continue;
      l.table.remove(owner);
      if (l.owners.size === 0) this.#close(l);
    }
    return Promise.all(bound).then(() => undefined);
  }

  /** Removes `owner`'s routes everywhere; a listener left without modules closes. */
  detach(owner: RouteOwner): void {
    for (const l of [...this.#listeners.values()]) {
      if (!l.owners.delete(owner)) continue;
      l.table.remove(owner);
      if (l.owners.size === 0) this.#close(l);
    }
  }

  #listen(address: string): Listener {
    const { host, port } = parseListenAddress(address);
    const table = new RouteTable<RouteOwner>();
    const server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES, headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: 0 }, (req, res) => {
      const match = table.match(req.headers.host, req.url ?? '/');
      if (!match) {
        const body = `no module serves ${req.headers.host ?? address}${req.url ?? ''}\n`;
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      match.owner.handle(req, res, address);
    });
    server.on('clientError', (e: NodeJS.ErrnoException, socket) => {
      // Node's own answers to a malformed or oversized head (400, 431), then the connection goes.
      if (socket.writable && e.code === 'HPE_HEADER_OVERFLOW') socket.end('HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\n\r\n');
      else if (socket.writable && e.code !== 'ECONNRESET') socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      else socket.destroy();
    });
    const l: Listener = { address, server, table, owners: new Set(), bound: Promise.resolve() };
    l.bound = new Promise<void>((resolve, reject) => {
      const failed = (e: NodeJS.ErrnoException) => {
        if (this.#listeners.get(address) === l) this.#listeners.delete(address);
        reject(new Error(`cannot listen on ${address}: ${bindProblem(e, 'by another process, or a module of another capability')}`));
      };
      server.once('error', failed);
      server.once('listening', () => {
        server.off('error', failed);
        server.on('error', (e) => this.#logger.error({ address, err: e }, 'HTTP listener error'));
        this.#logger.info({ address, modules: [...l.owners].map((o) => o.module) }, 'listening for HTTP');
        resolve();
      });
    });
    l.bound.catch(() => {});
    server.listen({ host, port });
    return l;
  }

  #close(l: Listener): void {
    if (this.#listeners.get(l.address) === l) this.#listeners.delete(l.address);
    l.server.close();
    // Requests in flight finish; idle keep-alive connections would hold the port open.
    l.server.closeIdleConnections();
    this.#logger.info({ address: l.address }, 'stopped listening for HTTP');
  }
}
