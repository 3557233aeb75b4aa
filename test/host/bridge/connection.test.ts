// The connection against real brokers in this process: aedes (which speaks only MQTT 3.1.1)
// for the fallback from MQTT 5, and a closed port for how repeated failures are logged.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { test } from 'node:test';
import { Aedes } from 'aedes';
import pino from 'pino';
import type { ResolvedBridge } from '../../../host/bridge/config.ts';
import { Connection, type ConnectionHandlers, type Session } from '../../../host/bridge/connection.ts';
import { type LogLine, settle } from '../../support/host-process.ts';
import { freePort } from '../../support/ports.ts';

function spec(port: number, extra: Partial<ResolvedBridge> = {}): ResolvedBridge {
  return {
    name: 'test',
    url: `mqtt://127.0.0.1:${port}`,
    broker: { scheme: 'mqtt', host: '127.0.0.1', port, path: '', secure: false },
    clientId: 'bridge-test',
    protocolVersion: 5,
    keepaliveSeconds: 30,
    sessionExpirySeconds: 60,
    reconnect: { initialMs: 10, maxMs: 20 },
    out: [{ filter: 'telemetry/#', localPrefix: '', remotePrefix: '', qos: 1 }],
    in: [],
    delivery: { maxBatch: 10, maxInFlight: 10, capacity: 10, capacityBytes: 1 << 20, overflow: 'drop-oldest' },
    ...extra,
  };
}

/** A logger that keeps its lines, and resolves `until(check)` after the line that makes `check` hold. */
function capture() {
  const lines: LogLine[] = [];
  let waiters: { check: () => boolean; resolve: () => void }[] = [];
  const logger = pino(
    { level: 'debug' },
    {
      write(text: string) {
        lines.push(JSON.parse(text));
        waiters = settle(
          waiters,
          (w) => w.check(),
          (w) => w.resolve(),
        );
      },
    },
  );
  const until = (check: () => boolean) => (check() ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ check, resolve })));
  return { lines, logger, until };
}

function handlers(onUp: (s: Session) => void): ConnectionHandlers {
  return { up: (_client, s) => onUp(s), down: () => {}, message: (_c, _p, done) => done(), status: () => ({}) };
}

async function aedes(): Promise<{ port: number; close(): Promise<void> }> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle as never);
  const port = await freePort();
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    port,
    close: async () => {
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise((r) => server.close(r));
    },
  };
}

test('a broker that refuses MQTT 5 gets MQTT 3.1.1 when no in rule matches what out rules send', async () => {
  const broker = await aedes();
  const { lines, logger } = capture();
  let resolveUp!: (s: Session) => void;
  const up = new Promise<Session>((r) => (resolveUp = r));
  const c = new Connection(spec(broker.port), logger, handlers(resolveUp));
  try {
    c.start();
    const session = await up;
    assert.equal(session.protocolVersion, 4);
    assert.equal(c.protocolVersion, 4);
    assert.ok(lines.some((l) => /does not speak MQTT 5; using MQTT 3\.1\.1/.test(l.msg)));
    assert.equal(lines.filter((l) => l.level >= 50).length, 0);
  } finally {
    await c.stop();
    await broker.close();
  }
});

test('over MQTT 3.1.1 rules that could echo are refused once, with the fix', async () => {
  const broker = await aedes();
  const { lines, logger, until } = capture();
  const c = new Connection(
    spec(broker.port),
    logger,
    handlers(() => assert.fail('connected')),
    { echoRisk: 'in[0] (telemetry/#) matches what out[0] sends' },
  );
  try {
    c.start();
    const attempts = () => lines.filter((l) => /attempt \d+ failed/.test(l.msg)).length;
    await until(() => attempts() >= 5);
    const refused = lines.filter((l) => l.code === 'EH_BRIDGE_REFUSED');
    assert.equal(refused.length, 1);
    assert.match(refused[0].msg, /does not speak MQTT 5, and over MQTT 3\.1\.1 \(no no-local\) in\[0\] \(telemetry\/#\) matches what out\[0\] sends/);
    assert.equal(c.protocolVersion, 5);
    assert.equal(c.lastError?.code, 'EH_BRIDGE_REFUSED');
  } finally {
    await c.stop();
    await broker.close();
  }
});

test('a failure that repeats is logged once, then summarised once per interval with the count', async () => {
  const port = await freePort();
  const { lines, logger, until } = capture();
  const c = new Connection(
    spec(port),
    logger,
    handlers(() => assert.fail('connected')),
    { summaryIntervalMs: 300 },
  );
  try {
    c.start();
    const summaries = () => lines.filter((l) => l.code === 'EH_BRIDGE_UNREACHABLE' && /still not connected/.test(l.msg));
    await until(() => summaries().length >= 1);
    const first = lines.filter((l) => l.code === 'EH_BRIDGE_UNREACHABLE' && !/still not connected/.test(l.msg));
    assert.equal(first.length, 1);
    const [summary] = summaries();
    assert.ok(Number(summary.repeats) >= 3, `repeats: ${summary.repeats}`);
    assert.match(summary.msg, /^bridge test: still not connected after \d+ attempts: nothing accepts connections/);
    assert.ok(c.failedAttempts > Number(summary.repeats));
    assert.equal(c.state === 'waiting' || c.state === 'connecting', true);
  } finally {
    await c.stop();
  }
  assert.equal(c.state, 'stopped');
});
