import type { ModuleContext } from '../capability.ts';

export function create(ctx: ModuleContext) {
  const sorted = [...ctx.config.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    get: (key: string) => ctx.config.get(key),
    getAll: () => sorted.map(([k, v]) => [k, v]),
  };
}
