import type { Op } from '../capability.ts';

export type Transport = 'tcp' | 'websocket';

/** `connection-info` of wit/socket.wit. */
export interface ConnectionInfo {
  id: number;
  localAddress: string;
  remoteAddress: string;
  transport: Transport;
}

/** `socket-handler.event` of wit/socket.wit. */
export type SocketEvent = { tag: 'opened'; val: ConnectionInfo } | { tag: 'data'; val: [number, Uint8Array] } | { tag: 'closed'; val: number };

export interface SocketOps {
  toService: {
    /** Listen on a granted address (checked in the worker); resolves once bound. */
    listen: Op<{ address: string; subprotocol?: string }>;
    send: Op<{ id: number; data: Uint8Array }>;
    close: Op<number>;
    /** Closes a connection at once, dropping what it has not sent: a peer that is not keeping up. */
    cut: Op<number>;
  };
  toWorker: {
    /** Events of one turn, oldest first; resolves once the guest handled them. */
    events: Op<SocketEvent[]>;
    /**
     * Bytes of earlier sends the service has handed to the connections (or
     * dropped with a closed one), by connection: the worker's credit for more.
     */
    written: Op<[id: number, bytes: number][]>;
  };
}
