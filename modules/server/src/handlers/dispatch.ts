// Routes each packet a client sends to its handler, after the checks that depend
// on the connection's state rather than on the packet.

import type { Packet } from '../codec/packets.ts';
import { REASON } from '../codec/reason-codes.ts';
import type { Connection } from '../connection.ts';
import type { Core } from '../core.ts';
import { ProtocolError } from '../errors.ts';
import { handleConnect } from './connect.ts';
import { handleDisconnect } from './disconnect.ts';
import { handlePingreq } from './pingreq.ts';
import { handlePuback } from './puback.ts';
import { handlePubcomp } from './pubcomp.ts';
import { handlePublish } from './publish.ts';
import { handlePubrec } from './pubrec.ts';
import { handlePubrel } from './pubrel.ts';
import { handleSubscribe } from './subscribe.ts';
import { handleUnsubscribe } from './unsubscribe.ts';

/** A handler for one packet type, run only on a connected client (it has a session). */
type Handler<P> = (server: Core, conn: Connection, packet: P) => void;
/** Packets a connected client may send. */
type ClientPacketType = 'publish' | 'puback' | 'pubrec' | 'pubrel' | 'pubcomp' | 'subscribe' | 'unsubscribe' | 'pingreq' | 'disconnect';
type Handlers = { [T in ClientPacketType]: Handler<Extract<Packet, { type: T }>> };

const handlers: Handlers = {
  publish: handlePublish,
  puback: handlePuback,
  pubrec: handlePubrec,
  pubrel: handlePubrel,
  pubcomp: handlePubcomp,
  subscribe: handleSubscribe,
  unsubscribe: handleUnsubscribe,
  pingreq: handlePingreq,
  disconnect: handleDisconnect,
};

export function dispatch(server: Core, conn: Connection, packet: Packet): void {
  if (conn.state === 'connecting') {
    // [MQTT-3.1.0-1] the first packet from the client must be CONNECT.
    if (packet.type !== 'connect') throw new ProtocolError(`${packet.type} before CONNECT`, REASON.protocolError);
    handleConnect(server, conn, packet);
    return;
  }
  // [MQTT-3.1.0-2] a second CONNECT is a protocol violation.
  if (packet.type === 'connect') throw new ProtocolError('second CONNECT', REASON.protocolError);
  // 5.0 enhanced authentication is not offered, so an AUTH is never expected (4.12).
  if (packet.type === 'auth') throw new ProtocolError('AUTH without enhanced authentication', REASON.protocolError);
  const handler = handlers[packet.type as ClientPacketType] as Handler<Packet> | undefined;
  // CONNACK, SUBACK, UNSUBACK and PINGRESP only go from server to client.
  if (!handler) throw new ProtocolError(`${packet.type} is not sent by clients`, REASON.protocolError);
  handler(server, conn, packet);
}
