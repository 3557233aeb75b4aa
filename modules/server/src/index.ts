// Wires the WIT imports and exports of world `server` to the core in server.ts.

import { get } from 'edgehost:platform/config@0.1.0';
import { deleteMany, getMany, get as kvGet, listKeys, setMany } from 'edgehost:platform/key-value@0.1.0';
import { log } from 'edgehost:platform/logging@0.1.0';
import { counterAdd, gaugeSet } from 'edgehost:platform/metrics@0.1.0';
import type { Message } from 'edgehost:platform/pubsub@0.1.0';
import { publish, subscribe, unsubscribe } from 'edgehost:platform/pubsub@0.1.0';
import { close, listen, send } from 'edgehost:platform/socket@0.1.0';
import type { Event } from 'edgehost:platform/socket-handler@0.1.0';
import { after, every, nowMs } from 'edgehost:platform/timer@0.1.0';
import { describeError } from '../../shared/errors.ts';
import defaults from '../module.json' with { type: 'json' };
import { MetricsReport } from './figures.ts';
import type { KeyValue } from './kv-store.ts';
import { loadOptions } from './options.ts';
import { type Platform, type Server, startServer } from './server.ts';

/** How often connect timeouts and keep alives are checked, and the figures reported. */
const CHECK_PERIOD_MS = 1000;

let server: Server | undefined;
/** Reports the server's figures on the check tick: once a second, whatever the traffic. */
const metrics = new MetricsReport({ counterAdd, gaugeSet, log });
let checkTimer = -1;
/** The one-shot timer that continues work left over from a call (Platform.wake), while one is pending. */
let workTimer = -1;

const platform: Platform = {
  send,
  close,
  publishToBus: publish,
  busSubscribe: subscribe,
  busUnsubscribe: unsubscribe,
  now: () => Number(nowMs()),
  log,
  wake: () => {
    // One pending at a time; a refused timer (id 0, the host's timer limit) leaves the work to the 1 s tick.
    if (workTimer > 0) return;
    workTimer = after(1);
  },
};

const keyValue: KeyValue = { get: kvGet, listKeys, getMany, setMany, deleteMany };

export const lifecycle = {
  init(): void {
    const options = loadOptions(get, defaults.config);
    server = startServer(platform, options, keyValue);
    for (const address of options.listen) {
      try {
        listen(address, 'mqtt');
      } catch (e) {
        throw new Error(`listen on ${address} failed: ${describeError(e)}`);
      }
    }
    if (options.listen.length === 0) log('warn', 'no listen address configured (--server-socket-address): no client can connect');
    else log('info', `MQTT server listening on ${options.listen.join(', ')} (TCP and WebSocket)`);
    checkTimer = every(CHECK_PERIOD_MS);
  },
};

export const messageHandler = {
  handle(messages: Message[]): void {
    // Never fails the batch: a redelivery would only duplicate what was already sent to clients.
    try {
      server?.handleBusMessages(messages);
    } catch (e) {
      log('error', `bus messages: ${describeError(e)}`);
    }
  },
};

export const socketHandler = {
  // No result type: throwing here would trap the instance and drop every connection.
  handleEvents(events: Event[]): void {
    try {
      server?.handleSocketEvents(events);
    } catch (e) {
      log('error', `socket events: ${describeError(e)}`);
    }
  },
};

export const timerHandler = {
  onTick(id: number): void {
    try {
      if (id === checkTimer && server) {
        server.tick();
        metrics.report(server);
      } else if (id === workTimer && id > 0) {
        workTimer = -1;
        server?.work();
      }
    } catch (e) {
      log('error', `timer: ${describeError(e)}`);
    }
  },
};
