// The server module as users run it: the real host in a child process, the built
// component, real MQTT clients (mqtt.js over TCP and WebSocket, Mosquitto's command-line
// clients, raw sockets for what no well-behaved client sends) on loopback, and the bus
// carrying messages between MQTT clients and the telemetry and gateway modules.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { IClientOptions, MqttClient } from 'mqtt';
import mqtt from 'mqtt';
import { HostProcess, settle, writeConfig } from '../../support/host-process.ts';
import { HttpSink } from '../../support/http-sink.ts';
import { gateway, server, telemetry } from '../../support/modules.ts';
import { freePort } from '../../support/ports.ts';
import { connectPacket, PINGREQ, publishPacket } from '../../support/storms/wire.ts';

const WAIT_MS = 10_000;
/** How long "nothing arrives" is watched for, after a positive control showed the path works. */
const QUIET_MS = 300;

let host: HostProcess;
let sink: HttpSink;
let port: number;
const clients: MqttClient[] = [];
const sockets: net.Socket[] = [];
const processes: ChildProcess[] = [];

before(async () => {
  sink = await new HttpSink().listen();
  port = await freePort();
  const address = `127.0.0.1:${port}`;
  const config = writeConfig({
    modules: {
      // Clients may subscribe under t/ and telemetry/ only: secret/# is refused.
      server: server(address, { acl: { publish: ['#'], subscribe: ['t/#', 'telemetry/#'] } }),
      telemetry: telemetry({ 'interval-ms': 200 }),
      gateway: gateway(sink.url, 'telemetry/#'),
    },
  });
  host = new HostProcess(['--config', config]);
  await host.ready(['server', 'telemetry', 'gateway']);
});

after(async () => {
  for (const s of sockets) s.destroy();
  for (const p of processes) p.kill('SIGKILL');
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
  host?.kill();
  await sink?.close();
});

// ---- helpers ----

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Received {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
  dup: boolean;
}

/** Every message a client receives, kept in order, with a way to await one. */
class Inbox {
  readonly messages: Received[] = [];
  #waiters: { match: (m: Received) => boolean; resolve: (m: Received) => void }[] = [];

  constructor(client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      const m: Received = { topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain, dup: packet.dup };
      this.messages.push(m);
      this.#waiters = settle(
        this.#waiters,
        (w) => w.match(m),
        (w) => w.resolve(m),
      );
    });
  }

  /** The first message (past or future) that matches. */
  wait(match: (m: Received) => boolean, what: string, timeoutMs = WAIT_MS): Promise<Received> {
    const seen = this.messages.find(match);
    if (seen) return Promise.resolve(seen);
    return withTimeout(
      new Promise<Received>((resolve) => this.#waiters.push({ match, resolve })),
      timeoutMs,
      `${what} (received so far: ${JSON.stringify(this.messages)})`,
    );
  }

  on(topic: string): Received[] {
    return this.messages.filter((m) => m.topic === topic);
  }
}

async function client(clientId: string, options: IClientOptions = {}, url = `mqtt://127.0.0.1:${port}`): Promise<{ c: MqttClient; inbox: Inbox }> {
  const c = mqtt.connect(url, { clientId, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: WAIT_MS, ...options });
  clients.push(c);
  // Listening before CONNACK: messages a session resumes with follow it in the same segment.
  const inbox = new Inbox(c);
  await withTimeout(new Promise<void>((resolve, reject) => c.once('connect', () => resolve()).once('error', reject)), WAIT_MS, `${clientId} to connect`);
  return { c, inbox };
}

/** Destroys the client's transport without DISCONNECT, as a crash or a pulled cable would. */
function vanish(c: MqttClient): void {
  (c as unknown as { stream: { destroy(): void } }).stream.destroy();
}

// Raw MQTT 3.1.1 packets (test/support/storms/wire.ts), for clients that misbehave.

const CONNACK_ACCEPTED = Buffer.from([0x20, 0x02, 0x00, 0x00]);

/** A TCP connection that records what the server sends and how the connection ends. */
class RawClient {
  readonly socket: net.Socket;
  received = Buffer.alloc(0);
  /** When CONNECT was written: the server cannot have received it earlier. */
  connectSentAt = 0;
  /** The server ended the connection (FIN or reset) before we did. */
  endedByServer = false;
  readonly closed: Promise<number>;
  #grew: (() => void)[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    sockets.push(socket);
    socket.on('data', (chunk) => {
      this.received = Buffer.concat([this.received, chunk]);
      for (const w of this.#grew.splice(0)) w();
    });
    socket.on('end', () => (this.endedByServer = true));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET') this.endedByServer = true;
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve(Date.now())));
  }

  static async open(): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1');
    await withTimeout(new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject)), WAIT_MS, 'raw TCP connect');
    return new RawClient(socket);
  }

  /** Opens a connection and completes CONNECT/CONNACK. */
  static async connected(clientId: string, options?: Parameters<typeof connectPacket>[1]): Promise<RawClient> {
    const raw = await RawClient.open();
    raw.connectSentAt = Date.now();
    raw.socket.write(connectPacket(clientId, options));
    await raw.receivedAtLeast(CONNACK_ACCEPTED.length, 'CONNACK');
    assert.deepEqual(raw.received.subarray(0, 4), CONNACK_ACCEPTED);
    return raw;
  }

  async receivedAtLeast(n: number, what: string): Promise<void> {
    while (this.received.length < n) {
      await withTimeout(new Promise<void>((resolve) => this.#grew.push(resolve)), WAIT_MS, `${what} (received ${this.received.toString('hex')})`);
    }
  }

  /** Resolves once the server has closed the connection; fails if it does not within the time. */
  async closedByServer(what: string, timeoutMs = WAIT_MS): Promise<void> {
    await withTimeout(this.closed, timeoutMs, `the server to close the connection after ${what}`);
    assert.ok(this.endedByServer, `the connection closed after ${what}, but not by the server`);
  }
}

// Mosquitto's command-line clients as child processes.

interface Cli {
  output: () => string;
  exited: Promise<number | null>;
  /** Resolves when a stdout line matches. */
  line(match: RegExp, what: string): Promise<string>;
}

function cli(command: string, args: string[]): Cli {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  processes.push(child);
  let stdout = '';
  let stderr = '';
  const waiters: { match: RegExp; resolve: (l: string) => void }[] = [];
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const w of [...waiters]) {
      const line = stdout.split('\n').find((l) => w.match.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const output = () => `--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;
  return {
    output,
    exited,
    line: (match, what) => {
      const seen = stdout.split('\n').find((l) => match.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return withTimeout(new Promise<string>((resolve) => waiters.push({ match, resolve })), WAIT_MS, `${what}\n${output()}`);
    },
  };
}

const common = () => ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv311'];

/** mosquitto_sub printing each message as `MSG <qos> <retain> <topic> <payload>`, resolved once its subscription is acknowledged. */
async function mosquittoSub(clientId: string, topic: string, qos: number, count: number): Promise<Cli> {
  // stdbuf: mosquitto_sub's debug lines (SUBACK) are block-buffered into a pipe otherwise.
  const sub = cli('stdbuf', [
    '-oL',
    'mosquitto_sub',
    ...common(),
    '-i',
    clientId,
    '-t',
    topic,
    '-q',
    String(qos),
    '-C',
    String(count),
    '-W',
    '10',
    '-d',
    '-F',
    'MSG %q %r %t %p',
  ]);
  await sub.line(/received SUBACK/, `${clientId} to be subscribed`);
  return sub;
}

async function mosquittoPub(args: string[]): Promise<void> {
  const pub = cli('mosquitto_pub', [...common(), ...args]);
  const code = await withTimeout(pub.exited, WAIT_MS, `mosquitto_pub to exit`);
  assert.equal(code, 0, `mosquitto_pub failed\n${pub.output()}`);
}

/**
 * SUBACK return codes for a SUBSCRIBE. mqtt.js resolves `subscribeAsync` when every
 * filter is granted and rejects, with the SUBACK attached, when one gets 0x80.
 */
async function subackCodes(c: MqttClient, subscriptions: Record<string, { qos: 0 | 1 | 2 }>): Promise<number[]> {
  try {
    return (await c.subscribeAsync(subscriptions)).map((g) => g.qos);
  } catch (e) {
    const granted = (e as { packet?: { cmd?: string; granted?: number[] } }).packet;
    if (granted?.cmd !== 'suback' || !granted.granted) throw e;
    return granted.granted;
  }
}

function assertHostAlive(): void {
  assert.equal(host.child.exitCode, null, `the host exited\n${host.stderr}`);
  assert.equal(host.child.signalCode, null);
}

// ---- tests ----

describe('publish and subscribe between MQTT clients', () => {
  for (const qos of [0, 1, 2] as const) {
    it(`mqtt.js: a QoS ${qos} message reaches another client with its topic, payload and QoS`, async () => {
      const topic = `t/js/q${qos}`;
      const { c: sub, inbox } = await client(`js-sub-${qos}`);
      const granted = await sub.subscribeAsync(topic, { qos });
      assert.deepEqual(
        granted.map((g) => g.qos),
        [qos],
      );
      const { c: pub } = await client(`js-pub-${qos}`);
      await pub.publishAsync(topic, `hello at ${qos}`, { qos });
      const got = await inbox.wait((m) => m.topic === topic, `the QoS ${qos} message`);
      assert.deepEqual(got, { topic, payload: `hello at ${qos}`, qos, retain: false, dup: false });
    });
  }

  for (const qos of [0, 1, 2] as const) {
    it(`mosquitto_pub → mosquitto_sub: a QoS ${qos} message arrives with its topic, payload and QoS`, async () => {
      const topic = `t/cli/q${qos}`;
      const sub = await mosquittoSub(`cli-sub-${qos}`, topic, qos, 1);
      await mosquittoPub(['-i', `cli-pub-${qos}`, '-t', topic, '-q', String(qos), '-m', `from the cli at ${qos}`]);
      const code = await withTimeout(sub.exited, WAIT_MS, 'mosquitto_sub to exit after one message');
      assert.equal(code, 0, sub.output());
      assert.equal(await sub.line(/^MSG /, 'the message'), `MSG ${qos} 0 ${topic} from the cli at ${qos}`);
    });
  }

  it('mosquitto_pub → mqtt.js and mqtt.js → mosquitto_sub interoperate', async () => {
    const { c, inbox } = await client('js-cli-peer');
    await c.subscribeAsync('t/interop/to-js', { qos: 1 });
    await mosquittoPub(['-t', 't/interop/to-js', '-q', '1', '-m', 'cli to js']);
    assert.equal((await inbox.wait((m) => m.topic === 't/interop/to-js', 'the cli message')).payload, 'cli to js');

    const sub = await mosquittoSub('cli-from-js', 't/interop/to-cli', 1, 1);
    await c.publishAsync('t/interop/to-cli', 'js to cli', { qos: 1 });
    assert.equal(await withTimeout(sub.exited, WAIT_MS, 'mosquitto_sub to exit'), 0, sub.output());
    assert.equal(await sub.line(/^MSG /, 'the message'), 'MSG 1 0 t/interop/to-cli js to cli');
  });
});

describe('retained messages', () => {
  it('a late subscriber gets the retained message with RETAIN set', async () => {
    const { c: pub } = await client('retain-pub-1');
    await pub.publishAsync('t/retain/a', 'first', { qos: 1, retain: true });
    const { c: late, inbox } = await client('retain-late-1');
    await late.subscribeAsync('t/retain/a', { qos: 1 });
    assert.deepEqual(await inbox.wait((m) => m.topic === 't/retain/a', 'the retained message'), {
      topic: 't/retain/a',
      payload: 'first',
      qos: 1,
      retain: true,
      dup: false,
    });
  });

  it('a new retained message replaces the old one: a late subscriber sees only the latest', async () => {
    const { c: pub } = await client('retain-pub-2');
    await pub.publishAsync('t/retain/b', 'old', { qos: 1, retain: true });
    await pub.publishAsync('t/retain/b', 'new', { qos: 1, retain: true });
    const { c: late, inbox } = await client('retain-late-2');
    await late.subscribeAsync('t/retain/b', { qos: 1 });
    await inbox.wait((m) => m.topic === 't/retain/b', 'the retained message');
    // Retained messages go out together after SUBACK; a marker published afterwards closes the window.
    await pub.publishAsync('t/retain/b', 'live', { qos: 1 });
    await inbox.wait((m) => m.payload === 'live', 'the live marker');
    assert.deepEqual(
      inbox.on('t/retain/b').map((m) => [m.payload, m.retain]),
      [
        ['new', true],
        ['live', false],
      ],
    );
  });

  it('an empty retained message clears it: a late subscriber gets nothing for that topic', async () => {
    const { c: pub } = await client('retain-pub-3');
    await pub.publishAsync('t/retain/c/cleared', 'soon gone', { qos: 1, retain: true });
    await pub.publishAsync('t/retain/c/control', 'still here', { qos: 1, retain: true });
    await pub.publishAsync('t/retain/c/cleared', '', { qos: 1, retain: true });
    const { c: late, inbox } = await client('retain-late-3');
    await late.subscribeAsync('t/retain/c/#', { qos: 1 });
    // Positive control: the other retained topic under the same filter does arrive.
    assert.equal((await inbox.wait((m) => m.topic === 't/retain/c/control', 'the control retained message')).payload, 'still here');
    await pause(QUIET_MS);
    assert.deepEqual(inbox.on('t/retain/c/cleared'), []);
  });

  it('mosquitto_sub sees a retained message set by mosquitto_pub -r', async () => {
    await mosquittoPub(['-t', 't/retain/cli', '-q', '1', '-r', '-m', 'kept for later']);
    const sub = await mosquittoSub('cli-retain', 't/retain/cli', 1, 1);
    assert.equal(await withTimeout(sub.exited, WAIT_MS, 'mosquitto_sub to exit'), 0, sub.output());
    assert.equal(await sub.line(/^MSG /, 'the retained message'), 'MSG 1 1 t/retain/cli kept for later');
  });
});

describe('will messages', () => {
  it('a client that vanishes without DISCONNECT has its will published to subscribers', async () => {
    const { c: watcher, inbox } = await client('will-watcher');
    await watcher.subscribeAsync('t/will/+', { qos: 1 });
    const { c: dying } = await client('will-dying', { will: { topic: 't/will/dying', payload: Buffer.from('gone'), qos: 1, retain: false } });
    vanish(dying);
    assert.deepEqual(await inbox.wait((m) => m.topic === 't/will/dying', 'the will'), {
      topic: 't/will/dying',
      payload: 'gone',
      qos: 1,
      retain: false,
      dup: false,
    });
  });

  it('a client that sends DISCONNECT has its will discarded', async () => {
    const { c: watcher, inbox } = await client('will-watcher-2');
    await watcher.subscribeAsync('t/will2/+', { qos: 1 });
    const { c: polite } = await client('will-polite', { will: { topic: 't/will2/polite', payload: Buffer.from('should not'), qos: 1, retain: false } });
    await polite.endAsync();
    const { c: other } = await client('will-marker');
    await other.publishAsync('t/will2/marker', 'after', { qos: 1 });
    await inbox.wait((m) => m.topic === 't/will2/marker', 'the marker');
    await pause(QUIET_MS);
    assert.deepEqual(inbox.on('t/will2/polite'), []);
  });
});

describe('persistent sessions', () => {
  it('a clean-session-0 client gets the QoS 1 messages published while it was away, with session present', async () => {
    const { c: first } = await client('persistent', { clean: false });
    assert.deepEqual(
      (await first.subscribeAsync('t/persist', { qos: 1 })).map((g) => g.qos),
      [1],
    );
    await first.endAsync();
    const { c: pub } = await client('persist-pub');
    for (const n of [1, 2, 3]) await pub.publishAsync('t/persist', `away ${n}`, { qos: 1 });

    let sessionPresent: boolean | undefined;
    const again = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: 'persistent', clean: false, protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(again);
    again.once('connect', (connack) => (sessionPresent = connack.sessionPresent));
    const inbox = new Inbox(again);
    await inbox.wait(() => inbox.on('t/persist').length >= 3, 'the three queued messages');
    assert.equal(sessionPresent, true);
    // Each exactly once, in order (DUP may be set on a resent one).
    assert.deepEqual(
      inbox.on('t/persist').map((m) => [m.payload, m.qos]),
      [
        ['away 1', 1],
        ['away 2', 1],
        ['away 3', 1],
      ],
    );
    // The subscription survived too: a live message arrives without subscribing again.
    await pub.publishAsync('t/persist', 'live', { qos: 1 });
    await inbox.wait((m) => m.payload === 'live', 'the live message');
  });
});

describe('keep alive', () => {
  it('a client silent for 1.5 × its keep alive of 1 s is disconnected and its will published; one that pings stays', async () => {
    const { c: watcher, inbox } = await client('keepalive-watcher');
    await watcher.subscribeAsync('t/keepalive/+', { qos: 1 });
    const silent = await RawClient.connected('keepalive-silent', { keepalive: 1, will: { topic: 't/keepalive/silent', payload: 'timed out' } });
    const pinger = await RawClient.connected('keepalive-pinger', { keepalive: 1 });
    const pings = setInterval(() => pinger.socket.write(PINGREQ), 500);
    try {
      await silent.closedByServer('1.5 s of silence', 5000);
      // Checked each second against 1.5 s since the CONNECT: closed 1.5 to 2.5 s after it, plus latency.
      const elapsed = (await silent.closed) - silent.connectSentAt;
      assert.ok(elapsed >= 1400 && elapsed <= 3500, `closed after ${elapsed} ms, expected 1.4 to 3.5 s`);
      assert.equal((await inbox.wait((m) => m.topic === 't/keepalive/silent', 'the will')).payload, 'timed out');
      // The pinging client outlived it and got answers.
      assert.equal(pinger.socket.destroyed, false);
      assert.equal(pinger.endedByServer, false);
      // CONNACK, then only PINGRESPs (at least two in the time).
      assert.match(pinger.received.toString('hex'), /^20020000(d000){2,}$/);
    } finally {
      clearInterval(pings);
      pinger.socket.destroy();
    }
  });
});

describe('ACL', () => {
  it('a subscription outside acl.subscribe gets SUBACK 0x80', async () => {
    const { c } = await client('acl-denied');
    assert.deepEqual(await subackCodes(c, { 'secret/#': { qos: 1 } }), [0x80]);
  });

  it('in one SUBSCRIBE, only the denied filter gets 0x80; the allowed one is granted and works', async () => {
    const { c, inbox } = await client('acl-mixed');
    assert.deepEqual(await subackCodes(c, { 'secret/x': { qos: 1 }, 't/acl/ok': { qos: 2 } }), [0x80, 2]);
    const { c: pub } = await client('acl-pub');
    await pub.publishAsync('secret/x', 'hidden', { qos: 1 });
    await pub.publishAsync('t/acl/ok', 'visible', { qos: 1 });
    await inbox.wait((m) => m.topic === 't/acl/ok', 'the allowed message');
    await pause(QUIET_MS);
    assert.deepEqual(inbox.on('secret/x'), []);
  });
});

describe('WebSocket', () => {
  it('a client on ws:// (same port) publishes to and receives from a TCP client', async () => {
    const { c: ws, inbox: wsInbox } = await client('ws-client', {}, `ws://127.0.0.1:${port}`);
    const { c: tcp, inbox: tcpInbox } = await client('ws-peer');
    await ws.subscribeAsync('t/ws/down', { qos: 1 });
    await tcp.subscribeAsync('t/ws/up', { qos: 1 });
    await tcp.publishAsync('t/ws/down', 'to ws', { qos: 1 });
    await ws.publishAsync('t/ws/up', 'from ws', { qos: 2 });
    assert.deepEqual(await wsInbox.wait((m) => m.topic === 't/ws/down', 'the message to ws'), {
      topic: 't/ws/down',
      payload: 'to ws',
      qos: 1,
      retain: false,
      dup: false,
    });
    assert.deepEqual(await tcpInbox.wait((m) => m.topic === 't/ws/up', 'the message from ws'), {
      topic: 't/ws/up',
      payload: 'from ws',
      qos: 1,
      retain: false,
      dup: false,
    });
  });
});

describe('bridge to the bus', () => {
  it('telemetry from the telemetry module reaches an MQTT subscriber on telemetry/#', async () => {
    const { c, inbox } = await client('telemetry-sub');
    await c.subscribeAsync('telemetry/#', { qos: 1 });
    const got = await inbox.wait((m) => m.topic === 'telemetry/d1' || m.topic === 'telemetry/d2', 'a telemetry reading');
    const reading = JSON.parse(got.payload) as Record<string, unknown>;
    assert.equal(`telemetry/${reading.deviceId}`, got.topic);
    assert.equal(typeof reading.temperature, 'number');
    assert.equal(typeof reading.pressure, 'number');
    assert.equal(typeof reading.timestamp, 'number');
    assert.ok(Number.isInteger(reading.seq));
    // Bus messages are delivered as QoS 1, never retained.
    assert.equal(got.qos, 1);
    assert.equal(got.retain, false);
  });

  it("an MQTT publish to telemetry/mqtt-device reaches the gateway's HTTP sink, and MQTT subscribers once (no echo from the bus)", async () => {
    const { c: sub, inbox } = await client('bridge-sub');
    await sub.subscribeAsync('telemetry/mqtt-device', { qos: 1 });
    const marker = randomBytes(8).toString('hex');
    const reading = { deviceId: 'mqtt-device', temperature: 21.5, marker };
    const { c: pub } = await client('bridge-pub');
    await pub.publishAsync('telemetry/mqtt-device', JSON.stringify(reading), { qos: 1 });
    await sink.waitFor(() => sink.items<{ marker?: string }>().some((i) => i.marker === marker), WAIT_MS, 'the MQTT reading at the sink');
    assert.deepEqual(
      sink.items<{ marker?: string }>().filter((i) => i.marker === marker),
      [reading],
    );
    await inbox.wait((m) => m.topic === 'telemetry/mqtt-device', 'the reading at the MQTT subscriber');
    // The bus has delivered it by now (the gateway posted it): with noLocal the server does not get its own publish back.
    await pause(QUIET_MS);
    assert.equal(inbox.on('telemetry/mqtt-device').length, 1, JSON.stringify(inbox.messages));
  });
});

describe('malformed input closes only that connection', () => {
  let bystander: MqttClient;
  let bystanderInbox: Inbox;
  let round = 0;

  before(async () => {
    ({ c: bystander, inbox: bystanderInbox } = await client('bystander'));
    // Its own messages on t/alive, wills of the misbehaving connections on t/alive/+.
    assert.deepEqual(await subackCodes(bystander, { 't/alive': { qos: 1 }, 't/alive/+': { qos: 1 } }), [1, 1]);
  });

  /** The connected client still publishes and receives, and the host is still running. */
  async function othersUnaffected(): Promise<void> {
    const payload = `still here ${++round}`;
    await bystander.publishAsync('t/alive', payload, { qos: 1 });
    await bystanderInbox.wait((m) => m.payload === payload, "the bystander's own message");
    assert.equal(bystander.connected, true);
    assertHostAlive();
  }

  // Random bytes after a reserved packet type, so that they are malformed from the first
  // byte: a random header may as well announce a packet still to come, which waits.
  const garbage = () => Buffer.concat([Buffer.from([0xf7]), randomBytes(63)]);

  it('random bytes before CONNECT: closed, nothing answered', async () => {
    const raw = await RawClient.open();
    raw.socket.write(garbage());
    await raw.closedByServer('random bytes');
    assert.equal(raw.received.length, 0);
    await othersUnaffected();
  });

  it('random bytes after CONNECT: closed, and the will published (a protocol error is not a DISCONNECT)', async () => {
    const raw = await RawClient.connected('garbage', { will: { topic: 't/alive/garbage', payload: 'will of garbage' } });
    raw.socket.write(garbage());
    await raw.closedByServer('random bytes');
    assert.deepEqual(raw.received, CONNACK_ACCEPTED);
    assert.equal((await bystanderInbox.wait((m) => m.topic === 't/alive/garbage', 'the will')).payload, 'will of garbage');
    await othersUnaffected();
  });

  it('a truncated PUBLISH followed by a close: the partial packet is dropped and the will published', async () => {
    const raw = await RawClient.connected('truncated', { will: { topic: 't/alive/truncated', payload: 'will of truncated' } });
    const whole = publishPacket('t/alive/partial', 'never complete');
    raw.socket.end(whole.subarray(0, whole.length - 5));
    await withTimeout(raw.closed, WAIT_MS, 'the connection to close');
    assert.equal((await bystanderInbox.wait((m) => m.topic === 't/alive/truncated', 'the will')).payload, 'will of truncated');
    await othersUnaffected();
    assert.deepEqual(bystanderInbox.on('t/alive/partial'), []);
  });

  it('a remaining length of 5 bytes after CONNECT', async () => {
    const raw = await RawClient.connected('five-byte-length');
    raw.socket.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
    await raw.closedByServer('a 5-byte remaining length');
    assert.deepEqual(raw.received, CONNACK_ACCEPTED);
    await othersUnaffected();
  });

  it('a second CONNECT', async () => {
    const raw = await RawClient.connected('connect-twice');
    raw.socket.write(connectPacket('connect-twice'));
    await raw.closedByServer('a second CONNECT');
    assert.deepEqual(raw.received, CONNACK_ACCEPTED, 'no second CONNACK');
    await othersUnaffected();
  });

  it('a PUBLISH before CONNECT is neither answered nor delivered', async () => {
    const raw = await RawClient.open();
    raw.socket.write(publishPacket('t/alive', 'sneaked in'));
    await raw.closedByServer('a PUBLISH before CONNECT');
    assert.equal(raw.received.length, 0);
    await othersUnaffected();
    assert.deepEqual(
      bystanderInbox.messages.filter((m) => m.payload === 'sneaked in'),
      [],
    );
  });

  it('the host logged no errors through all of the above', () => {
    assertHostAlive();
    const errors = host.lines.filter((l) => l.level >= 50);
    assert.deepEqual(errors, []);
  });
});
