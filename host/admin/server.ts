// The admin API: an HTTP server on the main thread (node:http) that routes
// JSON requests to the endpoints in this folder. It is a socket strangers may
// reach, so: every request but the health checks and the dashboard's files
// needs the bearer token (checked before the body is read), bodies are read
// under a limit, slow clients are cut off (headers 10 s, a whole request
// 120 s), and the number of open connections is capped.
//
//   GET    /healthz                 no token: { "status": "ok" }
//   GET    /readyz                  no token: 200 when every module that should run is ready, else 503 naming those that are not
//   GET    /                        no token: the dashboard (and GET /dashboard/<file>, its files; no data in them)
//   GET    /metrics                 Prometheus text format
//   GET    /v1/events               Server-Sent Events for the dashboard: module snapshots, log lines
//   GET    /v1/bridges              every bridge to an MQTT broker
//   GET    /v1/modules              every module
//   GET    /v1/modules/{name}       one module
//   PUT    /v1/modules/{name}       deploy or replace (multipart: component, module)
//   DELETE /v1/modules/{name}       remove (?keep-queue, ?drain-timeout-ms=N)
//   POST   /v1/run                  run once (multipart: component, request?, stdin?)
import { once } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import type { ResolvedConfig } from '../config/load.ts';
import { HostError } from '../errors.ts';
import type { Host } from '../host.ts';
import { throttledLog } from '../log-throttle.ts';
import type { Logger } from '../logger.ts';
import { RunOnce } from '../run-once/runner.ts';
import { format, parseAdminAddress } from './address.ts';
import * as bridges from './bridges.ts';
import type { AdminContext } from './context.ts';
import { isDashboardPath, loadDashboard, serveDashboard } from './dashboard.ts';
import type { DesiredState } from './desired-state.ts';
import { EventHub } from './events.ts';
import { healthz, readyz } from './health.ts';
import { AdminError, sendError } from './http.ts';
import type { LogTail } from './log-tail.ts';
import { metrics } from './metrics.ts';
import * as modules from './modules.ts';
import { run } from './run.ts';
import { authorized, loadAdminToken } from './token.ts';

export interface AdminServer {
  /** Where it listens ("127.0.0.1:9090"), with the port it got when 0 was asked. */
  address: string;
  /** The token file clients read. */
  tokenFile: string;
  /** Starts answering requests: until then (while the host starts its modules) they get 503 EH_HOST_STARTING. */
  open(): void;
  /** Stops listening and cuts open requests (runs in progress end with them). */
  close(): Promise<void>;
}

export interface StartAdminOptions {
  host: Host;
  config: ResolvedConfig;
  desired: DesiredState;
  configModules: ReadonlySet<string>;
  logger: Logger;
  /** The lines the dashboard's log tail starts with; without it the tail shows only what comes. */
  logTail?: LogTail;
}

/** The file where a running host records its admin address, for the CLI: `<dataDir>/admin-address`. */
export const addressFile = (dataDir: string) => join(resolve(dataDir), 'admin-address');

/**
 * Binds the admin API (so a bad or busy address stops the host before any
 * module starts), or returns undefined when admin.address is "off". Requests
 * are answered once `open` is called.
 */
export async function startAdmin(opts: StartAdminOptions): Promise<AdminServer | undefined> {
  const { config, logger } = opts;
  const listen = parseAdminAddress(config.admin.address);
  if (!listen) {
    logger.info('admin API off (admin.address "off")');
    return undefined;
  }
  const token = loadAdminToken({ tokenFile: config.admin.tokenFile, dataDir: config.dataDir });
  if (token.generated) logger.info({ tokenFile: token.file }, `admin API token generated into ${token.file} (mode 0600); clients read it from there`);
  if (token.looseMode)
    logger.warn(
      { tokenFile: token.file, mode: token.looseMode },
      `admin token file ${token.file} can be read by other users (mode ${token.looseMode}); chmod 600 it`,
    );
  const log = logger.child({ component: 'admin' });
  const ctx: AdminContext = {
    host: opts.host,
    config,
    configModules: opts.configModules,
    desired: opts.desired,
    logger: log,
    runOnce: new RunOnce({
      options: config.admin.run,
      cacheDir: resolve(config.cacheDir),
      base: dirname(config.file),
      logger: log,
      bundle: () => opts.host.workerBundle(),
      budgets: config.budgets,
    }),
  };
  loadDashboard();
  const events = new EventHub(ctx, opts.logTail);
  const warnUnauthorized = throttledLog(10_000, (suppressed) =>
    log.warn({ code: 'EH_ADMIN_UNAUTHORIZED', refusedSinceLastWarning: suppressed }, 'admin API request refused: missing or wrong bearer token'),
  );

  let open = false;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort(new Error('the client went away'));
    });
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    const method = req.method ?? 'GET';
    try {
      if (url.pathname === '/healthz' || url.pathname === '/readyz') {
        if (method !== 'GET' && method !== 'HEAD') throw notAllowed(method, url.pathname, ['GET']);
        if (url.pathname === '/healthz') healthz(res, open);
        else readyz(ctx, res, open);
        return;
      }
      if (isDashboardPath(url.pathname)) {
        serveDashboard(method, url.pathname, req, res);
        return;
      }
      if (!authorized(req.headers.authorization, token)) {
        warnUnauthorized();
        throw new AdminError(401, 'EH_ADMIN_UNAUTHORIZED', 'missing or wrong bearer token', { 'www-authenticate': 'Bearer realm="edgehost"' });
      }
      if (!open) throw new AdminError(503, 'EH_HOST_STARTING', 'the host is starting its modules; retry in a moment', { 'retry-after': '1' });
      await route(ctx, events, method, url, req, res, controller.signal);
    } catch (e) {
      const { status, code } = sendError(res, e);
      if (status >= 500) log.error({ err: e, method, path: url.pathname }, `admin API ${method} ${url.pathname} failed: ${(e as Error).message}`);
      else if (status !== 401) log.info({ method, path: url.pathname, status, code }, `admin API ${method} ${url.pathname}: ${status} ${code}`);
    }
  };

  const server = createServer({ headersTimeout: 10_000, requestTimeout: 120_000, keepAliveTimeout: 5_000, maxHeaderSize: 16 * 1024 }, (req, res) => {
    void handle(req, res);
  });
  server.maxConnections = config.admin.maxConnections;
  server.listen(listen.port, listen.host);
  try {
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([e]) => Promise.reject(e))]);
  } catch (e) {
    throw new HostError(
      'EH_CONFIG_INVALID',
      `admin.address: cannot listen on ${listen.text}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}. Pass --admin-address with a free address, or off.`,
    );
  }
  const bound = server.address() as AddressInfo;
  const address = format(bound.address, bound.port);
  const file = addressFile(config.dataDir);
  writeFileSync(file, `${address}\n`);
  logger.info({ address, tokenFile: token.file }, `admin API listening on http://${address}`);
  return {
    address,
    tokenFile: token.file,
    open() {
      open = true;
    },
    async close() {
      events.close();
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
      rmSync(file, { force: true });
    },
  };
}

function notAllowed(method: string, path: string, allowed: string[]): AdminError {
  return new AdminError(405, 'EH_ADMIN_REQUEST', `${method} is not allowed on ${path}; use ${allowed.join(' or ')}`, { allow: allowed.join(', ') });
}

async function route(
  ctx: AdminContext,
  events: EventHub,
  method: string,
  url: URL,
  req: IncomingMessage,
  res: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const path = url.pathname;
  if (path === '/metrics') {
    if (method !== 'GET') throw notAllowed(method, path, ['GET']);
    return metrics(ctx, res);
  }
  if (path === '/v1/events') {
    if (method !== 'GET') throw notAllowed(method, path, ['GET']);
    return events.open(req, res);
  }
  if (path === '/v1/bridges') {
    if (method !== 'GET') throw notAllowed(method, path, ['GET']);
    return bridges.list(ctx, res);
  }
  if (path === '/v1/modules') {
    if (method !== 'GET') throw notAllowed(method, path, ['GET']);
    return modules.list(ctx, res);
  }
  const m = /^\/v1\/modules\/([^/]+)$/.exec(path);
  if (m) {
    let name: string;
    try {
      name = decodeURIComponent(m[1]);
    } catch {
      throw new AdminError(400, 'EH_ADMIN_REQUEST', `${path}: the module name is not valid percent-encoding`);
    }
    if (method === 'GET') return modules.get(ctx, name, res);
    if (method === 'PUT') return modules.deploy(ctx, name, req, res);
    if (method === 'DELETE') return modules.remove(ctx, name, url, res);
    throw notAllowed(method, path, ['GET', 'PUT', 'DELETE']);
  }
  if (path === '/v1/run') {
    if (method !== 'POST') throw notAllowed(method, path, ['POST']);
    return run(ctx, req, res, signal);
  }
  throw new AdminError(
    404,
    'EH_ADMIN_REQUEST',
    `no endpoint ${path}; the endpoints are GET /v1/modules, GET|PUT|DELETE /v1/modules/{name}, POST /v1/run, GET /v1/bridges, GET /v1/events, GET /metrics, GET /healthz, GET /readyz, and the dashboard at GET /`,
  );
}
