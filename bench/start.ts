// Warm start: from spawning `node host/main.ts` with the three reference modules to every
// module ready ("host started"), with the transpile cache and V8's compile cache already
// filled by a first start, as on any start after the first. Medians over rounds. The
// host's own figure (startMs: from its process start) is printed beside the spawn-to-ready
// time; the baseline is a Node process that does nothing, spawned the same way, same run.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { HostProcess, writeConfig } from '../test/support/host-process.ts';
import { HttpSink } from '../test/support/http-sink.ts';
import { gateway, server, telemetry } from '../test/support/modules.ts';
import { freePort } from '../test/support/ports.ts';
import { type BenchResult, median } from './result.ts';

const ROUNDS = Number(process.env.BENCH_START_ROUNDS ?? 5);

async function hostStart(config: string): Promise<{ wallMs: number; startMs: number }> {
  const started = performance.now();
  const host = new HostProcess(['--config', config]);
  try {
    const line = await host.waitForLog((l) => l.msg === 'host started', 60_000, 'host started');
    return { wallMs: performance.now() - started, startMs: Number(line.startMs) };
  } finally {
    await host.stop();
  }
}

async function bareNode(): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(child, 'exit');
  return performance.now() - started;
}

export async function run(): Promise<BenchResult[]> {
  const sink = await new HttpSink().listen();
  const config = writeConfig({
    modules: { telemetry: telemetry(), gateway: gateway(sink.url), server: server(`127.0.0.1:${await freePort()}`) },
  });
  try {
    await hostStart(config); // fills the caches
    const wall: number[] = [];
    const own: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const r = await hostStart(config);
      wall.push(r.wallMs);
      own.push(r.startMs);
      bare.push(await bareNode());
    }
    console.log(
      `  spawn to all modules ready: ${wall.map((x) => x.toFixed(0)).join(', ')} ms; host's own startMs: ${own.join(', ')}; bare node: ${bare.map((x) => x.toFixed(0)).join(', ')} ms`,
    );
    return [
      {
        name: 'warm start, spawn to telemetry, gateway and server ready (median; goal 250 ms)',
        value: median(wall),
        unit: 'ms',
        baseline: 'a Node process doing nothing, spawn to exit',
        baselineValue: median(bare),
        ratio: median(wall) / median(bare),
      },
      { name: "warm start, the host's process start to all ready (median)", value: median(own), unit: 'ms' },
    ];
  } finally {
    await sink.close();
  }
}
