// Idle sleep: what the first message to a sleeping module costs. Two gateways
// on one host get the same message from an MQTT client at the same moment; one
// is asleep (idle.afterMs), the other awake. The figure is the time from the
// publish to the message arriving at the sleeping gateway's sink, next to the
// awake one's, over several rounds (medians). The host's own log gives the
// wake-up alone (from the wake to the new instance being ready).
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt from 'mqtt';
import { HostProcess, writeConfig } from '../test/support/host-process.ts';
import { HttpSink } from '../test/support/http-sink.ts';
import { gateway, server } from '../test/support/modules.ts';
import { freePort } from '../test/support/ports.ts';
import { type BenchResult, median } from './result.ts';

const ROUNDS = Number(process.env.BENCH_IDLE_ROUNDS ?? 7);

export async function run(): Promise<BenchResult[]> {
  const sleepy = await new HttpSink().listen();
  const awake = await new HttpSink().listen();
  const port = await freePort();
  const host = new HostProcess([
    '--config',
    writeConfig({
      modules: {
        server: server(`127.0.0.1:${port}`),
        sleepy: { ...gateway(sleepy.url, 'wake/#', { delivery: { maxBatch: 1 } }), idle: { afterMs: 100 } },
        awake: gateway(awake.url, 'wake/#', { delivery: { maxBatch: 1 } }),
      },
    }),
  ]);
  const client = await (async () => {
    await host.ready(['server', 'sleepy', 'awake'], 120_000);
    return mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
  })();
  const sleeping: number[] = [];
  const awakeMs: number[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const asleepLines = () => host.lines.filter((l) => l.msg === 'module sleepy asleep: its worker is freed').length;
      await host.waitForLog(() => asleepLines() >= round, 30_000, 'the sleepy gateway asleep');
      // Let the sleeping gateway's worker be gone for a moment before the message.
      await sleep(100);
      const started = performance.now();
      const body = JSON.stringify({ round });
      const at = (sink: HttpSink) =>
        sink.waitFor(() => sink.items<{ round: number }>().some((x) => x.round === round), 30_000, `round ${round}`).then(() => performance.now() - started);
      const [a, b] = await Promise.all([at(sleepy), at(awake), client.publishAsync(`wake/${round}`, body, { qos: 1 })]);
      sleeping.push(a);
      awakeMs.push(b);
    }
  } finally {
    await client.endAsync();
    host.kill();
    await Promise.all([sleepy.close(), awake.close()]);
  }
  const wakes = host.lines.filter((l) => l.msg === 'module sleepy woke').map((l) => Number(l.wakeMs));
  console.log(
    `  first message to a sleeping gateway: ${sleeping.map((x) => x.toFixed(0)).join(', ')} ms; awake: ${awakeMs.map((x) => x.toFixed(0)).join(', ')} ms`,
  );
  return [
    {
      name: 'first message to a sleeping module, publish to sink (median)',
      value: median(sleeping),
      unit: 'ms',
      baseline: 'the same message to an awake module, same moment',
      baselineValue: median(awakeMs),
      ratio: median(sleeping) / median(awakeMs),
    },
    { name: 'wake-up of a sleeping module, wake to ready (median; goal under 50 ms)', value: median(wakes), unit: 'ms' },
  ];
}
