// GET /v1/events: the dashboard's live feed, as Server-Sent Events. The host
// pushes; the page does not poll:
//
//   event: modules   {"t": <ms>, "modules": [ GET /v1/modules' entries + published, denied ]}
//                    once a second while a stream is open, and at once when a module changes state
//   event: log       one log line as the host wrote it (JSON): the kept tail first, then each new line
//
// Every stream is something a client makes the host hold, so each has a budget:
// at most MAX_EVENT_STREAMS at once (more get 429 EH_ADMIN_BUSY), and at most
// STREAM_BUFFER_BYTES written and not yet taken by the client; a client that
// falls that far behind is cut off (EH_ADMIN_SLOW_CLIENT) rather than buffered
// for. The snapshot is made once per tick for all streams, and only while one
// is open.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { throttledLog } from '../log-throttle.ts';
import type { ModuleRuntime } from '../runtime/module-runtime.ts';
import type { AdminContext } from './context.ts';
import { AdminError } from './http.ts';
import type { LogTail } from './log-tail.ts';
import { describe } from './modules.ts';

export const MAX_EVENT_STREAMS = 8;
/** What a stream may have written and not yet sent; past it the client is cut off. Holds the whole log tail (log-tail.ts) with room to spare. */
export const STREAM_BUFFER_BYTES = 1024 * 1024;
export const SNAPSHOT_INTERVAL_MS = 1000;
/** A comment line this often, so a peer that vanished is noticed and proxies keep the stream open. */
export const HEARTBEAT_MS = 15_000;
/** Log events collected in one turn are written together, up to this much at a time. */
const FLUSH_BYTES = 64 * 1024;

interface Stream {
  res: ServerResponse;
  address: string;
}

export class EventHub {
  readonly #ctx: AdminContext;
  readonly #tail: LogTail | undefined;
  readonly #streams = new Set<Stream>();
  readonly #watched = new WeakSet<ModuleRuntime>();
  #snapshotTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #stopListening: (() => void) | undefined;
  /** Log events waiting for the end of this turn: lines logged together leave in one write. */
  #pendingLog = '';
  #snapshotSoon = false;
  readonly #warnSlow: (address: string, buffered: number) => void;

  constructor(ctx: AdminContext, tail: LogTail | undefined) {
    this.#ctx = ctx;
    this.#tail = tail;
    let last = { address: '', buffered: 0 };
    const warn = throttledLog(10_000, (suppressed) =>
      ctx.logger.warn(
        { code: 'EH_ADMIN_SLOW_CLIENT', client: last.address, bufferedBytes: last.buffered, cutSinceLastWarning: suppressed },
        `admin API: cut an event stream to ${last.address}: it had ${last.buffered} bytes it had not read (the limit is ${STREAM_BUFFER_BYTES}); the dashboard reconnects`,
      ),
    );
    this.#warnSlow = (address, buffered) => {
      last = { address, buffered };
      warn();
    };
  }

  /** Answers GET /v1/events: the stream stays open until the client or the host ends it. */
  open(req: IncomingMessage, res: ServerResponse): void {
    if (this.#streams.size >= MAX_EVENT_STREAMS) {
      throw new AdminError(
        429,
        'EH_ADMIN_BUSY',
        `${MAX_EVENT_STREAMS} event streams are open already, the most the host keeps; close a dashboard tab, or retry later`,
        { 'retry-after': '5' },
      );
    }
    const stream: Stream = { res, address: `${req.socket.remoteAddress}:${req.socket.remotePort}` };
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      // A reverse proxy in front must pass events on as they come.
      'x-accel-buffering': 'no',
    });
    this.#streams.add(stream);
    res.on('close', () => this.#drop(stream));
    const backlog = (this.#tail?.lines() ?? []).map(logEvent).join('');
    this.#write(stream, `: edgehost events\n\n${this.#snapshotEvent()}${backlog}`);
    this.#startTimers();
  }

  /** Ends every stream (the host is stopping). */
  close(): void {
    for (const s of this.#streams) s.res.end();
    this.#streams.clear();
    this.#stopTimers();
  }

  get streams(): number {
    return this.#streams.size;
  }

  #startTimers() {
    if (this.#snapshotTimer) return;
    this.#snapshotTimer = setInterval(() => this.#broadcast(this.#snapshotEvent()), SNAPSHOT_INTERVAL_MS);
    this.#heartbeatTimer = setInterval(() => this.#broadcast(': keepalive\n\n'), HEARTBEAT_MS);
    this.#snapshotTimer.unref();
    this.#heartbeatTimer.unref();
    this.#stopListening = this.#tail?.listen((line) => {
      if (this.#pendingLog === '') setImmediate(() => this.#flushLog());
      this.#pendingLog += logEvent(line);
      // A burst within one turn is bounded too: past a chunk it goes out (or cuts who cannot take it) now.
      if (this.#pendingLog.length >= FLUSH_BYTES) this.#flushLog();
    });
  }

  #stopTimers() {
    clearInterval(this.#snapshotTimer);
    clearInterval(this.#heartbeatTimer);
    this.#snapshotTimer = undefined;
    this.#heartbeatTimer = undefined;
    this.#stopListening?.();
    this.#stopListening = undefined;
    this.#pendingLog = '';
  }

  #flushLog() {
    const text = this.#pendingLog;
    this.#pendingLog = '';
    if (text) this.#broadcast(text);
  }

  #drop(stream: Stream) {
    if (!this.#streams.delete(stream)) return;
    if (this.#streams.size === 0) this.#stopTimers();
  }

  #broadcast(text: string) {
    for (const s of this.#streams) this.#write(s, text);
  }

  #write(stream: Stream, text: string) {
    const { res } = stream;
    if (res.destroyed) return this.#drop(stream);
    res.write(text);
    if (res.writableLength > STREAM_BUFFER_BYTES) {
      this.#warnSlow(stream.address, res.writableLength);
      this.#drop(stream);
      res.destroy();
    }
  }

  /** A `modules` event; also starts watching modules that appeared since the last one, so their state changes are pushed at once. */
  #snapshotEvent(): string {
    const { host } = this.#ctx;
    const runtimes = [...host.modules.values()].sort((a, b) => a.name.localeCompare(b.name));
    for (const m of runtimes) {
      if (this.#watched.has(m)) continue;
      this.#watched.add(m);
      m.on('state', () => this.#stateChanged());
    }
    const modules = runtimes.map((m) => ({
      ...describe(this.#ctx, m),
      published: host.bus.publishedBy(m.name),
      denied: Object.values(m.workerMetrics().denied).reduce((a, b) => a + b, 0),
    }));
    return `event: modules\ndata: ${JSON.stringify({ t: Date.now(), modules })}\n\n`;
  }

  #stateChanged() {
    if (this.#streams.size === 0 || this.#snapshotSoon) return;
    this.#snapshotSoon = true;
    // States often change twice in one turn (stopped, then restarting): one event for both.
    setImmediate(() => {
      this.#snapshotSoon = false;
      if (this.#streams.size > 0) this.#broadcast(this.#snapshotEvent());
    });
  }
}

/** pino escapes newlines inside a line, so a line is one `data:` field. */
const logEvent = (line: string) => `event: log\ndata: ${line}\n\n`;
