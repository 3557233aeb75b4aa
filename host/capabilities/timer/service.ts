// A module's timers run on the main thread: they fire into whichever instance
// is ready, and a tick that is already waiting is not queued again, so a busy
// module never has ticks pile up behind it.
import type { ServiceHalf } from '../capability.ts';
import type { TimerOps } from './ops.ts';

export const bind: ServiceHalf<unknown, TimerOps>['bind'] = (_host, module) => {
  const timers = new Map<number, NodeJS.Timeout>();
  const pending = new Set<number>();
  let intake = true;

  const fire = (id: number, repeat: boolean) => {
    if (!repeat) timers.delete(id);
    if (pending.has(id)) return;
    const worker = module.readyWorker();
    if (!worker) return;
    pending.add(id);
    worker
      .request('tick', id)
      .catch(() => {
        // A trap in on-tick ends the instance; the runtime reports it.
      })
      .finally(() => pending.delete(id));
  };

  const clearAll = () => {
    for (const t of timers.values()) clearTimeout(t);
    timers.clear();
    pending.clear();
  };

  return {
    handlers: {
      set({ id, ms, repeat }) {
        if (!intake) return;
        clearTimeout(timers.get(id));
        timers.set(id, repeat ? setInterval(() => fire(id, true), ms) : setTimeout(() => fire(id, false), ms));
      },
      cancel(id) {
        clearTimeout(timers.get(id));
        timers.delete(id);
      },
    },
    instanceStarting: () => {
      intake = true;
    },
    // The next instance arms its own timers in init; ids are per instance.
    instanceEnded: clearAll,
    stopIntake: () => {
      intake = false;
      clearAll();
    },
    close: clearAll,
  };
};
