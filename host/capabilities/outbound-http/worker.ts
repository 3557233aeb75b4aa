import { err, type WorkerHalf } from '../capability.ts';
import type { OutboundHttpGrant } from './grant.ts';
import type { OutboundHttpOps } from './ops.ts';
import type { HttpError, HttpRequest, SendResult } from './types.ts';

export const create: WorkerHalf<OutboundHttpGrant, OutboundHttpOps>['create'] = (ctx, grant) => ({
  'edgehost:platform/outbound-http': {
    // The request is checked and made on the main thread (service.ts), which owns the
    // connection pools; here the guest only waits, and that wait is not counted
    // against its call deadline.
    async send(req: HttpRequest): Promise<SendResult> {
      // Refused here, before the body is copied to the main thread.
      if (req.body && req.body.length > grant.maxRequestBytes) {
        return err<HttpError>({
          tag: 'invalid',
          val: `request body of ${req.body.length} bytes exceeds the limit of ${grant.maxRequestBytes} (grants.outboundHttp.maxRequestBytes)`,
        });
      }
      if (!ctx.allow('httpRequestsPerSecond')) {
        return err<HttpError>({
          tag: 'limited',
          val: `outbound HTTP rate limit of ${ctx.limits.httpRequestsPerSecond}/s reached (limits.httpRequestsPerSecond)`,
        });
      }
      return ctx.waitFor(ctx.service.request('send', req));
    },
  },
});
