// The host's Prometheus metrics (prom-client). Almost everything is read from
// state the host keeps anyway, when Prometheus scrapes (CollectedMetric): the
// bus's queues, the runtimes' states and restarts, what each module's worker
// counted about itself (sent to the main thread at most once a second), what
// modules report themselves (edgehost:platform/metrics), the bridges' figures.
// Only what happens on the main thread and is not kept elsewhere is counted as
// it happens: outbound HTTP requests, socket bytes, durable commits.
import client from 'prom-client';
import type { BridgeInfo } from '../bridge/bridge.ts';
import type { Bus } from '../bus/bus.ts';
import type { ModuleRuntime } from '../runtime/module-runtime.ts';
import type { GuestSeries } from '../sandbox/worker-metrics.ts';
import { CollectedMetric, histogramSamples, type Sample } from './collected.ts';
import type { MetricsRecorder } from './recorder.ts';

export interface MetricsSource {
  modules(): ModuleRuntime[];
  bus: Bus;
  /** The bridges to external brokers (Host.bridgeList), read when scraped. */
  bridges?(): BridgeInfo[];
}

/** prom-client renders any object shaped like its metrics; its typings know only its own classes. */
const register = (r: client.Registry, m: CollectedMetric) => r.registerMetric(m as unknown as client.Metric);

const STATES = ['loading', 'starting', 'ready', 'restarting', 'sleeping', 'draining', 'stopped', 'failed'] as const;
const BRIDGE_STATES = ['connecting', 'connected', 'waiting', 'stopped'] as const;

export class HostMetrics implements MetricsRecorder {
  readonly registry = new client.Registry();
  readonly #http: client.Counter<'module' | 'status_class'>;
  readonly #httpSeconds: client.Histogram<'module'>;
  readonly #socketBytes: client.Counter<'module' | 'direction'>;
  readonly #commits: client.Histogram;
  readonly #source: MetricsSource;
  /** The guest families registered, with the type and label names each was first reported with. */
  readonly #guestFamilies = new Map<string, { type: string; labelNames: string }>();
  /** The guest samples of the scrape in progress, by family (read by each family's collect). */
  #guestSamples = new Map<string, Sample[]>();

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

    const bridges = () => source.bridges?.() ?? [];
    const perBridge = (name: string, help: string, type: 'counter' | 'gauge', value: (b: BridgeInfo) => number) =>
      register(r, new CollectedMetric(name, help, type, () => bridges().map((b) => ({ labels: { bridge: b.name }, value: value(b) }))));
    register(
      r,
      new CollectedMetric('edgehost_bridge_state', "The state of each bridge's connection (1 for its current state)", 'gauge', () =>
        bridges().flatMap((b) => BRIDGE_STATES.map((state) => ({ labels: { bridge: b.name, state }, value: b.state === state ? 1 : 0 }))),
      ),
    );
    perBridge('edgehost_bridge_messages_sent_total', 'Messages the bridge sent to its broker and the broker acknowledged', 'counter', (b) => b.out.sent);
    perBridge(
      'edgehost_bridge_messages_received_total',
      'Messages the bridge took in from its broker and published on the bus',
      'counter',
      (b) => b.in.received,
    );
    register(
      r,
      new CollectedMetric(
        'edgehost_bridge_messages_dropped_total',
        'Messages the bridge dropped: out queue full (overflow), from the broker with no in rule or an invalid local topic (no_rule), its own coming back (echo)',
        'counter',
        () =>
          bridges().flatMap((b) => [
            { labels: { bridge: b.name, reason: 'overflow' }, value: b.out.dropped },
            { labels: { bridge: b.name, reason: 'no_rule' }, value: b.in.dropped },
            { labels: { bridge: b.name, reason: 'echo' }, value: b.in.echoesDropped },
          ]),
      ),
    );
    perBridge(
      'edgehost_bridge_queue_depth',
      "Messages waiting in the bridge's out queue, those sent and not yet acknowledged included",
      'gauge',
      (b) => b.out.queued + b.out.inFlight,
    );
    perBridge('edgehost_bridge_connections_total', 'Connections the broker accepted (all but the first are reconnections)', 'counter', (b) => b.connects);
    perBridge('edgehost_bridge_connection_failures_total', 'Connection attempts to the broker that failed', 'counter', (b) => b.failedAttemptsTotal);
  }

  /**
   * What modules report themselves (edgehost:platform/metrics) appears as
   * `edgehost_guest_<name>{module, ...}`: one family per name, registered the
   * first time a module reports it, removed when no module reports it any more.
   * A family keeps the type and label names it was first seen with; a module's
   * series that does not fit them is left out. Read once per scrape, grouped
   * by family, so a scrape costs one pass over the series.
   */
  #collectGuest() {
    const byFamily = new Map<string, { module: string; series: GuestSeries; labelNames: string }[]>();
    for (const m of this.#source.modules()) {
      for (const series of Object.values(m.workerMetrics().guest)) {
        const family = `edgehost_guest_${series.name}`;
        let list = byFamily.get(family);
        if (!list) {
          list = [];
          byFamily.set(family, list);
        }
        // The worker keeps labels in name order.
        list.push({ module: m.name, series, labelNames: series.labels.map(([k]) => k).join(',') });
      }
    }
    const samples = new Map<string, Sample[]>();
    for (const [family, list] of byFamily) {
      let known = this.#guestFamilies.get(family);
      const fits = (x: (typeof list)[number]) => known !== undefined && x.series.type === known.type && x.labelNames === known.labelNames;
      if (known && !list.some(fits)) {
        // The modules that defined it are gone: the ones left define it again.
        this.registry.removeSingleMetric(family);
        this.#guestFamilies.delete(family);
        known = undefined;
      }
      if (!known) {
        // A host family of that name (the guest rules exclude them): never a guest's.
        if (this.registry.getSingleMetric(family)) continue;
        known = { type: list[0].series.type, labelNames: list[0].labelNames };
        this.#guestFamilies.set(family, known);
        register(
          this.registry,
          new CollectedMetric(
            family,
            `Reported by modules through edgehost:platform/metrics (${known.type})`,
            list[0].series.type,
            () => this.#guestSamples.get(family) ?? [],
          ),
        );
      }
      const out: Sample[] = [];
      for (const x of list) {
        if (!fits(x)) continue;
        const labels: Record<string, string> = { module: x.module };
        for (const [k, v] of x.series.labels) labels[k] = v;
        out.push({ labels, value: x.series.value });
      }
      samples.set(family, out);
    }
    // Names no module reports any more (it was removed or replaced) do not pile up.
    for (const family of this.#guestFamilies.keys()) {
      if (byFamily.has(family)) continue;
      this.registry.removeSingleMetric(family);
      this.#guestFamilies.delete(family);
    }
    this.#guestSamples = samples;
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
    this.#collectGuest();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
