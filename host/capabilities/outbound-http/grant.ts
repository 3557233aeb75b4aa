import { z } from 'zod';
import { allowedHostEntry } from '../networking/grant.ts';

export const outboundHttpGrant = z
  .object({
    /** `host`, `host:port`, `scheme://host[:port]` or `*.domain`; empty allows nothing. */
    allowedHosts: z.array(allowedHostEntry).default([]),
    /** Used when a request gives no timeout. */
    defaultTimeoutMs: z.number().int().positive().default(10_000),
    /** Larger responses fail with `too-large`. */
    maxResponseBytes: z
      .number()
      .int()
      .positive()
      .default(4 * 1024 * 1024),
    /** Larger request bodies fail with `invalid`. */
    maxRequestBytes: z
      .number()
      .int()
      .positive()
      .default(16 * 1024 * 1024),
  })
  .strict();
export type OutboundHttpGrant = z.infer<typeof outboundHttpGrant>;
