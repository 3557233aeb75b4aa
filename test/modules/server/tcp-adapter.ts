// Serves the server core on a real TCP port, as the host would: socket events in,
// bytes and closes out. Lets real MQTT clients talk to the core in tests.

import type { AddressInfo } from 'node:net';
import net from 'node:net';
import defaults from '../../../modules/server/module.json' with { type: 'json' };
import { loadOptions } from '../../../modules/server/src/options.ts';
import { type Platform, Server } from '../../../modules/server/src/server.ts';

export interface TcpServer {
  port: number;
  server: Server;
  bus: { topic: string; payload: Buffer }[];
  close(): Promise<void>;
}

export async function serveTcp(config: Record<string, unknown> = {}): Promise<TcpServer> {
  const sockets = new Map<number, net.Socket>();
  const bus: { topic: string; payload: Buffer }[] = [];
  const platform: Platform = {
    send: (id, bytes) => void sockets.get(id)?.write(bytes),
    close: (id) => void sockets.get(id)?.end(),
    publishToBus: (topic, payload) => void bus.push({ topic, payload: Buffer.from(payload) }),
    busSubscribe: () => {},
    busUnsubscribe: () => {},
    now: () => Date.now(),
    log: () => {},
    wake: () => void setImmediate(() => server.work()),
  };
  const options = loadOptions((k) => (config[k] === undefined ? undefined : JSON.stringify(config[k])), defaults.config);
  const server = new Server(platform, options);
  let nextId = 1;
  const tcp = net.createServer((socket) => {
    const id = nextId++;
    sockets.set(id, socket);
    server.handleSocketEvents([
      { tag: 'opened', val: { id, localAddress: 'test', remoteAddress: `${socket.remoteAddress}:${socket.remotePort}`, transport: 'tcp' } },
    ]);
    socket.on('data', (data) => server.handleSocketEvents([{ tag: 'data', val: [id, new Uint8Array(data)] }]));
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(id);
      server.handleSocketEvents([{ tag: 'closed', val: id }]);
    });
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const timer = setInterval(() => server.tick(), 100);
  return {
    port: (tcp.address() as AddressInfo).port,
    server,
    bus,
    close: async () => {
      clearInterval(timer);
      for (const s of sockets.values()) s.destroy();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}
