// Run by durable.test.ts, which SIGKILLs it once it has reported. It leaves
// committed messages and, after them, uncommitted ones large enough to
// overflow SQLite's page cache, so some of them reach the WAL file without a
// commit record: the case recovery must ignore.
import { statSync, writeSync } from 'node:fs';
import { Bus, DurableStore } from '../../../host/bus/bus.ts';
import { enc, options } from './support.ts';

const file = process.argv[2];
const store = new DurableStore(file);
const bus = new Bus({ store });
const sub = bus.addSubscriber('m', options({ durable: true }), () => new Promise(() => {}));
sub.pause();
sub.subscribe('t/#');
bus.publish('t/committed', enc('a'), 'sensor');
bus.publish('t/committed', enc('b'));
bus.commit();
const walCommitted = statSync(`${file}-wal`).size;
const big = new Uint8Array(64 * 1024);
for (let i = 0; i < 100; i++) bus.publish('t/uncommitted', big);
writeSync(1, `${JSON.stringify({ walCommitted, walNow: statSync(`${file}-wal`).size })}\n`);
// Blocks this tick for good, so the end-of-tick commit never runs.
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
