import { z } from 'zod';
import { defineCapability } from '../capability.ts';

/** A module reads its own config, and only its own: nothing to grant. */
export const config = defineCapability({
  name: 'config',
  interfaces: ['edgehost:platform/config'],
  grant: z.object({}).strict(),
  worker: new URL('./worker.ts', import.meta.url).href,
});
