// The MQTT server module crashes in the middle of a call while the host keeps running,
// and its next instance gives back what clients were promised. Two clients (3.1.1 and
// 5.0) hold persistent sessions subscribed at QoS 1 and go away; messages for them are
// published (and acknowledged) and retained messages set. Then the test holds the
// write lock of the module's key-value file, so the next write waits for it, and
// publishes once more: that call runs past the module's deadline and its worker is
// terminated (EH_MODULE_DEADLINE), with its write uncommitted and its PUBACK unsent.
// The lock is let go; the module restarts, restores its sessions, and the publisher
// resends the message it never saw acknowledged. The two clients come back and get
// every message; a new subscriber gets the retained ones.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { Clients, KEEPERS, withTimeout } from '../modules/server/clients.ts';
import { HostProcess, writeConfig } from '../support/host-process.ts';
import { server } from '../support/modules.ts';
import { tempDir } from '../support/paths.ts';
import { freePort } from '../support/ports.ts';

test('a crash of the server module in the middle of a call loses no acknowledged message of a persistent session, nor a retained message', async (t) => {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const dataDir = tempDir();
  // A key-value write waits up to 2 s for a busy file; the deadline ends the call before that.
  const config = writeConfig({ modules: { server: { ...server(address), limits: { callDeadlineMs: 1000 }, restart: { initialBackoffMs: 50 } } } });
  const host = new HostProcess(['--config', config, '--data-dir', dataDir]);
  const clients = new Clients(() => port);
  let publisher: mqtt.MqttClient | undefined;
  let lock: DatabaseSync | undefined;
  try {
    await host.ready(['server']);
    await clients.subscribeAndLeave(KEEPERS, 'news/#');
    publisher = await mqtt.connectAsync(`mqtt://${address}`, {
      clientId: 'publisher',
      clean: false,
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 60 },
      reconnectPeriod: 100,
      connectTimeout: 2000,
    });
    publisher.on('error', () => {});
    for (let i = 1; i <= 50; i++) await publisher.publishAsync(`news/${i % 3}`, `acked ${i}`, { qos: 1 });
    await publisher.publishAsync('retained/x', 'X', { qos: 1, retain: true });

    lock = new DatabaseSync(join(dataDir, 'kv', 'server.sqlite'));
    lock.exec('BEGIN IMMEDIATE');
    const last = publisher.publishAsync('news/last', 'unacknowledged when the module crashed', { qos: 1 });
    const crash = await host.waitForLog((l) => l.module === 'server' && l.code === 'EH_MODULE_DEADLINE', 15_000, 'the module to run past its deadline');
    t.diagnostic(crash.msg);
    lock.exec('ROLLBACK');
    lock.close();
    lock = undefined;
    await host.waitForLog((l) => l.msg === 'module server ready' && (l.restarts as number) >= 1, 15_000, 'the module to be ready again');
    const restored = await host.waitForLog((l) => /^persist: keeping/.test(l.msg) && (l.time as number) > (crash.time as number), 10_000, 'the restore line');
    t.diagnostic(restored.msg);
    assert.match(restored.msg, /restored 3 sessions holding 100 messages, and 1 retained messages/);
    // The publisher saw no PUBACK for it: it resends after reconnecting, and it is acknowledged now.
    await withTimeout(last, 15_000, 'the resent publish to be acknowledged');

    const expected = [...Array.from({ length: 50 }, (_, k) => `acked ${k + 1}`), 'unacknowledged when the module crashed'];
    for (const [id, options] of Object.entries(KEEPERS)) {
      const { inbox, connack } = await clients.connect(id, options);
      assert.equal(connack.sessionPresent, true, `${id} resumed its session`);
      await inbox.wait((m) => m.topic === 'news/last', `${id}: the resent message`);
      const got = inbox.messages.map((m) => m.payload);
      assert.deepEqual([...new Set(got)], expected, `${id}: every message, in order`);
    }
    const { c: newcomer, inbox } = await clients.connect('newcomer');
    await newcomer.subscribeAsync('retained/#', { qos: 1 });
    const x = await inbox.wait((m) => m.topic === 'retained/x', 'the retained message');
    assert.deepEqual([x.payload, x.retain], ['X', true]);
  } finally {
    lock?.close();
    publisher?.end(true);
    await clients.closeAll();
    host.kill();
  }
});
