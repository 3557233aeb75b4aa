// Reading the host's metrics as Prometheus would: the text format, parsed by a
// Prometheus text parser, scraped again until a condition holds (workers send
// their counts at most once a second), within a deadline.
import parsePrometheus from 'parse-prometheus-text-format';
import type { Host } from '../../host/host.ts';

export interface Family {
  name: string;
  help: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string>; count?: string }[];
}

export interface Scrape {
  text: string;
  families: Family[];
  /** The value of the first sample of `name` whose labels include `labels`. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Every sample of `name`, by its labels. */
  samples(name: string): { labels: Record<string, string>; value: number }[];
}

export async function scrape(host: Host): Promise<Scrape> {
  if (!host.metrics) throw new Error('the host was started with metrics off');
  const text = await host.metrics.render();
  const families = parsePrometheus(text) as Family[];
  const family = (name: string) => families.find((f) => f.name === name);
  return {
    text,
    families,
    value(name, labels = {}) {
      const m = family(name)?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
      return m === undefined ? undefined : Number(m.value ?? m.count);
    },
    samples: (name) => (family(name)?.metrics ?? []).map((m) => ({ labels: m.labels ?? {}, value: Number(m.value ?? m.count) })),
  };
}

/** Scrapes every 100 ms until `done` holds; fails after `timeoutMs` with `what` and the last scrape's values of `show`. */
export async function scrapeUntil(host: Host, done: (s: Scrape) => boolean, what: string, show: string[] = [], timeoutMs = 20_000): Promise<Scrape> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await scrape(host);
    if (done(s)) return s;
    if (Date.now() > deadline) {
      const seen = show.map((name) => `${name} ${JSON.stringify(s.samples(name))}`).join('\n  ');
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last scrape:\n  ${seen}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
