// Where session state and retained messages are kept across restarts of the module
// and of the host. The core calls these hooks at every point where that state
// changes; `kv-store.ts` keeps it in the host's key-value store, NO_STORE nowhere.
//
// A store reads what it needs as plain data: `Session.snapshot()` or
// `Session.messages()`, `retainedSnapshot()`. The messages of a session it keeps
// are reported one by one through the session's `journal` (session.ts), which the
// store sets: each QoS 1/2 message as it enters the session (queued, also while
// the session is offline, or sent at once), is sent, is released (QoS 2 PUBREC),
// or leaves it; and each incoming QoS 2 id until PUBREL.
//
// Durability: every hook is called during the export call that makes the change,
// and `endCall` at the end of that call, before it returns. A store writes there,
// and the host commits what the call wrote before anything the call sent leaves
// it (wit/key-value.wit): so a PUBACK sent for a message queued for an offline
// session never gets ahead of the message being stored.
//
// Loading is the store's side of the contract: it creates the sessions (offline,
// with `expiresAt`) and retained messages before clients connect (Server.restore*).

import type { RetainedMessage } from './retained.ts';
import type { Session, SubscriptionOptions } from './session.ts';

export interface StateStore {
  /**
   * A session began, resumed, changed its expiry, or went offline (its client
   * disconnected: `expiresAt` is set). A store keeps the sessions that outlive
   * their connection (expiry above 0) and lets go of one whose expiry became 0.
   */
  sessionChanged(session: Session): void;
  /** A session ended: clean start, expiry, or a disconnect of a session that ends with its connection. */
  sessionEnded(session: Session): void;
  /** A subscription of `session` was made or replaced (`options`), or removed (undefined). */
  subscriptionChanged(session: Session, filter: string, options: SubscriptionOptions | undefined): void;
  /** The retained message of `topic` was set, or cleared (`retained` undefined). */
  retainedChanged(topic: string, retained: RetainedMessage | undefined): void;
  /** The export call is ending: write what changed during it. */
  endCall(): void;
}

export const NO_STORE: StateStore = {
  sessionChanged: () => {},
  sessionEnded: () => {},
  subscriptionChanged: () => {},
  retainedChanged: () => {},
  endCall: () => {},
};
