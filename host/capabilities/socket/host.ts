import http from 'node:http';
import net from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { hostError, type ModuleContext, ok } from '../capability.ts';
import { parseListenAddress } from './address.ts';
import type { SocketGrant } from './index.ts';

const HANDLER = 'edgehost:platform/socket-handler';
/** Received bytes handed to the guest but not yet handled, above which every connection stops reading. */
export const GUEST_BACKLOG_BYTES = 1024 * 1024;
/** A connection the guest closed whose peer does not finish the close in time is cut. */
const CLOSE_GRACE_MS = 10_000;
/** A connection that has not said whether it is TCP or WebSocket by then is cut: it holds a connection slot. */
const HANDSHAKE_MS = 10_000;
// ws buffers a whole message before handing it over; its default (100 MiB) is
// far more than a worker should hold for one peer.
const MAX_WS_MESSAGE_BYTES = 16 * 1024 * 1024;
const HTTP_GET = Buffer.from('GET ');
// RFC 6455 4.1: a subprotocol is an RFC 7230 token.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export type Transport = 'tcp' | 'websocket';
export interface ConnectionInfo {
  id: number;
  localAddress: string;
  remoteAddress: string;
  transport: Transport;
}
export type SocketEvent = { tag: 'opened'; val: ConnectionInfo } | { tag: 'data'; val: [number, Uint8Array] } | { tag: 'closed'; val: number };

interface Listener {
  /** As the guest gave it: connections report it as their local address. */
  address: string;
  subprotocol?: string;
  server: net.Server;
  /** Hands peeked HTTP connections to `ws`; never listens itself. */
  http?: http.Server;
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
  /** The guest asked to close: sends it queued before that still go out. */
  closeRequested?: boolean;
  closeTimer?: NodeJS.Timeout;
}

export function create(ctx: ModuleContext, grant: SocketGrant) {
  const granted = new Set(grant.listen.map((a) => parseListenAddress(a).text));
  const listeners = new Map<string, Listener>();
  /** Every accepted socket, opened or still being told apart: the connection limit counts them all. */
  const sockets = new Set<net.Socket>();
  const connections = new Map<number, Connection>();
  let nextId = 1;
  let refusing = false;

  // Events of one event-loop turn go to the guest in one call: crossing into
  // the guest per packet would cost more than handling it.
  let batch: SocketEvent[] = [];
  let batchBytes = 0;
  /** Received bytes queued for the guest or in a call it has not returned from. */
  let backlog = 0;
  let guestBehind = false;

  const flush = () => {
    const events = batch;
    const bytes = batchBytes;
    batch = [];
    batchBytes = 0;
    ctx
      .callGuest(HANDLER, 'handleEvents', [events])
      // A rejection is a guest trap, which the worker handles; here it only settles the backlog.
      .catch(() => {})
      .finally(() => {
        backlog -= bytes;
        if (guestBehind && backlog <= GUEST_BACKLOG_BYTES) {
          guestBehind = false;
          ctx.logger.debug({ backlog }, 'guest caught up: reading resumed');
          for (const c of connections.values()) updateFlow(c);
        }
      });
  };
  const emit = (event: SocketEvent, bytes = 0) => {
    if (batch.length === 0) setImmediate(flush);
    batch.push(event);
    batchBytes += bytes;
    backlog += bytes;
    if (!guestBehind && backlog > GUEST_BACKLOG_BYTES) {
      guestBehind = true;
      ctx.logger.debug({ backlog, limit: GUEST_BACKLOG_BYTES }, 'guest is behind: reading paused on all connections');
      for (const c of connections.values()) updateFlow(c);
    }
  };

  const updateFlow = (c: Connection) => {
    // A closing connection keeps reading so that the peer's FIN (or close frame) is seen.
    const pause = !c.closing && (c.writeBlocked || guestBehind);
    if (pause === c.paused) return;
    c.paused = pause;
    if (c.ws) pause ? c.ws.pause() : c.ws.resume();
    else pause ? c.socket.pause() : c.socket.resume();
  };

  const unsent = (c: Connection) => (c.ws ? c.ws.bufferedAmount : c.socket.writableLength);

  const open = (socket: net.Socket, listener: Listener, ws?: WebSocket): Connection => {
    socket.setTimeout(0);
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
    ws.on('error', (e) => ctx.logger.debug({ connection: c.id, err: e }, 'websocket error'));
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
    socket.on('error', (e) => ctx.logger.debug({ remoteAddress: remoteAddressOf(socket), err: e }, 'connection error'));
    if (sockets.size >= grant.maxConnections) {
      socket.destroy();
      if (!refusing) {
        refusing = true;
        ctx.logger.warn(
          { module: ctx.moduleName, address: listener.address, limit: grant.maxConnections },
          `connection limit reached: refusing new connections (grants.socket.maxConnections is ${grant.maxConnections})`,
        );
      }
      return;
    }
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size < grant.maxConnections) refusing = false;
    });
    // Interactive protocols: don't hold small writes back (Nagle).
    socket.setNoDelay(true);
    if (listener.http) {
      socket.setTimeout(HANDSHAKE_MS, () => socket.destroy());
      peek(socket, listener as Listener & { http: http.Server });
    } else {
      openTcp(socket, listener);
    }
  };

  const webSocketFront = (listener: Listener, subprotocol: string): http.Server => {
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: MAX_WS_MESSAGE_BYTES,
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

  ctx.onStopIntake(() => {
    for (const l of listeners.values()) l.server.close();
  });

  ctx.onClose(async () => {
    for (const c of connections.values()) cut(c);
    for (const s of sockets) s.destroy();
    await Promise.all([...listeners.values()].map((l) => new Promise((resolve) => l.server.close(resolve))));
  });

  const serverAddressHint = (address: string) => {
    const key = `modules.${ctx.moduleName}.grants.socket.listen`;
    return ctx.moduleName === 'server' ? `--server-socket-address ${address} (or ${key})` : `add "${address}" to ${key}`;
  };

  return {
    listen(address: string, websocketSubprotocol?: string) {
      let parsed: ReturnType<typeof parseListenAddress>;
      try {
        parsed = parseListenAddress(address);
      } catch (e) {
        return hostError.invalid((e as Error).message);
      }
      if (!granted.has(parsed.text)) {
        return hostError.denied(ctx.denied('socket', `listen ${parsed.text}`, serverAddressHint(parsed.text)));
      }
      if (websocketSubprotocol !== undefined && !TOKEN.test(websocketSubprotocol)) {
        return hostError.invalid(`"${websocketSubprotocol}" is not a WebSocket subprotocol name`);
      }
      if (listeners.has(parsed.text)) return hostError.failed(`already listening on ${parsed.text}`);

      const listener: Listener = { address, subprotocol: websocketSubprotocol, server: net.createServer() };
      if (websocketSubprotocol !== undefined) listener.http = webSocketFront(listener, websocketSubprotocol);
      listeners.set(parsed.text, listener);
      const { server } = listener;
      server.on('connection', (socket) => accept(socket, listener));

      // Binding finishes after this call returns: the outcome reaches the worker
      // through whenStarted, which fails the module's start if it rejects.
      const bound = new Promise<void>((resolve, reject) => {
        const failed = (e: NodeJS.ErrnoException) => {
          listeners.delete(parsed.text);
          const message = `cannot listen on ${parsed.text}: ${bindProblem(e)}; free it or grant another address (${serverAddressHint('<ip:port>')})`;
          ctx.logger.error({ address: parsed.text, err: e }, message);
          reject(new Error(message));
        };
        server.once('error', failed);
        server.once('listening', () => {
          server.off('error', failed);
          server.on('error', (e) => ctx.logger.error({ address: parsed.text, err: e }, 'listener error'));
          ctx.logger.info({ address: parsed.text, websocket: websocketSubprotocol !== undefined }, 'listening');
          resolve();
        });
      });
      // Marked handled now: the worker only awaits startup work after init returns.
      bound.catch(() => {});
      ctx.whenStarted(bound);
      server.listen({ host: parsed.host, port: parsed.port });
      return ok(undefined);
    },

    send(id: number, data: Uint8Array) {
      const c = connections.get(id);
      const writable = c && !c.closing && (c.ws ? c.ws.readyState === WebSocket.OPEN : c.socket.writable);
      if (!c || !writable) return hostError.invalid(`connection ${id} is not open`);
      const queued = unsent(c);
      // A backlog is what marks a peer that does not read; a single large write
      // to a connection that keeps up is not refused.
      if (queued > 0 && queued + data.length > grant.maxBufferedBytes) {
        ctx.logger.warn(
          { module: ctx.moduleName, connection: id, remoteAddress: c.remoteAddress, limit: grant.maxBufferedBytes, unsent: queued },
          'peer is not reading: closing the connection (grants.socket.maxBufferedBytes)',
        );
        cut(c);
        return hostError.limited(`connection ${id}: more than ${grant.maxBufferedBytes} unsent bytes; the connection is closed`);
      }
      // Held until the guest's earlier publishes are committed: this may be the
      // acknowledgement (PUBACK) of a message the client must not have to resend.
      ctx.afterPublished(() => {
        if (c.socket.destroyed || (c.closing && !c.closeRequested)) return;
        if (c.ws) c.ws.send(data, { binary: true });
        else c.socket.write(data);
        if (c.socket.writableNeedDrain && !c.writeBlocked) {
          c.writeBlocked = true;
          updateFlow(c);
        }
      });
      return ok(undefined);
    },

    close(id: number) {
      const c = connections.get(id);
      if (!c || c.closing) return;
      c.closing = true;
      c.closeRequested = true;
      // After the sends queued before it, which may wait for a commit.
      ctx.afterPublished(() => {
        if (c.ws) c.ws.close(1000);
        else c.socket.end();
        c.closeTimer = setTimeout(() => cut(c), CLOSE_GRACE_MS);
        updateFlow(c);
      });
    },
  };
}

function bindProblem(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'EADDRINUSE':
      return 'the address is in use (by another process, or another module)';
    case 'EADDRNOTAVAIL':
      return 'no local interface has this IP';
    case 'EACCES':
      return 'permission denied (ports below 1024 need privileges)';
    default:
      return e.message;
  }
}

function remoteAddressOf(socket: net.Socket): string {
  const { remoteAddress: ip, remotePort: port } = socket;
  if (ip === undefined) return 'unknown';
  return socket.remoteFamily === 'IPv6' ? `[${ip}]:${port}` : `${ip}:${port}`;
}
