// The latest reading of each device, as the web module keeps it and shows it: pure (no WIT
// imports), so Node tests and the benchmark's plain-Node baseline run the same code.

export interface Entry {
  topic: string;
  /** When the bus accepted it (ms since the epoch). */
  publishedAt: number;
  /** The payload: JSON when it parsed, else its text. */
  reading: unknown;
}

/** A device id in a topic or a posted reading: one topic level of safe characters. */
export const DEVICE_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

export class Latest {
  readonly #entries = new Map<string, Entry>();
  readonly #maxDevices: number;
  readonly #prefix: string;
  #json: string | undefined;

  /** `prefix`: the topic prefix before the device id ("telemetry/"); at most `maxDevices` are kept (the oldest go). */
  constructor(prefix: string, maxDevices: number) {
    this.#prefix = prefix;
    this.#maxDevices = maxDevices;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Records a message; returns the device it was for, or undefined when it names none. The
   * device is the payload's `deviceId` when it has one, else the topic level after the prefix.
   */
  update(topic: string, text: string, publishedAt: number): string | undefined {
    let reading: unknown = text;
    try {
      reading = JSON.parse(text);
    } catch {
      // kept as text
    }
    const fromPayload = reading !== null && typeof reading === 'object' ? (reading as { deviceId?: unknown }).deviceId : undefined;
    const fromTopic = topic.startsWith(this.#prefix) ? topic.slice(this.#prefix.length) : undefined;
    const device = typeof fromPayload === 'string' && DEVICE_ID.test(fromPayload) ? fromPayload : fromTopic;
    if (device === undefined || !DEVICE_ID.test(device)) return undefined;
    // Re-inserted, so that the map's order is oldest update first.
    this.#entries.delete(device);
    this.#entries.set(device, { topic, publishedAt, reading });
    if (this.#entries.size > this.#maxDevices) this.#entries.delete(this.#entries.keys().next().value as string);
    this.#json = undefined;
    return device;
  }

  /** `{ "<device>": { topic, publishedAt, reading }, ... }`, devices in name order; cached until the next update. */
  json(): string {
    if (this.#json === undefined) {
      const out: Record<string, Entry> = {};
      for (const id of [...this.#entries.keys()].sort()) out[id] = this.#entries.get(id) as Entry;
      this.#json = JSON.stringify(out);
    }
    return this.#json;
  }

  /** A small HTML page: one row per device, its reading's numbers and how long ago it came. */
  page(title: string, nowMs: number): string {
    const rows = [...this.#entries.keys()].sort().map((id) => {
      const e = this.#entries.get(id) as Entry;
      const r = e.reading;
      const fields =
        r !== null && typeof r === 'object'
          ? Object.entries(r as Record<string, unknown>)
              .filter(([k, v]) => k !== 'deviceId' && (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean'))
              .map(([k, v]) => `${escapeHtml(k)}: ${escapeHtml(String(v))}`)
              .join(', ')
          : escapeHtml(String(r));
      const age = Math.max(0, Math.round((nowMs - e.publishedAt) / 1000));
      return `<tr><td>${escapeHtml(id)}</td><td>${fields}</td><td>${age} s ago</td></tr>`;
    });
    return [
      '<!doctype html>',
      '<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">',
      `<title>${escapeHtml(title)}</title>`,
      '<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:.3em 1em;border-bottom:1px solid #ddd;text-align:left}</style>',
      '</head><body>',
      `<h1>${escapeHtml(title)}</h1>`,
      `<p>${this.#entries.size} device${this.#entries.size === 1 ? '' : 's'}. JSON: <a href="/latest">/latest</a></p>`,
      '<table><tr><th>device</th><th>latest reading</th><th>received</th></tr>',
      ...rows,
      '</table></body></html>',
      '',
    ].join('\n');
  }
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
