// GET /healthz and GET /readyz, without a token: what a supervisor or a load
// balancer asks. /healthz says the process answers; /readyz says whether every
// module that should run is running. Neither reveals more than module names and
// states (no errors, no config): anyone who reaches the admin address may ask.
import type { ServerResponse } from 'node:http';
import type { ModuleState } from '../runtime/module-runtime.ts';
import type { AdminContext } from './context.ts';
import { sendJson } from './http.ts';

/** A module asleep is ready: its next message, connection or timer wakes it. */
const READY: ReadonlySet<ModuleState> = new Set(['ready', 'sleeping']);
/** Modules on their way out (being removed, or the host stopping) are not expected to run. */
const LEAVING: ReadonlySet<ModuleState> = new Set(['draining', 'stopped']);

export function healthz(res: ServerResponse, open: boolean): void {
  sendJson(res, open ? 200 : 503, { status: open ? 'ok' : 'starting' });
}

/** 200 when every module that should run is ready; else 503 naming those that are not, with their state. */
export function readyz(ctx: AdminContext, res: ServerResponse, open: boolean): void {
  if (!open) {
    sendJson(res, 503, { status: 'starting', notReady: [] }, { 'retry-after': '1' });
    return;
  }
  const modules = [...ctx.host.modules.values()].filter((m) => !LEAVING.has(m.state));
  const notReady = modules
    .filter((m) => !READY.has(m.state))
    .map((m) => ({ module: m.name, state: m.state }))
    .sort((a, b) => a.module.localeCompare(b.module));
  if (notReady.length > 0) sendJson(res, 503, { status: 'not ready', notReady });
  else sendJson(res, 200, { status: 'ready', modules: modules.length });
}
