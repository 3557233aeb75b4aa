// The host's Prometheus metrics (prom-client). Almost everything is read from
// state the host keeps anyway, when Prometheus scrapes (CollectedMetric): the
// bus's queues, the runtimes' states and restarts, what each module's worker
// counted about itself (sent to the main thread at most once a second). Only
// what happens on the main thread and is not kept elsewhere is counted as it
// happens: outbound HTTP requests, socket bytes, durable commits.
import client from 'prom-client';
import type { Bus } from '../bus/bus.ts';
import type { ModuleRuntime } from '../runtime/module-runtime.ts';
import { CollectedMetric, histogramSamples, type Sample } from './collected.ts';
import type { MetricsRecorder } from './recorder.ts';

export interface MetricsSource {
  modules(): ModuleRuntime[];
  bus: Bus;
}

/** prom-client renders any object shaped like its metrics; its typings know only its own classes. */
const register = (r: client.Registry, m: CollectedMetric) => r.registerMetric(m as unknown as client.Metric);

const STATES = ['loading', 'starting', 'ready', 'restarting', 'sleeping', 'draining', 'stopped', 'failed'] as const;

export class HostMetrics implements MetricsRecorder {
  readonly registry = new client.Registry();
  readonly #http: client.Counter<'module' | 'status_class'>;
  readonly #httpSeconds: client.Histogram<'module'>;
  readonly #socketBytes: client.Counter<'module' | 'direction'>;
  readonly #commits: client.Histogram;
  readonly #source: MetricsSource;
  readonly #guestFamilies = new Map<string, { type: string; labelNames: string }>();

  constructor(source: MetricsSource) {
    this.#source = source;
    const r = this.registry;
    client.collectDefaultMetrics({ register: r });
    this.#http = new client.Counter({
      name: 'edgehost_http_requests_total',
      help: 'Outbound HTTP requests by module and status class',
      labelNames: ['module', 'status_class'],
      registers: [r],
    });
    this.#httpSeconds = new client.Histogram({
      name: 'edgehost_http_request_duration_seconds',
      help: 'Outbound HTTP request duration, redirects included',
      labelNames: ['module'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
      registers: [r],
    });
    this.#socketBytes = new client.Counter({
      name: 'edgehost_socket_bytes_total',
      help: 'Bytes received from and sent to socket peers',
      labelNames: ['module', 'direction'],
      registers: [r],
    });
    this.#commits = new client.Histogram({
      name: 'edgehost_durable_commit_duration_seconds',
      help: 'Commits of the durable queues (SQLite) and how long they took',
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1],
      registers: [r],
    });

    const perModule = (name: string, help: string, type: 'counter' | 'gauge', value: (m: ModuleRuntime) => number | undefined) =>
      register(
        r,
        new CollectedMetric(name, help, type, () =>
          source.modules().flatMap((m) => {
            const v = value(m);
            return v === undefined ? [] : [{ labels: { module: m.name }, value: v }];
          }),
        ),
      );
    const keyed = (name: string, help: string, label: string, pick: (m: ModuleRuntime) => Record<string, number>) =>
      register(
        r,
        new CollectedMetric(name, help, 'counter', () =>
          source.modules().flatMap((m) => Object.entries(pick(m)).map(([key, value]) => ({ labels: { module: m.name, [label]: key }, value }))),
        ),
      );
    const queue = (m: ModuleRuntime) => source.bus.subscriber(m.name);

    register(
      r,
      new CollectedMetric('edgehost_module_state', 'The state of each module (1 for its current state)', 'gauge', () =>
        source.modules().flatMap((m) => STATES.map((state) => ({ labels: { module: m.name, state }, value: m.state === state ? 1 : 0 }))),
      ),
    );
    perModule('edgehost_module_restarts_total', 'Restarts of the module after a crash', 'counter', (m) => m.restarts);
    perModule('edgehost_module_wakes_total', 'Times the module woke from idle sleep', 'counter', (m) => m.wakes);
    perModule('edgehost_module_memory_bytes', "The module's linear memory (0 while it has no instance)", 'gauge', (m) => m.workerMetrics().memoryBytes);
    register(
      r,
      new CollectedMetric('edgehost_module_host_held_bytes', 'Bytes the host holds for the module outside it, by what holds them', 'gauge', () =>
        source.modules().flatMap((m) => Object.entries(m.held()).map(([kind, value]) => ({ labels: { module: m.name, kind }, value }))),
      ),
    );
    register(
      r,
      new CollectedMetric('edgehost_guest_call_duration_seconds', 'Calls into the guest and how long they took, by WIT function', 'histogram', () =>
        source
          .modules()
          .flatMap((m) =>
            Object.entries(m.workerMetrics().calls).flatMap(([fn, h]) =>
              histogramSamples('edgehost_guest_call_duration_seconds', { module: m.name, function: fn }, h),
            ),
          ),
      ),
    );
    keyed(
      'edgehost_guest_call_failures_total',
      'Guest calls that failed: err (the guest answered an error) or trap',
      'outcome',
      (m) => m.workerMetrics().failures,
    );
    keyed('edgehost_denied_calls_total', 'Calls refused because the grants did not allow them, by capability', 'capability', (m) => m.workerMetrics().denied);
    keyed('edgehost_limit_hits_total', 'Calls refused at a limit, by limit', 'limit', (m) => m.workerMetrics().limits);
    perModule('edgehost_socket_connections', 'Connections open to the module', 'gauge', (m) => m.gauges().socketConnections);
    perModule('edgehost_messages_published_total', 'Messages the module published on the bus', 'counter', (m) => source.bus.publishedBy(m.name));
    perModule('edgehost_messages_delivered_total', 'Messages delivered to the module and acknowledged', 'counter', (m) => queue(m)?.stats().delivered);
    perModule('edgehost_queue_depth', "Messages waiting in the module's queue, the batch in flight included", 'gauge', (m) => {
      const s = queue(m)?.stats();
      return s ? s.queued + s.inFlight : undefined;
    });
    perModule('edgehost_queue_bytes', "Payload bytes waiting in the module's queue", 'gauge', (m) => queue(m)?.stats().queuedBytes);
    perModule('edgehost_queue_oldest_age_seconds', 'Age of the oldest message not yet delivered to the module', 'gauge', (m) => {
      const q = queue(m);
      if (!q) return undefined;
      const oldest = q.oldestPublishedAt();
      return oldest === undefined ? 0 : (Date.now() - oldest) / 1000;
    });
    perModule('edgehost_queue_dropped_total', "Messages dropped by the queue's overflow policy", 'counter', (m) => queue(m)?.stats().dropped);
    perModule('edgehost_dead_letters_total', 'Messages moved to deadletter/<module>', 'counter', (m) => queue(m)?.stats().deadLettered);
    perModule('edgehost_redeliveries_total', 'Deliveries that failed and were retried', 'counter', (m) => queue(m)?.stats().failedDeliveries);
    register(
      r,
      new CollectedMetric('edgehost_bus_messages_total', 'Messages published on the bus', 'counter', () => [{ labels: {}, value: source.bus.published }]),
    );
  }

  /**
   * What modules report themselves (edgehost:platform/metrics) appears as
   * `edgehost_guest_<name>{module, ...}`: one family per name, registered the
   * first time a module reports it. A family keeps the type and label names it
   * was first seen with; a module's series that does not fit them is left out.
   */
  #syncGuestFamilies() {
    for (const m of this.#source.modules()) {
      for (const g of Object.values(m.workerMetrics().guest)) {
        const family = `edgehost_guest_${g.name}`;
        if (this.#guestFamilies.has(family)) continue;
        const labelNames = g.labels
          .map(([k]) => k)
          .sort()
          .join(',');
        this.#guestFamilies.set(family, { type: g.type, labelNames });
        register(
          this.registry,
          new CollectedMetric(family, `Reported by modules through edgehost:platform/metrics (${g.type})`, g.type, () =>
            this.#source.modules().flatMap((mod) =>
              Object.values(mod.workerMetrics().guest)
                .filter(
                  (x) =>
                    x.name === g.name &&
                    x.type === g.type &&
                    x.labels
                      .map(([k]) => k)
                      .sort()
                      .join(',') === labelNames,
                )
                .map((x): Sample => ({ labels: { module: mod.name, ...Object.fromEntries(x.labels) }, value: x.value })),
            ),
          ),
        );
      }
    }
  }

  httpRequest(module: string, status: number | 'error', seconds: number): void {
    this.#http.inc({ module, status_class: status === 'error' ? 'error' : `${Math.floor(status / 100)}xx` });
    this.#httpSeconds.observe({ module }, seconds);
  }

  socketBytes(module: string, direction: 'in' | 'out', bytes: number): void {
    this.#socketBytes.inc({ module, direction }, bytes);
  }

  durableCommit(seconds: number): void {
    this.#commits.observe(seconds);
  }

  /** The Prometheus text format. */
  render(): Promise<string> {
    this.#syncGuestFamilies();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
