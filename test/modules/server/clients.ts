// Real MQTT clients for the tests that run the host: mqtt.js clients with an inbox
// that can be awaited, Mosquitto's command-line clients as child processes, and the
// host's log checks that say the server module was never restarted.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import type { IClientOptions, IPublishPacket, MqttClient } from 'mqtt';
import mqtt from 'mqtt';
import type { HostProcess, LogLine } from '../../support/host-process.ts';

export const WAIT_MS = 10_000;

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface Received {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
  properties: IPublishPacket['properties'];
}

/** Every message a client receives, kept in order, with a way to await one. */
export class Inbox {
  readonly messages: Received[] = [];
  #waiters: { match: (m: Received) => boolean; resolve: (m: Received) => void }[] = [];

  constructor(client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      const m: Received = { topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain, properties: packet.properties };
      this.messages.push(m);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.match(m)) return true;
        w.resolve(m);
        return false;
      });
    });
  }

  /** The first message (past or future) that matches. */
  wait(match: (m: Received) => boolean, what: string, timeoutMs = WAIT_MS): Promise<Received> {
    const seen = this.messages.find(match);
    if (seen) return Promise.resolve(seen);
    return withTimeout(
      new Promise<Received>((resolve) => this.#waiters.push({ match, resolve })),
      timeoutMs,
      `${what} (received so far: ${JSON.stringify(this.messages.map(({ topic, payload }) => ({ topic, payload })))})`,
    );
  }

  on(topic: string): Received[] {
    return this.messages.filter((m) => m.topic === topic);
  }
}

/** mqtt.js clients of one test file, ended in `closeAll`. */
/**
 * Two persistent sessions, an MQTT 3.1.1 one and a 5.0 one that expires after an hour: the
 * keepers of the persistence tests, who subscribe, go away, and come back for what was queued.
 */
export const KEEPERS = {
  'keeper-311': { protocolVersion: 4 as const, clean: false },
  'keeper-5': { protocolVersion: 5 as const, clean: false, properties: { sessionExpiryInterval: 3600 } },
};

export class Clients {
  readonly all: MqttClient[] = [];
  readonly port: () => number;

  constructor(port: () => number) {
    this.port = port;
  }

  /** Connects each keeper, subscribes it to `filter` at QoS 1 and disconnects it: its session then queues messages. */
  async subscribeAndLeave(keepers: Record<string, IClientOptions>, filter: string): Promise<void> {
    for (const [id, options] of Object.entries(keepers)) {
      const { c } = await this.connect(id, options);
      await c.subscribeAsync(filter, { qos: 1 });
      await c.endAsync();
    }
  }

  /** A connected client with an inbox that listened from before CONNACK (messages a session resumes with follow it). */
  async connect(
    clientId: string,
    options: IClientOptions = {},
  ): Promise<{ c: MqttClient; inbox: Inbox; connack: { sessionPresent: boolean; properties?: Record<string, unknown> } }> {
    const c = mqtt.connect(`mqtt://127.0.0.1:${this.port()}`, { clientId, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: WAIT_MS, ...options });
    this.all.push(c);
    const inbox = new Inbox(c);
    const connack = await withTimeout(
      new Promise<{ sessionPresent: boolean; properties?: Record<string, unknown> }>((resolve, reject) => {
        c.once('connect', (p) => resolve(p as never));
        c.once('error', reject);
      }),
      WAIT_MS,
      `${clientId} to connect`,
    );
    return { c, inbox, connack };
  }

  /** Ends every client, waiting at most a few seconds for each. */
  async closeAll(): Promise<void> {
    await Promise.all(this.all.map((c) => withTimeout(c.endAsync(true), 5000, 'a client to end').catch(() => {})));
  }
}

/** Destroys the client's transport without DISCONNECT, as a crash or a pulled cable would. */
export function vanish(c: MqttClient): void {
  (c as unknown as { stream: { destroy(): void } }).stream.destroy();
}

/** The next DISCONNECT the server sends to `c` (MQTT 5.0), as its reason code. */
export function nextDisconnect(c: MqttClient, what: string): Promise<number> {
  return withTimeout(new Promise<number>((resolve) => c.once('disconnect', (p) => resolve(p.reasonCode ?? 0))), WAIT_MS, what);
}

export interface Cli {
  output: () => string;
  stdout: () => string;
  exited: Promise<number | null>;
  /** Resolves when a stdout line matches. */
  line(match: RegExp, what: string): Promise<string>;
  child: ChildProcess;
}

/** A command-line client (Mosquitto's) as a child process, its output kept; killed in `killAll`. */
export class Processes {
  readonly all: ChildProcess[] = [];

  run(command: string, args: string[]): Cli {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.all.push(child);
    let stdout = '';
    let stderr = '';
    const waiters: { match: RegExp; resolve: (l: string) => void }[] = [];
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      for (const w of [...waiters]) {
        const line = stdout.split('\n').find((l) => w.match.test(l));
        if (line !== undefined) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const output = () => `--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;
    return {
      child,
      output,
      stdout: () => stdout,
      exited,
      line: (match, what) => {
        const seen = stdout.split('\n').find((l) => match.test(l));
        if (seen !== undefined) return Promise.resolve(seen);
        return withTimeout(new Promise<string>((resolve) => waiters.push({ match, resolve })), WAIT_MS, `${what}\n${output()}`);
      },
    };
  }

  /** Runs to its end; fails unless it exits 0. */
  async ok(command: string, args: string[]): Promise<Cli> {
    const cli = this.run(command, args);
    const code = await withTimeout(cli.exited, WAIT_MS, `${command} to exit`);
    assert.equal(code, 0, `${command} failed\n${cli.output()}`);
    return cli;
  }

  killAll(): void {
    for (const p of this.all) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }
}

/** The host's log lines that say a module stopped, trapped, ran past a limit or was restarted, or that report an error. */
export function moduleTrouble(host: HostProcess): LogLine[] {
  return host.lines.filter((l) => (typeof l.code === 'string' && l.code.startsWith('EH_MODULE_')) || /restarting module/.test(l.msg) || l.level >= 50);
}

/** Fails if the host exited, or logged that a module stopped, trapped, ran past a limit or was restarted, or logged an error. */
export function assertNoRestart(host: HostProcess): void {
  assert.equal(host.child.exitCode, null, `the host exited\n${host.stderr}`);
  assert.deepEqual(moduleTrouble(host), [], 'the host logged a module stop, restart or error');
}
