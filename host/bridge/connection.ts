// One bridge's connection to its broker: a fresh MQTT.js client per attempt (MQTT.js's own
// reconnect is off: `reconnectPeriod: 0`), attempts spaced by a backoff with jitter, a
// persistent session (clean session false / clean start false with a session expiry, and a
// stable client id), the fallback from MQTT 5 to 3.1.1, and the log lines: one per kind of
// failure, then a summary of repeats at most once per `summaryIntervalMs`.
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type IConnackPacket, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from '../logger.ts';
import { Backoff } from './backoff.ts';
import type { ResolvedBridge } from './config.ts';
import { type Diagnosis, type DiagnosisContext, diagnose, UNSUPPORTED_PROTOCOL } from './diagnose.ts';

export type ConnectionState = 'connecting' | 'connected' | 'waiting' | 'stopped';

export interface Session {
  protocolVersion: 4 | 5;
  /** The broker kept the session (subscriptions and queued messages) from an earlier connection. */
  sessionPresent: boolean;
}

export interface ConnectionHandlers {
  /** The broker accepted the connection (CONNACK 0). */
  up(client: MqttClient, session: Session): void;
  /** The connection that was up is gone. */
  down(): void;
  /**
   * A PUBLISH from the broker; `done` acknowledges it (PUBACK for QoS 1) and lets MQTT.js
   * read the next packet. Installed before CONNECT goes out, so nothing is acknowledged
   * before the bridge has handled it, even messages a resumed session sends at once.
   */
  message(client: MqttClient, packet: IPublishPacket, done: () => void): void;
  /** Log fields describing the bridge's queues, for the lines about the connection. */
  status(): Record<string, unknown>;
}

export interface ConnectionOptions {
  /** Why this bridge cannot run over MQTT 3.1.1 (an in rule matches what an out rule sends), if it cannot. */
  echoRisk?: string;
  /** Most log lines per kind of repeated failure: one summary per interval. */
  summaryIntervalMs?: number;
  /** A connection that held this long resets the backoff. */
  stableAfterMs?: number;
  connectTimeoutMs?: number;
}

export interface LastError {
  code: string;
  message: string;
  at: string;
}

export class Connection {
  readonly #spec: ResolvedBridge;
  readonly #logger: Logger;
  readonly #handlers: ConnectionHandlers;
  readonly #backoff: Backoff;
  readonly #opts: Required<Omit<ConnectionOptions, 'echoRisk'>> & { echoRisk?: string };
  #state: ConnectionState = 'waiting';
  #version: 4 | 5;
  /** The client of the attempt in progress or of the connection that is up. */
  #client: MqttClient | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #connectedAt: number | undefined;
  #failedAttempts = 0;
  /** Since the host started, for the metrics: connections the broker accepted, and attempts that failed. */
  #connects = 0;
  #failedAttemptsTotal = 0;
  #lastError: LastError | undefined;
  /** The kind of the last failure logged, its repeats since, and when it was last logged. */
  #lastKind: string | undefined;
  #repeats = 0;
  #loggedAt = 0;

  constructor(spec: ResolvedBridge, logger: Logger, handlers: ConnectionHandlers, opts: ConnectionOptions = {}) {
    this.#spec = spec;
    this.#logger = logger;
    this.#handlers = handlers;
    this.#backoff = new Backoff(spec.reconnect);
    this.#version = spec.protocolVersion;
    this.#opts = { summaryIntervalMs: 60_000, stableAfterMs: 10_000, connectTimeoutMs: 10_000, ...opts };
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get protocolVersion(): 4 | 5 {
    return this.#version;
  }

  get connectedSince(): number | undefined {
    return this.#connectedAt;
  }

  /** Failed attempts since the last successful one. */
  get failedAttempts(): number {
    return this.#failedAttempts;
  }

  /** Connections the broker accepted since the host started: all but the first are reconnections. */
  get connects(): number {
    return this.#connects;
  }

  /** Failed attempts since the host started. */
  get failedAttemptsTotal(): number {
    return this.#failedAttemptsTotal;
  }

  get lastError(): LastError | undefined {
    return this.#lastError;
  }

  start(): void {
    if (this.#state === 'waiting' && this.#timer === undefined) this.#attempt();
  }

  /** Closes the connection (without acknowledging what is being handled) and stops retrying. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const client = this.#client;
    this.#client = undefined;
    if (client) await client.endAsync(true).catch(() => {});
  }

  #context(): DiagnosisContext {
    const s = this.#spec;
    return {
      name: s.name,
      host: s.broker.host,
      port: s.broker.port,
      secure: s.broker.secure,
      clientId: s.clientId,
      username: s.username,
      password: s.password,
      servername: s.tls?.servername ?? s.broker.host,
      protocolVersion: this.#version,
    };
  }

  /** MQTT.js options for one attempt; secrets and TLS files are read now, so a rotated file is picked up. */
  #clientOptions(): IClientOptions {
    const s = this.#spec;
    const opts: IClientOptions = {
      clientId: s.clientId,
      clean: false,
      protocolVersion: this.#version,
      keepalive: s.keepaliveSeconds,
      reconnectPeriod: 0,
      connectTimeout: this.#opts.connectTimeoutMs,
      resubscribe: false,
      username: s.username,
    };
    // MQTT 5 ends a session when the connection closes unless it has an expiry [MQTT-3.1.2-23].
    if (this.#version === 5) opts.properties = { sessionExpiryInterval: s.sessionExpirySeconds };
    if (s.password) {
      if ('file' in s.password) opts.password = readFileSync(s.password.file, 'utf8').replace(/\r?\n$/, '');
      else opts.password = process.env[s.password.env] ?? '';
    }
    if (s.broker.secure) {
      const tls = s.tls;
      opts.rejectUnauthorized = tls?.rejectUnauthorized ?? true;
      if (tls?.ca) opts.ca = readFileSync(tls.ca);
      if (tls?.cert) opts.cert = readFileSync(tls.cert);
      if (tls?.key) opts.key = readFileSync(tls.key);
      if (tls?.servername) opts.servername = tls.servername;
    }
    return opts;
  }

  #attempt(): void {
    this.#timer = undefined;
    if (this.#state === 'stopped') return;
    this.#state = 'connecting';
    let options: IClientOptions;
    try {
      options = this.#clientOptions();
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const file = err.path ?? '';
      const which = this.#spec.password && 'file' in this.#spec.password && this.#spec.password.file === file ? 'passwordFile' : 'tls';
      this.#failed({
        code: which === 'tls' ? 'EH_BRIDGE_TLS' : 'EH_BRIDGE_AUTH',
        kind: `read:${file}`,
        message: `cannot read ${file} (${err.code ?? err.message}); check bridges.${this.#spec.name}.${which}`,
      });
      this.#schedule();
      return;
    }
    const version = this.#version;
    let client: MqttClient;
    try {
      client = mqtt.connect(this.#spec.url, options);
    } catch (e) {
      // Bad TLS material (a key that does not parse) throws here rather than failing the connection.
      this.#failed(diagnose(e, this.#context()));
      this.#schedule();
      return;
    }
    this.#client = client;
    const handlers = this.#handlers;
    client.handleMessage = (packet, done) => handlers.message(client, packet, () => done());
    let up = false;
    let closed = false;
    let firstError: unknown;
    let cause: string | undefined;
    client.on('error', (e) => {
      if (!up) firstError ??= e;
      else cause ??= e.message;
    });
    client.on('disconnect', (packet) => {
      // MQTT 5: the broker says why it closes the connection (e.g. 142, session taken over).
      cause ??= `the broker sent DISCONNECT${packet.reasonCode ? ` with reason code ${packet.reasonCode}` : ''}${
        packet.reasonCode === 142 ? ': another client connected with the same client id; give each host its own clientId' : ''
      }`;
    });
    client.on('connect', (connack: IConnackPacket) => {
      if (this.#client !== client || this.#state === 'stopped') {
        client.end(true);
        return;
      }
      up = true;
      this.#connects++;
      this.#state = 'connected';
      this.#connectedAt = Date.now();
      const session: Session = { protocolVersion: version, sessionPresent: connack.sessionPresent };
      const after = this.#failedAttempts;
      this.#failedAttempts = 0;
      this.#lastKind = undefined;
      this.#logger.info(
        {
          bridge: this.#spec.name,
          url: this.#spec.url,
          clientId: this.#spec.clientId,
          protocol: version === 5 ? 'MQTT 5' : 'MQTT 3.1.1',
          ...session,
          ...this.#handlers.status(),
        },
        `bridge ${this.#spec.name} connected to ${this.#spec.url}${after > 0 ? ` after ${after} failed attempts` : ''}`,
      );
      this.#handlers.up(client, session);
    });
    client.on('close', () => {
      if (closed) return;
      closed = true;
      client.end(true);
      if (this.#client === client) this.#client = undefined;
      if (this.#state === 'stopped') return;
      if (up) {
        const heldMs = Date.now() - (this.#connectedAt ?? Date.now());
        this.#connectedAt = undefined;
        if (heldMs >= this.#opts.stableAfterMs) this.#backoff.reset();
        this.#handlers.down();
        const reason = cause ?? 'the connection closed';
        this.#lastError = { code: 'EH_BRIDGE_DISCONNECTED', message: reason, at: new Date().toISOString() };
        this.#logger.warn(
          { bridge: this.#spec.name, code: 'EH_BRIDGE_DISCONNECTED', url: this.#spec.url, reason, ...this.#handlers.status() },
          `bridge ${this.#spec.name} lost its connection to ${this.#spec.url} (${reason}); reconnecting with backoff, its out queue keeps filling`,
        );
      } else {
        const fallback = this.#fallback(firstError);
        if (fallback === 'retry now') {
          this.#attempt();
          return;
        }
        if (fallback === undefined) this.#failed(diagnose(firstError, this.#context()));
      }
      this.#schedule();
    });
  }

  /**
   * An MQTT 5 CONNECT refused for its protocol version: retry at once with 3.1.1 when the
   * rules allow it, or report why not ('reported'); undefined for any other failure.
   */
  #fallback(error: unknown): 'retry now' | 'reported' | undefined {
    const rc = (error as { code?: unknown } | undefined)?.code;
    if (this.#version !== 5 || typeof rc !== 'number' || !UNSUPPORTED_PROTOCOL.has(rc)) return undefined;
    if (this.#opts.echoRisk) {
      this.#failed({
        code: 'EH_BRIDGE_REFUSED',
        kind: 'mqtt5-refused',
        message: `the broker does not speak MQTT 5, and over MQTT 3.1.1 (no no-local) ${this.#opts.echoRisk}, so this host would receive its own messages back; use a broker that speaks MQTT 5, or give out rules a remotePrefix no in rule matches`,
      });
      return 'reported';
    }
    this.#version = 4;
    this.#logger.warn(
      { bridge: this.#spec.name, url: this.#spec.url },
      `bridge ${this.#spec.name}: the broker does not speak MQTT 5; using MQTT 3.1.1 (no in rule matches what out rules send, so no-local is not needed)`,
    );
    return 'retry now';
  }

  #failed(d: Diagnosis): void {
    this.#failedAttempts++;
    this.#failedAttemptsTotal++;
    this.#lastError = { code: d.code, message: d.message, at: new Date().toISOString() };
    const now = performance.now();
    const fields = { bridge: this.#spec.name, code: d.code, url: this.#spec.url };
    this.#logger.debug(
      { bridge: this.#spec.name, kind: d.kind, failedAttempts: this.#failedAttempts },
      `bridge ${this.#spec.name}: attempt ${this.#failedAttempts} failed (${d.kind})`,
    );
    if (d.kind !== this.#lastKind) {
      this.#lastKind = d.kind;
      this.#repeats = 0;
      this.#loggedAt = now;
      if (d.code === 'EH_BRIDGE_UNREACHABLE') this.#logger.warn(fields, `bridge ${this.#spec.name}: ${d.message}`);
      else this.#logger.error(fields, `bridge ${this.#spec.name}: ${d.message}`);
      return;
    }
    this.#repeats++;
    if (now - this.#loggedAt < this.#opts.summaryIntervalMs) return;
    this.#logger.warn(
      { ...fields, repeats: this.#repeats, failedAttempts: this.#failedAttempts, ...this.#handlers.status() },
      `bridge ${this.#spec.name}: still not connected after ${this.#failedAttempts} attempts: ${d.message}`,
    );
    this.#repeats = 0;
    this.#loggedAt = now;
  }

  #schedule(): void {
    if (this.#state === 'stopped') return;
    this.#state = 'waiting';
    this.#timer = setTimeout(() => this.#attempt(), this.#backoff.next());
  }
}
