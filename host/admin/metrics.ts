// GET /metrics: the host's Prometheus metrics (host/metrics/host-metrics.ts) in
// the text exposition format. It needs the token like the API: module names,
// queue depths and error counts are the operator's business. Prometheus sends
// it with `authorization: { credentials_file: <the token file> }`.
import type { ServerResponse } from 'node:http';
import type { AdminContext } from './context.ts';
import { AdminError } from './http.ts';

export async function metrics(ctx: AdminContext, res: ServerResponse): Promise<void> {
  const registry = ctx.host.metrics;
  if (!registry) {
    throw new AdminError(404, 'EH_ADMIN_REQUEST', 'metrics are off in this host\'s config ("metrics": false); set it to true and restart the host');
  }
  const text = await registry.render();
  res.writeHead(200, {
    'content-type': registry.contentType,
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(text);
}
