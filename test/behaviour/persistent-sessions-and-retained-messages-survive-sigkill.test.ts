// Two MQTT clients (3.1.1 and 5.0) hold persistent sessions subscribed at QoS 1 and go
// away. While they are offline a third client publishes 2,000 messages at QoS 1, and
// retained messages are set; the host is SIGKILLed at a random moment during the
// stream and started again on the same --data-dir. The publisher resends what it had
// not seen acknowledged. When the two clients come back without a clean start, each
// gets every message the publisher saw acknowledged before the kill (in the order
// they were published), and every other one too; a new subscriber gets the retained
// messages. Nothing is written by the test to help: the server module keeps its
// sessions in its key-value store, committed before each PUBACK leaves the host.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { Clients, KEEPERS, withTimeout } from '../modules/server/clients.ts';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { server } from '../support/modules.ts';
import { tempDir } from '../support/paths.ts';
import { freePort } from '../support/ports.ts';
import { publishThroughKill } from '../support/publish-through-kill.ts';

const TOTAL = 2000;
const WINDOW = 64;

test('after SIGKILL and a restart on the same data dir, 3.1.1 and 5.0 clients resume their sessions with every queued message, and retained messages are back', async (t) => {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const config = writeConfig({ modules: { server: server(address, { 'max-queued-messages': 10_000 }) } });
  const dataDir = tempDir();
  const start = () => new HostProcess(['--config', config, '--data-dir', dataDir]);
  let host = start();
  const clients = new Clients(() => port);
  let publisher: mqtt.MqttClient | undefined;
  try {
    await host.ready(['server']);
    await clients.subscribeAndLeave(KEEPERS, 'load/#');
    publisher = await mqtt.connectAsync(`mqtt://${address}`, {
      clientId: 'publisher',
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: 100,
      connectTimeout: 2000,
    });
    publisher.on('error', () => {});
    await publisher.publishAsync('retained/a', 'A', { qos: 1, retain: true });
    await publisher.publishAsync('retained/b', 'B', { qos: 1, retain: true });
    await publisher.publishAsync('retained/c', 'C', { qos: 1, retain: true });
    await publisher.publishAsync('retained/c', '', { qos: 1, retain: true }); // cleared

    const p = publisher;
    const killAt = 200 + Math.floor(Math.random() * (TOTAL - 400));
    t.diagnostic(`SIGKILL after ${killAt} acknowledged publishes`);
    const { ackedBeforeKill, killed } = await publishThroughKill(p, {
      total: TOTAL,
      window: WINDOW,
      killAt,
      timeoutMs: 120_000,
      payload: (i) => String(i),
      kill: () => {
        host.kill();
        void host.exited.then(() => {
          host = start();
        });
      },
    });
    assert.ok(killed, 'the host was killed during the run');
    await host.ready(['server']);
    const restored = await host.waitForLog((l) => /^persist: keeping/.test(l.msg), 10_000, 'the restore line');
    t.diagnostic(restored.msg);
    assert.match(restored.msg, /restored 3 sessions holding \d+ messages, and 2 retained messages/);

    for (const [id, options] of Object.entries(KEEPERS)) {
      const { c, inbox, connack } = await clients.connect(id, options);
      assert.equal(connack.sessionPresent, true, `${id} resumed its session`);
      const ids = () => inbox.messages.filter((m) => m.topic.startsWith('load/')).map((m) => Number(m.payload));
      await withTimeout(
        new Promise<void>((resolve) => {
          const check = () => {
            if (new Set(ids()).size === TOTAL) resolve();
          };
          c.on('message', check);
          check();
        }),
        60_000,
        `${id} to receive all ${TOTAL} messages`,
      ).catch((e: Error) => {
        throw new Error(`${e.message} (has ${new Set(ids()).size})`);
      });
      const received = ids();
      const seen = new Set(received);
      for (const i of ackedBeforeKill) assert.ok(seen.has(i), `${id}: message ${i} was acknowledged before the kill but never arrived`);
      // What was queued before the kill comes back in publish order.
      const before = new Set(ackedBeforeKill);
      const order = received.filter((i) => before.has(i));
      const firsts = order.filter((i, k) => order.indexOf(i) === k);
      assert.deepEqual(
        firsts,
        [...ackedBeforeKill].sort((a, b) => a - b),
        `${id}: acknowledged messages out of order`,
      );
      t.diagnostic(`${id}: ${received.length} messages, ${seen.size} distinct, ${received.length - seen.size} duplicates`);
    }

    const { c: newcomer, inbox } = await clients.connect('newcomer', { protocolVersion: 5 });
    await newcomer.subscribeAsync('retained/#', { qos: 1 });
    await inbox.wait((m) => m.topic === 'retained/b', 'retained/b');
    await inbox.wait((m) => m.topic === 'retained/a', 'retained/a');
    assert.deepEqual(inbox.messages.map((m) => [m.topic, m.payload, m.retain]).sort(), [
      ['retained/a', 'A', true],
      ['retained/b', 'B', true],
    ]);
  } finally {
    publisher?.end(true);
    await clients.closeAll();
    host.kill();
  }
});
