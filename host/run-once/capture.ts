// A run's stdout and stderr, kept in memory shared between the run's worker
// (which writes) and the main thread (which reads them when the run ends, even
// when it ends because the worker was terminated at its deadline). Each stream
// keeps at most `maxBytes`; past that, bytes are counted and dropped, and the
// text read back ends with a marker. The buffers are growable and grow with
// the output, up to the cap: whatever a guest writes, a run costs the host at
// most that, and a run that writes little costs little (a buffer allocated at
// the cap for every run was most of what runs left resident in the host).

/** Replaces the last bytes kept when a stream went past its cap. */
export const TRUNCATION_MARKER = '\n[edgehost: output truncated]\n';

/** Slots of the shared header (Float64: byte counts past 2^31 stay exact). */
const KEPT = 0;
const WRITTEN = 1;
const PEAK_MEMORY = 4;
const HEADER_SLOTS = 5;
const STREAM = { stdout: 0, stderr: 2 } as const;
export type StreamName = keyof typeof STREAM;

/** Output buffers grow by at least this much at a time. */
const GROW_STEP = 64 * 1024;

/** What crosses to the worker: plain shared buffers (the output ones growable up to the cap). */
export interface CaptureBuffers {
  header: SharedArrayBuffer;
  stdout: SharedArrayBuffer;
  stderr: SharedArrayBuffer;
  maxBytes: number;
}

export function createCaptureBuffers(maxBytes: number): CaptureBuffers {
  return {
    header: new SharedArrayBuffer(HEADER_SLOTS * 8),
    stdout: new SharedArrayBuffer(0, { maxByteLength: maxBytes }),
    stderr: new SharedArrayBuffer(0, { maxByteLength: maxBytes }),
    maxBytes,
  };
}

/** The worker's side: sinks for the two output streams, and where it records memory use. */
export class CaptureWriter {
  readonly #header: Float64Array;
  readonly #buffers: CaptureBuffers;

  constructor(buffers: CaptureBuffers) {
    this.#header = new Float64Array(buffers.header);
    this.#buffers = buffers;
  }

  /** A sink for an OutputStream; copies what it keeps (the caller may reuse `bytes`). */
  sink(stream: StreamName): (bytes: Uint8Array) => void {
    const at = STREAM[stream];
    const buffer = this.#buffers[stream];
    // A view without a length follows the buffer as it grows.
    const data = new Uint8Array(buffer);
    const max = this.#buffers.maxBytes;
    const header = this.#header;
    return (bytes) => {
      const kept = header[at + KEPT];
      const n = Math.min(max - kept, bytes.length);
      if (n > 0) {
        if (kept + n > buffer.byteLength) buffer.grow(Math.min(max, Math.max(kept + n, buffer.byteLength + GROW_STEP)));
        data.set(bytes.subarray(0, n), kept);
        header[at + KEPT] = kept + n;
      }
      header[at + WRITTEN] += bytes.length;
    };
  }

  /** Records the guest's linear memory now; the header keeps the largest seen. */
  memory(bytes: number): void {
    if (bytes > this.#header[PEAK_MEMORY]) this.#header[PEAK_MEMORY] = bytes;
  }
}

export interface CapturedStream {
  /** The output as UTF-8 text (malformed sequences become U+FFFD), ending with the marker when cut. */
  text: string;
  /** Bytes the guest wrote, kept or not. */
  bytes: number;
  truncated: boolean;
}

/** The main thread's side: reads what was captured. */
export function readCapture(buffers: CaptureBuffers): { stdout: CapturedStream; stderr: CapturedStream; peakMemoryBytes: number } {
  const header = new Float64Array(buffers.header);
  const read = (stream: StreamName): CapturedStream => {
    const at = STREAM[stream];
    const data = new Uint8Array(buffers[stream]);
    const kept = header[at + KEPT];
    const written = header[at + WRITTEN];
    const truncated = written > kept;
    // Copied out of shared memory: TextDecoder does not read SharedArrayBuffers.
    let bytes = data.slice(0, kept);
    if (truncated) {
      const marker = new TextEncoder().encode(TRUNCATION_MARKER);
      const tail = marker.subarray(Math.max(0, marker.length - buffers.maxBytes));
      bytes = bytes.slice(0, Math.max(0, buffers.maxBytes - tail.length));
      const out = new Uint8Array(bytes.length + tail.length);
      out.set(bytes);
      out.set(tail, bytes.length);
      bytes = out;
    }
    return { text: new TextDecoder().decode(bytes), bytes: written, truncated };
  };
  return { stdout: read('stdout'), stderr: read('stderr'), peakMemoryBytes: header[PEAK_MEMORY] };
}
