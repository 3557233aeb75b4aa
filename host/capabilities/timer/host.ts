import type { ModuleContext } from '../capability.ts';

const HANDLER = 'edgehost:platform/timer-handler';
// A guest could otherwise create timers until the worker runs out of memory.
const MAX_TIMERS = 1000;

export function create(ctx: ModuleContext) {
  const timers = new Map<number, NodeJS.Timeout>();
  // A tick that is already queued is not queued again: periodic ticks must not
  // pile up behind a busy module.
  const pending = new Set<number>();
  let nextId = 1;

  const tick = (id: number, once: boolean) => {
    if (once) timers.delete(id);
    if (pending.has(id)) return;
    pending.add(id);
    ctx
      .callGuest(HANDLER, 'onTick', [id])
      .finally(() => pending.delete(id))
      .catch(() => {});
  };

  const add = (ms: number, once: boolean): number => {
    if (timers.size >= MAX_TIMERS) {
      // No result type to carry an error: refuse by never firing, and say so.
      ctx.logger.warn({ limit: 'timers', max: MAX_TIMERS }, 'timer limit reached; the new timer will not fire');
      return 0;
    }
    const id = nextId++;
    const delay = Math.max(1, ms);
    const handle = once ? setTimeout(() => tick(id, true), delay) : setInterval(() => tick(id, false), delay);
    timers.set(id, handle);
    return id;
  };

  ctx.onStopIntake(() => {
    for (const t of timers.values()) clearTimeout(t);
    timers.clear();
  });
  ctx.onClose(() => {
    for (const t of timers.values()) clearTimeout(t);
    timers.clear();
  });

  return {
    after: (ms: number) => add(ms, true),
    every: (ms: number) => add(ms, false),
    cancel(id: number) {
      const t = timers.get(id);
      if (t) clearTimeout(t);
      timers.delete(id);
    },
    nowMs: () => BigInt(Date.now()),
  };
}
