// Throughput of publishing into one durable subscriber, committing every 256
// messages as the host does per batch from a module, against an in-memory
// subscriber. A measurement, not a test: node test/host/bus/measure-durable.ts [messages]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bus, DurableStore } from '../../../host/bus/bus.ts';
import { options } from './support.ts';

const total = Number(process.argv[2] ?? 200_000);
const perCommit = 256;
const payload = new Uint8Array(100).fill(42);
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** msgs/s over `total` messages; with `deliver`, until all were delivered (and, if durable, deleted). */
async function run(durable: boolean, deliver: boolean): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'edgehost-measure-'));
  const store = durable ? new DurableStore(join(dir, 'queues.sqlite')) : undefined;
  try {
    const bus = new Bus({ store });
    const sub = bus.addSubscriber('m', options({ durable, capacity: total, maxBatch: 256 }), async () => {});
    sub.subscribe('t/#');
    if (!deliver) sub.pause();
    const start = performance.now();
    for (let sent = 0; sent < total; sent += perCommit) {
      for (let i = 0; i < perCommit; i++) bus.publish('t/x', payload, 'pub');
      bus.commit();
      // As between two publish batches from a module: deliveries and their deletes run here.
      await turn();
    }
    if (deliver) await sub.idle();
    bus.commit();
    return total / ((performance.now() - start) / 1000);
  } finally {
    store?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number) => `${Math.round(n).toLocaleString('en')} msgs/s`;
await run(true, true); // warm-up
for (const deliver of [false, true]) {
  const memory = await run(false, deliver);
  const disk = await run(true, deliver);
  console.log(
    `${deliver ? 'publish + deliver + ack' : 'publish only (paused)  '}: in-memory ${fmt(memory)}, durable ${fmt(disk)} (${(memory / disk).toFixed(1)}x)`,
  );
}
