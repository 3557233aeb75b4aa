import os from 'node:os';

/** The first lines of a bench's output: what ran it, on what, and how loaded the machine was at the start. */
export function printMachine(title: string): void {
  const cpus = os.cpus();
  console.log(title);
  console.log(`  node ${process.version} (${process.execPath})`);
  console.log(`  cpu: ${cpus[0]?.model ?? 'unknown'}, ${os.availableParallelism()} cores available (${cpus.length} listed)`);
  console.log(`  ${os.type()} ${os.release()} ${os.arch()}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, load average ${loadAverage()}`);
  console.log('');
}

/** The 1, 5 and 15 minute load averages. */
export const loadAverage = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
