import type { Op } from '../capability.ts';

export interface OutboundHttpOps {
  toService: {
    /** A request was made (redirects followed): its final status, or 'error', and how long it took. */
    done: Op<{ status: number | 'error'; seconds: number }>;
  };
  toWorker: Record<never, Op>;
}
