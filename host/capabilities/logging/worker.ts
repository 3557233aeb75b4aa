import { budgetedLines } from '../../log-throttle.ts';
import type { WorkerHalf } from '../capability.ts';

/** Guests are untrusted: a line is cut here, before it is copied anywhere else. */
export const MAX_LINE = 8 * 1024;
const levels = new Set(['trace', 'debug', 'info', 'warn', 'error']);

export const create: WorkerHalf<unknown>['create'] = (ctx) => {
  const guest = ctx.logger.child({ source: 'guest' });
  const budgeted = budgetedLines(
    () => ctx.allow('logLinesPerSecond'),
    (suppressed) =>
      guest.warn({ code: 'EH_LIMIT', limit: 'limits.logLinesPerSecond', suppressed }, `${suppressed} guest log lines were dropped (limits.logLinesPerSecond)`),
  );
  return {
    'edgehost:platform/logging': {
      log(level: string, message: string) {
        // A line the logger would not write costs nothing and must not use up the budget:
        // a flood of debug lines would otherwise crowd out the warnings that follow it.
        if (!guest.isLevelEnabled(levels.has(level) ? level : 'info')) return;
        budgeted(() => {
          const text = message.length > MAX_LINE ? `${message.slice(0, MAX_LINE)}... (${message.length - MAX_LINE} more characters)` : message;
          guest[levels.has(level) ? (level as 'info') : 'info'](text);
        });
      },
    },
  };
};
