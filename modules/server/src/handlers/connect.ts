// The CONNECT flow as named steps, run in order: reading `connectSteps` tells the
// whole flow. A step returns false to stop it (after refusing or closing).

import { topicLimitProblem, topicNameProblem } from '../../../../packages/mqtt-topic/topic.ts';
import { encodeUtf8 } from '../../../shared/utf8.ts';
import type { ConnectPacket } from '../codec/packets.ts';
import type { Properties } from '../codec/properties.ts';
import { describeReason, REASON, v311ConnackCode } from '../codec/reason-codes.ts';
import { encodeConnack, packetSize } from '../codec/serializer.ts';
import type { Connection } from '../connection.ts';
import type { Core } from '../core.ts';
import { ProtocolError } from '../errors.ts';
import { NEVER_EXPIRES, type Session } from '../session.ts';

export interface ConnectContext {
  readonly server: Core;
  readonly conn: Connection;
  readonly packet: ConnectPacket;
  readonly v5: boolean;
  clientId: string;
  /** The client id was assigned by the server (5.0: sent back in CONNACK). */
  assigned: boolean;
  /** Session Expiry Interval asked for, and granted (capped by max-session-expiry-s). */
  requestedExpiry: number;
  grantedExpiry: number;
  session?: Session;
  sessionPresent: boolean;
}

export type ConnectStep = (ctx: ConnectContext) => boolean;

export const connectSteps: readonly ConnectStep[] = [
  checkProtocol,
  checkAuthenticationMethod,
  checkWill,
  checkClientId,
  authenticate,
  checkCapacity,
  checkAddressCapacity,
  takeOver,
  openSession,
  acceptConnection,
  sendConnack,
  resumeSession,
];

export function handleConnect(server: Core, conn: Connection, packet: ConnectPacket): void {
  const v5 = packet.supported && packet.protocolLevel === 5;
  const ctx: ConnectContext = {
    server,
    conn,
    packet,
    v5,
    clientId: packet.clientId,
    assigned: false,
    requestedExpiry: 0,
    grantedExpiry: 0,
    sessionPresent: false,
  };
  for (const step of connectSteps) if (!step(ctx)) return;
}

/**
 * Answers CONNACK with a refusal and closes [MQTT-3.2.2-4] [MQTT-3.2.2-5] (5.0:
 * [MQTT-3.2.2-6] [MQTT-3.2.2-7]). `reason` is the 5.0 code; a 3.1.1 client gets
 * the nearest 3.1.1 return code.
 */
function refuse(ctx: ConnectContext, reason: number, why: string): false {
  const { conn, server } = ctx;
  if (ctx.v5) conn.write(encodeConnack(false, reason, reasonString(conn, why)));
  else conn.write(encodeConnack(false, v311ConnackCode(reason)));
  server.closeConnection(conn, `CONNECT refused (${describeReason(reason)}): ${why}`, false);
  return false;
}

function reasonString(conn: Connection, why: string): Properties {
  return conn.maxPacketSize < packetSize(8 + why.length * 3) ? {} : { reasonString: why };
}

function checkProtocol(ctx: ConnectContext): boolean {
  const { protocolName, protocolLevel, supported } = ctx.packet;
  if (supported) return true;
  // [MQTT-3.1.2-2] an MQTT version we do not speak (3.1's "MQIsdp" included) gets 0x01, in
  // the 3.1.1 layout: the client's version is not known to read anything else.
  if (protocolName === 'MQTT' || protocolName === 'MQIsdp') {
    return refuse(ctx, REASON.unsupportedProtocolVersion, `protocol ${protocolName} level ${protocolLevel}`);
  }
  // [MQTT-3.1.2-1] not MQTT at all: close without answering.
  throw new ProtocolError(`unknown protocol name "${protocolName}"`, REASON.unsupportedProtocolVersion);
}

function checkAuthenticationMethod(ctx: ConnectContext): boolean {
  // 5.0 enhanced authentication (4.12) is not offered: a client asking for it is refused.
  const method = ctx.packet.properties?.authenticationMethod;
  if (method === undefined) return true;
  return refuse(ctx, REASON.badAuthenticationMethod, `authentication method "${method}" is not supported`);
}

function checkWill(ctx: ConnectContext): boolean {
  const will = ctx.packet.will;
  if (!will) return true;
  // The will topic is a topic name like any PUBLISH's [MQTT-3.1.3-10] [MQTT-3.3.2-2] (5.0: [MQTT-3.1.3-11]).
  const problem = topicNameProblem(will.topic);
  if (problem) throw new ProtocolError(`will: ${problem}`, REASON.topicNameInvalid);
  const limit = topicLimitProblem(will.topic, ctx.server.topicLimits, 'will topic');
  if (limit) {
    ctx.server.limitHit(limit.includes('levels') ? 'max-topic-levels' : 'max-topic-length', `${ctx.conn.label}: ${limit}`);
    return refuse(ctx, REASON.topicNameInvalid, limit);
  }
  const responseTopic = will.properties?.responseTopic;
  if (responseTopic !== undefined && topicNameProblem(responseTopic)) {
    throw new ProtocolError(`will response topic: ${topicNameProblem(responseTopic)}`, REASON.protocolError); // 3.1.3.2.5, [MQTT-3.3.2-14]
  }
  return true;
}

function checkClientId(ctx: ConnectContext): boolean {
  if (ctx.clientId !== '') return true; // any length and characters are allowed [MQTT-3.1.3-5 allows more than it requires]
  // [MQTT-3.1.3-8] in 3.1.1 an empty client id needs clean session 1 ...
  if (!ctx.v5 && !ctx.packet.clean) return refuse(ctx, REASON.clientIdentifierNotValid, 'empty client id with clean session 0');
  // ... and then gets a unique one from the server [MQTT-3.1.3-6] [MQTT-3.1.3-7]; 5.0 sends it back in CONNACK.
  ctx.clientId = ctx.server.assignClientId();
  ctx.assigned = true;
  return true;
}

function authenticate(ctx: ConnectContext): boolean {
  const { username, password } = ctx.server.options;
  if (username === undefined) return true;
  const p = ctx.packet;
  if (p.username === undefined) return refuse(ctx, REASON.notAuthorized, 'no user name');
  const passwordOk = password === undefined || (p.password !== undefined && sameBytes(p.password, encodeUtf8(password)));
  if (p.username !== username || !passwordOk) return refuse(ctx, REASON.badUserNameOrPassword, 'wrong user name or password');
  return true;
}

function checkCapacity(ctx: ConnectContext): boolean {
  const { server } = ctx;
  // A takeover replaces a client, so it does not count against the limit.
  if (!server.clients.has(ctx.clientId) && server.clients.size >= server.options.maxConnections) {
    server.limitHit('max-connections', `refused ${ctx.conn.label}: ${server.options.maxConnections} clients connected`);
    return refuse(ctx, REASON.serverUnavailable, `${server.options.maxConnections} clients connected (max-connections)`);
  }
  return true;
}

function checkAddressCapacity(ctx: ConnectContext): boolean {
  const { server, conn } = ctx;
  const max = server.options.maxConnectionsPerAddress;
  // A takeover from the same address replaces a client of it, so it does not count.
  if (server.clients.get(ctx.clientId)?.ip === conn.ip) return true;
  if (server.addresses.connected(conn.ip) < max) return true;
  server.limitHit('max-connections-per-address', `refused ${conn.label}: ${max} clients connected from ${conn.ip}`);
  return refuse(ctx, REASON.quotaExceeded, `${max} clients connected from this address (max-connections-per-address)`);
}

function takeOver(ctx: ConnectContext): boolean {
  // [MQTT-3.1.4-2] (5.0: [MQTT-3.1.4-3]) a client id already connected: the older connection
  // goes, told so in 5.0 with 0x8E. It did not DISCONNECT, so its will is published (or,
  // 5.0, its delay starts), as Mosquitto does.
  const existing = ctx.server.clients.get(ctx.clientId);
  if (existing) ctx.server.closeConnection(existing, 'taken over by a new connection with the same client id', true, REASON.sessionTakenOver);
  return true;
}

function openSession(ctx: ConnectContext): boolean {
  const { server, packet } = ctx;
  const cap = server.options.maxSessionExpirySeconds;
  if (ctx.v5) {
    // 3.1.2.11.2: absent means 0, the session ends with the connection.
    ctx.requestedExpiry = packet.properties?.sessionExpiryInterval ?? 0;
  } else {
    // 3.1.1: clean session 1 ends with the connection; 0 lasts (here: up to max-session-expiry-s).
    ctx.requestedExpiry = packet.clean ? 0 : NEVER_EXPIRES;
  }
  ctx.grantedExpiry = Math.min(ctx.requestedExpiry, cap);
  let session = server.sessions.get(ctx.clientId);
  if (packet.clean && session) {
    // [MQTT-3.1.2-6] (5.0: [MQTT-3.1.2-4]) clean session/start discards the previous session.
    server.endSession(session);
    session = undefined;
  }
  if (session) {
    // [MQTT-3.1.2-4] (5.0: [MQTT-3.1.2-5]) resume it: subscriptions and unacknowledged messages included.
    session.expirySeconds = ctx.grantedExpiry;
    server.sessionResumed(session);
    ctx.sessionPresent = true; // [MQTT-3.2.2-2]
  } else {
    session = server.createSession(ctx.clientId, ctx.grantedExpiry);
    ctx.sessionPresent = false; // [MQTT-3.2.2-1] [MQTT-3.2.2-3]
  }
  ctx.session = session;
  return true;
}

function acceptConnection(ctx: ConnectContext): boolean {
  const { server, conn, packet } = ctx;
  const session = ctx.session!;
  const p = packet.properties;
  if (ctx.v5) {
    if (p?.maximumPacketSize !== undefined) conn.maxPacketSize = p.maximumPacketSize;
    if (p?.receiveMaximum !== undefined) conn.receiveMaximum = p.receiveMaximum;
    // Request Problem Information needs nothing: reason strings go only in CONNACK and DISCONNECT,
    // where they are allowed either way [MQTT-3.1.2-29].
    conn.connectSessionExpiry = ctx.requestedExpiry;
  }
  server.attach(conn, session, packet.will);
  server.sessionChanged(session);
  // [MQTT-3.1.2-24] one and a half times the keep alive; 0 turns it off.
  conn.keepaliveLimitMs = packet.keepalive * 1500;
  server.platform.log(
    'debug',
    `${conn.label} connected (MQTT ${ctx.v5 ? '5.0' : '3.1.1'}, ${conn.transport}, ${packet.clean ? 'clean' : 'resumed'} session expiring ${ctx.grantedExpiry} s after disconnect, keep alive ${packet.keepalive} s)`,
  );
  return true;
}

function sendConnack(ctx: ConnectContext): boolean {
  // [MQTT-3.2.0-1] CONNACK is the first packet the server sends.
  if (!ctx.v5) {
    ctx.conn.write(encodeConnack(ctx.sessionPresent, REASON.success));
    return true;
  }
  const { options } = ctx.server;
  const props: Properties = {
    // What this server accepts (3.2.2.3); Maximum QoS, Retain Available and the wildcard,
    // subscription identifier and shared subscription flags are left out: all are supported.
    receiveMaximum: options.receiveMaximum,
    maximumPacketSize: packetSize(options.maxPacketSize),
  };
  if (options.topicAliasMaximum > 0) props.topicAliasMaximum = options.topicAliasMaximum;
  if (ctx.grantedExpiry !== ctx.requestedExpiry) props.sessionExpiryInterval = ctx.grantedExpiry; // 3.2.2.3.2: the server's value wins
  if (ctx.assigned) props.assignedClientIdentifier = ctx.clientId; // [MQTT-3.2.2-16]
  ctx.conn.write(encodeConnack(ctx.sessionPresent, REASON.success, props));
  return true;
}

function resumeSession(ctx: ConnectContext): boolean {
  // [MQTT-4.4.0-1] resend what was unacknowledged, then what queued while offline.
  ctx.session!.resume();
  return true;
}

/** Compares without stopping at the first difference, so timing does not tell how much of a password was right. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i];
  return diff === 0;
}
