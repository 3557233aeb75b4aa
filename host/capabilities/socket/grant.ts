import { z } from 'zod';
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
    /** Connections from one IP address at once (those still being told apart included); more are refused at accept. */
    maxConnectionsPerAddress: z.number().int().positive().default(100),
    /**
     * The largest WebSocket message the host takes from a peer: it holds a message
     * whole before handing it over. Keep it no larger than what the module accepts
     * (for the server module, its max-packet-size plus the 5 bytes of a fixed header).
     */
    maxWebSocketMessageBytes: z
      .number()
      .int()
      .positive()
      .default(256 * 1024 + 5),
    /** Time from accept for a connection to say whether it is TCP or WebSocket and finish the upgrade, however slowly it sends. */
    handshakeTimeoutMs: z.number().int().positive().default(10_000),
  })
  .strict();
export type SocketGrant = z.infer<typeof socketGrant>;
