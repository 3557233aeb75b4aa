import { z } from 'zod';
import type { Capability } from '../capability.ts';

/** Every module may log; lines carry the module's name. */
export const logging: Capability<Record<string, never>> = {
  name: 'logging',
  interface: 'edgehost:platform/logging',
  grant: z.object({}).strict(),
  loadHost: () => import('./host.ts'),
};
