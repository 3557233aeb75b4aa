import type { Op } from '../capability.ts';
import type { PackedMessages } from './packed.ts';

export interface PubsubOps {
  toService: {
    /** Publishes the guest made, in order (accepted: grant, size and rate were checked in the worker), packed. */
    publish: Op<PackedMessages>;
    subscribe: Op<string>;
    unsubscribe: Op<string>;
  };
  toWorker: {
    /** Runs the message handler on a batch (packed, with publishedAt); resolves when it returned ok, rejects with its error. */
    deliver: Op<PackedMessages>;
    /** The room a `block` queue has left, and its filters; only `subscriber` when it is gone. */
    room: Op<{ subscriber: string; filters?: string[]; bytes?: number; messages?: number }>;
  };
}
