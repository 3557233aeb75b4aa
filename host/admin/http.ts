// What every admin endpoint shares: JSON answers, errors as
// `{ "code": "EH_...", "message": ... }` with an HTTP status chosen by code,
// and bodies read under a byte limit (the socket is one strangers can reach).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ErrorCode, HostError } from '../errors.ts';

/** Largest JSON part (a module entry, a run request). */
export const MAX_JSON_BYTES = 1024 * 1024;

/** A HostError with the HTTP status to answer it with. */
export class AdminError extends HostError {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, code: ErrorCode, message: string, headers: Record<string, string> = {}) {
    super(code, message);
    this.status = status;
    this.headers = headers;
  }
}

/** The status of an error the host reported: refused input is 422, a conflict 409, and so on. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  EH_ADMIN_UNAUTHORIZED: 401,
  EH_ADMIN_REQUEST: 400,
  EH_ADMIN_TOO_LARGE: 413,
  EH_CONFIG_INVALID: 422,
  EH_WORLD_MISMATCH: 422,
  EH_COMPONENT_INVALID: 422,
  EH_COMPONENT_NOT_FOUND: 422,
  EH_IMPORT_NOT_GRANTED: 422,
  EH_GUEST_TYPE: 422,
  EH_DEPLOY_FAILED: 422,
  EH_RUN_INVALID: 422,
  EH_MODULE_NOT_FOUND: 404,
  EH_MODULE_EXISTS: 409,
  EH_MODULE_BUSY: 409,
  EH_RUN_BUSY: 429,
  EH_ADMIN_BUSY: 429,
  EH_HOST_STOPPING: 503,
  EH_HOST_STARTING: 503,
};

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

/**
 * Answers an error; anything that is not a HostError is a 500 whose details
 * stay in the log. A body the request still carries is read and dropped by
 * node:http after the answer (so a client still uploading sees the answer,
 * not a reset), except after a 413, which closes the connection.
 */
export function sendError(res: ServerResponse, e: unknown): { status: number; code: string } {
  if (e instanceof HostError) {
    const status = e instanceof AdminError ? e.status : (STATUS[e.code] ?? 500);
    sendJson(res, status, { code: e.code, message: e.message }, e instanceof AdminError ? e.headers : {});
    return { status, code: e.code };
  }
  sendJson(res, 500, { code: 'EH_ADMIN_INTERNAL', message: 'internal error; the host log has the details' });
  return { status: 500, code: 'EH_ADMIN_INTERNAL' };
}

/** The request body, refused past `maxBytes` (from Content-Length at once, else as it arrives). */
export async function readBody(req: IncomingMessage, maxBytes: number, what: string): Promise<Buffer> {
  const tooLarge = () =>
    new AdminError(
      413,
      'EH_ADMIN_TOO_LARGE',
      `${what} is larger than the limit of ${maxBytes} bytes${what.includes('component') ? ' (admin.maxUploadMb)' : ''}`,
      {
        connection: 'close',
      },
    );
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** A parsed multipart/form-data body: parts by name. */
export class Form {
  readonly #data: FormData;
  constructor(data: FormData) {
    this.#data = data;
  }

  has(name: string): boolean {
    return this.#data.has(name);
  }

  /** A part's bytes (a file or a plain field), or undefined when it is absent. */
  async bytes(name: string): Promise<Uint8Array | undefined> {
    const v = this.#data.get(name);
    if (v === null) return undefined;
    return typeof v === 'string' ? new TextEncoder().encode(v) : new Uint8Array(await v.arrayBuffer());
  }

  /** A part parsed as JSON, or undefined when it is absent. */
  async json(name: string): Promise<unknown> {
    const bytes = await this.bytes(name);
    if (bytes === undefined) return undefined;
    if (bytes.length > MAX_JSON_BYTES) throw new AdminError(413, 'EH_ADMIN_TOO_LARGE', `part "${name}" is larger than ${MAX_JSON_BYTES} bytes`);
    try {
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      throw new AdminError(400, 'EH_ADMIN_REQUEST', `part "${name}" is not valid JSON: ${(e as Error).message}`);
    }
  }

  /** The file name a part was sent with (curl -F part=@file), if any. */
  fileName(name: string): string | undefined {
    const v = this.#data.get(name);
    return v !== null && typeof v !== 'string' && v.name ? v.name : undefined;
  }

  names(): string[] {
    return [...new Set(this.#data.keys())];
  }
}

/** Reads a multipart/form-data body of at most `maxBytes`; `example` is the curl command shown when the format is wrong. */
export async function readForm(req: IncomingMessage, maxBytes: number, example: string): Promise<Form> {
  const type = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data\s*;/i.test(type)) {
    throw new AdminError(400, 'EH_ADMIN_REQUEST', `expected a multipart/form-data body (got ${type ? `"${type}"` : 'no content type'}), e.g. ${example}`);
  }
  const body = await readBody(req, maxBytes, 'the request (with its component)');
  try {
    return new Form(await new Response(body as unknown as BodyInit, { headers: { 'content-type': type } }).formData());
  } catch (e) {
    throw new AdminError(400, 'EH_ADMIN_REQUEST', `the multipart/form-data body cannot be parsed: ${(e as Error).message}`);
  }
}

/** Checks that a form has only the named parts: a misspelt part would otherwise be ignored. */
export function onlyParts(form: Form, allowed: string[]): void {
  const unknown = form.names().filter((n) => !allowed.includes(n));
  if (unknown.length > 0) {
    throw new AdminError(
      400,
      'EH_ADMIN_REQUEST',
      `unknown part${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `"${n}"`).join(', ')}; the parts are ${allowed.join(', ')}`,
    );
  }
}
