// What the server reports about itself through edgehost:platform/metrics, which
// the host exports as edgehost_guest_<name>{module="<this module>",...}. Traffic
// is counted as plain numbers on the data path (server.ts, session.ts); the
// report reads them and the server's state once a second (the check tick in
// index.ts) and calls the host only for what changed since: a dozen calls at
// most, whatever the traffic.
import { describeError, errorPayload } from '../../shared/errors.ts';
import type { LogLevel } from './core.ts';

/** Counts of the server's traffic since the instance started; arrays are by QoS. */
export interface Figures {
  /** Application messages taken from clients (wills included). */
  received: number[];
  /** PUBLISH packets sent to clients (a resend is not counted again). */
  sent: number[];
  /** Messages dropped from a full session queue (max-queued-messages). */
  dropped: number;
}

/** What the report reads: the Server, in tests a plain object. */
export interface ServerState {
  readonly figures: Figures;
  readonly clients: { readonly size: number };
  readonly sessions: { readonly size: number };
  readonly subscriptions: { readonly size: number };
  readonly retained: { readonly size: number; readonly byteSize: number };
}

/** The metrics interface's functions; they throw the host-error on `err`, as WIT imports do. */
export interface MetricsPlatform {
  counterAdd(name: string, labels: [string, string][], value: number): void;
  gaugeSet(name: string, labels: [string, string][], value: number): void;
  log(level: LogLevel, message: string): void;
}

type Labels = [string, string][];
const NONE: Labels = [];
const BY_QOS: Labels[] = [[['qos', '0']], [['qos', '1']], [['qos', '2']]];

/** The series the server reports (README, "Metrics"), as the guest names them. */
export const SERIES = [
  'mqtt_clients_connected',
  'mqtt_sessions',
  'mqtt_subscriptions',
  'mqtt_retained_messages',
  'mqtt_retained_bytes',
  'mqtt_messages_received_total',
  'mqtt_messages_sent_total',
  'mqtt_messages_dropped_total',
] as const;

export class MetricsReport {
  readonly #platform: MetricsPlatform;
  /** The last value reported of each series, by name and QoS: the next report sends what changed. */
  readonly #reported = new Map<string, number>();
  /** Series the host refused (a bug or a grant too small): logged once, not tried again. */
  readonly #refused = new Set<string>();
  /** Not granted (`denied`): the host logged it; nothing more is reported by this instance. */
  #off = false;

  constructor(platform: MetricsPlatform) {
    this.#platform = platform;
  }

  /** Reports what changed since the last report; every series the first time, zeros included. */
  report(s: ServerState): void {
    if (this.#off) return;
    this.#gauge('mqtt_clients_connected', s.clients.size);
    this.#gauge('mqtt_sessions', s.sessions.size);
    this.#gauge('mqtt_subscriptions', s.subscriptions.size);
    this.#gauge('mqtt_retained_messages', s.retained.size);
    this.#gauge('mqtt_retained_bytes', s.retained.byteSize);
    for (let qos = 0; qos < 3; qos++) {
      this.#counter('mqtt_messages_received_total', qos, s.figures.received[qos]);
      this.#counter('mqtt_messages_sent_total', qos, s.figures.sent[qos]);
    }
    this.#counter('mqtt_messages_dropped_total', -1, s.figures.dropped);
  }

  #gauge(name: string, value: number): void {
    if (this.#reported.get(name) === value) return;
    if (this.#call(name, () => this.#platform.gaugeSet(name, NONE, value))) this.#reported.set(name, value);
  }

  /** `qos` -1: a counter without the qos label. */
  #counter(name: string, qos: number, total: number): void {
    const key = qos < 0 ? name : `${name}/${qos}`;
    const last = this.#reported.get(key);
    if (last === total) return;
    const delta = total - (last ?? 0);
    if (this.#call(key, () => this.#platform.counterAdd(name, qos < 0 ? NONE : BY_QOS[qos], delta))) this.#reported.set(key, total);
  }

  /** Whether the host took it. */
  #call(key: string, fn: () => void): boolean {
    if (this.#off || this.#refused.has(key)) return false;
    try {
      fn();
      return true;
    } catch (e) {
      if (errorPayload(e)?.tag === 'denied') {
        this.#off = true;
        return false;
      }
      this.#refused.add(key);
      this.#platform.log('warn', `metrics: ${key} not reported: ${describeError(e)}`);
      return false;
    }
  }
}
