import type { Op } from '../capability.ts';
import type { HttpRequest, SendResult } from './types.ts';

export interface OutboundHttpOps {
  toService: {
    /** One request, redirects followed within the grant; the guest is suspended meanwhile. */
    send: Op<HttpRequest, SendResult>;
  };
  toWorker: Record<never, Op>;
}
