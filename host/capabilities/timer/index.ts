import { z } from 'zod';
import { defineCapability, type Op } from '../capability.ts';

export interface TimerOps {
  toService: {
    /** Arms timer `id` (numbered by the worker): fires after `ms`, and every `ms` after that when `repeat`. */
    set: Op<{ id: number; ms: number; repeat: boolean }>;
    cancel: Op<number>;
  };
  toWorker: {
    /** Timer `id` fired: runs the guest's `on-tick`. */
    tick: Op<number>;
  };
}

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
