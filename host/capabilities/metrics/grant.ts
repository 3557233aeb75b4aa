import { z } from 'zod';

/** The most series a grant may allow one module: every series is sent to the main thread each second while it changes. */
export const MAX_SERIES_GRANTABLE = 10_000;

export const metricsGrant = z
  .object({
    /**
     * Distinct series (name and labels) the module may report, over all its
     * instances since the host started; 0, the default, grants nothing.
     */
    maxSeries: z.number().int().min(0).max(MAX_SERIES_GRANTABLE).default(0),
  })
  .strict();
export type MetricsGrant = z.infer<typeof metricsGrant>;
