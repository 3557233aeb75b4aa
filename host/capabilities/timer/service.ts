// A module's timers run on the main thread: they fire into whichever instance
// is ready, and a tick that is already waiting is not queued again, so a busy
// module never has ticks pile up behind it. A timer that comes due while its
// instance is still starting (an `after(0)` armed in `init` fires before the
// worker has said it is ready) waits for ready instead of being lost.
//
// While the module sleeps (idle sleep), its timers keep running here; one that
// comes due wakes it. The instance that wakes runs `init` again and arms its
// timers again: each is matched to a kept timer of the same period and kind,
// which keeps its schedule (and fires at once if it came due meanwhile).
import type { ServiceHalf } from '../capability.ts';
import type { TimerOps } from './ops.ts';

interface Timer {
  /** The id the current instance knows it by (ids are per instance). */
  id: number;
  ms: number;
  repeat: boolean;
  handle: NodeJS.Timeout;
  /** Came due while the module slept: fires as soon as an instance adopts it. */
  due: boolean;
}

export const bind: ServiceHalf<unknown, TimerOps>['bind'] = (_host, module) => {
  let timers = new Map<number, Timer>();
  /** Kept from before the module slept, waiting for the waking instance to arm them again. */
  let kept: Timer[] = [];
  const pending = new Set<number>();
  let intake = true;

  const tick = (t: Timer) => {
    if (pending.has(t.id)) return;
    const worker = module.readyWorker();
    if (!worker) {
      t.due = true;
      return;
    }
    if (!t.repeat) timers.delete(t.id);
    const id = t.id;
    pending.add(id);
    worker
      .request('tick', id)
      .catch(() => {
        // A trap in on-tick ends the instance; the runtime reports it.
      })
      .finally(() => pending.delete(id));
  };

  const fire = (t: Timer) => {
    if (kept.includes(t)) {
      // Sleeping: the tick waits for the instance this wakes.
      t.due = true;
      module.worker().catch(() => {});
      return;
    }
    tick(t);
  };

  const arm = (id: number, ms: number, repeat: boolean): Timer => {
    const t: Timer = { id, ms, repeat, due: false, handle: undefined as unknown as NodeJS.Timeout };
    t.handle = repeat ? setInterval(() => fire(t), ms) : setTimeout(() => fire(t), ms);
    return t;
  };

  const clearAll = () => {
    for (const t of [...timers.values(), ...kept]) clearTimeout(t.handle);
    timers = new Map();
    kept = [];
    pending.clear();
  };

  return {
    handlers: {
      set({ id, ms, repeat }) {
        if (!intake) return;
        const old = timers.get(id);
        if (old) clearTimeout(old.handle);
        const adopted = kept.findIndex((k) => k.ms === ms && k.repeat === repeat);
        if (adopted !== -1) {
          const [t] = kept.splice(adopted, 1);
          t.id = id;
          timers.set(id, t);
          return;
        }
        timers.set(id, arm(id, ms, repeat));
      },
      cancel(id) {
        const t = timers.get(id);
        if (t) clearTimeout(t.handle);
        timers.delete(id);
      },
    },
    instanceStarting: () => {
      intake = true;
    },
    instanceReady: () => {
      // What the new instance did not arm again is not wanted any more.
      for (const t of kept) clearTimeout(t.handle);
      kept = [];
      for (const t of timers.values()) {
        if (!t.due) continue;
        t.due = false;
        tick(t);
      }
    },
    instanceEnded: (_n, why) => {
      if (why !== 'sleep') return clearAll();
      kept = [...timers.values()];
      timers = new Map();
      pending.clear();
    },
    stopIntake: () => {
      intake = false;
      clearAll();
    },
    close: clearAll,
  };
};
