// The admin API of a host the test started, through real HTTP (fetch), and
// the `edgehost` CLI as a user runs it (bin/edgehost.js in a child process).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { HostProcess } from './host-process.ts';
import { root } from './paths.ts';

export interface Answer<T = Record<string, unknown>> {
  status: number;
  json: T;
  headers: Headers;
}

export interface Admin {
  /** http://127.0.0.1:port */
  url: string;
  token: string;
  tokenFile: string;
  dataDir: string;
  /** A request with the token (or `token` instead: null sends none). */
  request<T = Record<string, unknown>>(
    method: string,
    path: string,
    opts?: { form?: FormData; token?: string | null; headers?: Record<string, string> },
  ): Promise<Answer<T>>;
  /** PUT /v1/modules/{name} with a component file and an entry. */
  deploy<T = Record<string, unknown>>(name: string, componentPath: string, entry: unknown): Promise<Answer<T>>;
  /** POST /v1/run with a component file, a request and optional stdin. */
  run<T = Record<string, unknown>>(componentPath: string, request?: unknown, stdin?: string): Promise<Answer<T>>;
}

/** A form part holding a file's bytes, named like the file. */
export function filePart(form: FormData, part: string, path: string): void {
  form.set(part, new Blob([readFileSync(path)]), basename(path));
}

/** Waits until the host has started (its admin API answers from then on) and returns a client for it. */
export async function adminOf(host: HostProcess): Promise<Admin> {
  await host.waitForLog((l) => l.msg === 'host started', 60_000, 'host started');
  const line = host.lines.find((l) => typeof l.address === 'string' && l.msg.startsWith('admin API listening'));
  if (!line) throw new Error('the host did not log where its admin API listens');
  const tokenFile = line.tokenFile as string;
  const token = readFileSync(tokenFile, 'utf8').trim();
  const url = `http://${line.address}`;
  const dataDir = host.args[host.args.indexOf('--data-dir') + 1];
  const request: Admin['request'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    const t = opts.token === undefined ? token : opts.token;
    if (t !== null) headers.authorization = `Bearer ${t}`;
    const res = await fetch(`${url}${path}`, { method, headers, body: opts.form });
    return { status: res.status, json: (await res.json()) as never, headers: res.headers };
  };
  return {
    url,
    token,
    tokenFile,
    dataDir,
    request,
    deploy(name, componentPath, entry) {
      const form = new FormData();
      filePart(form, 'component', componentPath);
      form.set('module', JSON.stringify(entry));
      return request('PUT', `/v1/modules/${name}`, { form });
    },
    run(componentPath, req, stdin) {
      const form = new FormData();
      filePart(form, 'component', componentPath);
      if (req !== undefined) form.set('request', JSON.stringify(req));
      if (stdin !== undefined) form.set('stdin', new Blob([stdin]), 'stdin.txt');
      return request('POST', '/v1/run', { form });
    },
  };
}

/** Runs `edgehost <args>` (bin/edgehost.js, as `npm exec -- edgehost` does) to its end. */
export function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'bin/edgehost.js'), ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** An entry of test/support/modules.ts without its component: what a deploy sends beside the bytes. */
export function entryOf(module: { component: string }): Record<string, unknown> {
  const { component: _, ...entry } = module;
  return entry;
}
