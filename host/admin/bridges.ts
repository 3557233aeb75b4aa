// GET /v1/bridges: each bridge to an external MQTT broker, with its connection
// state and queue figures (Host.bridgeList()).
import type { ServerResponse } from 'node:http';
import type { AdminContext } from './context.ts';
import { sendJson } from './http.ts';

export function list(ctx: AdminContext, res: ServerResponse): void {
  sendJson(res, 200, { bridges: ctx.host.bridgeList() });
}
