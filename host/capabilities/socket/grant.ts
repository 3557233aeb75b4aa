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
  })
  .strict();
export type SocketGrant = z.infer<typeof socketGrant>;
