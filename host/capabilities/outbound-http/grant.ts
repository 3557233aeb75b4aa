import { z } from 'zod';
import { parseAllowedHost } from './allowed-hosts.ts';

const entry = z.string().superRefine((s, ctx) => {
  try {
    parseAllowedHost(s);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

export const outboundHttpGrant = z
  .object({
    /** `host`, `host:port`, `scheme://host[:port]` or `*.domain`; empty allows nothing. */
    allowedHosts: z.array(entry).default([]),
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
