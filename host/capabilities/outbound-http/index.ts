import { z } from 'zod';
import { defineCapability, type Op, type RawModule } from '../capability.ts';
import { parseAllowedHost } from './allowed-hosts.ts';
import type { HttpRequest, SendResult } from './types.ts';

const entry = z.string().superRefine((s, ctx) => {
  try {
    parseAllowedHost(s);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

export const outboundHttpGrant = z
  .object({
    /** `host`, `host:port`, `scheme://host[:port]` or `*.domain`; empty allows nothing. */
    allowedHosts: z.array(entry).default([]),
    /** Used when a request gives no timeout. */
    defaultTimeoutMs: z.number().int().positive().default(10_000),
    /** Larger responses fail with `too-large`. */
    maxResponseBytes: z
      .number()
      .int()
      .positive()
      .default(4 * 1024 * 1024),
    /** Larger request bodies fail with `invalid`. */
    maxRequestBytes: z
      .number()
      .int()
      .positive()
      .default(16 * 1024 * 1024),
  })
  .strict();
export type OutboundHttpGrant = z.infer<typeof outboundHttpGrant>;

export interface OutboundHttpOps {
  toService: {
    /** One request, redirects followed within the grant; the guest is suspended meanwhile. */
    send: Op<HttpRequest, SendResult>;
  };
  toWorker: Record<never, Op>;
}

const section = (entry: RawModule, key: string): RawModule => {
  const value = entry[key];
  if (value && typeof value === 'object') return value as RawModule;
  const created: RawModule = {};
  entry[key] = created;
  return created;
};

export const outboundHttp = defineCapability<OutboundHttpGrant, OutboundHttpOps>({
  name: 'outbound-http',
  interfaces: ['edgehost:platform/outbound-http'],
  asyncFunctions: ['edgehost:platform/outbound-http#send'],
  grantKey: 'outboundHttp',
  grant: outboundHttpGrant,
  limits: {
    /** Outbound HTTP requests per second (a burst of one second's worth is allowed); 0 = no limit. */
    httpRequestsPerSecond: z.number().int().min(0).default(1000),
  },
  flags: [
    {
      suffix: 'allowed-host',
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
