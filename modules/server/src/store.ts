// Where session state and retained messages would be kept across restarts. The core
// calls these hooks at every point where that state changes; nothing keeps it yet
// (NO_STORE). A store reads what it needs as plain data: `Session.snapshot()`,
// `retainedSnapshot()`. Loading it back is the store's side of the contract: create
// the sessions (offline, with `expiresAt`) and retained messages before clients connect.
//
// Per-message changes of a session (a QoS 1/2 message queued, sent or acknowledged)
// are not reported one by one: a session's messages are in its snapshot at
// `sessionChanged`, which is called when it goes offline.

import type { RetainedMessage } from './retained.ts';
import type { Session } from './session.ts';

export interface StateStore {
  /**
   * A session began, changed its subscriptions or expiry, or went offline (its client
   * disconnected: its queued and in-flight messages are as they will stay until the client returns).
   */
  sessionChanged(session: Session): void;
  /** A session ended: clean start, expiry, or a clean-session disconnect. */
  sessionEnded(clientId: string): void;
  /** The retained message of `topic` was set, or cleared (`retained` undefined). */
  retainedChanged(topic: string, retained: RetainedMessage | undefined): void;
}

export const NO_STORE: StateStore = {
  sessionChanged: () => {},
  sessionEnded: () => {},
  retainedChanged: () => {},
};
