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
  };
  toWorker: {
    /** Events of one turn, oldest first; resolves once the guest handled them. */
    events: Op<SocketEvent[]>;
  };
}
