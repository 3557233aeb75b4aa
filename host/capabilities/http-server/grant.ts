import { z } from 'zod';
import { allowedHostEntry } from '../networking/grant.ts';
import { parseListenAddress } from '../socket/address.ts';
import { parseRoute, type Route } from './routes.ts';

const refined = (parse: (s: string) => unknown) =>
  z.string().superRefine((s, ctx) => {
    try {
      parse(s);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
    }
  });

export const httpGrant = z
  .object({
    /** Addresses the host listens on for the module (`--<module>-http-address`); modules may share one. */
    listen: z.array(refined(parseListenAddress)).default([]),
    /**
     * What the module answers on its addresses: `[host][/path]` ("api.example.com/v1",
     * "*.example.com", "/metrics"); empty: every host and path (`--<module>-http-route`).
     */
    routes: z.array(refined(parseRoute)).default([]),
    /**
     * Where its outgoing requests (wasi:http/outgoing-handler) may go: the same entries as
     * grants.outboundHttp.allowedHosts, checked by the same code; empty allows nothing
     * (`--<module>-http-allowed-host`).
     */
    allowedHosts: z.array(allowedHostEntry).default([]),
  })
  .strict();
export type HttpGrant = z.infer<typeof httpGrant>;

/**
 * Largest request head the host reads. A module's own limit
 * (limits.httpMaxHeaderBytes, 431 past it) may not exceed it.
 */
export const MAX_HEADER_BYTES = 64 * 1024;

/** How a route of a module's grant is named in a conflict: its key path, or the default when it lists none. */
export const routeLabel = (module: string, grant: HttpGrant) => (route: Route, i: number) =>
  grant.routes.length > 0 ? `modules.${module}.grants.http.routes[${i}] "${route.source}"` : `modules.${module} (no grants.http.routes: every host and path)`;
