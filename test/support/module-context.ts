import pino from 'pino';
import type { ModuleContext } from '../../host/capabilities/capability.ts';
import { moduleLimits } from '../../host/config/schema.ts';

export interface Denial {
  capability: string;
  target: string;
  allowWith: string;
}

/**
 * A ModuleContext for testing one capability's host functions outside a
 * worker: it records denials, close hooks and startup work; `overrides`
 * replace any member (callGuest, logger, waitFor...).
 */
export function fakeModuleContext(moduleName: string, overrides: Partial<ModuleContext> = {}) {
  const denials: Denial[] = [];
  const closers: (() => void | Promise<void>)[] = [];
  const startup: Promise<unknown>[] = [];
  const ctx: ModuleContext = {
    moduleName,
    logger: pino({ level: 'silent' }),
    config: new Map(),
    limits: moduleLimits.parse({}),
    denied(capability, target, allowWith) {
      denials.push({ capability, target, allowWith });
      return `${capability}: ${target} is not granted to module "${moduleName}"; to allow it: ${allowWith}`;
    },
    callGuest: () => Promise.resolve(),
    waitFor: (p) => p,
    post() {},
    on() {},
    onClose(fn) {
      closers.push(fn);
    },
    afterCall() {},
    onStopIntake() {},
    publishAccepted: () => 0,
    afterPublished: (fn) => fn(),
    allow: () => true,
    whenStarted(work) {
      startup.push(work);
    },
    ...overrides,
  };
  return { ctx, denials, startup, close: () => Promise.all(closers.map((f) => f())) };
}
