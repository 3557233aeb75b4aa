import { z } from 'zod';
import { defineCapability } from '../capability.ts';

/** Every module may log; lines carry the module's name. Nothing to grant, but lines are budgeted. */
export const logging = defineCapability({
  name: 'logging',
  interfaces: ['edgehost:platform/logging'],
  grant: z.object({}).strict(),
  limits: {
    /** Guest log lines per second (a burst of one second's worth); past it, lines are counted and summarised, not written. 0 = no limit. */
    logLinesPerSecond: z.number().int().min(0).default(200),
  },
  worker: new URL('./worker.ts', import.meta.url).href,
});
