import type { Op } from '../capability.ts';

/** A bus message as it crosses the thread boundary. */
export interface WireMessage {
  topic: string;
  payload: Uint8Array;
  publishedAt: number;
}

export interface PubsubOps {
  toService: {
    /** Publishes the guest made, in order (accepted: grant, size and rate were checked in the worker). */
    publish: Op<{ topic: string; payload: Uint8Array }[]>;
    subscribe: Op<string>;
    unsubscribe: Op<string>;
  };
  toWorker: {
    /** Runs the message handler on a batch; resolves when it returned ok, rejects with its error. */
    deliver: Op<WireMessage[]>;
    /**
     * A module's `block` queue is over its capacity (`filters` set) or relieved
     * (`filters` undefined): publishes to topics it matches answer `full` meanwhile.
     */
    /** The room a `block` queue has left, and its filters; only `subscriber` when it is gone. */
    room: Op<{ subscriber: string; filters?: string[]; bytes?: number; messages?: number }>;
  };
}
