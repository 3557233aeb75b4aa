// The control client's round trips, in a worker thread of the measuring process (control.ts
// says why): connects, subscribes, then publishes QoS 1 and waits for its own message back,
// one after another, posting each round trip's time or its loss, until told to stop.
import type net from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import mqtt from 'mqtt';
import { Inbox, WAIT_MS, withTimeout } from '../../modules/server/clients.ts';
import { type ControlReport, ROUND_TRIP_TIMEOUT_MS } from './control.ts';

const { port } = workerData as { port: number };
const post = (m: ControlReport) => parentPort!.postMessage(m);
let running = true;
parentPort!.on('message', (m) => {
  if (m === 'stop') running = false;
});

try {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'control', protocolVersion: 4, reconnectPeriod: 0, connectTimeout: WAIT_MS });
  const inbox = new Inbox(c);
  // Without this, Nagle on the client's socket holds each PUBLISH behind the ACK of its
  // previous PUBACK: a 40 ms delayed-ACK floor that has nothing to do with the server.
  (c as unknown as { stream: net.Socket }).stream.setNoDelay(true);
  await withTimeout(c.subscribeAsync('control/rt', { qos: 1 }), WAIT_MS, 'SUBACK');
  post({ ready: true });
  let seq = 0;
  while (running) {
    const payload = String(++seq);
    const started = performance.now();
    try {
      await withTimeout(c.publishAsync('control/rt', payload, { qos: 1 }), ROUND_TRIP_TIMEOUT_MS, 'PUBACK');
      await inbox.wait((m) => m.payload === payload, `round trip ${payload}`, ROUND_TRIP_TIMEOUT_MS);
      post({ rtt: performance.now() - started });
    } catch (e) {
      post({ lost: (e as Error).message.slice(0, 200) });
    }
    inbox.messages.length = 0;
  }
  await withTimeout(c.endAsync(true), WAIT_MS, 'the control client to end').catch(() => {});
} catch (e) {
  post({ failed: (e as Error).message });
}
parentPort!.close();
