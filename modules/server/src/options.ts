// The module's config, read once at init: each key from the host (strings; non-strings
// as JSON text) or else from module.json's defaults. Bad values fail init with a message
// naming the key, rather than running with a surprise.

import { topicFilterProblem } from '../../../packages/mqtt-topic/topic.ts';
import type { AclRules } from './acl.ts';

export interface ServerOptions {
  /** Addresses to listen on (set by the host from `--server-socket-address`). */
  listen: string[];
  acl: AclRules;
  /** When set, CONNECT must carry this user name (and `password`, when that is set too). */
  username?: string;
  password?: string;
  /** Connected clients at once; one more is refused with CONNACK 0x03 (5.0: 0x97). */
  maxConnections: number;
  /** Connected clients from one IP address; one more is refused with CONNACK 0x03 (5.0: 0x97). */
  maxConnectionsPerAddress: number;
  /** Connections from one IP address that have not completed CONNECT; one more is closed when it opens. */
  maxPendingPerAddress: number;
  /** Largest remaining length accepted; a bigger packet closes the connection (5.0: 0x95). */
  maxPacketSize: number;
  /** Bytes all connections' unfinished packets may hold together; the connection that needs more is closed (5.0: 0x97). */
  maxPartialPacketBytes: number;
  /** Outgoing QoS 1/2 messages awaiting acknowledgement, per client. */
  maxInflight: number;
  /** Outgoing QoS 1/2 messages waiting behind the in-flight window (or while offline), per session. */
  maxQueued: number;
  /** Distinct retained topics kept. */
  maxRetained: number;
  /** Bytes of topics and payloads of retained messages kept. */
  maxRetainedBytes: number;
  /** Subscriptions one session may hold; more get SUBACK 0x80 (5.0: 0x97). */
  maxSubscriptionsPerClient: number;
  /** Levels a topic name or filter may have; a PUBLISH over it closes its connection (5.0: 0x90). */
  maxTopicLevels: number;
  /** UTF-8 bytes a topic name or filter may take; a PUBLISH over it closes its connection (5.0: 0x90). */
  maxTopicLength: number;
  /** Retained-message work (index steps and deliveries) done per export call; the rest continues in the next. */
  retainedWorkPerCall: number;
  /** 5.0 Receive Maximum advertised: incoming QoS 2 messages not yet released, per client (more: DISCONNECT 0x93). */
  receiveMaximum: number;
  /** 5.0 Topic Alias Maximum advertised: topic aliases a client may set up (0: none). */
  topicAliasMaximum: number;
  /** Longest session expiry granted, in seconds; also how long a 3.1.1 clean-session-0 session outlives its connection. */
  maxSessionExpirySeconds: number;
  /** A connection that sends no CONNECT within this time is closed. */
  connectTimeoutMs: number;
  /**
   * Keep persistent sessions and retained messages in the host's key-value store
   * (buckets "sessions" and "retained"): 'auto' keeps what the grant allows, 'on'
   * fails init unless both buckets are granted, 'off' keeps nothing.
   */
  persist: 'auto' | 'on' | 'off';
}

type Getter = (key: string) => string | null | undefined;

export function loadOptions(get: Getter, defaults: Readonly<Record<string, unknown>>): ServerOptions {
  const raw = (key: string): unknown => {
    // `none` may arrive as null rather than undefined from the component glue.
    const v: string | null | undefined = get(key);
    return v ?? defaults[key];
  };
  const options: ServerOptions = {
    listen: addresses(raw('listen')),
    acl: aclRules(raw('acl')),
    maxConnections: integer(raw, 'max-connections', 1, 1_000_000),
    maxConnectionsPerAddress: integer(raw, 'max-connections-per-address', 1, 1_000_000),
    maxPendingPerAddress: integer(raw, 'max-pending-per-address', 1, 1_000_000),
    maxPacketSize: integer(raw, 'max-packet-size', 16, 268_435_455),
    maxPartialPacketBytes: integer(raw, 'max-partial-packet-bytes', 4096, 2 ** 40),
    maxInflight: integer(raw, 'max-inflight', 1, 65_535),
    maxQueued: integer(raw, 'max-queued-messages', 0, 1_000_000),
    maxRetained: integer(raw, 'max-retained-messages', 0, 10_000_000),
    maxRetainedBytes: integer(raw, 'max-retained-bytes', 0, 2 ** 40),
    maxSubscriptionsPerClient: integer(raw, 'max-subscriptions-per-client', 1, 10_000_000),
    maxTopicLevels: integer(raw, 'max-topic-levels', 1, 32_768),
    maxTopicLength: integer(raw, 'max-topic-length', 1, 65_535),
    retainedWorkPerCall: integer(raw, 'retained-work-per-call', 1, 10_000_000),
    receiveMaximum: integer(raw, 'receive-maximum', 1, 65_535),
    topicAliasMaximum: integer(raw, 'topic-alias-maximum', 0, 65_535),
    maxSessionExpirySeconds: integer(raw, 'max-session-expiry-s', 0, 0xffff_ffff),
    connectTimeoutMs: integer(raw, 'connect-timeout-ms', 100, 3_600_000),
    persist: persistMode(raw('persist')),
  };
  const username = optionalString(raw('username'), 'username');
  const password = optionalString(raw('password'), 'password');
  if (password !== undefined && username === undefined) {
    // MQTT cannot send a password without a user name [MQTT-3.1.2-22]: no client could log in.
    throw new Error('config "password" is set but "username" is not');
  }
  if (username !== undefined) options.username = username;
  if (password !== undefined) options.password = password;
  return options;
}

function json(value: unknown, key: string): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    throw new Error(`config "${key}" is not valid JSON: ${value}`);
  }
}

function addresses(value: unknown): string[] {
  // A bare address is accepted too: "127.0.0.1:1883" reads better than its JSON text.
  if (typeof value === 'string' && !value.trimStart().startsWith('[')) return value.trim() === '' ? [] : [value.trim()];
  const list = json(value, 'listen');
  if (!Array.isArray(list) || !list.every((a) => typeof a === 'string')) {
    throw new Error('config "listen" must be a list of addresses such as ["127.0.0.1:1883"]');
  }
  return list;
}

function aclRules(value: unknown): AclRules {
  const v = json(value, 'acl');
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new Error('config "acl" must be an object { "publish": [filters], "subscribe": [filters] }');
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k !== 'publish' && k !== 'subscribe') throw new Error(`config "acl" has an unknown key "${k}" (expected publish, subscribe)`);
  }
  return { publish: filters(o.publish, 'acl.publish'), subscribe: filters(o.subscribe, 'acl.subscribe') };
}

function filters(value: unknown, key: string): string[] {
  // Deny by default: a list that is not given allows nothing.
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new Error(`config "${key}" must be a list of topic filters`);
  for (const f of value) {
    if (typeof f !== 'string') throw new Error(`config "${key}" must be a list of topic filters`);
    const problem = topicFilterProblem(f);
    if (problem) throw new Error(`config "${key}": ${problem}`);
  }
  return value as string[];
}

function integer(raw: (key: string) => unknown, key: string, min: number, max: number): number {
  const value = raw(key);
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new Error(`config "${key}" must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

function persistMode(value: unknown): 'auto' | 'on' | 'off' {
  // Booleans arrive as their JSON text.
  if (value === true || value === 'true') return 'on';
  if (value === false || value === 'false') return 'off';
  if (value === 'auto' || value === undefined) return 'auto';
  throw new Error(`config "persist" must be true, false or "auto", got ${JSON.stringify(value)}`);
}

function optionalString(value: unknown, key: string): string | undefined {
  // Empty means unset: a config template's "" must not demand an empty user name.
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new Error(`config "${key}" must be a string`);
  return value;
}
