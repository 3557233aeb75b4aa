// A metric whose values are read from the host's own state when Prometheus
// scrapes, instead of being counted on the data path: queue depths, restarts,
// and the counters the bus and the modules' workers already keep. prom-client
// renders any object with a name, a help text, a type and `get()`.

export interface Sample {
  labels: Record<string, string | number>;
  value: number;
  /** For histograms: `<name>_bucket`, `_sum`, `_count`. */
  metricName?: string;
}

export class CollectedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly #collect: () => Sample[];

  constructor(name: string, help: string, type: 'counter' | 'gauge' | 'histogram', collect: () => Sample[]) {
    this.name = name;
    this.help = help;
    this.type = type;
    this.#collect = collect;
  }

  get() {
    return { name: this.name, help: this.help, type: this.type, values: this.#collect(), aggregator: 'sum' };
  }

  reset() {}
}

/** Buckets (seconds) of the guest call histogram: from a trivial call (µs) to one past most deadlines. */
export const CALL_BUCKETS = [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

/** A histogram counted elsewhere (a worker), by bucket: the samples Prometheus expects of it. */
export function histogramSamples(name: string, labels: Record<string, string>, h: { buckets: number[]; sum: number; count: number }): Sample[] {
  const out: Sample[] = [];
  let cumulative = 0;
  CALL_BUCKETS.forEach((le, i) => {
    cumulative += h.buckets[i] ?? 0;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: cumulative });
  });
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.count });
  out.push({ metricName: `${name}_sum`, labels, value: h.sum });
  out.push({ metricName: `${name}_count`, labels, value: h.count });
  return out;
}
