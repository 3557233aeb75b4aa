// A run's stdout and stderr, kept in memory shared between the run's worker
// (which writes) and the main thread (which reads them when the run ends, even
// when it ends because the worker was terminated at its deadline). Each stream
// keeps at most `maxBytes`; past that, bytes are counted and dropped, and the
// text read back ends with a marker. The buffers are allocated once, at the
// cap: whatever a guest writes, a run costs the host that much and no more.

/** Replaces the last bytes kept when a stream went past its cap. */
export const TRUNCATION_MARKER = '\n[edgehost: output truncated]\n';

/** Slots of the shared header (Float64: byte counts past 2^31 stay exact). */
const KEPT = 0;
const WRITTEN = 1;
const PEAK_MEMORY = 4;
const HEADER_SLOTS = 5;
const STREAM = { stdout: 0, stderr: 2 } as const;
export type StreamName = keyof typeof STREAM;

/** What crosses to the worker: plain shared buffers. */
export interface CaptureBuffers {
  header: SharedArrayBuffer;
  stdout: SharedArrayBuffer;
  stderr: SharedArrayBuffer;
}

export function createCaptureBuffers(maxBytes: number): CaptureBuffers {
  return {
    header: new SharedArrayBuffer(HEADER_SLOTS * 8),
    stdout: new SharedArrayBuffer(maxBytes),
    stderr: new SharedArrayBuffer(maxBytes),
  };
}

/** The worker's side: sinks for the two output streams, and where it records memory use. */
export class CaptureWriter {
  readonly #header: Float64Array;
  readonly #data: Record<StreamName, Uint8Array>;

  constructor(buffers: CaptureBuffers) {
    this.#header = new Float64Array(buffers.header);
    this.#data = { stdout: new Uint8Array(buffers.stdout), stderr: new Uint8Array(buffers.stderr) };
  }

  /** A sink for an OutputStream; copies what it keeps (the caller may reuse `bytes`). */
  sink(stream: StreamName): (bytes: Uint8Array) => void {
    const at = STREAM[stream];
    const data = this.#data[stream];
    const header = this.#header;
    return (bytes) => {
      const kept = header[at + KEPT];
      const room = data.length - kept;
      if (room > 0) data.set(bytes.subarray(0, Math.min(room, bytes.length)), kept);
      header[at + KEPT] = kept + Math.min(room, bytes.length);
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
      const tail = marker.subarray(Math.max(0, marker.length - data.length));
      bytes = bytes.slice(0, Math.max(0, data.length - tail.length));
      const out = new Uint8Array(bytes.length + tail.length);
      out.set(bytes);
      out.set(tail, bytes.length);
      bytes = out;
    }
    return { text: new TextDecoder().decode(bytes), bytes: written, truncated };
  };
  return { stdout: read('stdout'), stderr: read('stderr'), peakMemoryBytes: header[PEAK_MEMORY] };
}
