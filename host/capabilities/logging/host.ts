import type { ModuleContext } from '../capability.ts';

// Guests are untrusted: bound a line so one module cannot flood the log with megabytes.
const MAX_LINE = 8 * 1024;
const levels = new Set(['trace', 'debug', 'info', 'warn', 'error']);

export function create(ctx: ModuleContext) {
  const guest = ctx.logger.child({ source: 'guest' });
  return {
    log(level: string, message: string) {
      const text = message.length > MAX_LINE ? `${message.slice(0, MAX_LINE)}... (truncated)` : message;
      guest[levels.has(level) ? (level as 'info') : 'info'](text);
    },
  };
}
