// 50 MB request and response bodies stream through a module (the hello guest's /echo and
// /bytes, built by jco with QuickJS) while the host's resident memory stays where it was: the
// host holds a window of each body (1 MiB), never the body. Measured from outside, as the
// kernel sees the host process (all its threads: main thread and the module's worker).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { test } from 'node:test';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { generatedBody } from '../support/http-client.ts';
import { httpGuest } from '../support/modules.ts';
import { freePort } from '../support/ports.ts';

const MB = 1024 * 1024;
const SIZE = 50 * MB;
/**
 * Growth past which the host would be holding most of a body (one body alone is 50 MB). The
 * heaps' own growth while two test files run at once reached 24 MB once; a held body is 50.
 */
const BOUND = 32 * MB;

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;

/** Sends `size` bytes (or none) and hashes what comes back, as it comes. */
function exchange(address: string, method: string, path: string, size: number): Promise<{ status: number; received: number; sent: string; got: string }> {
  const [host, port] = address.split(':');
  const sent = createHash('sha256');
  const got = createHash('sha256');
  let received = 0;
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port: Number(port), method, path, agent: false }, (res) => {
      res.on('data', (c: Buffer) => {
        received += c.length;
        got.update(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, received, sent: sent.digest('hex'), got: got.digest('hex') }));
    });
    req.on('error', reject);
    if (size === 0) return void req.end();
    const body = generatedBody(size);
    body.on('data', (c: Buffer) => sent.update(c));
    body.pipe(req);
  });
}

test('50 MB request and response bodies stream through without the host holding them: its RSS stays within a bound', async () => {
  const address = `127.0.0.1:${await freePort()}`;
  const config = writeConfig({ modules: { echo: httpGuest(address, { build: 'hello.qjs', limits: { callDeadlineMs: 30_000 } }) } });
  const host = new HostProcess(['--config', config]);
  try {
    await host.ready(['echo']);
    const pid = host.child.pid as number;
    // Warm up: the first large transfer sizes the heaps (V8's, the guest's) for what every later
    // one reuses. Then the same again, measured.
    await exchange(address, 'POST', '/echo', SIZE);
    const before = rssOf(pid);
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssOf(pid));
    }, 20);
    try {
      const echoed = await exchange(address, 'POST', '/echo', SIZE);
      assert.equal(echoed.status, 200);
      assert.equal(echoed.received, SIZE);
      assert.equal(echoed.got, echoed.sent, 'the echo is the body sent');
      const download = await exchange(address, 'GET', `/bytes?n=${SIZE}`, 0);
      assert.deepEqual([download.status, download.received], [200, SIZE]);
    } finally {
      clearInterval(sampler);
    }
    const growth = peak - before;
    assert.ok(growth < BOUND, `the host's RSS grew by ${Math.round(growth / MB)} MB during 150 MB of bodies after the first 100 MB (bound ${BOUND / MB} MB)`);
  } finally {
    await host.stop();
  }
});
