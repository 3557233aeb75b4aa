// What `npm run build` says while it works, so a build that takes a while does
// not look stuck. A guest says when its first slow step starts (the type check
// or componentize: seconds each), and the build's own line says when it ended
// and how long it took. Guests that are up to date say only that.
//
// On a terminal, one spinner line at the bottom names what is running and for
// how long; every other line is printed above it. Anywhere else (CI logs, a
// pipe) there is no spinner: one `building <guest> (<step>)` line per guest,
// so a log shows what started and never finished.
const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const FRAME_MS = 100;

export class BuildProgress {
  readonly #tty: boolean;
  readonly #out: NodeJS.WriteStream;
  /** label -> [step, started at] */
  readonly #running = new Map<string, [string, number]>();
  readonly #announced = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #frame = 0;
  readonly #started = performance.now();

  constructor(out: NodeJS.WriteStream = process.stdout) {
    this.#out = out;
    this.#tty = out.isTTY === true && process.env.TERM !== 'dumb' && !process.env.CI;
  }

  /** A guest begins a slow step (its name shows in the spinner; elsewhere its first step is announced once). */
  step(label: string, step: string): void {
    this.#running.set(label, [step, performance.now()]);
    if (this.#tty) {
      this.#timer ??= setInterval(() => this.#draw(), FRAME_MS);
      this.#timer.unref();
      this.#draw();
    } else if (!this.#announced.has(label)) {
      this.#announced.add(label);
      this.line(`building ${label} (${step})`);
    }
  }

  /** The guest is done (built, up to date or failed): its own line says how. */
  done(label: string): void {
    this.#running.delete(label);
    if (this.#running.size === 0) this.#stop();
  }

  line(text: string): void {
    this.#write(this.#out, text);
  }

  error(text: string): void {
    this.#write(process.stderr, text);
  }

  #write(stream: NodeJS.WriteStream, text: string) {
    if (this.#tty) this.#out.write('\r\x1b[2K');
    // The next frame draws the spinner again, below the line: a guest that just finished is gone from it by then.
    stream.write(`${text}\n`);
  }

  #stop() {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#tty) this.#out.write('\r\x1b[2K');
  }

  #draw() {
    if (this.#running.size === 0) return;
    this.#frame = (this.#frame + 1) % FRAMES.length;
    const now = performance.now();
    const what = [...this.#running].map(([label, [step, at]]) => `${label} (${step}, ${((now - at) / 1000).toFixed(0)} s)`).join(', ');
    const text = `${FRAMES[this.#frame]} ${((now - this.#started) / 1000).toFixed(1)} s: ${what}`;
    const width = this.#out.columns || 80;
    this.#out.write(`\r\x1b[2K${text.length >= width ? `${text.slice(0, width - 2)}…` : text}`);
  }
}
