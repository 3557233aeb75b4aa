import { z } from 'zod';
import { defineCapability } from '../capability.ts';
import type { TimerOps } from './ops.ts';

/** Timers only wake the module itself: nothing to grant, but their number is budgeted. */
export const timer = defineCapability<Record<string, never>, TimerOps>({
  name: 'timer',
  interfaces: ['edgehost:platform/timer'],
  handlerExport: 'edgehost:platform/timer-handler',
  grant: z.object({}).strict(),
  limits: {
    /** Timers a module may have armed at once; past it, `after`/`every` return 0 and nothing fires. */
    maxTimers: z.number().int().positive().default(1000),
  },
  worker: new URL('./worker.ts', import.meta.url).href,
  loadService: () => import('./service.ts'),
});
