/**
 * One row of `npm run bench`: a figure, and (when it has one) the baseline it is compared
 * with, measured in the same run on the same machine. `ratio` is value / baselineValue.
 */
export type BenchResult = {
  name: string;
  value: number;
  unit: string;
  /** What the baseline is, in a few words ("plain Node: Bus + node:http, no WebAssembly"). */
  baseline?: string;
  baselineValue?: number;
  ratio?: number;
};

/** A bench module: `bench/<name>.ts` exports this as `run`. */
export type BenchModule = { run(): Promise<BenchResult[]> };

/** The middle of a set of rounds' figures (the upper one of an even count); NaN for none. */
export function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : Number.NaN;
}
