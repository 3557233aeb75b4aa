// The module's disk budget: the bytes its files in read-write mounts hold.
// Measured once (lazily, at the first write), then kept up to date by the
// writes, truncations and deletions the module makes itself; changes made by
// others meanwhile are not seen until the module restarts.
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Entries walked to measure the starting usage; a larger tree counts as full. */
const MAX_WALK = 100_000;

export class Quota {
  readonly #limit: number;
  readonly #roots: string[] = [];
  #used: number | undefined;

  constructor(limitBytes: number) {
    this.#limit = limitBytes;
  }

  addRoot(root: string): void {
    this.#roots.push(root);
  }

  /** Takes `bytes` from the budget; false (and nothing taken) when it does not fit. */
  charge(bytes: number): boolean {
    if (bytes <= 0) return true;
    const used = this.used();
    if (used + bytes > this.#limit) return false;
    this.#used = used + bytes;
    return true;
  }

  release(bytes: number): void {
    if (this.#used !== undefined) this.#used = Math.max(0, this.#used - bytes);
  }

  used(): number {
    this.#used ??= this.#measure();
    return this.#used;
  }

  #measure(): number {
    let total = 0;
    let seen = 0;
    const stack = [...this.#roots];
    while (stack.length > 0) {
      const dir = stack.pop()!;
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      for (const name of names) {
        if (++seen > MAX_WALK) return this.#limit;
        const path = join(dir, name);
        try {
          const s = lstatSync(path);
          if (s.isDirectory()) stack.push(path);
          else if (s.isFile()) total += s.size;
        } catch {
          // gone meanwhile
        }
      }
    }
    return total;
  }
}
