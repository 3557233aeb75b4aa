import type { WorkerHalf } from '../capability.ts';
import type { TimerOps } from './ops.ts';

const HANDLER = 'edgehost:platform/timer-handler';

export const create: WorkerHalf<unknown, TimerOps>['create'] = (ctx) => {
  // Ids are handed out here, so `after`/`every` answer at once; the timers themselves run on the main thread.
  const armed = new Set<number>();
  const once = new Set<number>();
  let nextId = 1;
  let warned = false;

  ctx.handle({
    tick: (id) => {
      if (!armed.has(id)) return;
      if (once.delete(id)) armed.delete(id);
      return ctx.callGuest(HANDLER, 'onTick', [id]).then(() => undefined);
    },
  });

  const add = (ms: number, repeat: boolean): number => {
    if (armed.size >= ctx.limits.maxTimers) {
      // No result type to carry an error: refuse by never firing, and say so once.
      if (!warned) ctx.logger.warn({ code: 'EH_LIMIT', limit: 'limits.maxTimers', max: ctx.limits.maxTimers }, 'timer limit reached; new timers will not fire');
      warned = true;
      return 0;
    }
    const id = nextId++;
    armed.add(id);
    if (!repeat) once.add(id);
    ctx.service.notify('set', { id, ms: Math.max(1, ms), repeat });
    return id;
  };

  return {
    'edgehost:platform/timer': {
      after: (ms: number) => add(ms, false),
      every: (ms: number) => add(ms, true),
      cancel(id: number) {
        if (!armed.delete(id)) return;
        once.delete(id);
        ctx.service.notify('cancel', id);
      },
      nowMs: () => BigInt(Date.now()),
    },
  };
};
