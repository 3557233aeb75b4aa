// A plain HTTP client for tests (node:http): unlike fetch, it may set the Host header, send a
// body as a stream, and see a response the server gives before it has read the whole request.
import http from 'node:http';
import { Readable } from 'node:stream';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function httpRequest(
  address: string,
  opts: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders; body?: string | Buffer | Readable } = {},
): Promise<Reply> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port: Number(port), method: opts.method ?? 'GET', path: opts.path ?? '/', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body instanceof Readable) opts.body.pipe(req);
    else req.end(opts.body);
  });
}

/** `n` bytes of a fixed pattern, made as they are read (never held whole). */
export function generatedBody(n: number, chunk = 64 * 1024): Readable {
  let left = n;
  const block = Buffer.alloc(chunk, 'edgehost');
  return new Readable({
    read() {
      if (left <= 0) return void this.push(null);
      const size = Math.min(chunk, left);
      left -= size;
      this.push(block.subarray(0, size));
    },
  });
}

/** Resolves with `check()`'s value once it is truthy, checking every 50 ms (a condition outside the test's reach, e.g. a page's content); rejects after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
