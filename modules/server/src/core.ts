// What the packet handlers see of the server (server.ts implements it), and what the
// server needs from the host. Kept apart from server.ts so that handlers do not
// import the server that imports them.

import type { TopicLimits } from '../../../packages/mqtt-topic/topic.ts';
import type { Acl } from './acl.ts';
import type { QoS, Will } from './codec/packets.ts';
import type { Connection } from './connection.ts';
import type { AddressBook } from './limits.ts';
import type { Message } from './message.ts';
import type { ServerOptions } from './options.ts';
import type { Session, SubscriptionOptions } from './session.ts';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/** What the core needs from the host. Functions may throw (host errors); the core catches. */
export interface Platform {
  send(id: number, bytes: Uint8Array): void;
  close(id: number): void;
  publishToBus(topic: string, payload: Uint8Array): void;
  busSubscribe(filter: string): void;
  busUnsubscribe(filter: string): void;
  /** Milliseconds since the epoch. */
  now(): number;
  log(level: LogLevel, message: string): void;
  /** Asks for a call of `Server.work` soon, for work left over from this call; requests before that call count once. */
  wake(): void;
}

export type SubscribeOutcome = 'new' | 'replaced' | 'quota';

/** The server as the packet handlers use it. */
export interface Core {
  readonly options: ServerOptions;
  readonly platform: Platform;
  readonly acl: Acl;
  readonly topicLimits: TopicLimits;
  readonly sessions: ReadonlyMap<string, Session>;
  /** Connected clients by client id. */
  readonly clients: ReadonlyMap<string, Connection>;
  readonly addresses: AddressBook;
  /** Time of the export call being handled, read once per call. */
  readonly now: number;

  /**
   * Closes `conn` after what was written to it. Its will is published when
   * `publishWill` (abnormal ends); a 5.0 client is first sent DISCONNECT with `reasonCode`.
   */
  closeConnection(conn: Connection, reason: string, publishWill: boolean, reasonCode?: number): void;
  /** Makes `conn` the connected client of `session` (CONNECT accepted). */
  attach(conn: Connection, session: Session, will: Will | undefined): void;
  createSession(clientId: string, expirySeconds: number): Session;
  /** Ends a session: its subscriptions go, a will waiting for it is published. */
  endSession(session: Session): void;
  /** A connection was made to `session` again: its delayed will is not published [MQTT-3.1.3-9]. */
  sessionResumed(session: Session): void;
  /** A client id no session has, for a client that sent an empty one [MQTT-3.1.3-6]. */
  assignClientId(): string;

  subscribe(session: Session, filter: string, options: SubscriptionOptions): SubscribeOutcome;
  unsubscribe(session: Session, filter: string): boolean;
  /** Sends the retained messages matching a new subscription, with RETAIN set, within the work budget per call. */
  sendRetained(session: Session, filter: string, options: SubscriptionOptions): void;
  /** An application message from a client: retained if asked, routed to subscribers, published onto the bus. */
  publish(message: Message, qos: QoS, retain: boolean): void;

  /** Logs that a limit (its config key) was hit, throttled. */
  limitHit(limit: string, message: string): void;
  /** The session's lasting state changed (its expiry, or it was resumed): see store.ts. */
  sessionChanged(session: Session): void;
}
