import type { Op } from '../capability.ts';

export interface TimerOps {
  toService: {
    /** Arms timer `id` (numbered by the worker): fires after `ms`, and every `ms` after that when `repeat`. */
    set: Op<{ id: number; ms: number; repeat: boolean }>;
    cancel: Op<number>;
  };
  toWorker: {
    /** Timer `id` fired: runs the guest's `on-tick`. */
    tick: Op<number>;
  };
}
