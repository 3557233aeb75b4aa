// Helpers shared by the dead-letter and durable-queue tests.
import type { BusMessage, SubscriberOptions } from '../../../host/bus/bus.ts';

export const enc = (s: string) => new TextEncoder().encode(s);
export const dec = (m: BusMessage) => new TextDecoder().decode(m.payload);

export function options(o: Partial<SubscriberOptions> = {}): SubscriberOptions {
  return {
    maxBatch: 256,
    lingerMs: 0,
    capacity: 1000,
    capacityBytes: 64 * 1024 * 1024,
    overflow: 'drop-oldest',
    noLocal: false,
    retryInitialMs: 1,
    retryMaxMs: 1,
    maxAttempts: 0,
    ttlMs: 0,
    durable: false,
    ...o,
  };
}

/** Lets pending microtasks and promise callbacks run (a real setImmediate, also with mocked timeouts). */
export const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface Call {
  batch: string[];
  resolve(): void;
  reject(e?: unknown): void;
}

/** A deliver function whose calls the test settles by hand, taking them in order with next(). */
export function gate() {
  const calls: Call[] = [];
  let taken = 0;
  let waiting: ((c: Call) => void) | undefined;
  const deliver = (batch: BusMessage[]) =>
    new Promise<void>((resolve, reject) => {
      calls.push({ batch: batch.map(dec), resolve, reject: (e = new Error('handler failed')) => reject(e) });
      if (waiting) {
        const w = waiting;
        waiting = undefined;
        w(calls[taken++]);
      }
    });
  const next = () => (taken < calls.length ? Promise.resolve(calls[taken++]) : new Promise<Call>((resolve) => (waiting = resolve)));
  return { calls, deliver, next };
}

/** A record of onDeadLetter calls as [subscriber, payload, reason, attempts]. */
export function deadLetters() {
  const seen: [string, string, string, number][] = [];
  const onDeadLetter = (id: string, m: BusMessage, reason: string, attempts: number) => void seen.push([id, dec(m), reason, attempts]);
  return { seen, onDeadLetter };
}
