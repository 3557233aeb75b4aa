// The two brokers the storms run against: edgehost (the host process with only the
// server module, from the config the abuse tests and the soak share) and Mosquitto
// (Debian's, with a WebSocket listener for the WebSocket storms).
import { moduleTrouble } from '../../modules/server/clients.ts';
import { HostProcess, writeConfig } from '../host-process.ts';
import { server } from '../modules.ts';
import { Mosquitto, mosquittoVersion } from '../mosquitto.ts';
import { freePort } from '../ports.ts';
import type { StormTarget } from './measure.ts';

export interface EdgehostUnderStorm {
  target: StormTarget;
  host: HostProcess;
  port: number;
}

/** Retained messages the server module may keep: room for the long form of the retained storm. */
const MAX_RETAINED = 120_000;

/**
 * The host with the server module, its budgets at their defaults except where a storm needs
 * more room to reach the guest's own limits: more sockets than the default 1000 and more per
 * address, and a short handshake deadline so that the slow-upgrade storm ends within a test.
 */
export async function startEdgehost(): Promise<EdgehostUnderStorm> {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const config = writeConfig({
    modules: {
      server: {
        ...server(address, { 'max-retained-messages': MAX_RETAINED }),
        grants: {
          pubsub: { publish: ['#'], subscribe: ['#'] },
          socket: { listen: [address], maxConnections: 2000, maxConnectionsPerAddress: 500, handshakeTimeoutMs: 1500 },
        },
      },
    },
  });
  const host = new HostProcess(['--config', config]);
  await host.ready(['server']);
  const target: StormTarget = {
    name: 'edgehost',
    port,
    wsPort: port,
    pid: () => host.child.pid!,
    trouble: () => [
      ...(host.child.exitCode !== null || host.child.signalCode !== null ? [`the host exited (${host.child.exitCode ?? host.child.signalCode})`] : []),
      ...moduleTrouble(host).map((l) => `${l.module ?? 'host'}: ${l.msg}`),
    ],
    notReadingCut: async (peers) => {
      const cut = new Set(peers);
      await host.waitForLog(
        (l) => l.module === 'server' && /not keeping up|not reading/.test(l.msg) && cut.has(String(l.remoteAddress)),
        30_000,
        'the host to cut a subscriber that does not read',
      );
    },
  };
  return { target, host, port };
}

/** Mosquitto as it ships, no persistence, with a WebSocket listener: the baseline broker. */
export async function startMosquitto(): Promise<{ target: StormTarget; broker: Mosquitto }> {
  const broker = await Mosquitto.start({ persistence: false, websockets: true });
  const target: StormTarget = {
    name: `mosquitto ${mosquittoVersion()}`,
    port: broker.port,
    wsPort: broker.wsPort,
    pid: () => broker.pid ?? 0,
    trouble: () => (broker.running ? [] : [`mosquitto exited\n${broker.output.slice(-2000)}`]),
  };
  return { target, broker };
}
