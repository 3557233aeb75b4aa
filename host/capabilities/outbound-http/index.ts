import { z } from 'zod';
import { defineCapability, section } from '../capability.ts';
import { type OutboundHttpGrant, outboundHttpGrant } from './grant.ts';
import type { OutboundHttpOps } from './ops.ts';

export { type OutboundHttpGrant, outboundHttpGrant } from './grant.ts';
export type { OutboundHttpOps } from './ops.ts';

export const outboundHttp = defineCapability<OutboundHttpGrant, OutboundHttpOps>({
  name: 'outbound-http',
  interfaces: ['edgehost:platform/outbound-http'],
  asyncFunctions: ['edgehost:platform/outbound-http#send'],
  grantKey: 'outboundHttp',
  grant: outboundHttpGrant,
  limits: {
    /** Outbound HTTP requests per second (a burst of one second's worth is allowed); 0 = no limit. */
    httpRequestsPerSecond: z.number().int().min(0).default(1000),
    /** Requests an instance of the module is making at once (its worker makes them; a restart ends them with it); past it, `limited`. */
    maxPendingHttpRequests: z.number().int().positive().default(16),
  },
  flags: [
    {
      suffix: 'allowed-host',
      example: '127.0.0.1:8081',
      value: '<host>',
      multiple: true,
      help: 'Host <module> may send HTTP requests to; repeatable. Forms: host, host:port, scheme://host[:port], *.domain. Replaces modules.<module>.grants.outboundHttp.allowedHosts.',
      apply(module, values) {
        section(section(module, 'grants'), 'outboundHttp').allowedHosts = values;
        return ['grants.outboundHttp.allowedHosts'];
      },
    },
    {
      suffix: 'url',
      value: '<url>',
      multiple: false,
      help: 'Where <module> sends its requests (modules.<module>.config.url).',
      apply(module, values) {
        section(module, 'config').url = values[0];
        return ['config.url'];
      },
    },
  ],
  worker: new URL('./worker.ts', import.meta.url).href,
  loadService: () => import('./service.ts'),
});
