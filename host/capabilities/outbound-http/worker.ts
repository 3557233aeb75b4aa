import { err, type WorkerHalf } from '../capability.ts';
import { createClient } from './client.ts';
import type { OutboundHttpGrant } from './grant.ts';
import type { OutboundHttpOps } from './ops.ts';
import type { HttpError, HttpRequest, SendResult } from './types.ts';

export const create: WorkerHalf<OutboundHttpGrant, OutboundHttpOps>['create'] = (ctx, grant) => {
  const client = createClient({
    moduleName: ctx.moduleName,
    grant,
    maxPending: ctx.limits.maxPendingHttpRequests,
    denied: (target, allowWith) => ctx.denied(target, allowWith),
    // The host's request metrics are kept on the main thread.
    done: (status, seconds) => ctx.service.notify('done', { status, seconds }),
  });
  ctx.onClose(() => client.close());
  return {
    'edgehost:platform/outbound-http': {
      // The request is made on this thread (client.ts) while the guest waits, and that
      // wait is not counted against its call deadline.
      async send(req: HttpRequest): Promise<SendResult> {
        if (!ctx.allow('httpRequestsPerSecond')) {
          return err<HttpError>({
            tag: 'limited',
            val: `outbound HTTP rate limit of ${ctx.limits.httpRequestsPerSecond}/s reached (limits.httpRequestsPerSecond)`,
          });
        }
        return ctx.waitFor(client.send(req));
      },
    },
  };
};
