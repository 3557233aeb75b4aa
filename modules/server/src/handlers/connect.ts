// The CONNECT flow as named steps, run in order: reading `connectSteps` tells the
// whole flow. A step returns false to stop it (after refusing or closing).

import { topicNameProblem } from '../../../../packages/mqtt-topic/topic.ts';
import { encodeUtf8 } from '../../../shared/utf8.ts';
import { CONNACK, type ConnectPacket } from '../codec/packets.ts';
import { encodeConnack } from '../codec/serializer.ts';
import type { Connection } from '../connection.ts';
import { ProtocolError } from '../errors.ts';
import type { Server } from '../server.ts';
import type { Session } from '../session.ts';

export interface ConnectContext {
  readonly server: Server;
  readonly conn: Connection;
  readonly packet: ConnectPacket;
  clientId: string;
  session?: Session;
  sessionPresent: boolean;
}

export type ConnectStep = (ctx: ConnectContext) => boolean;

export const connectSteps: readonly ConnectStep[] = [
  checkProtocol,
  checkWill,
  checkClientId,
  authenticate,
  checkCapacity,
  takeOver,
  openSession,
  acceptConnection,
  sendConnack,
  resumeSession,
];

export function handleConnect(server: Server, conn: Connection, packet: ConnectPacket): void {
  const ctx: ConnectContext = { server, conn, packet, clientId: packet.clientId, sessionPresent: false };
  for (const step of connectSteps) if (!step(ctx)) return;
}

/** Answers CONNACK with a refusal and closes [MQTT-3.2.2-4] [MQTT-3.2.2-5]. */
function refuse(ctx: ConnectContext, code: number, reason: string): false {
  ctx.conn.write(encodeConnack(false, code));
  ctx.server.closeConnection(ctx.conn, `CONNECT refused (0x0${code}): ${reason}`, false);
  return false;
}

function checkProtocol(ctx: ConnectContext): boolean {
  const { protocolName, protocolLevel, supported } = ctx.packet;
  if (supported) return true;
  // [MQTT-3.1.2-2] an MQTT version we do not speak (3.1's "MQIsdp" included) gets 0x01.
  if (protocolName === 'MQTT' || protocolName === 'MQIsdp') {
    return refuse(ctx, CONNACK.unacceptableProtocolVersion, `protocol ${protocolName} level ${protocolLevel}`);
  }
  // [MQTT-3.1.2-1] not MQTT at all: close without answering.
  throw new ProtocolError(`unknown protocol name "${protocolName}"`);
}

function checkWill(ctx: ConnectContext): boolean {
  const will = ctx.packet.will;
  if (!will) return true;
  // The will topic is a topic name like any PUBLISH's [MQTT-3.1.3-10] [MQTT-3.3.2-2].
  const problem = topicNameProblem(will.topic);
  if (problem) throw new ProtocolError(`will: ${problem}`);
  return true;
}

function checkClientId(ctx: ConnectContext): boolean {
  if (ctx.clientId !== '') return true; // any length and characters are allowed [MQTT-3.1.3-5 allows more than it requires]
  // [MQTT-3.1.3-8] an empty client id needs clean session 1 ...
  if (!ctx.packet.clean) return refuse(ctx, CONNACK.identifierRejected, 'empty client id with clean session 0');
  // ... and then gets a unique one from the server [MQTT-3.1.3-6] [MQTT-3.1.3-7].
  ctx.clientId = ctx.server.assignClientId();
  return true;
}

function authenticate(ctx: ConnectContext): boolean {
  const { username, password } = ctx.server.options;
  if (username === undefined) return true;
  const p = ctx.packet;
  if (p.username === undefined) return refuse(ctx, CONNACK.notAuthorized, 'no user name');
  const passwordOk = password === undefined || (p.password !== undefined && sameBytes(p.password, encodeUtf8(password)));
  if (p.username !== username || !passwordOk) return refuse(ctx, CONNACK.badUsernameOrPassword, 'wrong user name or password');
  return true;
}

function checkCapacity(ctx: ConnectContext): boolean {
  const { server } = ctx;
  // A takeover replaces a client, so it does not count against the limit.
  if (!server.clients.has(ctx.clientId) && server.clients.size >= server.options.maxConnections) {
    return refuse(ctx, CONNACK.serverUnavailable, `${server.options.maxConnections} clients connected (max-connections)`);
  }
  return true;
}

function takeOver(ctx: ConnectContext): boolean {
  // [MQTT-3.1.4-2] a client id already connected: the older connection goes. It did not
  // DISCONNECT, so its will is published, as Mosquitto does.
  const existing = ctx.server.clients.get(ctx.clientId);
  if (existing) ctx.server.closeConnection(existing, 'taken over by a new connection with the same client id', true);
  return true;
}

function openSession(ctx: ConnectContext): boolean {
  const { server, packet } = ctx;
  let session = server.sessions.get(ctx.clientId);
  if (packet.clean) {
    // [MQTT-3.1.2-6] clean session 1 discards any previous session and starts a new one.
    if (session) server.discardSession(session);
    session = server.createSession(ctx.clientId, true);
    ctx.sessionPresent = false; // [MQTT-3.2.2-1]
  } else if (session) {
    // [MQTT-3.1.2-4] resume it: subscriptions and unacknowledged messages included.
    session.clean = false;
    ctx.sessionPresent = true; // [MQTT-3.2.2-2]
  } else {
    session = server.createSession(ctx.clientId, false);
    ctx.sessionPresent = false; // [MQTT-3.2.2-3]
  }
  ctx.session = session;
  return true;
}

function acceptConnection(ctx: ConnectContext): boolean {
  const { server, conn, packet } = ctx;
  const session = ctx.session!;
  conn.clientId = ctx.clientId;
  conn.session = session;
  conn.state = 'connected';
  session.link = conn;
  server.clients.set(ctx.clientId, conn);
  conn.will = packet.will; // [MQTT-3.1.2-8] kept until published or discarded
  // [MQTT-3.1.2-24] one and a half times the keep alive; 0 turns it off.
  conn.keepaliveLimitMs = packet.keepalive * 1500;
  server.platform.log('debug', `${conn.label} connected (${conn.transport}, clean session ${packet.clean ? 1 : 0}, keep alive ${packet.keepalive} s)`);
  return true;
}

function sendConnack(ctx: ConnectContext): boolean {
  // [MQTT-3.2.0-1] CONNACK is the first packet the server sends.
  ctx.conn.write(encodeConnack(ctx.sessionPresent, CONNACK.accepted));
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
