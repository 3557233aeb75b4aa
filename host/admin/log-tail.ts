// The last log lines the host wrote, for the dashboard's live tail. The host's
// logger hands every line it writes to `write` as well as to stdout; lines are
// kept as the JSON text pino made (no parse, no copy per reader) in a ring
// bounded by count and bytes, and handed on to whoever listens (the event
// streams in events.ts). A reader that connects gets the ring first, then
// lines as they come.

/** What the ring keeps at most: the older lines go first when either bound is reached. */
export const LOG_TAIL_LINES = 1000;
export const LOG_TAIL_BYTES = 512 * 1024;
/** A longer line is kept shortened (its message cut), so one line cannot take the ring. */
export const LOG_LINE_MAX_BYTES = 8 * 1024;

export type LogListener = (line: string) => void;

export class LogTail {
  readonly #lines: string[] = [];
  #first = 0;
  #bytes = 0;
  readonly #listeners = new Set<LogListener>();
  readonly #maxLines: number;
  readonly #maxBytes: number;

  constructor(opts: { maxLines?: number; maxBytes?: number } = {}) {
    this.#maxLines = opts.maxLines ?? LOG_TAIL_LINES;
    this.#maxBytes = opts.maxBytes ?? LOG_TAIL_BYTES;
  }

  /** A line as pino wrote it (JSON, with or without its newline). The stream interface pino's multistream calls. */
  write(text: string): void {
    let line = text.endsWith('\n') ? text.slice(0, -1) : text;
    if (line.length > LOG_LINE_MAX_BYTES) line = shorten(line);
    this.#lines.push(line);
    this.#bytes += line.length;
    while (this.#lines.length - this.#first > this.#maxLines || (this.#bytes > this.#maxBytes && this.#lines.length - this.#first > 1)) {
      this.#bytes -= this.#lines[this.#first].length;
      this.#first++;
    }
    // Compact now and then rather than shift() per line (O(n) each).
    if (this.#first > this.#maxLines) {
      this.#lines.splice(0, this.#first);
      this.#first = 0;
    }
    for (const listener of this.#listeners) listener(line);
  }

  /** The lines kept, oldest first. */
  lines(): string[] {
    return this.#lines.slice(this.#first);
  }

  /** Calls `listener` with every line from now on; returns what stops it. */
  listen(listener: LogListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** A line past LOG_LINE_MAX_BYTES: its fields but a cut message, still one JSON object (lengths are UTF-16 units, close enough for a budget). */
function shorten(line: string): string {
  let fields: Record<string, unknown>;
  try {
    fields = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return JSON.stringify({ level: 30, msg: `${line.slice(0, 1024)}... [log line of ${line.length} characters cut]` });
  }
  const kept: Record<string, unknown> = {};
  for (const key of ['level', 'time', 'module', 'code', 'capability', 'target']) if (key in fields) kept[key] = fields[key];
  kept.msg = `${String(fields.msg ?? '').slice(0, 1024)}... [log line of ${line.length} characters cut for the dashboard; stdout has it whole]`;
  return JSON.stringify(kept);
}
