// MQTT 5.0 through the real host and the built server component, with real clients:
// mqtt.js (protocolVersion 5) and Mosquitto's mosquitto_pub / mosquitto_sub /
// mosquitto_rr (-V mqttv5). One group per feature of the server's 5.0 support.

import assert from 'node:assert/strict';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HostProcess, writeConfig } from '../../support/host-process.ts';
import { server } from '../../support/modules.ts';
import { freePort } from '../../support/ports.ts';
import { assertNoRestart, Clients, nextDisconnect, Processes, vanish, WAIT_MS, withTimeout } from './clients.ts';

let host: HostProcess;
let port = 0;
const clients = new Clients(() => port);
const processes = new Processes();

/** How long "nothing arrives" is watched for, after a positive control showed the path works. */
const QUIET_MS = 300;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

before(async () => {
  port = await freePort();
  const address = `127.0.0.1:${port}`;
  const config = writeConfig({
    modules: {
      server: server(address, {
        acl: { publish: ['t5/#'], subscribe: ['t5/#'] },
        'receive-maximum': 20,
        'topic-alias-maximum': 8,
        'max-packet-size': 4096,
        'max-session-expiry-s': 3600,
      }),
    },
  });
  host = new HostProcess(['--config', config]);
  await host.ready(['server']);
});

after(async () => {
  processes.killAll();
  await clients.closeAll();
  host?.kill();
});

const v5 = () => ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv5'];

/** mosquitto_sub printing each message as JSON (with its properties), resolved once subscribed. */
async function mosquittoSub(args: string[]): Promise<ReturnType<Processes['run']>> {
  // stdbuf: mosquitto_sub's debug lines (SUBACK) are block-buffered into a pipe otherwise.
  const sub = processes.run('stdbuf', ['-oL', 'mosquitto_sub', ...v5(), '-d', '-W', '10', '-F', 'JSON %j', ...args]);
  await sub.line(/received SUBACK/, 'mosquitto_sub to be subscribed');
  return sub;
}

const json = (line: string) =>
  JSON.parse(line.slice('JSON '.length)) as { topic: string; payload: string; retain: number; properties?: Record<string, unknown> };

describe('MQTT 5.0 CONNACK', () => {
  it('mqtt.js sees the server limits: receive maximum, maximum packet size, topic alias maximum', async () => {
    const { connack } = await clients.connect('connack-5');
    assert.equal(connack.properties?.receiveMaximum, 20);
    assert.equal(connack.properties?.maximumPacketSize, 4099);
    assert.equal(connack.properties?.topicAliasMaximum, 8);
  });

  it('an empty client id gets one assigned, in CONNACK', async () => {
    const { connack } = await clients.connect('');
    assert.match(String(connack.properties?.assignedClientIdentifier), /^edgehost-/);
  });
});

describe('MQTT 5.0 message properties and request/response', () => {
  it('mqtt.js → mqtt.js: user properties, content type, payload format, response topic, correlation data and expiry arrive', async () => {
    const { c: sub, inbox } = await clients.connect('props-sub');
    await sub.subscribeAsync('t5/props', { qos: 1 });
    const { c: pub } = await clients.connect('props-pub');
    await pub.publishAsync('t5/props', '{"a":1}', {
      qos: 1,
      properties: {
        payloadFormatIndicator: true,
        contentType: 'application/json',
        responseTopic: 't5/replies',
        correlationData: Buffer.from('corr-1'),
        messageExpiryInterval: 60,
        userProperties: { k: 'v', multi: ['1', '2'] },
      },
    });
    const got = await inbox.wait((m) => m.topic === 't5/props', 'the message with properties');
    const p = got.properties!;
    assert.equal(p.payloadFormatIndicator, true);
    assert.equal(p.contentType, 'application/json');
    assert.equal(p.responseTopic, 't5/replies');
    assert.equal(Buffer.from(p.correlationData!).toString(), 'corr-1');
    assert.ok(p.messageExpiryInterval! <= 60 && p.messageExpiryInterval! >= 58, `expiry ${p.messageExpiryInterval}`);
    assert.deepEqual({ ...p.userProperties }, { k: 'v', multi: ['1', '2'] });
  });

  it('mosquitto_pub → mosquitto_sub: the properties given with -D publish arrive, message expiry counted down', async () => {
    const sub = await mosquittoSub(['-t', 't5/cli-props', '-C', '1']);
    await processes.ok('mosquitto_pub', [
      ...v5(),
      '-t',
      't5/cli-props',
      '-m',
      'hello',
      '-D',
      'publish',
      'user-property',
      'k',
      'v',
      '-D',
      'publish',
      'content-type',
      'text/plain',
      '-D',
      'publish',
      'response-topic',
      't5/r',
      '-D',
      'publish',
      'correlation-data',
      'abc',
      '-D',
      'publish',
      'payload-format-indicator',
      '1',
      '-D',
      'publish',
      'message-expiry-interval',
      '60',
    ]);
    const m = json(await sub.line(/^JSON /, 'the message'));
    assert.equal(m.payload, 'hello');
    const { 'message-expiry-interval': expiry, ...rest } = m.properties ?? {};
    assert.deepEqual(rest, {
      'user-properties': { k: 'v' },
      'content-type': 'text/plain',
      'response-topic': 't5/r',
      'correlation-data': 'abc',
      'payload-format-indicator': 1,
    });
    assert.ok(typeof expiry === 'number' && expiry <= 60 && expiry >= 58, `message expiry ${expiry}`);
  });

  it('mosquitto_rr gets the answer of an mqtt.js responder that replies to the response topic with the correlation data', async () => {
    const { c: responder } = await clients.connect('responder');
    await responder.subscribeAsync('t5/rr/request', { qos: 1 });
    responder.on('message', (_topic, payload, packet) => {
      const props = packet.properties ?? {};
      if (!props.responseTopic) return;
      void responder.publishAsync(props.responseTopic, `re: ${payload.toString()}`, { qos: 1, properties: { correlationData: props.correlationData } });
    });
    const rr = await processes.ok('mosquitto_rr', [...v5(), '-t', 't5/rr/request', '-e', 't5/rr/response', '-m', 'ping', '-W', '10']);
    assert.match(rr.output(), /re: ping/);
  });
});

describe('MQTT 5.0 reason codes', () => {
  it('PUBACK says 0x87 for a topic the ACL denies; SUBACK 0x87 for a denied filter; UNSUBACK 0x11 for no subscription', async () => {
    const { c } = await clients.connect('reasons');
    await assert.rejects(c.publishAsync('denied/x', 'no', { qos: 1 }), (e: { code?: number }) => e.code === 0x87);
    const granted = await c.subscribeAsync({ 't5/ok': { qos: 1 }, 'denied/#': { qos: 1 } }).catch((e: { packet?: { granted: number[] } }) => e.packet);
    const codes = Array.isArray(granted) ? granted.map((g) => g.qos) : granted?.granted;
    assert.deepEqual(codes, [1, 0x87]);
    const unsuback = (await c.unsubscribeAsync(['t5/ok', 't5/never'])) as unknown as { granted?: number[] };
    assert.deepEqual(unsuback?.granted, [0x00, 0x11]);
  });
});

describe('MQTT 5.0 session expiry and message expiry', () => {
  it('mqtt.js: a session with an expiry keeps its subscription and QoS 1 messages while away; an expired message is dropped', async () => {
    const opts = { clean: false, properties: { sessionExpiryInterval: 60 } };
    const { c: first } = await clients.connect('expiring', opts);
    await first.subscribeAsync('t5/away', { qos: 1 });
    await first.endAsync();
    const { c: pub } = await clients.connect('away-pub');
    await pub.publishAsync('t5/away', 'short-lived', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await pub.publishAsync('t5/away', 'kept', { qos: 1 });
    await pause(1500); // message expiry is wall-clock time: let the first one's second pass
    const { inbox, connack } = await clients.connect('expiring', opts);
    assert.equal(connack.sessionPresent, true);
    await inbox.wait((m) => m.payload === 'kept', 'the queued message');
    assert.deepEqual(
      inbox.on('t5/away').map((m) => m.payload),
      ['kept'],
    );
  });

  it('mosquitto_sub -c -x 60: messages published while it was away arrive when it comes back', async () => {
    const args = ['-c', '-x', '60', '-i', 'cli-expiring', '-q', '1', '-t', 't5/cli-away'];
    const first = await mosquittoSub([...args, '-E']);
    assert.equal(await withTimeout(first.exited, WAIT_MS, 'mosquitto_sub -E to exit'), 0, first.output());
    await processes.ok('mosquitto_pub', [...v5(), '-q', '1', '-t', 't5/cli-away', '-m', 'while away']);
    const again = processes.run('mosquitto_sub', [...v5(), ...args, '-C', '1', '-W', '10', '-F', '%p']);
    assert.equal(await withTimeout(again.exited, WAIT_MS, 'mosquitto_sub to get the message'), 0, again.output());
    assert.match(again.output(), /while away/);
  });
});

describe('MQTT 5.0 topic aliases', () => {
  it('mqtt.js with autoAssignTopicAlias: aliased publishes reach subscribers with the full topic', async () => {
    const { c: sub, inbox } = await clients.connect('alias-sub');
    await sub.subscribeAsync('t5/alias/#', { qos: 1 });
    const { c: pub } = await clients.connect('alias-pub', { autoAssignTopicAlias: true });
    for (const n of [1, 2, 3]) await pub.publishAsync('t5/alias/a/rather/long/topic/name', `${n}`, { qos: 1 });
    await inbox.wait(() => inbox.on('t5/alias/a/rather/long/topic/name').length === 3, 'three aliased messages');
    assert.deepEqual(
      inbox.on('t5/alias/a/rather/long/topic/name').map((m) => m.payload),
      ['1', '2', '3'],
    );
  });

  it('mosquitto_pub setting a topic alias is accepted', async () => {
    const sub = await mosquittoSub(['-t', 't5/cli-alias', '-C', '1']);
    await processes.ok('mosquitto_pub', [...v5(), '-t', 't5/cli-alias', '-m', 'aliased', '-D', 'publish', 'topic-alias', '3']);
    assert.equal(json(await sub.line(/^JSON /, 'the message')).topic, 't5/cli-alias');
  });

  it('an alias above the maximum gets DISCONNECT 0x94', async () => {
    const { c } = await clients.connect('alias-bad');
    const disconnect = nextDisconnect(c, 'DISCONNECT');
    // Past mqtt.js's own check: the raw stream.
    const topic = Buffer.from('t5/x');
    const props = Buffer.from([3, 0x23, 0, 99]);
    (c as unknown as { stream: net.Socket }).stream.write(
      Buffer.concat([Buffer.from([0x30, 2 + topic.length + props.length + 1]), Buffer.from([0, topic.length]), topic, props, Buffer.from('x')]),
    );
    assert.equal(await disconnect, 0x94);
  });
});

describe('MQTT 5.0 shared subscriptions', () => {
  it('mqtt.js: two members of $share/g share the messages, each once; mosquitto_sub alone in another group gets them all', async () => {
    const a = await clients.connect('share-a');
    const b = await clients.connect('share-b');
    await a.c.subscribeAsync('$share/g/t5/jobs', { qos: 1 });
    await b.c.subscribeAsync('$share/g/t5/jobs', { qos: 1 });
    const cli = await mosquittoSub(['-t', '$share/audit/t5/jobs', '-q', '1', '-C', '10']);
    const { c: pub } = await clients.connect('share-pub');
    for (let i = 0; i < 10; i++) await pub.publishAsync('t5/jobs', `${i}`, { qos: 1 });
    await a.inbox.wait(() => a.inbox.messages.length + b.inbox.messages.length === 10, 'all ten jobs');
    assert.equal(a.inbox.messages.length, 5, 'round robin');
    assert.equal(b.inbox.messages.length, 5, 'round robin');
    assert.deepEqual([...a.inbox.messages, ...b.inbox.messages].map((m) => m.payload).sort(), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.equal(await withTimeout(cli.exited, WAIT_MS, 'mosquitto_sub to get ten'), 0, cli.output());
  });
});

describe('MQTT 5.0 subscription options and identifiers', () => {
  it("no-local: mqtt.js does not get its own messages on a {nl: true} subscription, but another client's", async () => {
    const { c, inbox } = await clients.connect('nolocal');
    await c.subscribeAsync('t5/nl', { qos: 1, nl: true });
    await c.publishAsync('t5/nl', 'mine', { qos: 1 });
    const { c: other } = await clients.connect('nolocal-other');
    await other.publishAsync('t5/nl', 'theirs', { qos: 1 });
    await inbox.wait((m) => m.payload === 'theirs', "the other client's message");
    await pause(QUIET_MS);
    assert.deepEqual(
      inbox.on('t5/nl').map((m) => m.payload),
      ['theirs'],
    );
  });

  it('retain-as-published: {rap: true} keeps RETAIN on a live message, a plain subscription gets it cleared', async () => {
    const rap = await clients.connect('rap');
    await rap.c.subscribeAsync('t5/rap', { qos: 1, rap: true });
    const plain = await clients.connect('no-rap');
    await plain.c.subscribeAsync('t5/rap', { qos: 1 });
    const { c: pub } = await clients.connect('rap-pub');
    await pub.publishAsync('t5/rap', 'live', { qos: 1, retain: true });
    assert.equal((await rap.inbox.wait((m) => m.payload === 'live', 'live on rap')).retain, true);
    assert.equal((await plain.inbox.wait((m) => m.payload === 'live', 'live on plain')).retain, false);
  });

  it('retain handling: rh 2 gets no retained message, rh 1 only on the first subscribe', async () => {
    const { c: pub } = await clients.connect('rh-pub');
    await pub.publishAsync('t5/rh', 'kept', { qos: 1, retain: true });
    const never = await clients.connect('rh2');
    await never.c.subscribeAsync('t5/rh', { qos: 1, rh: 2 });
    const once = await clients.connect('rh1');
    await once.c.subscribeAsync('t5/rh', { qos: 1, rh: 1 });
    await once.inbox.wait((m) => m.payload === 'kept', 'the retained message on the first subscribe');
    await once.c.subscribeAsync('t5/rh', { qos: 1, rh: 1 });
    await pub.publishAsync('t5/rh', 'marker', { qos: 1 });
    await once.inbox.wait((m) => m.payload === 'marker', 'the marker');
    await never.inbox.wait((m) => m.payload === 'marker', 'the marker');
    assert.deepEqual(
      once.inbox.on('t5/rh').map((m) => m.payload),
      ['kept', 'marker'],
    );
    assert.deepEqual(
      never.inbox.on('t5/rh').map((m) => m.payload),
      ['marker'],
    );
  });

  it('subscription identifiers: mqtt.js and mosquitto_sub get the identifier of their subscription with each message', async () => {
    const { c, inbox } = await clients.connect('subid');
    await c.subscribeAsync('t5/subid/#', { qos: 1, properties: { subscriptionIdentifier: 42 } });
    const cli = await mosquittoSub(['-t', 't5/subid/+', '-C', '1', '-D', 'subscribe', 'subscription-identifier', '7']);
    const { c: pub } = await clients.connect('subid-pub');
    await pub.publishAsync('t5/subid/x', 'tagged', { qos: 1 });
    assert.equal((await inbox.wait((m) => m.payload === 'tagged', 'the tagged message')).properties?.subscriptionIdentifier, 42);
    assert.equal(json(await cli.line(/^JSON /, 'the message')).properties?.['subscription-identifier'], 7);
  });
});

describe('MQTT 5.0 maximum packet size and receive maximum', () => {
  it("a message larger than the client's maximum packet size is not sent to it; the next one that fits is", async () => {
    const { c, inbox } = await clients.connect('small-packets', { properties: { maximumPacketSize: 200 } });
    await c.subscribeAsync('t5/size', { qos: 1 });
    const { c: pub } = await clients.connect('size-pub');
    await pub.publishAsync('t5/size', 'x'.repeat(500), { qos: 1 });
    await pub.publishAsync('t5/size', 'small', { qos: 1 });
    await inbox.wait((m) => m.payload === 'small', 'the small message');
    assert.deepEqual(
      inbox.on('t5/size').map((m) => m.payload),
      ['small'],
    );
  });

  it('a packet over the server maximum (4096) gets DISCONNECT 0x95', async () => {
    const { c } = await clients.connect('too-large');
    const disconnect = nextDisconnect(c, 'DISCONNECT 0x95');
    (c as unknown as { stream: net.Socket }).stream.write(Buffer.from([0x30, 0x80, 0x40])); // remaining length 8192
    assert.equal(await disconnect, 0x95);
  });

  it('mqtt.js sending more QoS 2 messages at once than the receive maximum of 20 gets DISCONNECT 0x93; within it all complete', async () => {
    const { c: within } = await clients.connect('rm-within');
    await Promise.all(Array.from({ length: 20 }, (_, i) => within.publishAsync('t5/rm', `${i}`, { qos: 2 })));
    const { c: over } = await clients.connect('rm-over');
    const disconnect = nextDisconnect(over, 'DISCONNECT 0x93');
    for (let i = 0; i < 40; i++) over.publish('t5/rm', `${i}`, { qos: 2 }, () => {});
    assert.equal(await disconnect, 0x93);
  });
});

describe('MQTT 5.0 DISCONNECT and wills', () => {
  it('a client taken over by another connection with its client id gets DISCONNECT 0x8E', async () => {
    const { c: first } = await clients.connect('taken');
    const disconnect = nextDisconnect(first, 'DISCONNECT 0x8E');
    await clients.connect('taken');
    assert.equal(await disconnect, 0x8e);
  });

  it('DISCONNECT 0x04 from mqtt.js publishes its will; a normal DISCONNECT does not', async () => {
    const { c: watcher, inbox } = await clients.connect('will-watcher');
    await watcher.subscribeAsync('t5/will/+', { qos: 1 });
    const { c: asks } = await clients.connect('will-asks', { will: { topic: 't5/will/asks', payload: Buffer.from('as asked'), qos: 1, retain: false } });
    const { c: polite } = await clients.connect('will-polite', { will: { topic: 't5/will/polite', payload: Buffer.from('no'), qos: 1, retain: false } });
    await polite.endAsync(false, { reasonCode: 0 });
    await asks.endAsync(false, { reasonCode: 0x04 });
    await inbox.wait((m) => m.topic === 't5/will/asks', 'the will');
    await pause(QUIET_MS);
    assert.deepEqual(inbox.on('t5/will/polite'), []);
  });

  it('a will with a delay of 1 s is published about a second after the client vanished, with its properties', async () => {
    const { c: watcher, inbox } = await clients.connect('delay-watcher');
    await watcher.subscribeAsync('t5/delayed', { qos: 1 });
    const { c: dying } = await clients.connect('delayed', {
      properties: { sessionExpiryInterval: 30 },
      will: { topic: 't5/delayed', payload: Buffer.from('late'), qos: 1, retain: false, properties: { willDelayInterval: 1, contentType: 'text/plain' } },
    });
    const vanishedAt = Date.now();
    vanish(dying);
    const got = await inbox.wait((m) => m.topic === 't5/delayed', 'the delayed will');
    const after = Date.now() - vanishedAt;
    assert.ok(after >= 900, `published ${after} ms after the client vanished`);
    assert.equal(got.properties?.contentType, 'text/plain');
  });

  it('mosquitto_sub -V mqttv5 killed without DISCONNECT has its will published', async () => {
    const { c: watcher, inbox } = await clients.connect('cli-will-watcher');
    await watcher.subscribeAsync('t5/cli-will', { qos: 1 });
    const dying = await mosquittoSub(['-t', 't5/other', '--will-topic', 't5/cli-will', '--will-payload', 'cli gone']);
    dying.child.kill('SIGKILL');
    assert.equal((await inbox.wait((m) => m.topic === 't5/cli-will', 'the will')).payload, 'cli gone');
  });
});

describe('MQTT 5.0 and 3.1.1 together', () => {
  it('mosquitto_pub -V mqttv311 reaches an mqtt.js 5.0 subscriber, and mqtt.js 5.0 reaches mosquitto_sub -V mqttv311', async () => {
    const { c, inbox } = await clients.connect('mixed-5');
    await c.subscribeAsync('t5/mixed/to5', { qos: 1 });
    await processes.ok('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv311', '-q', '1', '-t', 't5/mixed/to5', '-m', 'from 3.1.1']);
    await inbox.wait((m) => m.payload === 'from 3.1.1', 'the 3.1.1 message');
    const sub = processes.run('stdbuf', [
      '-oL',
      'mosquitto_sub',
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-V',
      'mqttv311',
      '-d',
      '-t',
      't5/mixed/to3',
      '-C',
      '1',
      '-W',
      '10',
    ]);
    await sub.line(/received SUBACK/, 'mosquitto_sub 3.1.1 to be subscribed');
    await c.publishAsync('t5/mixed/to3', 'from 5.0', { qos: 1, properties: { userProperties: { dropped: 'for 3.1.1' } } });
    assert.equal(await withTimeout(sub.exited, WAIT_MS, 'mosquitto_sub to exit'), 0, sub.output());
    assert.match(sub.output(), /from 5\.0/);
  });

  it('the server module was never restarted and logged no error through all of the above', () => {
    assertNoRestart(host);
  });
});
