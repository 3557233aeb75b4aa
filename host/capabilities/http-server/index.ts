import { z } from 'zod';
import { defineCapability, section } from '../capability.ts';
import { parseListenAddress } from '../socket/address.ts';
import { type HttpGrant, httpGrant, MAX_HEADER_BYTES, routeLabel } from './grant.ts';
import type { HttpOps } from './ops.ts';
import { parseRoute, RouteError, RouteTable } from './routes.ts';

export { type HttpGrant, httpGrant } from './grant.ts';
export type { HttpOps } from './ops.ts';

/** What a world exports to serve requests. */
const INCOMING_HANDLER = 'wasi:http/incoming-handler';

/** The blocking calls of wasi:io, which wait for body bytes (or room for them): async imports (JSPI), as jco lists them for wasi:http. */
const SUSPENDING = [
  'wasi:io/poll#poll',
  'wasi:io/poll#[method]pollable.block',
  'wasi:io/streams#[method]input-stream.blocking-read',
  'wasi:io/streams#[method]input-stream.blocking-skip',
  'wasi:io/streams#[method]output-stream.blocking-flush',
  'wasi:io/streams#[method]output-stream.blocking-write-and-flush',
  'wasi:io/streams#[method]output-stream.blocking-write-zeroes-and-flush',
  'wasi:io/streams#[method]output-stream.blocking-splice',
];

/**
 * Standard wasi:http for modules whose world has it: the host listens on the
 * granted addresses (several modules may share one, routed by host and path)
 * and calls the module's wasi:http/incoming-handler for each request, with
 * streamed bodies; the module's outgoing requests go through
 * wasi:http/outgoing-handler to the hosts it is allowed, checked as
 * outbound-http checks them.
 */
export const httpServer = defineCapability<HttpGrant, HttpOps>({
  name: 'http-server',
  interfaces: ['wasi:http/outgoing-handler', 'wasi:http/types'],
  handlerExport: INCOMING_HANDLER,
  asyncFunctions: SUSPENDING,
  grantKey: 'http',
  grant: httpGrant,
  limits: {
    /** A request whose head (request line and headers) is larger gets 431. At most 64 KiB, what the listener reads. */
    httpMaxHeaderBytes: z
      .number()
      .int()
      .positive()
      .max(MAX_HEADER_BYTES)
      .default(16 * 1024),
    /** A request body larger than this gets 413 (at once when its Content-Length says so). */
    httpMaxBodyBytes: z
      .number()
      .int()
      .positive()
      .default(100 * 1024 * 1024),
    /**
     * From a request's arrival to the end of its response. Past it: 503 if the module had not
     * taken it yet; 504 if its handler was running, and the module is restarted.
     */
    httpRequestTimeoutMs: z.number().int().positive().default(30_000),
    /** Requests the module has in hand at once (one handled, the rest waiting); more get 503 with Retry-After. */
    httpMaxConcurrentRequests: z.number().int().positive().default(32),
  },
  flags: [
    {
      suffix: 'http-address',
      example: '127.0.0.1:8080',
      value: '<addr>',
      multiple: true,
      help: 'Address the host serves <module> on over HTTP (ip:port); repeatable; modules may share one. Replaces modules.<module>.grants.http.listen.',
      apply(module, values) {
        section(section(module, 'grants'), 'http').listen = values;
        return ['grants.http.listen'];
      },
    },
    {
      suffix: 'http-route',
      example: 'example.com/api',
      value: '<[host][/path]>',
      multiple: true,
      help: 'Requests <module> answers on its addresses: a host (or *.domain) and/or a path prefix; repeatable. Replaces modules.<module>.grants.http.routes.',
      apply(module, values) {
        section(section(module, 'grants'), 'http').routes = values;
        return ['grants.http.routes'];
      },
    },
    {
      suffix: 'http-allowed-host',
      value: '<host>',
      multiple: true,
      help: 'Host <module> may send requests to (wasi:http/outgoing-handler); repeatable. Forms: host, host:port, scheme://host[:port], *.domain. Replaces modules.<module>.grants.http.allowedHosts.',
      apply(module, values) {
        section(section(module, 'grants'), 'http').allowedHosts = values;
        return ['grants.http.allowedHosts'];
      },
    },
  ],
  check(module, grant) {
    const problems: string[] = [];
    if (grant.listen.length > 0 && !module.exports.includes(INCOMING_HANDLER)) {
      problems.push(`grants.http.listen: world "${module.world}" does not export ${INCOMING_HANDLER}, so the module cannot serve requests; remove the grant`);
    }
    if (grant.routes.length > 0 && grant.listen.length === 0) problems.push('grants.http.routes: the module listens on no address (grants.http.listen)');
    return problems;
  },
  checkAll(modules) {
    // Per address, every module's routes in one table: the table refuses a route two modules claim.
    const tables = new Map<string, RouteTable<string>>();
    const problems: string[] = [];
    for (const { name, grant } of modules) {
      const routes = (grant.routes.length > 0 ? grant.routes : ['/']).map(parseRoute);
      for (const address of new Set(grant.listen.map((a) => parseListenAddress(a).text))) {
        const table = tables.get(address) ?? new RouteTable<string>();
        tables.set(address, table);
        try {
          table.add(name, routes, routeLabel(name, grant));
        } catch (e) {
          if (!(e instanceof RouteError)) throw e;
          problems.push(`${e.message} (both on ${address})`);
        }
      }
    }
    return problems;
  },
  worker: new URL('./worker.ts', import.meta.url).href,
  loadService: () => import('./service.ts'),
});
