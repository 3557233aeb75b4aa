// Types of the host interfaces the `server` world imports (wit/*.wit), as a QuickJS
// guest sees them: result<_, host-error> returns or throws an Error whose `payload`
// is the HostError; an option that is none arrives as null (jco's typings say
// undefined); a u64 arrives as a number (jco's typings say bigint).

declare module 'edgehost:platform/types@0.1.0' {
  export type HostError = { tag: 'denied'; val: string } | { tag: 'invalid'; val: string } | { tag: 'limited'; val: string } | { tag: 'failed'; val: string };
}

declare module 'edgehost:platform/socket@0.1.0' {
  export type ConnectionId = number;
  export type Transport = 'tcp' | 'websocket';
  export interface ConnectionInfo {
    id: ConnectionId;
    localAddress: string;
    remoteAddress: string;
    transport: Transport;
  }
  /** @throws Error with `payload: HostError` */
  export function listen(address: string, websocketSubprotocol: string | undefined): void;
  /** @throws Error with `payload: HostError` */
  export function send(id: ConnectionId, data: Uint8Array): void;
  export function close(id: ConnectionId): void;
}

declare module 'edgehost:platform/pubsub@0.1.0' {
  export interface Message {
    topic: string;
    payload: Uint8Array;
    publishedAt: number | bigint;
  }
  /** @throws Error with `payload: HostError` */
  export function publish(topic: string, payload: Uint8Array): void;
  /** @throws Error with `payload: HostError` */
  export function subscribe(filter: string): void;
  /** @throws Error with `payload: HostError` */
  export function unsubscribe(filter: string): void;
}

declare module 'edgehost:platform/timer@0.1.0' {
  export type TimerId = number;
  export function after(delayMs: number): TimerId;
  export function every(periodMs: number): TimerId;
  export function cancel(id: TimerId): void;
  export function nowMs(): number | bigint;
}

declare module 'edgehost:platform/config@0.1.0' {
  export function get(key: string): string | null | undefined;
  export function getAll(): [string, string][];
}

declare module 'edgehost:platform/logging@0.1.0' {
  export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';
  export function log(level: Level, message: string): void;
}
