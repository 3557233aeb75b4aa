import { z } from 'zod';
import type { Capability } from '../capability.ts';

/** A module reads its own config, and only its own: nothing to grant. */
export const config: Capability<Record<string, never>> = {
  name: 'config',
  interface: 'edgehost:platform/config',
  grant: z.object({}).strict(),
  loadHost: () => import('./host.ts'),
};
