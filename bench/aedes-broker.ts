// aedes (a Node MQTT 3.1.1 broker) on a loopback port, in a process of its own so that it
// does not share an event loop with the bench's clients: a baseline for bench/server.ts.
//
//   node bench/aedes-broker.ts <port>    prints "aedes <version> ready" once it listens
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node bench/aedes-broker.ts <port>');
  process.exit(2);
}
const { version } = JSON.parse(readFileSync(new URL('../node_modules/aedes/package.json', import.meta.url), 'utf8')) as { version: string };
const broker = await Aedes.createBroker();
const server = createServer(broker.handle as never);
server.listen(port, '127.0.0.1', () => console.log(`aedes ${version} ready`));
process.on('SIGTERM', () => {
  broker.close(() => server.close(() => process.exit(0)));
});
