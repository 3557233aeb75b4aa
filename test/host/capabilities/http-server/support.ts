// Both halves of the http-server capability wired together in this process, as the host wires
// them across a worker: ops cross in order, one turn of the event loop later (as postMessage
// would), and the "guest" is an async JavaScript function given the wasi:http imports the worker
// half built. Without JSPI a blocking call returns a promise, which the guest awaits.
import type { OpHandlers, ServiceBinding } from '../../../../host/capabilities/capability.ts';
import type { HttpGrant, HttpOps } from '../../../../host/capabilities/http-server/index.ts';
import { bind } from '../../../../host/capabilities/http-server/service.ts';
import { create } from '../../../../host/capabilities/http-server/worker.ts';
import { moduleLimits } from '../../../../host/config/schema.ts';
import { fakeService, fakeWorkerContext } from '../../../support/capability-fakes.ts';

/** The imports a worker half builds, as the tests' guests use them. */
// biome-ignore lint/suspicious/noExplicitAny: the guest is plain JavaScript over jco-shaped objects.
export type Imports = Record<string, Record<string, any>>;
// biome-ignore lint/suspicious/noExplicitAny: as above.
export type Guest = (imports: Imports, request: any, responseOut: any) => Promise<void>;

export interface Traffic {
  /** Body bytes the service sent the worker and the guest has not read yet (credit not returned), at most ever. */
  maxToWorker: number;
  /** Body bytes the worker sent and the service has not acknowledged yet, at most ever. */
  maxFromWorker: number;
  /** Ops as they crossed, for asserting order: `svc>chunk`, `wk>credit`... */
  ops: string[];
}

export function wire(opts: { name?: string; grant?: Partial<HttpGrant>; limits?: Record<string, number>; shared?: Map<string, unknown>; guest: Guest }) {
  const name = opts.name ?? 'web';
  const grant: HttpGrant = { listen: [], routes: [], allowedHosts: [], ...opts.grant };
  const limits = moduleLimits.parse(opts.limits ?? {}) as Record<string, number>;
  const traffic: Traffic = { maxToWorker: 0, maxFromWorker: 0, ops: [] };
  let toWorker = 0;
  let fromWorker = 0;
  let binding: ServiceBinding<HttpOps> | undefined;
  let workerHandlers: OpHandlers<HttpOps['toWorker']> | undefined;
  let imports: Imports = {};

  /** One turn later, in order: as messages cross a thread. */
  const cross = <T>(fn: () => T | Promise<T>) => new Promise<T>((resolve, reject) => setImmediate(() => Promise.resolve().then(fn).then(resolve, reject)));

  const toWorkerOp = (op: keyof HttpOps['toWorker'], args: unknown) => {
    traffic.ops.push(`svc>${op}`);
    if (op === 'chunk') {
      const c = args as { stream: string; data?: Uint8Array };
      if (c.stream.startsWith('req:') || c.stream.startsWith('ores:')) toWorker += c.data?.length ?? 0;
      traffic.maxToWorker = Math.max(traffic.maxToWorker, toWorker);
    }
    if (op === 'ack') fromWorker -= (args as { bytes: number }).bytes;
    // The reply crosses back behind what the worker sent meanwhile, as on the real link.
    return cross(() => (workerHandlers as Record<string, (a: unknown) => unknown>)[op](args)).then(
      (v) => cross(() => v),
      (e) => cross(() => Promise.reject(e)),
    );
  };
  const toServiceOp = (op: keyof HttpOps['toService'], args: unknown) => {
    traffic.ops.push(`wk>${op}`);
    if (op === 'credit') toWorker -= (args as { bytes: number }).bytes;
    if (op === 'chunk') {
      const c = args as { stream: string; data?: Uint8Array };
      if (c.stream.startsWith('res:') || c.stream.startsWith('oreq:')) fromWorker += c.data?.length ?? 0;
      traffic.maxFromWorker = Math.max(traffic.maxFromWorker, fromWorker);
    }
    return cross(() => {
      if (!binding) throw new Error('no service: its bind failed');
      return (binding.handlers as Record<string, (a: unknown) => unknown>)[op](args);
    }).then(
      (v) => cross(() => v),
      (e) => cross(() => Promise.reject(e)),
    );
  };

  const service = fakeService<HttpOps>(name, {
    shared: opts.shared,
    limits: opts.limits,
    toWorker: Object.fromEntries(['handle', 'chunk', 'ack', 'expire'].map((op) => [op, (args: unknown) => toWorkerOp(op as keyof HttpOps['toWorker'], args)])),
  });
  const worker = fakeWorkerContext<HttpOps>(name, {
    limits,
    service: {
      request: (op, args) => toServiceOp(op, args) as Promise<never>,
      notify: (op, args) => void toServiceOp(op, args).catch(() => {}),
      append: () => {},
    },
    callGuest: (_iface, _fn, args) => opts.guest(imports, args[0], args[1]),
  });
  imports = create(worker.ctx, grant) as Imports;
  workerHandlers = worker.handlers();
  // A bind that throws (a route conflict) leaves the start waiting on nobody: not an unhandled rejection.
  for (const work of worker.startup) work.catch(() => {});
  binding = bind(service.host, service.module, grant);
  return { binding, imports, traffic, service, worker, startup: worker.startup };
}

/** What a guest writes: bytes from text. */
export const bytes = (text: string) => new TextEncoder().encode(text);

/** Sets a response with `headers` and writes `write(stream)` to its body, as a guest would. */
export async function respond(
  imports: Imports,
  out: unknown,
  status: number,
  write: (stream: { blockingWriteAndFlush(b: Uint8Array): unknown; checkWrite(): unknown }) => Promise<void> | void,
  headers: [string, string][] = [],
): Promise<void> {
  const t = imports['wasi:http/types'];
  const response = new t.OutgoingResponse(t.Fields.fromList(headers.map(([n, v]) => [n, bytes(v)])));
  response.setStatusCode(status);
  const body = response.body().val;
  t.ResponseOutparam.set(out, { tag: 'ok', val: response });
  const stream = body.write().val;
  await write(stream);
  t.OutgoingBody.finish(body, undefined);
}

/** Reads a guest's body stream to its end, handing each chunk to `each`. */
export async function readAll(stream: { blockingRead(n: bigint): unknown }, each: (chunk: Uint8Array) => Promise<void> | void = () => {}): Promise<number> {
  let total = 0;
  for (;;) {
    const r = (await stream.blockingRead(65536n)) as Uint8Array | { tag: 'err'; val: { tag: string; val?: { message: string } } };
    if (!(r instanceof Uint8Array)) {
      if (r.val.tag === 'closed') return total;
      throw new Error(`read failed: ${r.val.val?.message ?? r.val.tag}`);
    }
    total += r.length;
    await each(r);
  }
}
