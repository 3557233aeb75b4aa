import { z } from 'zod';
import type { Capability } from '../capability.ts';
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
    /** Addresses the module may listen on (`--server-socket-address` for the server module). */
    listen: z.array(address).default([]),
    /** Connections accepted at once over all listeners; more are refused at accept. */
    maxConnections: z.number().int().positive().default(1000),
    /** Unsent bytes per connection before the host closes it (a peer that does not read). */
    maxBufferedBytes: z
      .number()
      .int()
      .positive()
      .default(1024 * 1024),
  })
  .strict();
export type SocketGrant = z.infer<typeof socketGrant>;

export const socket: Capability<SocketGrant> = {
  name: 'socket',
  grantKey: 'socket',
  interface: 'edgehost:platform/socket',
  handlerExport: 'edgehost:platform/socket-handler',
  grant: socketGrant,
  loadHost: () => import('./host.ts'),
};
