// A module's listeners and connections, on the main thread. Listeners outlive
// the module's instances (a restarted instance that listens again adopts the
// bound socket, so there is no window in which the port is closed), while
// connections belong to the instance that was told about them: the guest's
// state for them is gone when it ends, so they are closed with it.
import http from 'node:http';
import net from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { throttledLog } from '../../log-throttle.ts';
import type { ServiceHalf } from '../capability.ts';
import { bindProblem } from '../networking/bind-problem.ts';
import { parseListenAddress } from './address.ts';
import type { SocketGrant } from './grant.ts';
import type { SocketEvent, SocketOps } from './ops.ts';

/** Received bytes handed to the guest but not yet handled, above which every connection stops reading. */
export const GUEST_BACKLOG_BYTES = 1024 * 1024;
/** The received bytes an event carries (what `emit` counted for it). */
const receivedBytes = (e: SocketEvent) => (e.tag === 'data' ? e.val[1].length : 0);

/**
 * Received bytes handed to the guest in one call (a single larger chunk goes alone). The
 * guest's work grows with the packets in a call, not their bytes: a megabyte of tiny MQTT
 * publishes is tens of thousands of them, seconds of interpreted work on a loaded machine,
 * enough to run one call past its deadline and restart the module.
 */
export const CALL_INPUT_BYTES = 64 * 1024;
/** A connection the guest closed whose peer does not finish the close in time is cut. */
const CLOSE_GRACE_MS = 10_000;
const HTTP_GET = Buffer.from('GET ');

interface Listener {
  /** As the guest gave it: connections report it as their local address. */
  address: string;
  subprotocol?: string;
  server: net.Server;
  /** Hands peeked HTTP connections to `ws`; never listens itself. */
  http?: http.Server;
  /** The instance that last listened on it; one that was not re-adopted by a new instance is closed. */
  instance: number;
  bound: Promise<void>;
}

interface Connection {
  id: number;
  remoteAddress: string;
  socket: net.Socket;
  ws?: WebSocket;
  /** The peer is not reading what we write: don't read more from it until it does. */
  writeBlocked: boolean;
  paused: boolean;
  /** The guest closed it (or the host is cutting it): nothing more is sent or delivered. */
  closing: boolean;
  closeTimer?: NodeJS.Timeout;
}

/**
 * Received bytes not yet handled by their module, over every module's
 * connections in the host: past the budget every connection stops reading,
 * and reads again below three quarters of it. Bytes a peer sends meanwhile wait
 * in the kernel, and then at the peer.
 */
export class InputBudget {
  readonly limit: number;
  used = 0;
  over = false;
  readonly #watchers = new Set<() => void>();
  constructor(limit: number) {
    this.limit = limit;
  }
  watch(fn: () => void): () => void {
    this.#watchers.add(fn);
    return () => this.#watchers.delete(fn);
  }
  add(bytes: number) {
    this.used += bytes;
    if (!this.over && this.used > this.limit) this.#flip(true);
  }
  release(bytes: number) {
    this.used -= bytes;
    if (this.over && this.used <= this.limit * 0.75) this.#flip(false);
  }
  #flip(over: boolean) {
    this.over = over;
    for (const fn of this.#watchers) fn();
  }
}

export const bind: ServiceHalf<SocketGrant, SocketOps>['bind'] = (host, module, grant) => {
  const logger = module.logger;
  const input = host.shared('socket.input', () => new InputBudget(host.budgets.socketInputBytes));
  /** Open sockets by the peer's IP: one address may hold at most maxConnectionsPerAddress. */
  const perAddress = new Map<string, number>();
  const listeners = new Map<string, Listener>();
  /** Every accepted socket, opened or still being told apart: the connection limit counts them all. */
  const sockets = new Set<net.Socket>();
  const connections = new Map<number, Connection>();
  let nextId = 1;
  let refusing = false;
  /** Handshake deadlines of sockets not yet told apart (TCP or WebSocket). */
  const handshakes = new Map<net.Socket, NodeJS.Timeout>();
  const refusedFromAddress = throttledLog(1000, (suppressed) =>
    logger.warn(
      { code: 'EH_LIMIT', limit: 'grants.socket.maxConnectionsPerAddress', max: grant.maxConnectionsPerAddress, refusedSinceLastWarning: suppressed },
      `an address holds ${grant.maxConnectionsPerAddress} connections (grants.socket.maxConnectionsPerAddress): refusing more from it`,
    ),
  );
  // Reading pauses and resumes with the host-wide budget, for every connection of this module.
  const stopWatchingInput = input.watch(() => {
    for (const c of connections.values()) updateFlow(c);
  });
  let intake = true;
  /** The instance events go to; 0 while none is ready (events wait, connections are not read). */
  let instance = 0;
  /** The instance that is starting or ready: the one whose `listen` calls arrive now. */
  let current = 0;
  /** The module is in idle sleep: the next connection wakes it. */
  let asleep = false;

  // Events of one event-loop turn go to the guest in one call: crossing into
  // the guest per packet would cost more than handling it.
  let batch: SocketEvent[] = [];
  let batchBytes = 0;
  let flushScheduled = false;
  /** Received bytes queued for the guest or in a call it has not returned from. */
  let backlog = 0;
  let guestBehind = false;

  const settleBacklog = (bytes: number) => {
    backlog -= bytes;
    input.release(bytes);
    if (guestBehind && backlog <= GUEST_BACKLOG_BYTES) {
      guestBehind = false;
      logger.debug({ backlog }, 'guest caught up: reading resumed');
      for (const c of connections.values()) updateFlow(c);
    }
  };

  const flush = () => {
    flushScheduled = false;
    const worker = module.readyWorker();
    if (!worker || instance === 0 || batch.length === 0) {
      // A module in idle sleep is woken by a connection; its events go once it is ready.
      if (batch.length > 0 && asleep) module.worker().catch(() => {});
      return;
    }
    const events = batch;
    batch = [];
    batchBytes = 0;
    // In calls of at most CALL_INPUT_BYTES received bytes, in order.
    let from = 0;
    while (from < events.length) {
      let bytes = 0;
      let to = from;
      do bytes += receivedBytes(events[to++]);
      while (to < events.length && bytes + receivedBytes(events[to]) <= CALL_INPUT_BYTES);
      worker
        .request('events', events.slice(from, to))
        // A rejection is a guest trap, which the runtime handles; here it only settles the backlog.
        .catch(() => {})
        .finally(() => settleBacklog(bytes));
      from = to;
    }
  };
  const emit = (event: SocketEvent, bytes = 0) => {
    batch.push(event);
    batchBytes += bytes;
    backlog += bytes;
    input.add(bytes);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
    if (!guestBehind && backlog > GUEST_BACKLOG_BYTES) {
      guestBehind = true;
      logger.debug({ backlog, limit: GUEST_BACKLOG_BYTES }, 'guest is behind: reading paused on all connections');
      for (const c of connections.values()) updateFlow(c);
    }
  };

  const updateFlow = (c: Connection) => {
    // A closing connection keeps reading so that the peer's FIN (or close frame) is seen.
    const pause = !c.closing && (c.writeBlocked || guestBehind || instance === 0 || input.over);
    if (pause === c.paused) return;
    c.paused = pause;
    if (c.ws) pause ? c.ws.pause() : c.ws.resume();
    else pause ? c.socket.pause() : c.socket.resume();
  };

  const open = (socket: net.Socket, listener: Listener, ws?: WebSocket): Connection => {
    clearTimeout(handshakes.get(socket));
    handshakes.delete(socket);
    const c: Connection = { id: nextId++, remoteAddress: remoteAddressOf(socket), socket, ws, writeBlocked: false, paused: true, closing: false };
    connections.set(c.id, c);
    emit({ tag: 'opened', val: { id: c.id, localAddress: listener.address, remoteAddress: c.remoteAddress, transport: ws ? 'websocket' : 'tcp' } });
    socket.on('drain', () => {
      c.writeBlocked = false;
      updateFlow(c);
    });
    return c;
  };

  const receive = (c: Connection, chunk: Buffer) => {
    // Once the guest has closed the connection it has no use for more input.
    if (c.closing) return;
    host.metrics.socketBytes(module.name, 'in', chunk.length);
    emit({ tag: 'data', val: [c.id, new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)] }, chunk.length);
  };

  const gone = (c: Connection) => {
    if (!connections.delete(c.id)) return;
    clearTimeout(c.closeTimer);
    emit({ tag: 'closed', val: c.id });
  };

  const openTcp = (socket: net.Socket, listener: Listener) => {
    const c = open(socket, listener);
    socket.on('data', (chunk: Buffer) => receive(c, chunk));
    socket.on('close', () => gone(c));
    // Paused until now (peeking, or a guest already behind); data unshifted while peeking flows first.
    socket.pause();
    updateFlow(c);
  };

  const openWebSocket = (ws: WebSocket, socket: net.Socket, listener: Listener) => {
    const c = open(socket, listener, ws);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return receive(c, data);
      // [MQTT-6.0.0-1] MQTT control packets go in binary frames; a text frame is a protocol error.
      if (!c.closing) {
        c.closing = true;
        ws.close(1003, 'only binary frames are accepted');
        c.closeTimer = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
      }
    });
    ws.on('close', () => gone(c));
    ws.on('error', (e) => logger.debug({ connection: c.id, err: e }, 'websocket error'));
    c.paused = false;
    updateFlow(c);
  };

  /** Tells a WebSocket upgrade (an HTTP GET) from raw TCP by the first bytes the peer sends. */
  const peek = (socket: net.Socket, listener: Listener & { http: http.Server }) => {
    let head: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const n = Math.min(head.length, HTTP_GET.length);
      const looksHttp = head.subarray(0, n).equals(HTTP_GET.subarray(0, n));
      if (looksHttp && n < HTTP_GET.length) return;
      socket.off('data', onData);
      socket.pause();
      socket.unshift(head);
      if (looksHttp) {
        listener.http.emit('connection', socket);
        socket.resume();
      } else {
        openTcp(socket, listener);
      }
    };
    socket.on('data', onData);
  };

  const accept = (socket: net.Socket, listener: Listener) => {
    socket.on('error', (e) => logger.debug({ remoteAddress: remoteAddressOf(socket), err: e }, 'connection error'));
    const ip = socket.remoteAddress ?? 'unknown';
    if ((perAddress.get(ip) ?? 0) >= grant.maxConnectionsPerAddress && intake) {
      socket.destroy();
      refusedFromAddress();
      return;
    }
    if (sockets.size >= grant.maxConnections || !intake) {
      socket.destroy();
      if (!refusing && intake) {
        refusing = true;
        logger.warn(
          { address: listener.address, limit: grant.maxConnections },
          `connection limit reached: refusing new connections (grants.socket.maxConnections is ${grant.maxConnections})`,
        );
      }
      return;
    }
    sockets.add(socket);
    perAddress.set(ip, (perAddress.get(ip) ?? 0) + 1);
    socket.once('close', () => {
      sockets.delete(socket);
      const left = (perAddress.get(ip) ?? 1) - 1;
      if (left > 0) perAddress.set(ip, left);
      else perAddress.delete(ip);
      if (sockets.size < grant.maxConnections) refusing = false;
    });
    // Interactive protocols: don't hold small writes back (Nagle).
    socket.setNoDelay(true);
    if (listener.http) {
      // Counted from accept, not from the last byte: a peer trickling its upgrade
      // one header line at a time still loses its slot when the time is up.
      const deadline = setTimeout(() => {
        logger.debug(
          { remoteAddress: remoteAddressOf(socket), limit: grant.handshakeTimeoutMs },
          'handshake not finished in time: closed (grants.socket.handshakeTimeoutMs)',
        );
        socket.destroy();
      }, grant.handshakeTimeoutMs);
      handshakes.set(socket, deadline);
      socket.once('close', () => clearTimeout(deadline));
      peek(socket, listener as Listener & { http: http.Server });
    } else {
      openTcp(socket, listener);
    }
  };

  const webSocketFront = (listener: Listener, subprotocol: string): http.Server => {
    const wss = new WebSocketServer({
      noServer: true,
      // ws holds a whole message before handing it over: no more than the module takes.
      maxPayload: grant.maxWebSocketMessageBytes,
      handleProtocols: (offered) => (offered.has(subprotocol) ? subprotocol : false),
    });
    const front = http.createServer((_req, res) => {
      res.writeHead(426, { connection: 'close', upgrade: 'websocket', 'content-type': 'text/plain' });
      res.end(`this address accepts WebSocket connections with subprotocol "${subprotocol}" only\n`);
    });
    front.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      const offered = String(req.headers['sec-websocket-protocol'] ?? '')
        .split(',')
        .map((p) => p.trim());
      // Without this check ws would accept the upgrade and just not name a subprotocol.
      if (!offered.includes(subprotocol)) {
        const body = `WebSocket subprotocol "${subprotocol}" is required\n`;
        socket.end(`HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => openWebSocket(ws, socket, listener));
    });
    return front;
  };

  const cut = (c: Connection) => {
    c.closing = true;
    if (c.ws) c.ws.terminate();
    else c.socket.destroy();
  };

  const cutAll = () => {
    for (const c of connections.values()) cut(c);
    // Sockets still being told apart (TCP or WebSocket) belong to no instance yet: they stay.
    connections.clear();
    batch = [];
    backlog -= batchBytes;
    batchBytes = 0;
  };

  const closeListener = (key: string, l: Listener) => {
    listeners.delete(key);
    l.server.close();
    logger.info({ address: key }, 'stopped listening');
  };

  // Credit back to the worker: bytes of its sends handled this turn, by connection.
  let acks = new Map<number, number>();
  const ack = (id: number, bytes: number) => {
    if (acks.size === 0) {
      setImmediate(() => {
        const batch = [...acks];
        acks = new Map();
        module.readyWorker()?.notify('written', batch);
      });
    }
    acks.set(id, (acks.get(id) ?? 0) + bytes);
  };

  const hint = (address: string) => `--${module.name}-socket-address ${address} (or modules.${module.name}.grants.socket.listen)`;

  const unsent = (c: Connection) => (c.ws ? c.ws.bufferedAmount : c.socket.writableLength);
  const unsentTotal = () => {
    let n = 0;
    for (const c of connections.values()) n += unsent(c);
    return n;
  };

  return {
    handlers: {
      listen({ address, subprotocol }) {
        const n = current;
        const parsed = parseListenAddress(address);
        const existing = listeners.get(parsed.text);
        if (existing && existing.subprotocol === subprotocol) {
          // A new instance listening again keeps the bound socket.
          existing.instance = n;
          return existing.bound;
        }
        if (existing) closeListener(parsed.text, existing);
        const server = net.createServer();
        const listener: Listener = { address, subprotocol, server, instance: n, bound: Promise.resolve() };
        if (subprotocol !== undefined) listener.http = webSocketFront(listener, subprotocol);
        listeners.set(parsed.text, listener);
        server.on('connection', (s) => accept(s, listener));
        listener.bound = new Promise<void>((resolve, reject) => {
          const failed = (e: NodeJS.ErrnoException) => {
            listeners.delete(parsed.text);
            const message = `cannot listen on ${parsed.text}: ${bindProblem(e, 'by another process, or another module')}; free it or grant another address (${hint('<ip:port>')})`;
            logger.error({ address: parsed.text, err: e }, message);
            reject(new Error(message));
          };
          server.once('error', failed);
          server.once('listening', () => {
            server.off('error', failed);
            server.on('error', (e) => logger.error({ address: parsed.text, err: e }, 'listener error'));
            logger.info({ address: parsed.text, websocket: subprotocol !== undefined }, 'listening');
            resolve();
          });
        });
        listener.bound.catch(() => {});
        server.listen({ host: parsed.host, port: parsed.port });
        return listener.bound;
      },

      send({ id, data }) {
        ack(id, data.length);
        const c = connections.get(id);
        if (!c || c.closing) return;
        const queued = unsent(c);
        // A backlog is what marks a peer that does not read.
        if (queued > 0 && queued + data.length > grant.maxBufferedBytes) {
          logger.warn(
            { connection: id, remoteAddress: c.remoteAddress, limit: grant.maxBufferedBytes, unsent: queued },
            'peer is not reading: closing the connection (grants.socket.maxBufferedBytes)',
          );
          cut(c);
          return;
        }
        // The module's connections together: many slow peers must not add up to more than one budget.
        const total = unsentTotal();
        if (queued > 0 && total + data.length > module.limits.maxSocketBufferedBytes) {
          logger.warn(
            { code: 'EH_LIMIT', limit: 'limits.maxSocketBufferedBytes', connection: id, remoteAddress: c.remoteAddress, unsentTotal: total },
            `the module's connections hold ${total} unsent bytes, its limit (limits.maxSocketBufferedBytes); closing connection ${id}, which is not reading`,
          );
          cut(c);
          return;
        }
        // This may acknowledge a message the guest published just before (an
        // MQTT PUBACK): what it published must be durable before the peer hears of it.
        host.commit();
        host.metrics.socketBytes(module.name, 'out', data.length);
        if (c.ws) c.ws.send(data, { binary: true });
        else c.socket.write(data);
        if (c.socket.writableNeedDrain && !c.writeBlocked) {
          c.writeBlocked = true;
          updateFlow(c);
        }
      },

      cut(id) {
        const c = connections.get(id);
        if (!c) return;
        logger.warn(
          { code: 'EH_LIMIT', limit: 'grants.socket.maxBufferedBytes', connection: id, remoteAddress: c.remoteAddress, unsent: unsent(c) },
          `connection ${id} is not keeping up with what the module sends: closing it (grants.socket.maxBufferedBytes, limits.maxSocketBufferedBytes)`,
        );
        cut(c);
      },

      close(id) {
        const c = connections.get(id);
        if (!c || c.closing) return;
        c.closing = true;
        host.commit();
        if (c.ws) c.ws.close(1000);
        else c.socket.end();
        c.closeTimer = setTimeout(() => cut(c), CLOSE_GRACE_MS);
        updateFlow(c);
      },
    },

    held: () => ({ socketUnsentBytes: unsentTotal(), socketReceivedBytes: backlog }),
    gauges: () => ({ socketConnections: connections.size }),

    instanceStarting(n) {
      instance = 0;
      current = n;
      asleep = false;
    },

    instanceReady(n) {
      instance = n;
      // A listener the new instance did not listen on again is not wanted any more.
      for (const [key, l] of listeners) if (l.instance !== n) closeListener(key, l);
      for (const c of connections.values()) updateFlow(c);
      if (batch.length > 0) flush();
    },

    instanceEnded(_n, why) {
      instance = 0;
      // A module goes to sleep only without connections: there is nothing to cut, and the listeners stay.
      asleep = why === 'sleep';
      if (!asleep) cutAll();
    },

    keepsAwake: () => sockets.size > 0,

    stopIntake() {
      intake = false;
      for (const [key, l] of listeners) closeListener(key, l);
    },

    async close() {
      intake = false;
      stopWatchingInput();
      cutAll();
      for (const s of sockets) s.destroy();
      await Promise.all(
        [...listeners.values()].map(
          (l) =>
            new Promise((resolve) => {
              l.server.close(resolve);
            }),
        ),
      );
      listeners.clear();
    },
  };
};

function remoteAddressOf(socket: net.Socket): string {
  const { remoteAddress: ip, remotePort: port } = socket;
  if (ip === undefined) return 'unknown';
  return socket.remoteFamily === 'IPv6' ? `[${ip}]:${port}` : `${ip}:${port}`;
}
