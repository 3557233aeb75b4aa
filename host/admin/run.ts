// POST /v1/run: runs one component once under limits and answers how it went.
// Admission comes first, before the upload is read: a request past the queue
// is refused with 429 and Retry-After at the cost of its headers.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RunBusy } from '../run-once/queue.ts';
import type { AdminContext } from './context.ts';
import { AdminError, onlyParts, readForm, sendJson } from './http.ts';

const RUN_EXAMPLE =
  'curl -H "Authorization: Bearer $TOKEN" -F component=@hello.wasm -F \'request={"args":["a"]}\' -F stdin=@input.txt http://127.0.0.1:9090/v1/run';

export async function run(ctx: AdminContext, req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
  let ticket: ReturnType<AdminContext['runOnce']['reserve']>;
  try {
    ticket = ctx.runOnce.reserve();
  } catch (e) {
    if (e instanceof RunBusy) throw new AdminError(429, 'EH_RUN_BUSY', e.message, { 'retry-after': String(e.retryAfterSeconds) });
    throw e;
  }
  try {
    const form = await readForm(req, ctx.config.admin.maxUploadMb * 1024 * 1024, RUN_EXAMPLE);
    onlyParts(form, ['component', 'request', 'stdin']);
    const component = await form.bytes('component');
    if (!component) throw new AdminError(400, 'EH_ADMIN_REQUEST', `part "component" is missing: it carries the component to run, e.g. ${RUN_EXAMPLE}`);
    const request = await form.json('request');
    const stdin = await form.bytes('stdin');
    await ticket.turn(signal);
    const result = await ctx.runOnce.run({ component, request, stdin, fileName: form.fileName('component'), signal });
    sendJson(res, 200, result);
  } finally {
    ticket.release();
  }
}
