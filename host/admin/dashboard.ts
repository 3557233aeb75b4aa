// The dashboard's files: GET / (the page) and GET /dashboard/<file> (its
// script, its style, and uPlot from node_modules). They are served without the
// token: they hold no data; the page asks for the token and sends it with every
// API call. Read once at start (about 80 KB), so serving them costs no disk.
// Nothing comes from a CDN: the page works on a host with no internet access.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { AdminError } from './http.ts';

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

// The page loads only what the host serves; no inline script (so an injected
// one would not run), no framing (clickjacking of the remove buttons).
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const own = join(import.meta.dirname, 'dashboard');
const uplot = dirname(createRequire(import.meta.url).resolve('uplot'));

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: join(own, 'index.html'), type: 'text/html; charset=utf-8' },
  '/dashboard/dashboard.js': { file: join(own, 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard/dashboard.css': { file: join(own, 'dashboard.css'), type: 'text/css; charset=utf-8' },
  '/dashboard/uPlot.iife.min.js': { file: join(uplot, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard/uPlot.min.css': { file: join(uplot, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

let assets: Map<string, Asset> | undefined;

function load(): Map<string, Asset> {
  assets ??= new Map(
    Object.entries(FILES).map(([path, { file, type }]) => {
      const body = readFileSync(file);
      return [path, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` }];
    }),
  );
  return assets;
}

/** Reads the files now, so a missing one (uplot not installed) stops the host at start rather than at the first visit. */
export function loadDashboard(): void {
  load();
}

/** Whether `path` is one of the dashboard's files. */
export function isDashboardPath(path: string): boolean {
  return Object.hasOwn(FILES, path);
}

export function serveDashboard(method: string, path: string, req: IncomingMessage, res: ServerResponse): void {
  if (method !== 'GET' && method !== 'HEAD') {
    throw new AdminError(405, 'EH_ADMIN_REQUEST', `${method} is not allowed on ${path}; use GET`, { allow: 'GET, HEAD' });
  }
  const asset = load().get(path)!;
  const headers: Record<string, string> = {
    'content-type': asset.type,
    etag: asset.etag,
    // Revalidated each load (a cheap 304), so a host upgrade is seen at once.
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    ...(path === '/' ? { 'content-security-policy': CSP } : {}),
  };
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, headers).end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': String(asset.body.length) });
  res.end(method === 'HEAD' ? undefined : asset.body);
}
