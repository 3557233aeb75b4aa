import { defineCapability } from '../capability.ts';
import { type MetricsGrant, metricsGrant } from './grant.ts';

export { type MetricsGrant, metricsGrant } from './grant.ts';

/**
 * A module's own counters and gauges (edgehost:platform/metrics), kept in its
 * worker and sent with the host's counts of it, at most once a second: no
 * service half, nothing crosses per call.
 */
export const metrics = defineCapability<MetricsGrant>({
  name: 'metrics',
  interfaces: ['edgehost:platform/metrics'],
  grantKey: 'metrics',
  grant: metricsGrant,
  // Every component of a reference world imports it, reporting or not, and a
  // module refused it loses nothing it needs to run.
  linkWithoutGrant: true,
  worker: new URL('./worker.ts', import.meta.url).href,
});
