import { z } from 'zod';
import type { Capability } from '../capability.ts';

/** Timers only wake the module itself: nothing to grant. */
export const timer: Capability<Record<string, never>> = {
  name: 'timer',
  interface: 'edgehost:platform/timer',
  handlerExport: 'edgehost:platform/timer-handler',
  grant: z.object({}).strict(),
  loadHost: () => import('./host.ts'),
};
