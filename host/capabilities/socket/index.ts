import { z } from 'zod';
import { defineCapability, type Op, type RawModule } from '../capability.ts';
import { parseListenAddress } from './address.ts';

const address = z.string().superRefine((s, ctx) => {
  try {
    parseListenAddress(s);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

export const socketGrant = z
  .object({
    /** Addresses the module may listen on (`--<module>-socket-address`). */
    listen: z.array(address).default([]),
    /** Connections accepted at once over all listeners; more are refused at accept. */
    maxConnections: z.number().int().positive().default(1000),
    /** Unsent bytes per connection before the host closes it (a peer that does not read); also the largest single send. */
    maxBufferedBytes: z
      .number()
      .int()
      .positive()
      .default(1024 * 1024),
  })
  .strict();
export type SocketGrant = z.infer<typeof socketGrant>;

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

export const socket = defineCapability<SocketGrant, SocketOps>({
  name: 'socket',
  interfaces: ['edgehost:platform/socket'],
  handlerExport: 'edgehost:platform/socket-handler',
  grantKey: 'socket',
  grant: socketGrant,
  flags: [
    {
      suffix: 'socket-address',
      value: '<addr>',
      multiple: true,
      help: 'Address <module> listens on (ip:port); repeatable. Replaces modules.<module>.grants.socket.listen and sets modules.<module>.config.listen.',
      apply(module, values) {
        const grants = (module.grants ??= {}) as RawModule;
        ((grants.socket ??= {}) as RawModule).listen = values;
        // The module is told where to listen by the same flag that grants it.
        ((module.config ??= {}) as RawModule).listen = values;
        return ['grants.socket.listen', 'config.listen'];
      },
    },
  ],
  worker: new URL('./worker.ts', import.meta.url).href,
  loadService: () => import('./service.ts'),
});
