// The main thread's part of outbound HTTP is only its metrics: the requests
// themselves are made on the module's worker (client.ts).
import type { ServiceHalf } from '../capability.ts';
import type { OutboundHttpGrant } from './grant.ts';
import type { OutboundHttpOps } from './ops.ts';

export const bind: ServiceHalf<OutboundHttpGrant, OutboundHttpOps>['bind'] = (host, module) => ({
  handlers: {
    done({ status, seconds }) {
      host.metrics.httpRequest(module.name, status, seconds);
    },
  },
});
