// Budgets that keep one client (or one address) from taking what others need:
// connections per IP address, memory for unfinished packets, and the log of limit hits.

import type { BufferBudget } from './codec/parser.ts';

/** Connections per remote IP address: those still before CONNECT, and those connected. */
export class AddressBook {
  private readonly counts = new Map<string, { pending: number; connected: number }>();

  pending(ip: string): number {
    return this.counts.get(ip)?.pending ?? 0;
  }

  connected(ip: string): number {
    return this.counts.get(ip)?.connected ?? 0;
  }

  /** Number of addresses with at least one connection. */
  get size(): number {
    return this.counts.size;
  }

  add(ip: string, kind: 'pending' | 'connected'): void {
    let c = this.counts.get(ip);
    if (!c) {
      c = { pending: 0, connected: 0 };
      this.counts.set(ip, c);
    }
    c[kind]++;
  }

  remove(ip: string, kind: 'pending' | 'connected'): void {
    const c = this.counts.get(ip);
    if (!c) return;
    c[kind]--;
    if (c.pending <= 0 && c.connected <= 0) this.counts.delete(ip);
  }
}

/** Bytes all connections' unfinished packets hold, within `max`. */
export class PartialPacketBudget implements BufferBudget {
  readonly max: number;
  used = 0;

  constructor(max: number) {
    this.max = max;
  }

  reserve(bytes: number): boolean {
    if (this.used + bytes > this.max) return false;
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.used -= bytes;
  }
}

const LIMIT_LOG_INTERVAL_MS = 1000;

/**
 * Logs limit hits as warnings: the first hit of a limit at once, later ones at most
 * once a second per limit with the number left out, so that a client hammering a
 * limit cannot flood the log.
 */
export class LimitLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();
  private readonly log: (message: string) => void;

  constructor(log: (message: string) => void) {
    this.log = log;
  }

  hit(limit: string, message: string, now: number): void {
    const entry = this.last.get(limit);
    if (entry && now - entry.at < LIMIT_LOG_INTERVAL_MS) {
      entry.suppressed++;
      return;
    }
    const more = entry && entry.suppressed > 0 ? ` (and ${entry.suppressed} more hits of ${limit} since the last report)` : '';
    this.last.set(limit, { at: now, suppressed: 0 });
    this.log(`limit ${limit}: ${message}${more}`);
  }
}
