// What the main thread's capability services record as it happens, kept apart
// from the registry so that capabilities depend on this and nothing else.

export interface MetricsRecorder {
  httpRequest(module: string, status: number | 'error', seconds: number): void;
  socketBytes(module: string, direction: 'in' | 'out', bytes: number): void;
  durableCommit(seconds: number): void;
}

/** For a host started with metrics off, and for tests of one capability. */
export const noMetrics: MetricsRecorder = { httpRequest() {}, socketBytes() {}, durableCommit() {} };
