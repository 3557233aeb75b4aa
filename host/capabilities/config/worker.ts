import type { WorkerHalf } from '../capability.ts';

export const create: WorkerHalf<unknown>['create'] = (ctx) => {
  const sorted = [...ctx.config.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    'edgehost:platform/config': {
      get: (key: string) => ctx.config.get(key),
      getAll: () => sorted.map(([k, v]) => [k, v]),
    },
  };
};
