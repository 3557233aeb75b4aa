// One end of the main/worker boundary: queues outgoing messages and sends them
// as one postMessage per turn of the event loop (crossing a thread costs more
// than most messages' own work), keeps requests waiting for their replies, and
// routes capability ops to their handlers. Both sides use it.
import type { Channel, Op, Packer } from '../capabilities/capability.ts';
import type { Message } from './protocol.ts';

interface Port {
  postMessage(value: unknown, transfer?: readonly Transferable[]): void;
}

type Wire = { t: 'request'; id: number; cap: string; op: string; args: unknown } | { t: 'notify'; cap: string; op: string; args: unknown };

/** Handlers of one capability's incoming ops. */
export type OpTable = Record<string, (args: unknown) => unknown>;

export class Link<Out> {
  readonly #port: Port;
  readonly #trace: ((direction: 'out' | 'in', message: unknown) => void) | undefined;
  #queue: unknown[] = [];
  #transfer: Transferable[] = [];
  #scheduled = false;
  #closed: Error | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly #ops = new Map<string, OpTable>();
  /** Appended notifies queued this turn, with what packs each one's list. */
  readonly #packers = new Map<Wire, Packer<unknown, unknown>>();

  constructor(port: Port, trace?: (direction: 'out' | 'in', message: unknown) => void) {
    this.#port = port;
    this.#trace = trace;
  }

  /** Requests sent and not answered yet. */
  get pendingRequests(): number {
    return this.#pending.size;
  }

  /** Queues a message; it leaves with the rest of this turn's. */
  send(message: Message<Out>, transfer?: readonly Transferable[]): void {
    if (this.#closed) return;
    this.#queue.push(message);
    if (transfer) for (const t of transfer) this.#transfer.push(t);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Sends what is queued now (the worker calls this when a guest call ends, so its output leaves with it). */
  flush(): void {
    this.#scheduled = false;
    if (this.#queue.length === 0) return;
    const batch = this.#queue;
    const transfer = this.#transfer;
    this.#queue = [];
    this.#transfer = [];
    for (const [message, pack] of this.#packers) {
      const packed = pack(message.args as unknown[]);
      message.args = packed.args;
      for (const t of packed.transfer) transfer.push(t);
    }
    this.#packers.clear();
    if (this.#trace) for (const m of batch) this.#trace('out', m);
    this.#port.postMessage(batch, transfer);
  }

  /** The typed channel of one capability, as its half sees it. */
  channel<T extends Record<string, Op<unknown, unknown>>>(cap: string): Channel<T> {
    return {
      request: (op, args, transfer) => this.request(cap, op, args, transfer) as Promise<never>,
      notify: (op, args, transfer) => this.send({ t: 'notify', cap, op, args } as unknown as Message<Out>, transfer),
      append: (op, item, pack) => this.append(cap, op, item, pack as Packer<unknown, unknown>),
    };
  }

  /**
   * Adds `item` to the list of the last queued message when that is a notify
   * of the same op (many small publishes then cross as one op), else queues a
   * notify of `[item]`: the order of everything sent stays as it was. `pack`
   * turns the list into the op's args when the turn's messages leave.
   */
  append(cap: string, op: string, item: unknown, pack: Packer<unknown, unknown>): void {
    if (this.#closed) return;
    const last = this.#queue[this.#queue.length - 1] as Wire | undefined;
    if (last !== undefined && last.t === 'notify' && last.cap === cap && last.op === op && this.#packers.has(last)) {
      (last.args as unknown[]).push(item);
      return;
    }
    const message = { t: 'notify', cap, op, args: [item] } as const;
    this.#packers.set(message, pack);
    this.send(message as unknown as Message<Out>);
  }

  request(cap: string, op: string, args: unknown, transfer?: readonly Transferable[]): Promise<unknown> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.send({ t: 'request', id, cap, op, args } as unknown as Message<Out>, transfer);
    });
  }

  /** Registers the handlers of a capability's incoming ops. */
  handle(cap: string, table: OpTable): void {
    this.#ops.set(cap, table);
  }

  /** An incoming request or notify: runs its handler; a request is answered through `reply`. */
  receive(message: Wire, reply: (id: number, value: unknown, error: string | undefined) => void): void {
    if (this.#trace) this.#trace('in', message);
    const handler = this.#ops.get(message.cap)?.[message.op];
    if (!handler) {
      const error = `no handler for ${message.cap}.${message.op}`;
      if (message.t === 'request') reply(message.id, undefined, error);
      return;
    }
    if (message.t === 'notify') {
      // A notify has nobody to tell about a failure: its handler must not throw.
      handler(message.args);
      return;
    }
    let result: unknown;
    try {
      result = handler(message.args);
    } catch (e) {
      reply(message.id, undefined, errorText(e));
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (value) => reply(message.id, value, undefined),
        (e: unknown) => reply(message.id, undefined, errorText(e)),
      );
    } else {
      reply(message.id, result, undefined);
    }
  }

  /** An incoming reply settles the request it answers. */
  settle(id: number, value: unknown, error: string | undefined): void {
    if (this.#trace) this.#trace('in', { t: 'reply', id, error });
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    if (error === undefined) pending.resolve(value);
    else pending.reject(new Error(error));
  }

  /** The other side is gone: pending requests fail with `error`, and nothing more is sent. */
  close(error: Error): void {
    if (this.#closed) return;
    this.#closed = error;
    this.#queue = [];
    this.#transfer = [];
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
  }
}

/** Guest-supplied error text is cut here: it is logged, and travels into dead-letter logs. */
export const MAX_ERROR_TEXT = 1024;

/** The text of an error (a guest's `err` payload, or an exception), at most MAX_ERROR_TEXT characters. */
export function errorText(e: unknown): string {
  const text = e && typeof e === 'object' && 'payload' in e ? String((e as { payload: unknown }).payload) : e instanceof Error ? e.message : String(e);
  return text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT)}... (${text.length - MAX_ERROR_TEXT} more characters)` : text;
}
